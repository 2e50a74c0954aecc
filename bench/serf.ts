/**
 * `npm run bench:serf` (issue 10, point 4): the real-network fault scenarios
 * run against rxcluster and against Debian's serf, each in a fresh netns lab
 * of five nodes (test/netns/harness.ts), and one markdown table of both.
 * Needs root and `serf` (`apt-get install -y serf`); not part of `npm test`.
 *
 * Scenarios, each after the whole mesh is up and 3 s of quiet:
 * - kill -9 of n5, restarted (same name and address) once n1-n4 reported it;
 * - SIGSTOP of n3 for 30 s, then SIGCONT;
 * - partition n1-n3 / n4-n5 for 30 s, then heal;
 * - n1's packets to n2 dropped for 60 s (one way);
 * - 20 % loss on every node's input and 50 ± 10 ms on its output for 60 s;
 * - n5's link down 5 s / up 5 s, six times;
 * - n5 restarted beside its old process, frozen (SIGSTOP) just before the
 *   new one starts, under the same name on the next port of the same address
 *   (bench/serf-systems.ts, `restartBeside`); once the measurement is done
 *   the old one is resumed (SIGCONT) for 15 s, then killed.
 * After the fault the nodes run until every one reports every other one up
 * and, for rxcluster, every node's view has all five again (at most 90 s,
 * less when a node's current process has exited), then 10 s more.
 *
 * Figures, from the lines each process printed (bench/serf-systems.ts):
 * - detection: fault start → an observer's first down (leave, failed) of a
 *   node the fault cut it off from, reported before the fault ended or at
 *   most 15 s after; median over the measured pairs, with the range, and how
 *   many of them reported it at all;
 * - rejoin: fault end (restart, SIGCONT, heal, last link up) → the observer's
 *   first up of that node after its last down that counted as detection (0
 *   when that came before the fault's end, as between two flaps); median
 *   over the pairs that had reported it down;
 * - false events: downs of nodes the fault did not cut the observer off
 *   from (for the 20 % loss, every down), downs reported more than 15 s
 *   after the fault ended, and a second down of one node by one observer in
 *   the single-fault scenarios (a flap after the rejoin).
 * For the restart beside the frozen process, the fault starts with the
 * freeze and ends when the new process is up (listening, or serf's log
 * streaming): detection is the freeze → an observer's first down of the old
 * n5 (rxcluster's leave `restarted`, serf's failure), rejoin is the new n5
 * up → the observer's up of n5 (before the old one was resumed); the 15 s
 * after SIGCONT count for false events. Its notes say whether an observer
 * ever had two n5 (an up of n5 while n5 was up; a view naming n5 twice;
 * serf's member list, read every 2 s), the lines about the two processes
 * (serf's name conflicts, rxcluster's refusals of the older process), and
 * what the resumed old process changed.
 *
 * Environment: BENCH_SERF_ONLY (scenario keys: kill, stop, partition,
 * oneway, loss, flap, frozen), BENCH_SERF_SYSTEMS (rxcluster, rxcluster-short,
 * serf), BENCH_SERF_FAULT_MS (the 60 s faults), BENCH_SERF_PARALLEL (labs
 * at a time, default 2), BENCH_SERF_DEBUG=1 (every node's events on
 * stderr). The table goes to stdout, then one JSON line with every figure;
 * progress goes to stderr.
 */
import { execFileSync } from 'node:child_process';
import { createLab, median, sleep, within, type Lab, type Recorded } from '../test/netns/harness.js';
import { PROFILES } from '../test/netns/scenarios.js';
import { rxcluster, serf, type Entry, type Member, type Membership, type System } from './serf-systems.js';

const FAULT_MS = Number(process.env['BENCH_SERF_FAULT_MS'] ?? 60_000);
const HOLD_MS = 30_000;
const DEBUG = process.env['BENCH_SERF_DEBUG'] === '1';
const PARALLEL = Math.max(1, Number(process.env['BENCH_SERF_PARALLEL'] ?? 2));
const MESH_MS = 90_000;
const REJOIN_MS = 90_000;
const QUIET_MS = 10_000;
/** A down reported this long after the fault ended still counts as its (late) detection; later ones are false. */
const LATE_MS = 15_000;
/** A job (one scenario, one system) that takes longer than this is reported as failed. */
const JOB_MS = 8 * 60_000;
/** How long a frozen old process runs again (SIGCONT) before it is killed. */
const AWAKE_MS = 15_000;
/** How often serf's member lists are read while two processes of a name exist. */
const ROSTER_EVERY_MS = 2000;

// ---------------------------------------------------------------- preflight

function preflight(): void {
  if (process.platform !== 'linux') fail(`bench:serf needs Linux network namespaces; this is ${process.platform}`);
  if (process.getuid?.() !== 0) fail('bench:serf needs root: it builds network namespaces, a bridge and nft/iptables rules (run it as root)');
  try {
    execFileSync('sh', ['-c', 'command -v serf'], { stdio: 'ignore' });
  } catch {
    fail('bench:serf needs serf on PATH: apt-get install -y serf (Debian package serf)');
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- a running cluster

/** A system running in a lab: every process of each node name, in start order. */
class Cluster {
  readonly procs = new Map<string, Member[]>();
  /** Processes no longer speaking for their node (a frozen old one beside its successor): their reports are left out. */
  readonly retired = new Set<Member>();

  constructor(
    readonly lab: Lab,
    readonly system: System,
  ) {}

  add(member: Member): void {
    this.procs.set(member.name, [...(this.procs.get(member.name) ?? []), member]);
  }

  current(name: string): Member {
    const member = this.procs.get(name)?.at(-1);
    if (member === undefined) throw new Error(`no process of ${name}`);
    return member;
  }

  /** Everything the processes of `observer` reported, in time order. */
  events(observer: string): Membership[] {
    return (this.procs.get(observer) ?? [])
      .filter((member) => !this.retired.has(member))
      .flatMap((member) => this.system.events(member))
      .sort((a, b) => a.at - b.at);
  }

  /** The nodes whose current process has exited: the cluster cannot be whole again. */
  gone(): string[] {
    return [...this.procs.keys()].filter((name) => this.current(name).proc.hasExited());
  }

  /** Whether `observer`'s last report about `subject` at or before `at` is up. */
  sees(observer: string, subject: string, at = Infinity): boolean {
    return this.events(observer).filter((e) => e.node === subject && e.at <= at && (e.kind === 'up' || e.kind === 'down')).at(-1)?.kind === 'up';
  }

  /** Every node reports every other one up. */
  meshed(): boolean {
    return this.lab.names.every((observer) => this.lab.names.every((subject) => subject === observer || this.sees(observer, subject)));
  }

  /** Every node reports every other one up, and each node's last view (rxcluster) has them all. */
  whole(): boolean {
    return (
      this.meshed() &&
      this.lab.names.every((name) => {
        const view = this.events(name).filter((e) => e.kind === 'view').at(-1);
        return view === undefined || this.lab.names.every((n) => view.members?.includes(n) === true);
      })
    );
  }

  stderr(): string {
    return [...this.procs.values()]
      .flat()
      .filter((m) => m.proc.stderr().trim() !== '')
      .map((m) => `${m.name}: ${m.proc.stderr().trim().split('\n').at(-1) ?? ''}`)
      .join('; ');
  }
}

/** Polls `condition` every 100 ms; resolves whether it held within `ms`. */
async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (condition()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(100);
  }
}

// ---------------------------------------------------------------- scenarios

type Pair = readonly [observer: string, subject: string];

interface Fault {
  /** When the fault was in place, and when it was removed (performance.now()). */
  readonly from: number;
  readonly to: number;
  readonly notes: readonly string[];
  /** Run once the nodes are whole again (or given up on) and quiet: more to watch, and its notes. */
  readonly epilogue?: () => Promise<Epilogue>;
}

interface Epilogue {
  /** When it started: ups after this are no rejoin. */
  readonly from: number;
  /** When the observation ended. */
  readonly to: number;
  readonly notes: readonly string[];
}

interface Scenario {
  readonly key: string;
  readonly title: string;
  /** The pairs whose detection and rejoin are measured. */
  readonly measured: readonly Pair[];
  /** Whether the fault cuts `observer` off from `subject`: any other down is false. */
  affected(observer: string, subject: string): boolean;
  /** One fault: a second down of an affected pair counts as false. */
  readonly single: boolean;
  apply(cluster: Cluster): Promise<Fault>;
  /** Besides the whole mesh, what the nodes must have reported before the observation goes on (default nothing). */
  settled?(cluster: Cluster, fault: Fault): boolean;
}

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const others = (name: string): string[] => NAMES.filter((n) => n !== name);
const pairsAbout = (subject: string): Pair[] => others(subject).map((observer) => [observer, subject] as const);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function dropEvidence(dropped: Record<string, number>, rules: readonly string[]): string[] {
  const total = rules.reduce((sum, rule) => sum + (dropped[rule] ?? 0), 0);
  return total > 0 ? [] : [`FAULT DID NOT BITE: no packet dropped by ${rules.join(', ')}`];
}

const MAJORITY = ['n1', 'n2', 'n3'];
const MINORITY = ['n4', 'n5'];
const across = (a: string, b: string): boolean => MAJORITY.includes(a) !== MAJORITY.includes(b);

const SCENARIOS: readonly Scenario[] = [
  {
    key: 'kill',
    title: 'kill -9 n5, restart',
    measured: pairsAbout('n5'),
    affected: (_observer, subject) => subject === 'n5',
    single: true,
    apply: async (cluster) => {
      const victim = cluster.current('n5');
      const from = performance.now();
      victim.proc.signal('SIGKILL');
      await within(victim.proc.exited, 5000);
      await until(() => others('n5').every((o) => !cluster.sees(o, 'n5')), 30_000);
      await sleep(1000);
      const to = performance.now();
      const fresh = await cluster.system.restart(cluster.lab, 'n5');
      cluster.add(fresh);
      return { from, to, notes: [] };
    },
  },
  {
    key: 'stop',
    title: `SIGSTOP n3 ${HOLD_MS / 1000} s, SIGCONT`,
    measured: pairsAbout('n3'),
    affected: (observer, subject) => observer === 'n3' || subject === 'n3',
    single: true,
    apply: async (cluster) => {
      const victim = cluster.current('n3');
      const from = performance.now();
      victim.proc.signal('SIGSTOP');
      try {
        await sleep(HOLD_MS);
      } finally {
        victim.proc.signal('SIGCONT');
      }
      return { from, to: performance.now(), notes: [] };
    },
  },
  {
    key: 'partition',
    title: `partition n1-n3 / n4-n5 ${HOLD_MS / 1000} s, heal`,
    measured: NAMES.flatMap((observer) => NAMES.filter((subject) => across(observer, subject)).map((subject) => [observer, subject] as const)),
    affected: across,
    single: true,
    apply: async (cluster) => {
      await cluster.lab.partition(MAJORITY, MINORITY);
      const from = performance.now();
      await sleep(HOLD_MS);
      const dropped = await cluster.lab.dropped();
      await cluster.lab.heal();
      const rules = MAJORITY.flatMap((a) => MINORITY.flatMap((b) => [`${a}>${b}`, `${b}>${a}`]));
      return { from, to: performance.now(), notes: dropEvidence(dropped, rules) };
    },
  },
  {
    key: 'oneway',
    title: `one-way loss n1->n2 ${seconds(FAULT_MS)}`,
    measured: [['n1', 'n2'], ['n2', 'n1']],
    affected: (observer, subject) => [observer, subject].sort().join() === 'n1,n2',
    single: false,
    apply: async (cluster) => {
      await cluster.lab.drop('n1', 'n2');
      const from = performance.now();
      await sleep(FAULT_MS);
      const dropped = await cluster.lab.dropped();
      await cluster.lab.heal();
      return { from, to: performance.now(), notes: dropEvidence(dropped, ['n1>n2']) };
    },
  },
  {
    key: 'loss',
    title: `20 % loss + 50 ± 10 ms ${seconds(FAULT_MS)}`,
    measured: [],
    affected: () => false,
    single: false,
    apply: async (cluster) => {
      const { lab } = cluster;
      await Promise.all(
        lab.names.map(async (name) => {
          await lab.delay(name, 50, 10);
          await lab.loss(name, 0.2);
        }),
      );
      const from = performance.now();
      await sleep(FAULT_MS);
      const impaired = await Promise.all(lab.names.map((name) => lab.impaired(name)));
      await lab.heal();
      const bit = impaired.every(({ lost, delayed }) => lost > 0 && delayed > 0);
      return { from, to: performance.now(), notes: bit ? [] : [`FAULT DID NOT BITE: ${JSON.stringify(impaired)}`] };
    },
  },
  {
    key: 'flap',
    title: 'n5 link flapping 5 s / 5 s × 6',
    measured: pairsAbout('n5'),
    affected: (observer, subject) => observer === 'n5' || subject === 'n5',
    single: false,
    apply: async (cluster) => {
      const { lab } = cluster;
      let from = NaN;
      for (let i = 0; i < 6; i++) {
        await lab.linkDown('n5');
        if (i === 0) from = performance.now();
        await sleep(5000);
        await lab.linkUp('n5');
        if (i < 5) await sleep(5000);
      }
      // the fault ends with the last link up; the observation goes on from there
      return { from, to: performance.now(), notes: [] };
    },
  },
  {
    key: 'frozen',
    title: 'restart n5 beside its frozen old process',
    measured: pairsAbout('n5'),
    affected: (_observer, subject) => subject === 'n5',
    single: true,
    apply: async (cluster) => {
      const old = cluster.current('n5');
      const { fresh, frozenAt } = await cluster.system.restartBeside(cluster.lab, old);
      cluster.retired.add(old);
      cluster.add(fresh);
      let exitedAt: number | undefined;
      void fresh.proc.exited.then(() => (exitedAt = performance.now()));
      const rosters = readRosters(cluster, others('n5'));
      const epilogue = async (): Promise<Epilogue> => {
        const lists = await rosters.stop();
        const from = performance.now();
        old.proc.signal('SIGCONT');
        await sleep(AWAKE_MS);
        const to = performance.now();
        const exit = old.proc.hasExited() ? await old.proc.exited : undefined;
        await old.proc.stop();
        const notes = [
          `the new n5 was up ${time(fresh.readyAt - frozenAt)} after the freeze`,
          ...(exitedAt === undefined ? [] : [`the new n5 exited (${exitCode(await fresh.proc.exited)}) ${time(exitedAt - fresh.readyAt)} after it was up`]),
          twoAtOnce(cluster, frozenAt, to),
          ...(lists === undefined ? [] : [rosterNote(cluster, lists)]),
          conflictNote(cluster, old, fresh, frozenAt, from, to),
          awakeNote(cluster, from, to, exit === undefined ? 'still ran' : `had exited by itself (${exitCode(exit)})`, exitedAt !== undefined),
        ];
        return { from, to, notes };
      };
      return { from: frozenAt, to: fresh.readyAt, notes: [], epilogue };
    },
    // serf's observers still list the frozen n5 as up: whole at once, but not yet replaced
    settled: (cluster, fault) =>
      others('n5').every((observer) => {
        const reports = cluster.events(observer).filter((e) => e.node === 'n5' && e.at >= fault.from && (e.kind === 'up' || e.kind === 'down'));
        return reports.some((e) => e.kind === 'down') && reports.at(-1)?.kind === 'up';
      }),
  },
];

const exitCode = (exit: { code: number | null; signal: string | null }): string => (exit.signal === null ? `code ${String(exit.code)}` : exit.signal);

/** Observers that reported an up of n5 while their last report about it was already an up: two n5 at once; and views that named n5 twice. */
function twoAtOnce(cluster: Cluster, from: number, to: number): string {
  const twice = others('n5').filter((observer) => {
    let up = false;
    let again = false;
    for (const e of cluster.events(observer)) {
      if (e.node !== 'n5' || e.at > to) continue;
      if (e.kind === 'up' && up && e.at >= from) again = true;
      if (e.kind === 'up' || e.kind === 'down') up = e.kind === 'up';
    }
    const doubled = cluster.events(observer).some((e) => e.kind === 'view' && e.at >= from && e.at <= to && (e.members ?? []).filter((n) => n === 'n5').length > 1);
    return again || doubled;
  });
  return twice.length === 0 ? 'no observer had two n5 at once' : `${twice.join(', ')} had two n5 at once`;
}

/** serf's member lists read every ROSTER_EVERY_MS from the new process's start until `stop` (nothing for a system without them). */
function readRosters(cluster: Cluster, observers: readonly string[]): { stop: () => Promise<Entry[][][] | undefined> } {
  const { roster } = cluster.system;
  if (roster === undefined) return { stop: () => Promise.resolve(undefined) };
  let stopped = false;
  const lists: Entry[][][] = [];
  const deadline = performance.now() + JOB_MS;
  const loop = (async (): Promise<void> => {
    while (!stopped && performance.now() < deadline) {
      try {
        lists.push(await Promise.all(observers.map((name) => roster(cluster.lab, cluster.current(name)))));
      } catch (error) {
        // a lab torn down under it, or an agent not answering: the lists so far stand
        process.stderr.write(`bench:serf: reading member lists stopped: ${error instanceof Error ? error.message : String(error)}\n`);
        return;
      }
      await sleep(ROSTER_EVERY_MS);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return lists;
    },
  };
}

/** What the observers' member lists held for n5: the most entries at once, and each distinct entry in order of first sight. */
function rosterNote(cluster: Cluster, lists: readonly (readonly (readonly Entry[])[])[]): string {
  const most = Math.max(0, ...lists.flatMap((round) => round.map((list) => list.filter((e) => e.name === 'n5').length)));
  const seen = [...new Set(lists.flatMap((round) => round.flatMap((list) => list.filter((e) => e.name === 'n5').map((e) => `${named(cluster.lab, e.addr)} ${e.status}`))))];
  return `serf members of n1-n4 (${plural(lists.length, 'read')}): at most ${plural(most, 'n5 entry').replace('entrys', 'entries')} each, ${seen.join(', then ')}`;
}

/** An address with the lab node's name for its IP. */
function named(lab: Lab, text: string): string {
  return NAMES.reduce((out, name) => out.replace(new RegExp(`\\b${lab.ip(name).replaceAll('.', '\\.')}\\b`, 'g'), name), text);
}

/** The lines each process wrote about two processes under one name, grouped by text, before and after the old one was resumed. */
function conflictNote(cluster: Cluster, old: Member, fresh: Member, from: number, resumedAt: number, to: number): string {
  const writers: [string, Member][] = [...others('n5').map((name) => [name, cluster.current(name)] as [string, Member]), ['old n5', old], ['new n5', fresh]];
  const phase = (lo: number, hi: number): string => {
    const groups = new Map<string, { count: number; who: Set<string> }>();
    for (const [who, member] of writers) {
      for (const line of cluster.system.conflicts(member)) {
        if (line.at < lo || line.at > hi) continue;
        const text = named(cluster.lab, line.text);
        const group = groups.get(text) ?? { count: 0, who: new Set() };
        group.count += 1;
        group.who.add(who);
        groups.set(text, group);
      }
    }
    if (groups.size === 0) return 'none';
    return [...groups.entries()].map(([text, { count, who }]) => `"${text}" ×${count} (${[...who].join(', ').replace('n1, n2, n3, n4', 'n1-n4')})`).join(', ');
  };
  return `conflict lines before SIGCONT: ${phase(from, resumedAt)}; after: ${phase(resumedAt, to)}`;
}

/** What the observers reported about n5 once the old process ran again. */
function awakeNote(cluster: Cluster, from: number, to: number, old: string, newGone: boolean): string {
  let ups = 0;
  const counts = others('n5').map((observer) => {
    const events = cluster.events(observer).filter((e) => e.node === 'n5' && e.at >= from && e.at <= to);
    const up = events.filter((e) => e.kind === 'up').length;
    ups += up;
    return `${events.filter((e) => e.kind === 'down').length}/${up}`;
  });
  const views = cluster.system.label.startsWith('rxcluster') ? `, ${plural(viewChanges(cluster, from, to), 'view change')}` : '';
  const back = ups > 0 && newGone ? ' (the old process back under the name)' : '';
  return `the old n5 resumed (SIGCONT) for ${AWAKE_MS / 1000} s: n5 down/up per observer ${counts.join(', ')}${back}${views}; it ${old}, then killed`;
}

// ---------------------------------------------------------------- one run

interface Figures {
  readonly scenario: string;
  readonly system: string;
  /** ms per measured pair that reported the fault; and how many pairs were measured. */
  readonly detection: readonly number[];
  readonly rejoin: readonly number[];
  readonly measured: number;
  /** Pairs that reported a down but never the node up again. */
  readonly notRejoined: number;
  readonly falseEvents: number;
  readonly notes: readonly string[];
  readonly error?: string;
}

function figures(cluster: Cluster, scenario: Scenario, fault: Fault, end: number, upsUntil = end): Omit<Figures, 'scenario' | 'system'> {
  const inWindow = (e: Membership): boolean => e.at >= fault.from && e.at <= end;
  const events = new Map(NAMES.map((name) => [name, cluster.events(name).filter(inWindow)]));
  const about = (observer: string, subject: string, kind: Membership['kind']): Membership[] =>
    (events.get(observer) ?? []).filter((e) => e.node === subject && e.kind === kind);

  const counted = (e: Membership): boolean => e.at <= fault.to + LATE_MS;
  const detection: number[] = [];
  const rejoin: number[] = [];
  let notRejoined = 0;
  for (const [observer, subject] of scenario.measured) {
    const downs = about(observer, subject, 'down').filter(counted);
    const first = downs[0];
    const last = downs.at(-1);
    if (first === undefined || last === undefined) continue;
    detection.push(first.at - fault.from);
    // the first up after the last down that counts (0 when it came before the fault's end, as between two flaps)
    const up = cluster.events(observer).find((e) => e.node === subject && e.kind === 'up' && e.at > last.at && e.at <= upsUntil);
    if (up === undefined) notRejoined += 1;
    else rejoin.push(Math.max(0, up.at - fault.to));
  }

  let falseEvents = 0;
  for (const observer of NAMES) {
    for (const subject of others(observer)) {
      const downs = about(observer, subject, 'down');
      const inTime = downs.filter(counted).length;
      if (!scenario.affected(observer, subject)) falseEvents += downs.length;
      else falseEvents += downs.length - inTime + (scenario.single ? Math.max(0, inTime - 1) : 0);
    }
  }

  const notes: string[] = [];
  const count = (kind: Membership['kind']): number => NAMES.reduce((sum, name) => sum + (events.get(name) ?? []).filter((e) => e.kind === kind).length, 0);
  if (scenario.key === 'flap') {
    notes.push(`n5 down/up per observer: ${others('n5').map((o) => `${about(o, 'n5', 'down').length}/${about(o, 'n5', 'up').length}`).join(', ')}`);
  } else if (!scenario.single) {
    notes.push(`${plural(count('down'), 'down')}, ${plural(count('up'), 'up')}`);
  }
  notes.push(plural(count('suspect'), 'suspicion'));
  const late = detection.filter((ms) => ms > fault.to - fault.from).length;
  if (late > 0 && scenario.key !== 'frozen') notes.push(`${late} of ${scenario.measured.length} reported the node down only after the fault ended`);
  if (scenario.key === 'kill') {
    const fresh = cluster.current('n5');
    const after = median(rejoin) - (fresh.readyAt - fault.to);
    notes.push(`rejoin counted from the restart: the new n5 was up after ${time(fresh.readyAt - fresh.spawnedAt)}${after > 0 ? `, joined by the others ${time(after)} later` : ''}`);
  }
  if (cluster.system.label.startsWith('rxcluster')) notes.push(plural(viewChanges(cluster, fault.from, end), 'view change'));
  if (scenario.key === 'oneway' && count('view') > 0) notes.push(viewNote(cluster, fault, end));
  notes.push(...fault.notes);
  const stderr = cluster.stderr();
  if (stderr !== '') notes.push(`stderr: ${stderr.slice(0, 120)}`);
  return { detection, rejoin, measured: scenario.measured.length, notRejoined, falseEvents, notes };
}

/** When each node's view first left out n1 or n2, and first had all five again after the fault (rxcluster's answer to a one-way fault is its view). */
function viewNote(cluster: Cluster, fault: Fault, end: number): string {
  const views = NAMES.map((name) => cluster.events(name).filter((e) => e.kind === 'view' && e.at >= fault.from && e.at <= end));
  const partial = (e: Membership): boolean => !['n1', 'n2'].every((n) => e.members?.includes(n) === true);
  const split = views.flatMap((list) => list.filter((e) => e.at <= fault.to && partial(e)).slice(0, 1).map((e) => e.at - fault.from));
  if (split.length === 0) return 'no view without n1 or n2';
  const whole = views.flatMap((list) => list.filter((e) => e.at >= fault.to && e.members?.length === NAMES.length).slice(0, 1).map((e) => e.at - fault.to));
  // what n3's successive views left out during the fault: "n1, n2" is one switch
  const outs = (views[2] ?? []).filter((e) => e.at <= fault.to && partial(e)).map((e) => NAMES.filter((n) => e.members?.includes(n) !== true).join('+'));
  const sequence = outs.filter((out, i) => out !== outs[i - 1]);
  return `views left out ${sequence.join(', then ')} (first after ${spread(split, NAMES.length)}), all five again ${spread(whole, NAMES.length)} after the heal`;
}

/** View changes: view lines whose id differs from the node's previous one. */
function viewChanges(cluster: Cluster, from: number, end: number): number {
  return NAMES.reduce((sum, name) => {
    const views = cluster.events(name).filter((e) => e.kind === 'view');
    return sum + views.filter((e, i) => e.at >= from && e.at <= end && e.detail !== views[i - 1]?.detail).length;
  }, 0);
}

/** Every node's membership events from 5 s before the fault to the end, relative to the fault's start (BENCH_SERF_DEBUG=1). */
function timeline(cluster: Cluster, scenario: Scenario, fault: Fault, end: number, epilogue?: number): string {
  const more = epilogue === undefined ? '' : `, epilogue from +${((epilogue - fault.from) / 1000).toFixed(1)} s`;
  const header = `${scenario.title} / ${cluster.system.label}: fault +0 .. +${((fault.to - fault.from) / 1000).toFixed(1)} s${more}, end +${((end - fault.from) / 1000).toFixed(1)} s`;
  const lines = NAMES.map((name) => {
    const events = cluster.events(name).filter((e) => e.at >= fault.from - 5000 && e.at <= end);
    const text = events.map((e) => {
      const at = `${((e.at - fault.from) / 1000).toFixed(1)}`;
      if (e.kind === 'view') return `${at}:v[${(e.members ?? []).join(',')}]`;
      return `${at}:${e.kind === 'up' ? '+' : e.kind === 'down' ? '-' : '?'}${e.node}${e.kind === 'down' ? `(${e.detail})` : ''}`;
    });
    return `  ${name}: ${text.join(' ')}`;
  });
  return [header, ...lines].join('\n');
}

async function runOne(scenario: Scenario, makeSystem: (started: Recorded[]) => System): Promise<Figures> {
  const started: Recorded[] = [];
  const system = makeSystem(started);
  const lab = await createLab({ names: NAMES });
  try {
    const cluster = new Cluster(lab, system);
    for (const member of await system.startAll(lab)) cluster.add(member);
    if (!(await until(() => cluster.meshed(), MESH_MS))) throw new Error(`no full mesh within ${MESH_MS} ms`);
    await sleep(3000);
    const fault = await scenario.apply(cluster);
    const settled = (): boolean => cluster.whole() && (scenario.settled?.(cluster, fault) ?? true);
    const rejoined = (await until(() => settled() || cluster.gone().length > 0, REJOIN_MS)) && settled();
    const gone = cluster.gone();
    await sleep(QUIET_MS);
    const epilogue = await fault.epilogue?.();
    const end = epilogue?.to ?? performance.now();
    if (DEBUG) process.stderr.write(`${timeline(cluster, scenario, fault, end, epilogue?.from)}\n`);
    const result = figures(cluster, scenario, fault, end, epilogue?.from);
    const whole = gone.length > 0 ? `not whole again: the current process of ${gone.join(', ')} exited` : `not whole again (every node up everywhere, all in every view${scenario.settled === undefined ? '' : ', the old n5 replaced'}) ${REJOIN_MS / 1000} s after the fault`;
    return {
      scenario: scenario.title,
      system: system.label,
      ...result,
      notes: [...result.notes, ...(epilogue?.notes ?? []), ...(rejoined ? [] : [whole])],
    };
  } finally {
    await Promise.all(started.map((proc) => proc.stop()));
    await lab.destroy();
  }
}

// ---------------------------------------------------------------- the table

function time(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `median (min–max)`, and `, k/n` when only k of the n measured pairs reported it; `none (0/n)`; `—` when nothing was measured. */
function spread(values: readonly number[], of: number): string {
  if (of === 0) return '—';
  if (values.length === 0) return `none (0/${of})`;
  const mid = median(values);
  const low = Math.min(...values);
  const high = Math.max(...values);
  // the unit once when the median and both ends share it: `7.9 s (7.8–8.0)`, else each with its own
  const sameUnit = (low < 1000) === (mid < 1000) && (high < 1000) === (mid < 1000);
  const bare = (ms: number): string => (sameUnit ? time(ms).replace(/ m?s$/, '') : time(ms));
  const range = values.length > 1 && time(low) !== time(high) ? ` (${bare(low)}–${bare(high)})` : '';
  return `${time(mid)}${range}${values.length < of ? `, ${values.length}/${of}` : ''}`;
}

function row(f: Figures): string {
  if (f.error !== undefined) return `| ${f.scenario} | ${f.system} | — | — | — | failed: ${f.error.replaceAll('|', '/').slice(0, 200)} |`;
  const rejoin = spread(f.rejoin, f.rejoin.length + f.notRejoined);
  return `| ${f.scenario} | ${f.system} | ${spread(f.detection, f.measured)} | ${rejoin} | ${f.falseEvents} | ${f.notes.join('; ')} |`;
}

// ---------------------------------------------------------------- main

const [DEFAULTS, SHORT] = PROFILES;
if (DEFAULTS === undefined || SHORT === undefined) throw new Error('test/netns/scenarios.ts: expected two profiles');
const SYSTEMS: Readonly<Record<string, (started: Recorded[]) => System>> = {
  rxcluster: () => rxcluster(DEFAULTS),
  'rxcluster-short': () => rxcluster(SHORT),
  serf: (started) => serf(started),
};

function selected<T>(env: string, all: readonly T[], key: (item: T) => string): T[] {
  const wanted = (process.env[env] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (wanted.length === 0) return [...all];
  const unknown = wanted.filter((w) => !all.some((item) => key(item) === w));
  if (unknown.length > 0) fail(`${env}: unknown ${unknown.join(', ')} (known: ${all.map(key).join(', ')})`);
  return all.filter((item) => wanted.includes(key(item)));
}

async function main(): Promise<void> {
  preflight();
  const scenarios = selected('BENCH_SERF_ONLY', SCENARIOS, (s) => s.key);
  const systems = selected('BENCH_SERF_SYSTEMS', Object.keys(SYSTEMS), (s) => s);
  const jobs = scenarios.flatMap((scenario) => systems.map((system) => ({ scenario, system })));
  const results: Figures[] = new Array<Figures>(jobs.length);
  const startedAt = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const { scenario, system } = jobs[index] as (typeof jobs)[number];
      const make = SYSTEMS[system] as (started: Recorded[]) => System;
      const systemLabel = make([]).label;
      const label = `${scenario.title} / ${systemLabel}`;
      process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(0)} s] start ${label}\n`);
      const job = runOne(scenario, make);
      let figuresOf: Figures;
      try {
        const done = await within(job, JOB_MS);
        if (done === undefined) throw new Error(`took longer than ${JOB_MS / 1000} s`);
        figuresOf = done;
      } catch (error) {
        figuresOf = { scenario: scenario.title, system: systemLabel, detection: [], rejoin: [], measured: 0, notRejoined: 0, falseEvents: 0, notes: [], error: error instanceof Error ? error.message : String(error) };
      }
      results[index] = figuresOf;
      process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(0)} s] done ${label}: ${row(figuresOf)}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, () => worker()));

  const lines = ['| scenario | system | detection | rejoin | false events | notes |', '| --- | --- | --- | --- | --- | --- |', ...results.map(row)];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ faultMs: FAULT_MS, holdMs: HOLD_MS, results })}\n`);
  if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:serf failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
