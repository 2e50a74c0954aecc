import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  asyncScheduler,
  combineLatest,
  distinctUntilChanged,
  endWith,
  filter,
  ignoreElements,
  interval,
  map,
  merge,
  takeUntil,
  type Observable,
  type SchedulerLike,
  Subscription,
} from 'rxjs';
import type { ApiClusterNode } from '../membership/snapshot.js';
import type { ApiOverview } from './overview.js';
import type { ApiTarget } from './registry.js';

/** One node as the API shows it (the seed's APIClusterNode). */
export interface NodeView {
  readonly name: string;
  readonly addr: string;
  readonly status: string;
  readonly error: string;
  /** ISO 8601, or null before the first join. */
  readonly jointime: string | null;
  /** Ping round trip, in ms (0 while not Online). */
  readonly lag: number;
  readonly packets: number;
  /** ISO 8601 of the last leave, or null. */
  readonly leavetime: string | null;
  /** Why it last left (`shutdown`, `timeout`, `lost`, …), or null. */
  readonly leaveReason: string | null;
  /** The node's metadata (tags and roles). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The nodes of a members snapshot, by name, as the API shows them. */
export function nodesView(members: ReadonlyMap<string, ApiClusterNode>): Record<string, NodeView> {
  // fromEntries defines own properties: a node named __proto__ stays a node
  return Object.fromEntries([...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, n]): [string, NodeView] => [name, {
      name: n.name,
      addr: n.addr,
      status: n.status,
      error: n.error,
      jointime: n.jointime === null ? null : n.jointime.toISOString(),
      lag: n.lag,
      packets: n.packets,
      leavetime: n.leavetime === null ? null : n.leavetime.toISOString(),
      leaveReason: n.leaveReason,
      metadata: n.metadata,
    }]));
}

/**
 * What `GET /api/v1/cluster/:manager` answers: the nodes, the quorum, and
 * whichever of view, leader, connectivity and recent events the manager has.
 */
export function clusterView(members: ReadonlyMap<string, ApiClusterNode>, quorum: boolean, overview: ApiOverview): Record<string, unknown> {
  return { quorum, nodes: nodesView(members), ...overview };
}

/** The default interval of the comment that keeps an idle event stream open, in ms. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * The server-sent events of a manager's status page, as wire text: one
 * `data: {"quorum":…,"nodes":{…},"view":…,"leader":…,"connectivity":…}`
 * message per change of members$, quorum$ or the overview (the current
 * state first; view, leader and connectivity only when the manager has
 * them), one `event: events` with `{"events":[…]}` (the recent membership
 * events, oldest first) per new event when the manager has membership$,
 * a `: heartbeat` comment every `heartbeatMs`, completing when members$
 * completes (the manager shut down).
 *
 * ```
 * members$:  a----b--------|
 * quorum$:   t-------f-----|
 * out:       A----B--C-:---|     (':' a heartbeat comment)
 * ```
 *
 * Messages that would repeat the previous one of their kind are dropped.
 *
 * @param target - the manager
 * @param heartbeatMs - ms between heartbeat comments, default 15000
 * @param scheduler - drives the heartbeat, default asyncScheduler
 */
export function clusterEvents$(target: ApiTarget, heartbeatMs = DEFAULT_HEARTBEAT_MS, scheduler: SchedulerLike = asyncScheduler): Observable<string> {
  const state$ = combineLatest([target.members$, target.quorum$, target.overview$]).pipe(
    map(([members, quorum, { events: _events, ...overview }]) => JSON.stringify(clusterView(members, quorum, overview))),
    distinctUntilChanged(),
    map((json) => `data: ${json}\n\n`),
  );
  const events$ = target.overview$.pipe(
    map((overview) => overview.events),
    distinctUntilChanged(),
    filter((events) => events !== undefined),
    map((events) => `event: events\ndata: ${JSON.stringify({ events })}\n\n`),
  );
  const heartbeat$ = interval(heartbeatMs, scheduler).pipe(map(() => ': heartbeat\n\n'));
  const stopped$ = target.members$.pipe(ignoreElements(), endWith(true));
  return merge(state$, events$, heartbeat$).pipe(takeUntil(stopped$));
}

/** Unsent bytes past which an event-stream client is too slow and is dropped. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Serves `events$` as a `text/event-stream` response: ends the response when
 * it completes, unsubscribes when the client goes away, and drops a client
 * that lets more than 1 MiB pile up unread.
 */
export function serveEventStream(req: IncomingMessage, res: ServerResponse, events$: Observable<string>, onEnd: () => void): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  if (req.method === 'HEAD') {
    res.end();
    onEnd();
    return;
  }
  res.write('retry: 2000\n\n');
  let finished = false;
  // unsubscribed first if the stream ends at once: adding to it then tears down at once
  const subscription = new Subscription();
  const finish = (): void => {
    if (finished) return;
    finished = true;
    subscription.unsubscribe();
    onEnd();
  };
  subscription.add(events$.subscribe({
    next: (text) => {
      if (res.destroyed || res.writableEnded) return;
      if (res.writableLength > MAX_UNSENT_BYTES) {
        res.destroy();
        return;
      }
      res.write(text);
    },
    error: () => {
      res.end();
      finish();
    },
    complete: () => {
      res.end();
      finish();
    },
  }));
  res.on('close', finish);
  if (res.destroyed) finish();
}
