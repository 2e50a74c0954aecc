/**
 * Runs test/support/node-process.ts as a child process and reads its JSON
 * lines. Every wait is bounded; `stop()` always leaves no child behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ReplaySubject, type Observable } from 'rxjs';
import { FAST_SETTINGS, type Settings } from '../../src/settings.js';
import { first, SECRET } from './cluster.js';
import { within } from './raw.js';

/** One line the child printed. */
export type ChildLine =
  | { readonly type: 'listening'; readonly address: string }
  | { readonly type: 'join' | 'leave'; readonly node: string }
  | { readonly type: 'log'; readonly level: string; readonly message: string; readonly node: string | null; readonly code: string | null }
  | { readonly type: 'stopped' }
  | { readonly type: 'blocking'; readonly ms: number }
  | { readonly type: 'unblocked' };

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildNode {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly address: string;
  /** Every line printed so far, then each new one, with the time it was read (performance.now()). */
  readonly lines$: Observable<{ readonly line: ChildLine; readonly at: number }>;
  /** Settles when the child has exited. */
  readonly exited: Promise<ChildExit>;
  /** Whether it has exited. */
  readonly hasExited: () => boolean;
  /** Resumes a stopped child, kills it, and waits for its exit. Safe to call twice. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = 'test/support/node-process.ts';

export interface SpawnOptions {
  readonly peers?: Readonly<Record<string, string>>;
  readonly settings?: Partial<Settings>;
  readonly options?: { readonly maxPayload?: number; readonly sendBufferBytes?: number };
  readonly secret?: string;
  /** Extra environment (RXC_BLOCK_MS for SIGUSR2). */
  readonly env?: Readonly<Record<string, string>>;
  /** ms to wait for the `listening` line. */
  readonly ms?: number;
}

/** Spawns a node, resolves once it listens. */
export async function spawnNode(name: string, opts: SpawnOptions = {}): Promise<ChildNode> {
  const peers = Object.entries(opts.peers ?? {}).map(([peer, addr]) => `${peer}=${addr}`);
  const args = ['--import', 'tsx', SCRIPT, name, JSON.stringify(peers), JSON.stringify({ ...FAST_SETTINGS, ...(opts.settings ?? {}) })];
  if (opts.options !== undefined) args.push(JSON.stringify(opts.options));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...(opts.env ?? {}), RXC_SECRET: opts.secret ?? SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let exitInfo: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const lines$ = new ReplaySubject<{ line: ChildLine; at: number }>();
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  reader.on('line', (text) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      return; // not ours (a stray console.log): ignore
    }
    lines$.next({ line, at: performance.now() });
  });
  reader.once('close', () => lines$.complete());

  const hasExited = (): boolean => exitInfo !== undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited()) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await within(exited, 5000, `child ${name} to exit after SIGKILL`);
      reader.close();
    })();
    return stopping;
  };

  try {
    const listening = await first(
      lines$,
      ({ line }) => line.type === 'listening',
      opts.ms ?? 15_000,
      `child ${name} to print its listening address`,
    );
    if (listening.line.type !== 'listening' || child.pid === undefined) throw new Error(`child ${name} did not start`);
    return { child, pid: child.pid, address: listening.line.address, lines$, exited, hasExited, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The first line of `node` matching `predicate`, with the time it was read, or a rejection after `ms`. */
export async function childLine(
  node: ChildNode,
  predicate: (line: ChildLine) => boolean,
  ms: number,
  what: string,
): Promise<{ line: ChildLine; at: number }> {
  return first(node.lines$, ({ line }) => predicate(line), ms, what);
}
