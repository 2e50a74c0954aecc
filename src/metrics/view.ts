import type { ApiClusterNode } from '../membership/snapshot.js';
import { STATUS } from '../membership/state.js';

/**
 * The view as this node sees it: itself plus every Online peer, sorted by
 * name (code-unit order, the same on every node).
 *
 * @param self - this node's name
 * @param members - the peers, as `members$` holds them (never self)
 * @returns the member names, sorted
 */
export function viewOf(self: string, members: ReadonlyMap<string, Pick<ApiClusterNode, 'status'>>): readonly string[] {
  const names = [self];
  for (const [name, member] of members) if (member.status === STATUS.ONLINE && name !== self) names.push(name);
  return names.sort(byName);
}

/**
 * The leader of a view: its lowest-named member while quorum holds, else
 * none (a node without quorum names no leader, so a minority side never
 * claims one).
 *
 * @param view - sorted member names, as from {@link viewOf}
 * @param quorum - whether this node has quorum
 * @returns the leader's name, or null
 */
export function leaderOf(view: readonly string[], quorum: boolean): string | null {
  return quorum ? (view[0] ?? null) : null;
}

/** Whether two sorted views hold the same members. */
export function sameView(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
