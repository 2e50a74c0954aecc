/**
 * Runs the `rxcluster` CLI (src/cli.ts, through tsx) as child processes and
 * reads their JSON lines. Every wait is bounded; `stop()` always leaves no
 * child behind, and so does this process exiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ReplaySubject, type Observable } from 'rxjs';
import { first, SECRET } from './cluster.js';
import { within } from './raw.js';

/** One line the CLI printed on stdout. */
export type CliLine =
  | { readonly type: 'listening'; readonly address: string; readonly quorum?: boolean }
  | { readonly type: 'join'; readonly node: string; readonly time: string }
  | { readonly type: 'leave'; readonly node: string; readonly reason: string; readonly time: string }
  | { readonly type: 'quorum'; readonly quorum: boolean }
  | { readonly type: 'suspect' | 'alive'; readonly node: string; readonly time: string }
  | { readonly type: 'view'; readonly id: string; readonly members: readonly string[]; readonly converged: boolean; readonly time: string }
  | { readonly type: 'leader'; readonly leader: string | null; readonly time: string }
  | { readonly type: 'message'; readonly from: string; readonly data: unknown; readonly time: string }
  | { readonly type: 'log'; readonly level: string; readonly message: string; readonly node?: string; readonly code?: string }
  | { readonly type: 'stopped' }
  /** Not JSON (the usage text, or a stray line): kept as it was. */
  | { readonly type: 'text'; readonly text: string };

/** A line with the time it was read here (performance.now()). */
export interface Timed {
  readonly line: CliLine;
  readonly at: number;
}

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every line printed so far. */
  readonly lines: readonly Timed[];
  /** Every line printed so far, then each new one. */
  readonly lines$: Observable<Timed>;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Settles when the child has exited. */
  readonly exited: Promise<CliExit>;
  hasExited(): boolean;
  /** Writes one line to its stdin. */
  send(text: string): void;
  /** The first line (past or future) matching `predicate` (given the line and when it was read), or a rejection after `ms`. */
  wait(predicate: (line: CliLine, at: number) => boolean, ms: number, what: string): Promise<Timed>;
  /** Resumes it if stopped, SIGKILLs it, waits for its exit. Safe to call twice. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = 'src/cli.ts';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  // the test process is going away: no CLI child may outlive it
  for (const child of live) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Starts `node --import tsx src/cli.ts ...args` at once; nothing is awaited. */
export function launchCli(args: readonly string[], env: Readonly<Record<string, string | undefined>> = { RXCLUSTER_SECRET: SECRET }): CliProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env };
  delete childEnv['RXCLUSTER_SECRET'];
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...childEnv, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('the CLI could not be spawned');
  live.add(child);
  child.stdin?.on('error', () => undefined); // writing to a killed child must not throw
  let exitInfo: CliExit | undefined;
  const exited = new Promise<CliExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      resolve(exitInfo);
    });
  });
  const lines: Timed[] = [];
  const lines$ = new ReplaySubject<Timed>();
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  reader.on('line', (text) => {
    let line: CliLine;
    try {
      line = JSON.parse(text) as CliLine;
    } catch {
      line = { type: 'text', text };
    }
    const timed = { line, at: performance.now() };
    lines.push(timed);
    lines$.next(timed);
  });
  reader.once('close', () => lines$.complete());
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (stderr += chunk));

  const hasExited = (): boolean => exitInfo !== undefined;
  let stopping: Promise<void> | undefined;
  return {
    child,
    pid: child.pid,
    lines,
    lines$,
    stderr: () => stderr,
    exited,
    hasExited,
    send: (text) => {
      child.stdin?.write(`${text}\n`);
    },
    wait: (predicate, ms, what) =>
      first(lines$, ({ line, at }) => predicate(line, at), ms, what).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}${stderr === '' ? '' : `; its stderr: ${stderr.trim()}`}`);
      }),
    stop: () => {
      stopping ??= (async () => {
        if (!hasExited()) {
          child.kill('SIGCONT');
          child.kill('SIGKILL');
        }
        await within(exited, 5000, `CLI ${child.pid} to exit after SIGKILL`);
        reader.close();
        child.stdin?.destroy();
      })();
      return stopping;
    },
  };
}

/** A running node: a CLI process that printed its listening line. */
export interface CliNode extends CliProcess {
  readonly name: string;
  readonly address: string;
}

export interface CliNodeOptions {
  /** Default 127.0.0.1:0. */
  readonly listen?: string;
  readonly peers?: Readonly<Record<string, string>>;
  /** `--setting` values, ms. */
  readonly settings?: Readonly<Record<string, number>>;
  readonly extraArgs?: readonly string[];
  /** ms to wait for the listening line (default 30 s: starting tsx on a busy machine is slow). */
  readonly ms?: number;
  /** Pass --log-stdout, so log entries come as JSON lines among the events (default true). */
  readonly logStdout?: boolean;
}

/** The FAST_SETTINGS timings, as the fault tests pass them with --setting. */
export const FAST = Object.freeze({
  joinDelay: 100,
  readTimeout: 1000,
  pingInterval: 200,
  connectInterval: 100,
  maxConnectInterval: 1000,
  connectTimeout: 2000,
});

/** The CLI arguments of a node. */
export function nodeArgs(name: string, opts: CliNodeOptions = {}): string[] {
  const args = ['--name', name, '--listen', opts.listen ?? '127.0.0.1:0'];
  for (const [peer, addr] of Object.entries(opts.peers ?? {})) args.push('--peer', `${peer}=${addr}`);
  for (const [key, ms] of Object.entries(opts.settings ?? FAST)) args.push('--setting', `${key}=${ms}`);
  if (opts.logStdout !== false) args.push('--log-stdout');
  return [...args, ...(opts.extraArgs ?? [])];
}

/** Starts a node; resolves once it prints its listening line; rejects (with its stderr) if it exits first. */
export async function startCli(name: string, opts: CliNodeOptions = {}): Promise<CliNode> {
  const proc = launchCli(nodeArgs(name, opts));
  try {
    const listening = await Promise.race([
      proc.wait((line) => line.type === 'listening', opts.ms ?? 30_000, `${name} to print its listening line`),
      proc.exited.then((exit) => {
        throw new Error(`${name} exited (${exit.code ?? exit.signal}) before listening: ${proc.stderr().trim()}`);
      }),
    ]);
    if (listening.line.type !== 'listening') throw new Error('unreachable');
    return { ...proc, name, address: listening.line.address };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/**
 * `count` ports on 127.0.0.1 that were free a moment ago: each bound on port
 * 0, all held at once so they differ, then closed. Another process may take
 * one before it is used; callers retry on EADDRINUSE.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await within(
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve());
        }),
        3000,
        'a free port',
      );
    }
    return servers.map((server) => {
      const bound = server.address();
      if (bound === null || typeof bound === 'string') throw new Error('no TCP address');
      return bound.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** Joins and leaves of `peer` a node printed at or after `since` (performance.now()). */
export function membership(node: CliProcess, peer: string, since = 0): { joins: Timed[]; leaves: Timed[] } {
  const of = (type: 'join' | 'leave'): Timed[] =>
    node.lines.filter(({ line, at }) => at >= since && line.type === type && line.node === peer);
  return { joins: of('join'), leaves: of('leave') };
}

/** The quorum:false lines a node printed at or after `since`. */
export function quorumLost(node: CliProcess, since = 0): Timed[] {
  return node.lines.filter(({ line, at }) => at >= since && line.type === 'quorum' && !line.quorum);
}

/** A node's joins and leaves as `+B -B +B`, for assertion messages. */
export function story(node: CliProcess): string {
  return node.lines
    .flatMap(({ line }) =>
      line.type === 'join' ? [`+${line.node}`] : line.type === 'leave' ? [`-${line.node}(${line.reason})`] : line.type === 'quorum' ? [`q=${line.quorum}`] : [],
    )
    .join(' ');
}

/** `GET /api/v1/cluster/<manager>` on a node's cluster port: its view of the nodes. */
export async function clusterView(node: CliNode, ms = 3000): Promise<{ quorum: boolean; nodes: Record<string, { name: string; status: string }> }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    const res = await fetch(`http://${node.address}/api/v1/cluster/${encodeURIComponent(node.name)}`, { signal: controller.signal });
    const body = (await res.json()) as { success: boolean; error: string; data: { quorum: boolean; nodes: Record<string, { name: string; status: string }> } };
    if (!body.success) throw new Error(`API of ${node.name} answered ${res.status}: ${body.error}`);
    return body.data;
  } finally {
    clearTimeout(timer);
  }
}

/** The peers of `name` in a cluster of `nodes`: every other node's name and address. */
export function peersOf(name: string, nodes: readonly { readonly name: string; readonly address: string }[]): Record<string, string> {
  return Object.fromEntries(nodes.filter((node) => node.name !== name).map((node) => [node.name, node.address]));
}

/**
 * Starts one CLI node per name, each on a port picked beforehand and
 * configured with every other one, so that they find each other at once.
 * A port taken by someone else in between (EADDRINUSE) makes it start over
 * once. Every process is handed to `defer` for cleanup as soon as it exists.
 */
export async function startCliCluster(
  names: readonly string[],
  defer: (release: () => unknown) => void,
  opts: Omit<CliNodeOptions, 'listen' | 'peers'> & {
    readonly extraArgsFor?: (name: string) => readonly string[];
    /** The address `from` dials to reach `to` (which listens at `address`); default `address` itself. */
    readonly route?: (from: string, to: string, address: string) => string;
  } = {},
): Promise<CliNode[]> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(names.length);
    const planned = names.map((name, i) => ({ name, address: `127.0.0.1:${ports[i] ?? 0}` }));
    const results = await Promise.allSettled(
      planned.map(({ name, address }) => {
        const extraArgs = [...(opts.extraArgs ?? []), ...(opts.extraArgsFor?.(name) ?? [])];
        const peers = Object.fromEntries(Object.entries(peersOf(name, planned)).map(([peer, at]) => [peer, opts.route?.(name, peer, at) ?? at]));
        const started = startCli(name, { ...opts, extraArgs, listen: address, peers });
        void started.then((node) => defer(() => node.stop()), () => undefined);
        return started;
      }),
    );
    const nodes = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    if (nodes.length === names.length) return nodes;
    await Promise.all(nodes.map((node) => node.stop()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    const reason = failure?.reason instanceof Error ? failure.reason : new Error(String(failure?.reason));
    if (attempt >= 2 || !reason.message.includes('EADDRINUSE')) throw reason;
  }
}

/** Resolves once every node printed a join for every other one (at or after `since`). */
export async function meshJoined(nodes: readonly CliNode[], ms: number, since = 0): Promise<void> {
  await Promise.all(
    nodes.flatMap((node) =>
      nodes
        .filter((other) => other !== node)
        .map((other) =>
          node.wait((line, at) => at >= since && line.type === 'join' && line.node === other.name, ms, `${node.name} to print a join of ${other.name}`),
        ),
    ),
  );
}
