/**
 * Managers over NATS for the NATS tests: in this process, or as child
 * processes (test/support/node-process.ts with RXC_NATS_SERVERS).
 */
import { Manager, natsTransport, type ManagerOptions, type NatsTransport } from '../../src/index.js';
import type { LogEntry } from '../../src/log.js';
import { spawnNode, type ChildNode } from './child.js';
import { fastOptions, SECRET, type Node } from './cluster.js';
import type { Settings } from '../../src/settings.js';

/** A manager over NATS, its transport and its logs. */
export interface NatsNode extends Node {
  readonly transport: NatsTransport;
}

/**
 * A manager over NATS in this process, listening.
 *
 * @param servers - NATS URLs, tried in this order (no randomising), so a test knows each node's server
 */
export async function startNatsNode(name: string, servers: readonly string[], options: ManagerOptions = fastOptions(), prefix = 'rxc', secret: ConstructorParameters<typeof Manager>[1] = SECRET): Promise<NatsNode> {
  const transport = natsTransport({ servers: [...servers], subjectPrefix: prefix, reconnectTimeWait: 100, connection: { noRandomize: true } });
  const manager = new Manager(name, secret, { ...options, transport });
  const logs: LogEntry[] = [];
  manager.log$.subscribe((entry) => logs.push(entry));
  const address = await manager.listen();
  return { manager, address, logs, transport };
}

/** Managers over NATS, each configured with all the others. */
export async function natsMesh(names: readonly string[], servers: readonly string[] | ((i: number) => readonly string[]), options?: ManagerOptions, prefix?: string): Promise<NatsNode[]> {
  const nodes = await Promise.all(names.map((n, i) => startNatsNode(n, typeof servers === 'function' ? servers(i) : servers, options, prefix)));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.manager.addNode(b.manager.name);
  return nodes;
}

/** A node over NATS in a child process, configured with `peers`, listening. */
export function spawnNatsNode(name: string, servers: readonly string[], peers: readonly string[], prefix: string, settings?: Partial<Settings>): Promise<ChildNode> {
  return spawnNode(name, {
    peers: Object.fromEntries(peers.map((p) => [p, ''])),
    ...(settings === undefined ? {} : { settings }),
    env: { RXC_NATS_SERVERS: JSON.stringify(servers), RXC_NATS_PREFIX: prefix },
  });
}
