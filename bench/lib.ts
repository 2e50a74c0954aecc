/**
 * The orchestrator's side of the bench: child processes started with the
 * same loader (`node --import tsx`), request/reply over IPC with a timeout on
 * every wait, and a kill switch that leaves no child behind.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ready, Reply } from './workers/common.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKERS = fileURLToPath(new URL('./workers/', import.meta.url));

/** Labels of children to run under --cpu-prof (env BENCH_CPU_PROF, comma-separated, e.g. `rx-B`). */
const PROFILED = new Set((process.env['BENCH_CPU_PROF'] ?? '').split(',').filter((s) => s !== ''));
export const PROFILE_DIR = join(tmpdir(), 'rxcluster-bench-profiles');

const live = new Set<ChildProcess>();

/** One bench child and its pending requests. */
export class Child {
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #ready: Promise<void>;
  #nextId = 1;
  #exited: string | undefined;

  private constructor(
    readonly label: string,
    worker: string,
    extraExecArgv: readonly string[],
    readyTimeoutMs: number,
  ) {
    const execArgv = ['--import', 'tsx', ...extraExecArgv];
    if (PROFILED.has(label)) {
      const dir = join(PROFILE_DIR, label);
      mkdirSync(dir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    this.#proc = fork(join(WORKERS, worker), [], {
      cwd: ROOT,
      execPath: process.execPath,
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    live.add(this.#proc);
    this.#ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      this.#proc.on('message', (raw: unknown) => {
        if ((raw as Ready).ready === true) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const reply = raw as Reply;
        const pending = this.#pending.get(reply.id);
        if (pending === undefined) return;
        this.#pending.delete(reply.id);
        clearTimeout(pending.timer);
        if (reply.ok) pending.resolve(reply.result);
        else pending.reject(new Error(`${label}: ${reply.error}`));
      });
      this.#proc.on('exit', (code, signal) => {
        live.delete(this.#proc);
        this.#exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
        clearTimeout(timer);
        const error = new Error(`${label}: child ended (${this.#exited})`);
        reject(error);
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(error);
          this.#pending.delete(id);
        }
      });
      this.#proc.on('error', (error) => reject(new Error(`${label}: ${error.message}`)));
    });
    // the ready promise is awaited in start(); keep an early rejection from being "unhandled"
    this.#ready.catch(() => undefined);
  }

  /** Starts `worker` (a file in bench/workers) and waits until it answers requests. */
  static async start(label: string, worker: string, extraExecArgv: readonly string[] = [], readyTimeoutMs = 30_000): Promise<Child> {
    const child = new Child(label, worker, extraExecArgv, readyTimeoutMs);
    await child.#ready;
    return child;
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** One request; rejects on the child's error, its death, or after `timeoutMs`. */
  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
    if (this.#exited !== undefined) return Promise.reject(new Error(`${this.label}: child ended (${this.#exited})`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#proc.send({ id, cmd, args }, (error) => {
        if (error === null) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new Error(`${this.label}: cannot send ${cmd}: ${error.message}`));
      });
    });
  }

  /**
   * Pins every thread of the child to one CPU (Linux `taskset`); threads it
   * starts later inherit it. Returns false when that is not possible.
   */
  pin(cpu: number): boolean {
    if (process.platform !== 'linux' || this.#proc.pid === undefined) return false;
    const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(this.#proc.pid)], { stdio: 'ignore', timeout: 5000 });
    return r.status === 0;
  }

  /** Asks the child to shut down and exit; kills it if it has not within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()));
    const deadline = Date.now() + graceMs;
    try {
      await this.call('shutdown', {}, graceMs);
      await this.call('exit', {}, Math.max(100, deadline - Date.now()));
    } catch {
      // fall through to the kill
    }
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), Math.max(100, deadline - Date.now()));
    await exited;
    clearTimeout(timer);
  }
}

/** Kills every child still running (SIGKILL). Safe to call more than once. */
export function killAll(): void {
  for (const proc of live) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  live.clear();
}

/** Children still running (for the final check). */
export function liveCount(): number {
  return live.size;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function portOf(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}
