/**
 * A fault lab on Linux network namespaces, as root: N nodes (default five),
 * each in a namespace of its own, joined by veth pairs to one bridge that
 * lives in a further namespace; faults are nft rules on that bridge (silent
 * one-way drops, cuts, partitions, isolation), bridge ports taken down and up
 * (a pulled cable, for flapping), random loss with the iptables `statistic`
 * match on a node's INPUT, and delay with jitter through an iptables NFQUEUE
 * rule on a node's OUTPUT served by `delayq.py` (this kernel has no netem).
 *
 * Every name, address and rule lives inside the lab's namespaces: the veth
 * pairs are created straight into them (never in the host's namespace), the
 * node namespaces have no route but their /24, and deleting the namespaces
 * deletes everything. Labs are deleted by `destroy()`, and on every way out
 * of this process (exit, uncaught error, SIGINT, SIGTERM, SIGHUP); a new lab
 * first deletes the labs of a previous run of this harness that died
 * (namespaces named `rxl<pid>-<n>-*` whose pid is gone).
 *
 * Nodes are real `rxcluster` CLI processes (`ip netns exec NS node --import
 * tsx src/cli.ts …`); every line they print is kept with the time it was read
 * here (performance.now()), parsed when it is JSON, whatever its type.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));
const DELAYQ = fileURLToPath(new URL('./delayq.py', import.meta.url));
const GATED_CLI = fileURLToPath(new URL('./gated-cli.mjs', import.meta.url));

/**
 * How a node's process loads the CLI: dist/cli.js when it was built after
 * the last change to src/ (`npm test` builds first), which costs half the
 * CPU of loading the sources through tsx; else src/cli.ts through tsx.
 */
function cliEntry(): { readonly loader: readonly string[]; readonly module: string } {
  cliEntryCache ??= builtIsFresh()
    ? { loader: [], module: join(ROOT, 'dist', 'cli.js') }
    : { loader: ['--import', 'tsx'], module: join(ROOT, 'src', 'cli.ts') };
  return cliEntryCache;
}
let cliEntryCache: { readonly loader: readonly string[]; readonly module: string } | undefined;

function builtIsFresh(): boolean {
  let built: number;
  try {
    built = statSync(join(ROOT, 'dist', 'cli.js')).mtimeMs;
  } catch {
    return false;
  }
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => Math.max(max, entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs), 0);
  return newest(join(ROOT, 'src')) <= built;
}

/** The port every node listens on (each node has an address of its own). */
export const PORT = 7946;
/** The port the probes serve on. */
export const PROBE_PORT = 7000;
export const SECRET = 'netns-lab-secret-of-32-bytes!!!!';

/** Lab namespaces are `rxl<pid>-<n>-<role>`. */
const LAB_NAMESPACE = /^rxl(\d+)-(\d+)-/;

// ---------------------------------------------------------------- commands

/** Runs a command, resolves its stdout; rejects with its stderr, or after `ms`. */
export function run(cmd: string, args: readonly string[], ms = 15_000, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, [...args], { timeout: ms, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const why = error.killed ? `timed out after ${ms} ms` : `exit ${String(error.code)}`;
      reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${why}): ${stderr.trim() || error.message}`));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function runSync(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, [...args], { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
  } catch {
    return '';
  }
}

function commandExists(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function listNamespaces(): string[] {
  return runSync('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** Kills whatever still runs in a namespace (the harness's own children), then deletes it. */
function deleteNamespaceSync(ns: string): void {
  for (const pid of runSync('ip', ['netns', 'pids', ns]).split(/\s+/).filter((p) => p !== '')) killPid(Number(pid));
  runSync('ip', ['netns', 'delete', ns]);
}

// ---------------------------------------------------------------- every exit path

const liveLabs = new Set<Lab>();
let handlersInstalled = false;
let staleCleaned = false;

function cleanupAllSync(): void {
  for (const lab of liveLabs) lab.destroySync();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAllSync);
  // an uncaught error kills the process (and 'exit' cleans up) unless someone handles it:
  // node:test does, reporting it as a test failure while other labs run on, so then not here
  process.on('uncaughtExceptionMonitor', () => {
    if (process.listenerCount('uncaughtException') === 0) cleanupAllSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupAllSync();
      process.off(signal, onSignal);
      // nobody else handles it: die of it, as without this handler
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Deletes the labs of a run of this harness that died without cleaning up (pid gone, or our own pid from before). */
function removeStaleLabs(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const match = LAB_NAMESPACE.exec(ns);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && alive(pid)) continue;
    deleteNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

/** The names of the lab namespaces that exist now (every run's), for teardown checks. */
export function labNamespaces(): string[] {
  return listNamespaces().filter((ns) => LAB_NAMESPACE.test(ns));
}

function preflight(): void {
  if (process.platform !== 'linux') throw new Error(`the netns lab needs Linux network namespaces; this is ${process.platform}`);
  if (process.getuid?.() !== 0) {
    throw new Error('the netns lab needs root (it creates network namespaces, veth pairs, a bridge and nft/iptables rules): run the tests as root');
  }
  const missing = [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
    ['iptables', 'iptables'],
    ['python3', 'python3'],
  ].filter(([cmd]) => !commandExists(cmd ?? ''));
  if (missing.length > 0) {
    throw new Error(`the netns lab needs ${missing.map(([cmd, pkg]) => `${cmd} (Debian package ${pkg})`).join(', ')}: not found on PATH (.ci/run installs them)`);
  }
}

// ---------------------------------------------------------------- recorded lines

/** One line a process printed: parsed JSON whatever its type, or `{ type: 'text', text }`. */
export interface Line {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A line with the time it was read here (performance.now()). */
export interface Timed {
  readonly at: number;
  readonly line: Line;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process inside a lab namespace whose stdout lines are all kept. */
export class Recorded {
  readonly lines: Timed[] = [];
  readonly exited: Promise<Exit>;
  readonly pid: number;
  private exitInfo: Exit | undefined;
  private stderrText = '';
  private readonly waiters = new Set<(timed: Timed) => void>();

  constructor(readonly child: ChildProcess) {
    if (child.pid === undefined) throw new Error('the process could not be spawned');
    this.pid = child.pid;
    // a lab's children never keep this process alive: when it ends, its exit handler kills them
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let line: Line;
      try {
        const parsed = JSON.parse(text) as unknown;
        line = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && typeof (parsed as Line).type === 'string' ? (parsed as Line) : { type: 'json', value: parsed };
      } catch {
        line = { type: 'text', text };
      }
      const timed = { at: performance.now(), line };
      this.lines.push(timed);
      for (const waiter of [...this.waiters]) waiter(timed);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.stderrText += chunk));
  }

  stderr(): string {
    return this.stderrText;
  }

  hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  send(text: string): void {
    this.child.stdin?.write(`${text}\n`);
  }

  /** The first line, already read or to come, matching `predicate`; rejects after `ms` or when the process exits first. */
  wait(predicate: (line: Line, at: number) => boolean, ms: number, what: string): Promise<Timed> {
    const found = this.lines.find(({ line, at }) => predicate(line, at));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = (timed: Timed): void => {
        if (!predicate(timed.line, timed.at)) return;
        done();
        resolve(timed);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; story: ${storyOf(this.lines).slice(-1500)}${this.stderrText === '' ? '' : `; stderr: ${this.stderrText.trim().slice(-2000)}`}`));
      }, ms);
      this.waiters.add(check);
      void this.exited.then((exit) => {
        if (!this.waiters.has(check)) return;
        // lines still buffered in the pipe arrive before 'close'; give them a turn
        setTimeout(() => {
          if (!this.waiters.has(check)) return;
          done();
          reject(new Error(`exited (${String(exit.code ?? exit.signal)}) while waiting for ${what}; stderr: ${this.stderrText.trim().slice(-2000)}`));
        }, 200);
      });
    });
  }

  /** Sends a signal by pid (SIGKILL, SIGSTOP, SIGCONT, SIGTERM…); false if it had exited. */
  signal(signal: NodeJS.Signals): boolean {
    if (this.hasExited()) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Resumes and SIGKILLs it unless it has exited; waits (bounded) for the exit. */
  async stop(): Promise<void> {
    if (!this.hasExited()) killPid(this.pid);
    await within(this.exited, 5000);
    this.child.stdin?.destroy();
  }
}

/** A running rxcluster node of a lab. */
export class LabNode extends Recorded {
  constructor(
    child: ChildProcess,
    readonly name: string,
    readonly ns: string,
    /** host:port it listens on. */
    readonly address: string,
    /** When it was spawned (performance.now()). */
    readonly spawnedAt: number,
  ) {
    super(child);
  }

  /** A gated node (StartOptions.gated): starts it now; resolves once it printed its listening line. */
  async openGate(ms = 30_000): Promise<Timed> {
    if (!this.lines.some(({ line }) => line.type === 'gate')) throw new Error(`${this.name} (pid ${this.pid}) is not held at a gate`);
    this.signal('SIGUSR2');
    return this.wait((line) => line.type === 'listening', ms, `${this.name} to print its listening line after its gate opened`);
  }

  /** When it printed its listening line, or undefined. */
  listeningAt(): number | undefined {
    return this.lines.find(({ line }) => line.type === 'listening')?.at;
  }

  /** Lines of one type at or after `since`, optionally about one node. */
  events(type: string, since = 0, node?: string): Timed[] {
    return this.lines.filter(({ line, at }) => at >= since && line.type === type && (node === undefined || line['node'] === node));
  }

  /** Its joins, leaves, quorum changes, suspicions and view changes as `+n2 -n2(timeout) q=false`, for assertion messages. */
  story(since = 0): string {
    return storyOf(this.lines, since);
  }
}

// ---------------------------------------------------------------- the lab

export interface LabOptions {
  /** Node names (default n1…n5). */
  readonly names?: readonly string[];
}

export interface StartOptions {
  /** `--setting NAME=MS` values. */
  readonly settings?: Readonly<Record<string, number>>;
  /** Listen port (default PORT); another one for a second instance beside a frozen one. */
  readonly port?: number;
  /** Peers it is configured with (default every other lab node). */
  readonly peers?: readonly string[];
  /** ms to wait for the listening line (default 60 s: tsx on a busy 2-core machine). */
  readonly ms?: number;
  readonly logStdout?: boolean;
  /**
   * Load the CLI but hold it at a gate (test/netns/gated-cli.mjs): `start`
   * resolves once it is loaded, and the node starts on `node.openGate()`.
   */
  readonly gated?: boolean;
}

/** One entry of a lab's fault timeline. */
export interface FaultEvent {
  /** performance.now() once the fault was in place (or removed). */
  readonly at: number;
  readonly fault: string;
}

interface Impairment {
  delayq?: Recorded;
}

let labCounter = 0;

/** How many CLI processes (of every lab in this process) may be starting at the same time. */
const START_SLOTS = 3;
let startsRunning = 0;
const startQueue: (() => void)[] = [];

function acquireStartSlot(): Promise<void> {
  if (startsRunning < START_SLOTS) {
    startsRunning += 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => startQueue.push(resolve));
}

function releaseStartSlot(): void {
  const next = startQueue.shift();
  if (next === undefined) startsRunning -= 1;
  else next();
}

/** Creates a lab of `names` nodes; throws a clear Error when namespaces are refused. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  preflight();
  installExitHandlers();
  if (!staleCleaned) {
    staleCleaned = true;
    removeStaleLabs();
  }
  labCounter += 1;
  const lab = new Lab(`rxl${process.pid}-${labCounter}`, labCounter, options.names ?? ['n1', 'n2', 'n3', 'n4', 'n5']);
  liveLabs.add(lab);
  try {
    await lab.build();
  } catch (error) {
    await lab.destroy();
    throw error;
  }
  return lab;
}

/** A lab destroyed after the test whatever happens, with an empty leftover list checked. */
export async function labFor(t: TestContext, names?: readonly string[]): Promise<Lab> {
  const lab = await createLab(names === undefined ? {} : { names });
  t.after(async () => {
    await lab.destroy();
    assert.deepEqual(lab.leftovers(), [], `lab ${lab.id} left namespaces behind`);
  });
  return lab;
}

/** What the nodes wrote on stderr, each named; empty when none wrote anything. */
export function stderrOf(nodes: readonly LabNode[]): string {
  return nodes
    .filter((node) => node.stderr().trim() !== '')
    .map((node) => `${node.name} (pid ${node.pid}): ${node.stderr().trim()}`)
    .join('\n');
}

export class Lab {
  /** The bridge's namespace. */
  readonly bridgeNs: string;
  readonly timeline: FaultEvent[] = [];
  /** Every node process ever started here, in order (restarts included). */
  readonly processes: LabNode[] = [];
  private readonly helpers = new Set<Recorded>();
  private readonly impairments = new Map<string, Impairment>();
  private readonly downPorts = new Set<string>();
  private readonly subnet: string;
  private destroyed = false;

  constructor(
    /** The unique prefix of this lab's namespaces. */
    readonly id: string,
    counter: number,
    readonly names: readonly string[],
  ) {
    if (new Set(names).size !== names.length || names.length === 0 || names.length > 200) throw new Error(`bad node names: ${names.join(', ')}`);
    for (const name of names) if (!/^[a-z0-9]{1,20}$/.test(name)) throw new Error(`node name "${name}": expected [a-z0-9]{1,20}`);
    this.bridgeNs = `${id}-br`;
    this.subnet = `10.${(process.pid % 250) + 1}.${counter % 256}`;
  }

  /** The namespace of a node. */
  ns(name: string): string {
    this.index(name);
    return `${this.id}-${name}`;
  }

  /** A node's IPv4 address. */
  ip(name: string): string {
    return `${this.subnet}.${10 + this.index(name)}`;
  }

  private index(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`${name} is not a node of lab ${this.id}`);
    return i;
  }

  /** The bridge port (in the bridge's namespace) of a node. */
  private port(name: string): string {
    return `p${this.index(name)}`;
  }

  private mark(fault: string): void {
    this.timeline.push({ at: performance.now(), fault });
  }

  async build(): Promise<void> {
    const ipIn = (ns: string, ...args: string[]): Promise<string> => run('ip', ['-n', ns, ...args]);
    try {
      await run('ip', ['netns', 'add', this.bridgeNs]);
    } catch (error) {
      throw new Error(`network namespaces refused (\`ip netns add\` failed): the netns tests need root and a kernel with network namespaces: ${(error as Error).message}`, { cause: error });
    }
    await ipIn(this.bridgeNs, 'link', 'set', 'lo', 'up');
    await ipIn(this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ipIn(this.bridgeNs, 'link', 'set', 'br0', 'up');
    await this.nftBridge(['add', 'table', 'bridge', 'lab']);
    await this.nftBridge(['add', 'chain', 'bridge', 'lab', 'forward', '{ type filter hook forward priority 0; policy accept; }']);
    await Promise.all(
      this.names.map(async (name) => {
        const ns = this.ns(name);
        await run('ip', ['netns', 'add', ns]);
        await ipIn(ns, 'link', 'set', 'lo', 'up');
        // both ends are made inside the lab: nothing ever appears in the host's namespace
        await ipIn(this.bridgeNs, 'link', 'add', this.port(name), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        await ipIn(this.bridgeNs, 'link', 'set', this.port(name), 'master', 'br0');
        await ipIn(this.bridgeNs, 'link', 'set', this.port(name), 'up');
        await ipIn(ns, 'addr', 'add', `${this.ip(name)}/24`, 'dev', 'eth0');
        await ipIn(ns, 'link', 'set', 'eth0', 'up');
      }),
    );
  }

  /**
   * Sets the minimum TCP retransmission timeout on every node's route to its
   * /24 (`rto_min`), for connections made after this call. Linux's
   * retransmission timeout is about srtt + max(rto_min, 4 × mdev), rto_min
   * 200 ms by default, and it doubles at each retransmission, so when an old
   * connection retransmits after a long drop depends on round-trip samples a
   * loaded machine skews (delayed ACKs add tens of ms): a test that needs to
   * know when TCP cannot be back pins the floor here (on an idle veth the
   * RTO is then rto_min plus srtt).
   */
  async pinRtoMin(ms: number): Promise<void> {
    if (!Number.isInteger(ms) || ms < 1 || ms > 120_000) throw new Error(`rto_min ${ms}: expected whole milliseconds in 1..120000`);
    await Promise.all(
      this.names.map((name) =>
        run('ip', ['-n', this.ns(name), 'route', 'replace', `${this.subnet}.0/24`, 'dev', 'eth0', 'proto', 'kernel', 'scope', 'link', 'src', this.ip(name), 'rto_min', `${ms}ms`]),
      ),
    );
    for (const name of this.names) {
      const routes = await run('ip', ['-n', this.ns(name), 'route', 'show', `${this.subnet}.0/24`]);
      if (!routes.includes(`rto_min lock ${ms}ms`)) throw new Error(`${name}: rto_min ${ms}ms not set on its route: ${routes.trim()}`);
    }
  }

  private nftBridge(args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.bridgeNs, 'nft', ...args]);
  }

  private iptables(name: string, args: readonly string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.ns(name), 'iptables', '-w', '10', ...args]);
  }

  // ------------------------------------------------------------ faults

  /** Adds forward-chain rules on the bridge in one nft transaction: all take effect at the same instant. */
  private async bridgeRules(rules: readonly string[]): Promise<void> {
    const script = rules.map((rule) => `add rule bridge lab forward ${rule}\n`).join('');
    await run('ip', ['netns', 'exec', this.bridgeNs, 'nft', '-f', '-'], 15_000, script);
  }

  private dropRule(from: string, to: string): string {
    return `ip saddr ${this.ip(from)} ip daddr ${this.ip(to)} counter drop comment "${from}>${to}"`;
  }

  /** Packets each drop rule now in place has dropped, by `from>to` (proof that a fault really bit). */
  async dropped(): Promise<Record<string, number>> {
    const out = await this.nftBridge(['-j', 'list', 'chain', 'bridge', 'lab', 'forward']);
    const counts: Record<string, number> = {};
    for (const item of (JSON.parse(out) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] }).nftables) {
      const rule = item.rule;
      if (rule?.comment === undefined) continue;
      const counter = rule.expr.find((expr) => expr.counter !== undefined)?.counter;
      counts[rule.comment] = (counts[rule.comment] ?? 0) + (counter?.packets ?? 0);
    }
    return counts;
  }

  /** Packets a node's loss rule dropped and its delay rule queued so far (iptables counters). */
  async impaired(name: string): Promise<{ lost: number; delayed: number }> {
    const count = async (chain: string, target: string): Promise<number> =>
      (await this.iptables(name, ['-L', chain, '-v', '-x', '-n']))
        .split('\n')
        .filter((line) => line.includes(target))
        .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0] ?? 0), 0);
    return { lost: await count('INPUT', 'DROP'), delayed: await count('OUTPUT', 'NFQUEUE') };
  }

  /** `from`'s IP packets to `to` vanish on the bridge (silent: the sender sees no error); the other way still works. */
  async drop(from: string, to: string): Promise<void> {
    await this.bridgeRules([this.dropRule(from, to)]);
    this.mark(`drop ${from}->${to}`);
  }

  /** Both ways between a and b dropped. */
  async cut(a: string, b: string): Promise<void> {
    await this.bridgeRules([this.dropRule(a, b), this.dropRule(b, a)]);
    this.mark(`cut ${a}<->${b}`);
  }

  /** Every pair across the two groups cut, at once. */
  async partition(groupA: readonly string[], groupB: readonly string[]): Promise<void> {
    await this.bridgeRules(groupA.flatMap((a) => groupB.flatMap((b) => [this.dropRule(a, b), this.dropRule(b, a)])));
    this.mark(`partition ${groupA.join(',')} | ${groupB.join(',')}`);
  }

  /** Everything to and from a node dropped on the bridge (its link stays up). */
  async isolate(name: string): Promise<void> {
    await this.bridgeRules([`ip saddr ${this.ip(name)} counter drop comment "${name}>*"`, `ip daddr ${this.ip(name)} counter drop comment "*>${name}"`]);
    this.mark(`isolate ${name}`);
  }

  /**
   * The node's bridge port down: its link loses carrier, as with a pulled
   * cable. After `linkUp` the kernel takes up to a second (linkwatch) before
   * the device sends again, and ARP must resolve anew, as on real hardware.
   */
  async linkDown(name: string): Promise<void> {
    await run('ip', ['-n', this.bridgeNs, 'link', 'set', this.port(name), 'down']);
    this.downPorts.add(name);
    this.mark(`link down ${name}`);
  }

  async linkUp(name: string): Promise<void> {
    await run('ip', ['-n', this.bridgeNs, 'link', 'set', this.port(name), 'up']);
    this.downPorts.delete(name);
    this.mark(`link up ${name}`);
  }

  /** Random loss of `probability` of the packets a node receives (iptables statistic on INPUT: silent). */
  async loss(name: string, probability: number): Promise<void> {
    if (!(probability > 0 && probability < 1)) throw new Error(`loss probability ${probability}: expected (0, 1)`);
    await this.iptables(name, ['-A', 'INPUT', '-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP']);
    this.impairments.set(name, this.impairments.get(name) ?? {});
    this.mark(`loss ${name} ${probability}`);
  }

  /** Every packet a node sends waits `ms ± jitter` ms (uniform, no reordering): NFQUEUE on OUTPUT, served by delayq.py. */
  async delay(name: string, ms: number, jitter = 0): Promise<void> {
    const impairment = this.impairments.get(name) ?? {};
    if (impairment.delayq !== undefined) throw new Error(`${name} is already delayed`);
    if (!(ms >= jitter && jitter >= 0)) throw new Error(`delay ${ms} ± ${jitter}: expected 0 <= jitter <= delay`);
    const delayq = new Recorded(
      spawn('ip', ['netns', 'exec', this.ns(name), 'python3', DELAYQ, '0', String(ms), String(jitter)], { stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    this.helpers.add(delayq);
    impairment.delayq = delayq;
    this.impairments.set(name, impairment);
    await delayq.wait((line) => line.type === 'text' && line['text'] === 'ready', 15_000, `the delay queue of ${name} to bind`);
    // --queue-bypass: should the queue program be gone, packets pass rather than vanish
    await this.iptables(name, ['-A', 'OUTPUT', '-o', 'eth0', '-j', 'NFQUEUE', '--queue-num', '0', '--queue-bypass']);
    this.mark(`delay ${name} ${ms}±${jitter}ms`);
  }

  /** Removes loss and delay from every node. */
  async clearImpairments(): Promise<void> {
    await Promise.all(
      [...this.impairments.entries()].map(async ([name, impairment]) => {
        await this.iptables(name, ['-F', 'INPUT']);
        await this.iptables(name, ['-F', 'OUTPUT']);
        if (impairment.delayq !== undefined) {
          impairment.delayq.child.stdin?.end();
          await within(impairment.delayq.exited, 3000);
          await impairment.delayq.stop();
          this.helpers.delete(impairment.delayq);
        }
      }),
    );
    if (this.impairments.size > 0) this.mark('clear loss and delay');
    this.impairments.clear();
  }

  /** Every drop, cut, partition and isolation removed, every link up, loss and delay removed. */
  async heal(): Promise<void> {
    await this.nftBridge(['flush', 'chain', 'bridge', 'lab', 'forward']);
    for (const name of [...this.downPorts]) await run('ip', ['-n', this.bridgeNs, 'link', 'set', this.port(name), 'up']);
    this.downPorts.clear();
    await this.clearImpairments();
    this.mark('heal');
  }

  // ------------------------------------------------------------ processes

  /**
   * Starts the rxcluster CLI as node `name` in its namespace; resolves once it
   * printed its listening line. At most START_SLOTS nodes of all labs start at
   * once: loading tsx and the library costs ~1 CPU second, and forty at a time
   * on two cores would starve the nodes already running.
   */
  async start(name: string, options: StartOptions = {}): Promise<LabNode> {
    await acquireStartSlot();
    try {
      return await this.launch(name, options);
    } finally {
      releaseStartSlot();
    }
  }

  private async launch(name: string, options: StartOptions): Promise<LabNode> {
    const port = options.port ?? PORT;
    const args = ['--name', name, '--listen', `${this.ip(name)}:${port}`];
    for (const peer of options.peers ?? this.names.filter((other) => other !== name)) args.push('--peer', `${peer}=${this.ip(peer)}:${PORT}`);
    for (const [key, ms] of Object.entries(options.settings ?? {})) args.push('--setting', `${key}=${ms}`);
    if (options.logStdout !== false) args.push('--log-stdout');
    // the agreed view and the leader at each change: the view scenarios read them
    args.push('--views');
    const env: Record<string, string | undefined> = { ...process.env, RXCLUSTER_SECRET: SECRET };
    // not started through npm: the CLI must not watch its parent (ip netns exec execs it; the parent is this process)
    delete env['npm_command'];
    delete env['npm_lifecycle_event'];
    const spawnedAt = performance.now();
    const { loader, module } = cliEntry();
    const entry = options.gated === true ? [GATED_CLI, module] : [module];
    const child = spawn('ip', ['netns', 'exec', this.ns(name), process.execPath, ...loader, ...entry, ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const node = new LabNode(child, name, this.ns(name), `${this.ip(name)}:${port}`, spawnedAt);
    this.processes.push(node);
    if (this.destroyed) killPid(node.pid);
    const ready = options.gated === true ? 'gate' : 'listening';
    await node.wait((line) => line.type === ready, options.ms ?? 60_000, `${name} of ${this.id} to print its ${ready} line`);
    return node;
  }

  /** Starts every node (the same options), concurrently. */
  startAll(options: Omit<StartOptions, 'port' | 'peers'> = {}): Promise<LabNode[]> {
    return Promise.all(this.names.map((name) => this.start(name, options)));
  }

  /** Runs probe.mjs once inside a node's namespace; resolves its JSON answer. */
  async probe(name: string, args: readonly (string | number)[], ms = 15_000): Promise<Record<string, unknown>> {
    const out = await run('ip', ['netns', 'exec', this.ns(name), process.execPath, PROBE, ...args.map(String)], ms);
    return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  }

  /** A probe server (TCP echo, UDP counter) on PROBE_PORT in a node's namespace. */
  async serveProbe(name: string): Promise<{ udpCounts: () => Promise<Record<string, number>>; stop: () => Promise<void> }> {
    const server = new Recorded(spawn('ip', ['netns', 'exec', this.ns(name), process.execPath, PROBE, 'serve', String(PROBE_PORT)], { stdio: ['pipe', 'pipe', 'pipe'] }));
    this.helpers.add(server);
    await server.wait((line) => line.type === 'json' && (line['value'] as { ready?: boolean } | null)?.ready === true, 10_000, `the probe server in ${name}`).catch(
      async (error: unknown) => {
        await server.stop();
        throw error;
      },
    );
    return {
      udpCounts: async () => {
        const since = performance.now();
        server.send('count');
        const answer = await server.wait((line, at) => at >= since && line.type === 'json' && typeof (line['value'] as { udp?: unknown } | null)?.udp === 'object', 5000, `UDP counts of ${name}`);
        return (answer.line['value'] as { udp: Record<string, number> }).udp;
      },
      stop: async () => {
        await server.stop();
        this.helpers.delete(server);
      },
    };
  }

  // ------------------------------------------------------------ teardown

  /** Stops every process, deletes every namespace of the lab (and with them every interface and rule); bounded, never blocking the event loop. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await Promise.all([...this.processes, ...this.helpers].map((proc) => proc.stop()));
    const namespaces = [...this.names.map((name) => `${this.id}-${name}`), this.bridgeNs];
    await Promise.all(
      namespaces.map(async (ns) => {
        const pids = await run('ip', ['netns', 'pids', ns]).catch(() => '');
        for (const pid of pids.split(/\s+/).filter((p) => p !== '')) killPid(Number(pid));
        await run('ip', ['netns', 'delete', ns], 30_000).catch(() => undefined);
      }),
    );
    // whatever an error above left: the synchronous path, and the lab leaves the exit handlers' list
    if (namespaces.some((ns) => listNamespaces().includes(ns))) this.destroySync();
    liveLabs.delete(this);
  }

  /** The same, synchronously (for process exit handlers). */
  destroySync(): void {
    this.destroyed = true;
    for (const proc of [...this.processes, ...this.helpers]) if (!proc.hasExited()) killPid(proc.pid);
    for (const name of this.names) deleteNamespaceSync(`${this.id}-${name}`);
    deleteNamespaceSync(this.bridgeNs);
    liveLabs.delete(this);
  }

  /** This lab's namespaces that still exist. */
  leftovers(): string[] {
    return listNamespaces().filter((ns) => ns.startsWith(`${this.id}-`));
  }
}

/** Resolves with the promise's value, or undefined after `ms` (a referenced timer: the wait keeps the process alive). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * When an event happened on the performance clock: the `time` the node put
 * in the line (its own wall clock: the same host's), else when the line was
 * read here. A busy harness may read lines late; the node's time is not.
 */
export function eventAt(timed: Timed): number {
  const time = timed.line['time'];
  const wall = typeof time === 'string' ? Date.parse(time) : NaN;
  return Number.isFinite(wall) ? wall - performance.timeOrigin : timed.at;
}

/** Milliseconds, rounded, joined: for diagnostics. */
export function ms(values: readonly number[]): string {
  return values.map((value) => value.toFixed(0)).join(', ');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** A node's joins, leaves, quorum changes, suspicions, view changes and held joins as text, for assertion messages. */
export function storyOf(lines: readonly Timed[], since = 0): string {
  return lines
    .filter(({ at }) => at >= since)
    .flatMap(({ line, at }) => {
      const t = `${((at - since) / 1000).toFixed(1)}:`;
      switch (line.type) {
        case 'join':
          return [`${t}+${String(line['node'])}`];
        case 'leave':
          return [`${t}-${String(line['node'])}(${String(line['reason'])})`];
        case 'quorum':
          return [`${t}q=${String(line['quorum'])}`];
        case 'suspect':
          return [`${t}?${String(line['node'])}`];
        case 'alive':
          return [`${t}!${String(line['node'])}`];
        case 'view':
          return [`${t}v=${String(line['id']).slice(0, 8)}${line['converged'] === true ? '' : '~'}`];
        case 'log':
          // a held join explains a join that came late
          return line['code'] === 'RXC_ERR_FLAPPING' ? [`${t}hold(${String(line['node'])})`] : [];
        default:
          return [];
      }
    })
    .join(' ');
}
