/**
 * Helpers for integration tests: real managers on 127.0.0.1, ephemeral ports.
 */
import { filter, firstValueFrom, take, timeout, toArray, type Observable } from 'rxjs';
import { Manager, type ApiClusterNode, type ManagerOptions } from '../../src/index.js';
import { FAST_SETTINGS } from '../../src/settings.js';
import type { LogEntry } from '../../src/log.js';

export const SECRET = 'test-secret-of-32-bytes-length!!';

/** Options with the short timings of FAST_SETTINGS, overridable. */
export function fastOptions(overrides: ManagerOptions = {}): ManagerOptions {
  return { ...overrides, settings: { ...FAST_SETTINGS, ...(overrides.settings ?? {}) } };
}

export interface Node {
  readonly manager: Manager;
  readonly address: string;
  /** Every log entry since creation. */
  readonly logs: LogEntry[];
}

/** Creates a manager on 127.0.0.1:0 and records its logs. */
export async function startNode(name: string, options: ManagerOptions = fastOptions(), secret: ConstructorParameters<typeof Manager>[1] = SECRET): Promise<Node> {
  const manager = new Manager(name, secret, options);
  const logs: LogEntry[] = [];
  manager.log$.subscribe((entry) => logs.push(entry));
  const address = await manager.listen('127.0.0.1:0');
  return { manager, address, logs };
}

/**
 * Starts `names.length` managers and configures each with all the others.
 * Nothing is awaited beyond listening: subscribe to what you expect first,
 * or use `joinedAll`.
 */
export async function startMesh(names: readonly string[], options: ManagerOptions = fastOptions()): Promise<Node[]> {
  const nodes = await Promise.all(names.map((name) => startNode(name, options)));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.manager.addNode(b.manager.name, b.address);
  return nodes;
}

/** Resolves once every node's members$ shows every other node Online. */
export async function joinedAll(nodes: readonly Node[], ms = 5000): Promise<void> {
  await Promise.all(
    nodes.map((node) =>
      first(node.manager.members$, (members) => nodes.every((other) => other === node || members.get(other.manager.name)?.status === 'Online'), ms, `${node.manager.name} sees all Online`),
    ),
  );
}

/** The first value matching `predicate`, or a rejection after `ms`. */
export function first<T>(source$: Observable<T>, predicate: (value: T) => boolean = () => true, ms = 5000, what = 'value'): Promise<T> {
  return firstValueFrom(
    source$.pipe(
      filter(predicate),
      take(1),
      timeout({ first: ms, with: () => Promise.reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }),
    ),
  );
}

/** Every value of `source$` until it completes, or a rejection after `ms`. */
export function all<T>(source$: Observable<T>, ms = 5000): Promise<T[]> {
  return firstValueFrom(source$.pipe(toArray(), timeout({ first: ms })));
}

/** Waits `ms` of real time (only to prove that something does NOT happen). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Shuts every node down, ignoring the already stopped. */
export async function shutdownAll(nodes: readonly Node[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.manager.shutdown()));
}

/** Log lines of a node, as text, for assertion messages. */
export function logText(node: Node): string {
  return node.logs.map(String).join('\n');
}

/** The members$ snapshot a manager holds now (members$ replays it synchronously). */
export function membersNow(manager: Manager): ReadonlyMap<string, ApiClusterNode> {
  let now: ReadonlyMap<string, ApiClusterNode> = new Map();
  manager.members$.pipe(take(1)).subscribe((m) => (now = m));
  return now;
}

/**
 * The user a token belongs to, as `manager`'s HTTP API sees it (its
 * `GET …/session` route), or undefined when the API refuses it.
 */
export async function tokenUser(manager: Manager, token: string): Promise<string | undefined> {
  const address = manager.address;
  if (address === null) throw new Error(`${manager.name} does not listen`);
  const res = await fetch(`http://${address}/api/v1/cluster/${encodeURIComponent(manager.name)}/session`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) return undefined;
  const body = (await res.json()) as { data: { username: string } };
  return body.data.username;
}
