import { combineLatest, defer, map, of, scan, startWith, type Observable } from 'rxjs';

/** The cluster view as the API shows it: its id, its members (self included, sorted), whether every member reports the same view. */
export interface ApiView {
  readonly id: string;
  readonly members: readonly string[];
  readonly converged: boolean;
}

/** Who one node reports it sees (itself included when it says so). */
export interface ApiConnectivity {
  readonly node: string;
  readonly sees: readonly string[];
}

/** One membership event as the API shows it; `time` ISO 8601. */
export interface ApiMembershipEvent {
  readonly type: string;
  readonly node: string;
  readonly time: string;
  /** Why it left, on a leave. */
  readonly reason?: string;
}

/**
 * What the status page shows beside the members and the quorum. A field is
 * absent when the manager has no stream for it, and the page shows a dash.
 */
export interface ApiOverview {
  readonly view?: ApiView;
  /** The leader's name, or null while there is none. */
  readonly leader?: string | null;
  /** One entry per node this one has a report from, by name. */
  readonly connectivity?: readonly ApiConnectivity[];
  /** The most recent membership events, oldest first, at most RECENT_EVENTS. */
  readonly events?: readonly ApiMembershipEvent[];
}

/** A membership event as a manager's membership$ emits it: join, leave (with its reason), update, suspect, alive. */
export interface MembershipEventLike {
  readonly type: string;
  readonly node: string;
  readonly time: Date;
  readonly reason?: string | null;
}

/** The streams an overview is made of; each optional. view$, leader$ and reachability$ are replayed. */
export interface OverviewSources {
  readonly view$?: Observable<ApiView> | undefined;
  readonly leader$?: Observable<string | null> | undefined;
  readonly reachability$?: Observable<ReadonlyMap<string, readonly string[]>> | undefined;
  /** The recent events as recentEvents makes them (replayed). */
  readonly events$?: Observable<readonly ApiMembershipEvent[]> | undefined;
}

/** How many membership events the API keeps for the status page. */
export const RECENT_EVENTS = 50;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The connectivity reports of a reachability map, sorted by reporter and by name seen. */
export function connectivityView(reports: ReadonlyMap<string, readonly string[]>): ApiConnectivity[] {
  return [...reports]
    .sort(([a], [b]) => byName(a, b))
    .map(([node, sees]) => ({ node, sees: [...sees].sort(byName) }));
}

/** A membership event as the API shows it: no metadata (it can be large; members$ carries it). */
export function membershipEventView(event: MembershipEventLike): ApiMembershipEvent {
  const base = { type: event.type, node: event.node, time: event.time.toISOString() };
  return typeof event.reason === 'string' ? { ...base, reason: event.reason } : base;
}

/**
 * The last `limit` membership events, oldest first: `[]` at once, then the
 * list after each event.
 *
 * ```
 * membership$:  --a--b--c--|
 * out (limit 2): e-A--B--C--|     A=[a] B=[a,b] C=[b,c]
 * ```
 *
 * @param membership$ - the manager's membership$ (hot)
 * @param limit - how many to keep, default RECENT_EVENTS
 */
export function recentEvents(membership$: Observable<MembershipEventLike>, limit = RECENT_EVENTS): Observable<readonly ApiMembershipEvent[]> {
  return membership$.pipe(
    scan((list: readonly ApiMembershipEvent[], event) => [...list.slice(Math.max(0, list.length - limit + 1)), membershipEventView(event)], []),
    startWith([] as readonly ApiMembershipEvent[]),
  );
}

/**
 * The overview of the sources present, read when subscribed (so a stream a
 * manager sets up after handing over its view still counts): one value per
 * change of any of them, at once when all are replayed; `{}` at once when
 * none is there.
 */
export function clusterOverview$(sources: () => OverviewSources): Observable<ApiOverview> {
  return defer(() => {
    const s = sources();
    const view$ = s.view$?.pipe(map((v): ApiOverview => ({ view: { id: v.id, members: [...v.members], converged: v.converged } }))) ?? of({});
    const leader$ = s.leader$?.pipe(map((leader): ApiOverview => ({ leader }))) ?? of({});
    const connectivity$ = s.reachability$?.pipe(map((r): ApiOverview => ({ connectivity: connectivityView(r) }))) ?? of({});
    const events$ = s.events$?.pipe(map((events): ApiOverview => ({ events }))) ?? of({});
    return combineLatest([view$, leader$, connectivity$, events$]).pipe(map((parts) => Object.assign({}, ...parts) as ApiOverview));
  });
}
