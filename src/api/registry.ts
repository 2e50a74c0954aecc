import type { Observable } from 'rxjs';
import type { ApiClusterNode } from '../membership/snapshot.js';
import type { ApiOverview } from './overview.js';

/**
 * What the HTTP API needs of a manager, built by `apiTarget` from the
 * manager's public streams and the API's own credentials.
 */
export interface ApiTarget {
  readonly name: string;
  readonly apiEnabled: boolean;
  /** The current members, counters included. */
  membersNow(): ReadonlyMap<string, ApiClusterNode>;
  /** The current quorum. */
  quorumNow(): boolean;
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  readonly quorum$: Observable<boolean>;
  /** View, leader, connectivity and recent events, each present when the manager has it: the current value at once, then each change. */
  readonly overview$: Observable<ApiOverview>;
  /** The current overview. */
  overviewNow(): ApiOverview;
  /** Whether any admin is configured (`api.admins`); without one the login route is off. */
  readonly loginEnabled: boolean;
  /** Whether `username` is an admin with `password` (scrypt off the event loop, constant-time compare). Never rejects. */
  checkLogin(username: string, password: string): Promise<boolean>;
  issueApiToken(username: string): string;
  /** The token's username when it is valid for this manager, else undefined. */
  verifyApiToken(token: string): string | undefined;
  /** Emits an admin request on fromClusterApi$; `reconnect` also drops that node's connection. */
  apiRequest(action: string, node: string, data: string): void;
  /** The Prometheus exposition of the manager's metrics; absent when they are off. */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/**
 * The managers of this process, by name: the one piece of process-wide state,
 * so `GET /api/v1/cluster` can list them. Managers add themselves when
 * constructed and remove themselves on shutdown.
 */
const managers = new Map<string, ApiTarget>();

/**
 * Lists a manager for the API while it listens.
 *
 * @returns false when another manager of this process holds the name (it stays listed)
 */
export function registerManager(target: ApiTarget): boolean {
  const holder = managers.get(target.name);
  if (holder !== undefined && holder !== target) return false;
  managers.set(target.name, target);
  return true;
}

export function unregisterManager(target: ApiTarget): void {
  if (managers.get(target.name) === target) managers.delete(target.name);
}

export function findManager(name: string): ApiTarget | undefined {
  return managers.get(name);
}

export function managerNames(): string[] {
  return [...managers.keys()].sort();
}

export type { RequestHandler } from '../transport/types.js';
