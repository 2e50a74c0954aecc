/**
 * The seed's quorum rule: with 0 or 1 configured peers there is always quorum;
 * otherwise a strict majority of the cluster (the configured peers plus this
 * node) must be reachable, counting this node as online:
 * `(configured + 1) / 2 < online + 1`.
 *
 * @param configured - configured peers, never counting this node
 * @param online - configured peers that are online (joined), never counting this node
 * @returns whether this node sees a majority
 */
export function hasQuorum(configured: number, online: number): boolean {
  if (configured <= 1) return true;
  return (configured + 1) / 2 < online + 1;
}

/**
 * How a node decides it has quorum, from the agreed view:
 *
 * - `majority` (default): the seed's rule over the view: with 0 or 1
 *   configured peers always; otherwise more than half of the configured
 *   nodes (this one included) are in the view.
 * - `static`: at least `size` nodes are in the view (Akka's static-quorum).
 * - `keep-oldest`: the view holds the oldest running node this node knows
 *   of (the earliest incarnation; names break a tie). If the oldest is lost
 *   to a fault, no side has quorum until it is back or removed.
 * - `referee`: the view holds the `node` named (or this node is it).
 *
 * Whatever the strategy, a node outside the view (not in the cluster's
 * largest fully connected set) has no quorum. `stableAfter` (ms, default 0):
 * quorum is claimed only once the view has been unchanged that long; it is
 * given up at once; and a node whose view keeps changing with no
 * `stableAfter`-long pause for 2 × stableAfter gives it up until the view
 * is stable again (down-all-when-unstable).
 */
export type QuorumStrategy =
  | { readonly strategy: 'majority'; readonly stableAfter?: number }
  | { readonly strategy: 'static'; readonly size: number; readonly stableAfter?: number }
  | { readonly strategy: 'keep-oldest'; readonly stableAfter?: number }
  | { readonly strategy: 'referee'; readonly node: string; readonly stableAfter?: number };

/** What a quorum decision reads. */
export interface QuorumFacts {
  readonly self: string;
  /** Configured peers, never counting this node. */
  readonly configured: number;
  /** The agreed view's members. */
  readonly members: readonly string[];
  /** The oldest running node known (keep-oldest), this node included. */
  readonly oldest: string;
}

/**
 * Whether this node has quorum under `strategy`, before `stableAfter` is applied.
 *
 * @param strategy - the quorum option
 * @param facts - the view and configuration
 */
export function quorumBy(strategy: QuorumStrategy, facts: QuorumFacts): boolean {
  if (!facts.members.includes(facts.self)) return false;
  switch (strategy.strategy) {
    case 'majority':
      return hasQuorum(facts.configured, facts.members.length - 1);
    case 'static':
      return facts.members.length >= strategy.size;
    case 'keep-oldest':
      return facts.members.includes(facts.oldest);
    case 'referee':
      return facts.self === strategy.node || facts.members.includes(strategy.node);
  }
}
