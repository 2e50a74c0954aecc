/**
 * The agreed view: which nodes form the cluster, computed alike on every
 * node from the same reachability reports. Pure functions, no clock.
 *
 * Each node reports whom it sees (peers on a live, unsuspected link) and
 * whom it has lost (suspected, or linked once and unseen for readTimeout). From the reports a node holds (its own, its peers', and the ones
 * relayed to it), the view is the largest set of nodes with no loss
 * between any two of them (a fully connected set), found greedily and
 * deterministically:
 *
 * 1. Start from every node reachable from this one by following whom the
 *    reports see (the report of a node nobody reports seeing any more is
 *    stale, and falls out here).
 * 2. Two nodes are disconnected when either reports the other lost.
 * 3. While some are disconnected, drop the node with the highest score:
 *    2 for each node that reports it lost, 1 for each node it reports lost
 *    (a report of a loss is fresh; the report of a node that has just
 *    failed still claims to see everyone). On a tie, the node whose going
 *    leaves the view that more of the remaining nodes already report (the
 *    view in place stays: a loss seen first from one side, then from both,
 *    does not swap who is out); then the node fewer others see; then the
 *    node whose name sorts last.
 *
 * Equal reports give equal views on every node. One-way loss between n1
 * and n2 (each stops seeing the other) gives {n1, n3, n4, n5} everywhere
 * when both losses are reported at once, and keeps out whichever of the
 * two the view already left out when one side reported first: the node
 * outside the view does not claim quorum.
 */

/** What one node reports: whom it sees, and the view id it computed. */
export interface Report {
  readonly node: string;
  /** The reporting process's incarnation: a restarted node's reports replace the old process's. */
  readonly inc: number;
  /** Grows with each new report of that process. */
  readonly v: number;
  /** The nodes it sees, sorted. */
  readonly sees: readonly string[];
  /**
   * The nodes it has lost, sorted: suspected, or linked to this process
   * once and unseen for readTimeout since. Only a loss breaks a connection
   * in the view: a node that has just started and not reached everyone yet
   * accuses nobody.
   */
  readonly down: readonly string[];
  /** The id of the view it computed. */
  readonly view: string;
}

/** The view as this node computes it. */
export interface View {
  /** A hash of the members: equal on every node that computes the same members. */
  readonly id: string;
  /** The view's node names, sorted (code-unit order); this node's own name is among them unless it is outside the cluster's fully connected set. */
  readonly members: readonly string[];
  /** Whether every peer this node sees reports this same view id. */
  readonly converged: boolean;
}

/** The report of a node none is held of: it sees and lost nobody (step 1 reaches it only through others). */
const NO_REPORT: Pick<Report, 'sees' | 'down'> & Partial<Pick<Report, 'view'>> = { sees: [], down: [] };

/** Whether report `a` is newer than `b` (a later process, or a later report of the same one). */
export function newerReport(a: Pick<Report, 'inc' | 'v'>, b: Pick<Report, 'inc' | 'v'> | undefined): boolean {
  return b === undefined || a.inc > b.inc || (a.inc === b.inc && a.v > b.v);
}

/**
 * The agreed view's members: {@link agreedSets}' `members`.
 */
export function agreedMembers(
  self: string,
  own: Pick<Report, 'sees' | 'down'> & Partial<Pick<Report, 'view'>>,
  reportOf: (node: string) => Report | undefined,
  known: (node: string) => boolean,
): string[] {
  return agreedSets(self, own, reportOf, known).members;
}

/**
 * The agreed view: the nodes reachable through the reports (step 1), and
 * the largest fully connected set among them (steps 2-3).
 *
 * @param self - this node's name
 * @param own - this node's own report as it is now: whom it sees and lost, and the view it held until now
 * @param reportOf - the latest report of a node, or undefined when none is held (a node with
 *   no report yet is taken to see exactly the nodes that see it)
 * @param known - whether a name is a node of this cluster (configured here): reports of others are ignored
 * @returns the reachable nodes and the members, each sorted
 */
export function agreedSets(
  self: string,
  own: Pick<Report, 'sees' | 'down'> & Partial<Pick<Report, 'view'>>,
  reportOf: (node: string) => Report | undefined,
  known: (node: string) => boolean,
): { readonly reachable: string[]; readonly members: string[] } {
  const reports = new Map<string, Pick<Report, 'sees' | 'down'> & Partial<Pick<Report, 'view'>>>();
  const of = (node: string): Pick<Report, 'sees' | 'down'> & Partial<Pick<Report, 'view'>> => {
    let report = reports.get(node);
    if (report === undefined) {
      report = (node === self ? own : reportOf(node)) ?? NO_REPORT;
      reports.set(node, report);
    }
    return report;
  };
  // 1. nodes reachable from this one through the reports
  const nodes = new Set<string>([self]);
  const queue = [self];
  while (queue.length > 0) {
    const node = queue.pop() as string;
    for (const next of of(node).sees) {
      if (!nodes.has(next) && (next === self || known(next))) {
        nodes.add(next);
        queue.push(next);
      }
    }
  }
  // most of the time nobody among them reports a loss: they are the view (no scoring, no sets)
  let anyLoss = false;
  for (const node of nodes) {
    if (of(node).down.some((b) => nodes.has(b))) {
      anyLoss = true;
      break;
    }
  }
  const list = sortNames([...nodes]);
  if (!anyLoss) return { reachable: list, members: list };
  const down = new Map(list.map((node) => [node, new Set(of(node).down)]));
  const seenBy = new Map(list.map((node) => [node, 0]));
  for (const a of list) for (const b of of(a).sees) if (b !== a && seenBy.has(b)) seenBy.set(b, (seenBy.get(b) ?? 0) + 1);
  // 2-3. drop the worst connected node until no loss is left between the rest: each node's
  // broken connections, where being reported lost counts twice and reporting a loss once (a report
  // of a loss is fresh, while the report of a node that has just failed still claims to see
  // everyone), scored once and then lowered as nodes go (not scored anew each round)
  const members = new Set(list);
  const score = new Map<string, number>();
  for (const a of list) {
    let s = 0;
    const lostByA = down.get(a) as ReadonlySet<string>;
    for (const b of list) {
      if (a === b) continue;
      if ((down.get(b) as ReadonlySet<string>).has(a)) s += 2;
      if (lostByA.has(b)) s += 1;
    }
    score.set(a, s);
  }
  for (;;) {
    let worst: string | undefined;
    let worstScore = 0;
    // the views held without a node, counted once per round and only for nodes in a tie
    const heldMemo = new Map<string, number>();
    const held = (x: string): number => {
      let n = heldMemo.get(x);
      if (n === undefined) heldMemo.set(x, (n = heldWithout(x, members, of)));
      return n;
    };
    for (const a of members) {
      const s = score.get(a) as number;
      if (s === 0) continue;
      if (worst === undefined || s > worstScore || (s === worstScore && worse(a, worst, seenBy, held))) {
        worst = a;
        worstScore = s;
      }
    }
    if (worst === undefined) break;
    members.delete(worst);
    const lostByWorst = down.get(worst) as ReadonlySet<string>;
    for (const a of members) {
      let s = score.get(a) as number;
      if (lostByWorst.has(a)) s -= 2;
      if ((down.get(a) as ReadonlySet<string>).has(worst)) s -= 1;
      score.set(a, s);
    }
  }
  return { reachable: list, members: sortNames([...members]) };
}

/**
 * Of two nodes with equal scores, whether `a` goes before `b`: the view
 * without it is held by more of the members' reports, else fewer others see
 * it, else its name sorts last. (Not who has it joined: a join ends at a
 * different moment on each side of a one-way fault, and the view would flip.)
 */
function worse(a: string, b: string, seenBy: ReadonlyMap<string, number>, held: (node: string) => number): boolean {
  const ha = held(a);
  const hb = held(b);
  if (ha !== hb) return ha > hb;
  const sa = seenBy.get(a) ?? 0;
  const sb = seenBy.get(b) ?? 0;
  return sa !== sb ? sa < sb : a > b;
}

/** How many of `members` other than `node` report the view `members` without `node` as theirs. */
function heldWithout(node: string, members: ReadonlySet<string>, of: (node: string) => Partial<Pick<Report, 'view'>>): number {
  const rest = sortNames([...members].filter((n) => n !== node));
  const id = viewId(rest);
  let held = 0;
  for (const n of rest) if (of(n).view === id) held += 1;
  return held;
}

/**
 * Sorts names in place in code-unit order, the same on every node whatever
 * its locale: `sort()` with no comparator orders strings by their UTF-16
 * code units, and calls no JavaScript per comparison (the fold sorts names
 * at every step).
 */
export function sortNames<T extends string[]>(names: T): T {
  return names.sort();
}

/**
 * A view's id: 16 hex digits of a hash of its sorted members (two FNV-1a
 * 32-bit hashes, one over the text and one over it backwards), the same on every node and every
 * platform.
 */
export function viewId(members: readonly string[]): string {
  const text = members.join('\n');
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const d = text.charCodeAt(text.length - 1 - i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ d, 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
