import type { ApiClusterNode } from './membership/snapshot.js';
import { hasQuorum } from './protocol/quorum.js';
import type { Settings } from './settings.js';
import type { StateDump } from './types.js';

/**
 * The seed's state dump: the manager's state and one line per peer.
 *
 * @returns the dump and the log lines that tell it (`[message, node?]`)
 */
export function describeState(
  name: string,
  phase: StateDump['state'],
  address: string | null,
  counts: { readonly configured: number; readonly online: number },
  settings: Settings,
  members: ReadonlyMap<string, ApiClusterNode>,
): { dump: StateDump; lines: [string, string | undefined][] } {
  const nodes = Object.fromEntries(members);
  const quorum = hasQuorum(counts.configured, counts.online);
  const lines: [string, string | undefined][] = [[`state: ${phase}, address ${address ?? 'none'}, quorum ${quorum}, ${counts.online}/${counts.configured} peers online`, undefined]];
  for (const node of members.values()) {
    lines.push([`node ${node.name} at ${node.addr}: ${node.status}, lag ${node.lag} ms, ${node.packets} packets${node.error === '' ? '' : `, error: ${node.error}`}`, node.name]);
  }
  return { dump: { name, state: phase, address, quorum, settings, nodes }, lines };
}
