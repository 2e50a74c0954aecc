import { EMPTY, map, merge, type Observable } from 'rxjs';
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Metric } from 'prom-client';
import type { ApiClusterNode } from '../membership/snapshot.js';
import { STATUS } from '../membership/state.js';
import type { TrafficSnapshot, TrafficStats } from '../stats.js';
import { EventLoopDelaySummary } from './eventLoopDelay.js';
import { DEFAULT_METRICS_PREFIX, type AnyRegistry, type MetricsOptions } from './options.js';
import { leaderOf, sameView, viewOf } from './view.js';

export { DEFAULT_METRICS_PREFIX, resolveMetricsOptions, type AnyRegistry, type MetricsOptions, type ResolvedMetricsOptions } from './options.js';
export { EVENT_LOOP_QUANTILES, EVENT_LOOP_RESOLUTION_MS } from './eventLoopDelay.js';
export { leaderOf, viewOf } from './view.js';

let promClient: typeof PromClient | undefined;

/** prom-client, loaded on first use: a process without metrics never loads its ~90 modules. */
function prom(): typeof PromClient {
  promClient ??= createRequire(import.meta.url)('prom-client') as typeof PromClient;
  return promClient;
}

/** Upper bounds of the round-trip histogram's buckets, in seconds: 1 ms (the clock's step) to 10 s. */
export const RTT_BUCKETS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** What the metrics read of a manager: its public streams and counters (a Manager is one). */
export interface MetricsSource {
  readonly name: string;
  /** Every configured or connected peer, replayed. */
  readonly members$: Observable<ReadonlyMap<string, Pick<ApiClusterNode, 'status'>>>;
  /** The quorum, replayed. */
  readonly quorum$: Observable<boolean>;
  /** The most unsent bytes queued for any one peer. */
  readonly bufferedAmount: number;
  readonly stats: Pick<TrafficStats, 'snapshot' | 'onRtt'>;
  /** The agreed view and its leader (a Manager has them); without them, the view is this node and its Online peers. */
  readonly view$?: Observable<{ readonly members: readonly string[] }>;
  readonly leader$?: Observable<string | null>;
}

/** The metrics of one manager, registered in `registry`. */
export interface ClusterMetrics {
  readonly registry: AnyRegistry;
  /** The registry's exposition, as `GET /metrics` serves it. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
  /** Stops sampling and listening and removes these series from the registry; safe to call twice. */
  close(): void;
}

/**
 * Registers the cluster's Prometheus metrics for `manager` (names below with
 * the default prefix). Gauges and counters read the manager's current values
 * when scraped (prom-client `collect()`); round trips are observed as they are
 * measured; the event loop is sampled by Node.
 *
 * - `rxcluster_members{status}` gauge: peers (self not counted) by status, every status present
 * - `rxcluster_quorum` gauge: 1 while this node has quorum, else 0
 * - `rxcluster_leader` gauge: 1 while this node is `leader$` (the agreed view's lowest-named member, quorum held), else 0
 * - `rxcluster_view_changes_total` counter: changes of the agreed view's members (`view$`)
 * - `rxcluster_peer_rtt_seconds` histogram: ping round trips to peers, all peers together
 * - `rxcluster_reconnects_total` counter: redials of configured peers
 * - `rxcluster_messages_{sent,received}_total`, `rxcluster_bytes_{sent,received}_total` counters: application traffic
 * - `rxcluster_send_buffer_bytes` gauge: the most unsent bytes queued for any one peer
 * - `rxcluster_frames_refused_total{reason}` counter: refused frames, handshakes and sends, every reason present
 * - `rxcluster_event_loop_delay_seconds` summary: see {@link EventLoopDelaySummary}
 *
 * No label takes a value from outside a fixed set: no peer names, no addresses.
 *
 * @param manager - what to measure
 * @param options - `registry` (default: a new Registry) and `prefix` (default `rxcluster_`)
 * @returns the registry and `close()`
 * @throws TypeError when the registry already holds one of these names (then nothing is registered)
 * @example
 * const metrics = clusterMetrics(manager, { registry: new Registry() });
 * http.createServer(async (_req, res) => { const { contentType, body } = await metrics.scrape(); res.setHeader('content-type', contentType); res.end(body); });
 */
export function clusterMetrics(manager: MetricsSource, options: MetricsOptions = {}): ClusterMetrics {
  const { Counter, Gauge, Histogram, Registry } = prom();
  const registry: AnyRegistry = options.registry ?? new Registry();
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  const name = (suffix: string): string => `${prefix}${suffix}`;
  let members: ReadonlyMap<string, Pick<ApiClusterNode, 'status'>> = new Map();
  let quorum = false;
  /** The view as first seen is the baseline: only later changes count. */
  let view: readonly string[] | undefined;
  let viewChanges = 0;
  let leader: string | null = null;

  const counter = (suffix: string, help: string, read: () => number): Counter =>
    new Counter({ name: name(suffix), help, registers: [], collect() { this.reset(); this.inc(read()); } });
  const gauge = (suffix: string, help: string, read: () => number): Gauge =>
    new Gauge({ name: name(suffix), help, registers: [], collect() { this.set(read()); } });
  const rtt = new Histogram({ name: name('peer_rtt_seconds'), help: 'Round trip of pings to peers, in seconds (all peers together).', buckets: [...RTT_BUCKETS], registers: [] });
  const snapshot = (): TrafficSnapshot => manager.stats.snapshot();
  const metrics = new Map<string, Metric>([
    [name('members'), new Gauge({
      name: name('members'), help: 'Peers of this node (self not counted) by status.', labelNames: ['status'], registers: [],
      collect() {
        const counts = new Map<string, number>(Object.values(STATUS).map((s) => [s, 0]));
        for (const member of members.values()) counts.set(member.status, (counts.get(member.status) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    })],
    [name('quorum'), gauge('quorum', '1 while this node has quorum, else 0.', () => (quorum ? 1 : 0))],
    [name('leader'), gauge('leader', '1 while this node is the leader of its view (its lowest-named member, quorum held), else 0.', () => (leader === manager.name ? 1 : 0))],
    [name('view_changes_total'), counter('view_changes_total', 'Changes of the agreed view (its members).', () => viewChanges)],
    [name('peer_rtt_seconds'), rtt],
    [name('reconnects_total'), counter('reconnects_total', 'Redials of configured peers after the first dial.', () => snapshot().reconnects)],
    [name('messages_sent_total'), counter('messages_sent_total', 'Application messages queued for peers (a broadcast to n peers counts n).', () => snapshot().messagesSent)],
    [name('messages_received_total'), counter('messages_received_total', 'Application messages received from peers.', () => snapshot().messagesReceived)],
    [name('bytes_sent_total'), counter('bytes_sent_total', 'Bytes of the application messages queued for peers.', () => snapshot().bytesSent)],
    [name('bytes_received_total'), counter('bytes_received_total', 'Bytes of the application messages received from peers.', () => snapshot().bytesReceived)],
    [name('send_buffer_bytes'), gauge('send_buffer_bytes', 'The most unsent bytes queued for any one peer.', () => manager.bufferedAmount)],
    [name('frames_refused_total'), new Counter({
      name: name('frames_refused_total'), help: 'Frames, handshakes and sends refused, by reason.', labelNames: ['reason'], registers: [],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(snapshot().refused)) this.inc({ reason }, n);
      },
    })],
  ]);
  const eventLoopName = name('event_loop_delay_seconds');
  const taken = [...metrics.keys(), eventLoopName].filter((n) => registry.getSingleMetric(n) !== undefined);
  if (taken.length > 0) throw new TypeError(`Invalid metrics.registry: it holds ${taken.join(', ')} already (give each manager its own registry or prefix)`);

  const eventLoop = new EventLoopDelaySummary(eventLoopName);
  // prom-client registers any object with a name and get(); its typings know only its own classes
  metrics.set(eventLoopName, eventLoop as unknown as Metric);
  for (const metric of metrics.values()) registry.registerMetric(metric);
  const stopRtt = manager.stats.onRtt((seconds) => rtt.observe(seconds));
  const seen = (next: readonly string[]): void => {
    if (view !== undefined && !sameView(view, next)) viewChanges++;
    view = next;
  };
  const agreed = manager.view$ !== undefined && manager.leader$ !== undefined;
  const subscription = merge(
    manager.members$.pipe(map((m) => () => {
      members = m;
      if (!agreed) {
        seen(viewOf(manager.name, m));
        leader = leaderOf(view ?? [manager.name], quorum);
      }
    })),
    manager.quorum$.pipe(map((q) => () => {
      quorum = q;
      if (!agreed) leader = leaderOf(view ?? [manager.name], quorum);
    })),
    (manager.view$ ?? EMPTY).pipe(map((v) => () => seen(v.members))),
    (manager.leader$ ?? EMPTY).pipe(map((l) => () => (leader = l))),
  ).subscribe((apply) => apply());

  let open = true;
  return {
    registry,
    scrape: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    close: () => {
      if (!open) return;
      open = false;
      subscription.unsubscribe();
      stopRtt();
      eventLoop.close();
      for (const [n, metric] of metrics) if (registry.getSingleMetric(n) === metric) registry.removeSingleMetric(n);
    },
  };
}
