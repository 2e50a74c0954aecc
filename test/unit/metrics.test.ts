import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BehaviorSubject } from 'rxjs';
import { register as globalRegistry, Registry, type RegistryContentType } from 'prom-client';
import { clusterMetrics, leaderOf, resolveMetricsOptions, viewOf, type MetricsSource } from '../../src/metrics/index.js';
import type { Status } from '../../src/membership/state.js';
import { TrafficStats } from '../../src/stats.js';

type Members = ReadonlyMap<string, { readonly status: Status }>;

/** A manager's public surface, driven by hand. */
function fakeManager(name: string, peers: Record<string, Status>, quorum = true): MetricsSource & { members$: BehaviorSubject<Members>; quorum$: BehaviorSubject<boolean>; stats: TrafficStats; buffered: number } {
  const members$ = new BehaviorSubject<Members>(new Map(Object.entries(peers).map(([n, status]) => [n, { status }])));
  const quorum$ = new BehaviorSubject(quorum);
  const fake = {
    name,
    members$,
    quorum$,
    stats: new TrafficStats(),
    buffered: 0,
    get bufferedAmount(): number {
      return fake.buffered;
    },
  };
  return fake;
}

/** The value of one series line (`name{labels} value`) in an exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('viewOf and leaderOf', () => {
  const TABLE: readonly (readonly [self: string, peers: Record<string, Status>, quorum: boolean, view: string[], leader: string | null])[] = [
    ['a', {}, true, ['a'], 'a'],
    ['b', { a: 'Online', c: 'Online' }, true, ['a', 'b', 'c'], 'a'],
    ['b', { a: 'Offline', c: 'Online' }, true, ['b', 'c'], 'b'],
    ['c', { a: 'Authenticating', b: 'Leaving', d: 'Stopping' }, true, ['c'], 'c'],
    ['b', { a: 'Online', c: 'Online' }, false, ['a', 'b', 'c'], null],
    ['node10', { node2: 'Online', node1: 'Online' }, true, ['node1', 'node10', 'node2'], 'node1'],
    ['B', { a: 'Online' }, true, ['B', 'a'], 'B'], // code-unit order: upper case first
  ];
  for (const [self, peers, quorum, view, leader] of TABLE) {
    it(`should see ${JSON.stringify(view)} led by ${String(leader)} from ${self} with ${JSON.stringify(peers)}, quorum ${quorum}`, () => {
      const got = viewOf(self, new Map(Object.entries(peers).map(([n, status]) => [n, { status }])));
      assert.deepEqual(got, view);
      assert.equal(leaderOf(got, quorum), leader);
    });
  }
});

describe('resolveMetricsOptions', () => {
  it('should be off when not given, and default the prefix', () => {
    assert.equal(resolveMetricsOptions(undefined), undefined);
    assert.deepEqual(resolveMetricsOptions({}), { prefix: 'rxcluster_' });
    const registry = new Registry();
    assert.deepEqual(resolveMetricsOptions({ registry, prefix: 'app:cluster_' }), { registry, prefix: 'app:cluster_' });
    assert.deepEqual(resolveMetricsOptions({ prefix: '' }), { prefix: '' });
  });

  const BAD: readonly (readonly [value: unknown, message: RegExp])[] = [
    [null, /^Invalid metrics: /],
    [true, /^Invalid metrics: /],
    [{ registry: {} }, /^Invalid metrics\.registry: /],
    [{ registry: 'default' }, /^Invalid metrics\.registry: /],
    [{ prefix: 1 }, /^Invalid metrics\.prefix: /],
    [{ prefix: '1x_' }, /^Invalid metrics\.prefix: /],
    [{ prefix: 'my-app_' }, /^Invalid metrics\.prefix: /],
  ];
  for (const [value, message] of BAD) {
    it(`should refuse ${JSON.stringify(value)} with a TypeError naming the field`, () => {
      assert.throws(() => resolveMetricsOptions(value), (e: unknown) => e instanceof TypeError && message.test(e.message));
    });
  }
});

describe('clusterMetrics', () => {
  it('should read every series from the manager when scraped, in a registry of its own', async () => {
    const m = fakeManager('b', { a: 'Online', c: 'Offline', d: 'Authenticating' });
    const metrics = clusterMetrics(m);
    try {
      assert.notEqual(metrics.registry, globalRegistry, 'never the global registry by default');
      assert.equal(await globalRegistry.getSingleMetricAsString('rxcluster_quorum').catch(() => 'absent'), 'absent');
      m.stats.messagesSent = 4;
      m.stats.bytesSent = 400;
      m.stats.messagesReceived = 2;
      m.stats.bytesReceived = 150;
      m.stats.reconnects = 3;
      m.stats.refused('auth');
      m.stats.refused('auth');
      m.stats.refused('too-big');
      m.stats.rtt(3, 'a');
      m.stats.rtt(40, 'c');
      m.buffered = 1234;
      const { contentType, body } = await metrics.scrape();

      assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
      const expected: Record<string, number> = {
        'rxcluster_members{status="Online"}': 1,
        'rxcluster_members{status="Offline"}': 1,
        'rxcluster_members{status="Authenticating"}': 1,
        'rxcluster_members{status="Leaving"}': 0,
        'rxcluster_members{status="Stopping"}': 0,
        rxcluster_quorum: 1,
        rxcluster_leader: 0, // a is Online and lower
        rxcluster_view_changes_total: 0, // [a, b] from the start
        rxcluster_messages_sent_total: 4,
        rxcluster_bytes_sent_total: 400,
        rxcluster_messages_received_total: 2,
        rxcluster_bytes_received_total: 150,
        rxcluster_reconnects_total: 3,
        rxcluster_send_buffer_bytes: 1234,
        'rxcluster_frames_refused_total{reason="auth"}': 2,
        'rxcluster_frames_refused_total{reason="too-big"}': 1,
        'rxcluster_frames_refused_total{reason="bad-frame"}': 0,
        rxcluster_peer_rtt_seconds_count: 2,
        'rxcluster_peer_rtt_seconds_bucket{le="0.0025"}': 0,
        'rxcluster_peer_rtt_seconds_bucket{le="0.005"}': 1,
        'rxcluster_peer_rtt_seconds_bucket{le="0.05"}': 2,
      };
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map((s) => [s, sample(body, s)])), expected, body);
      assert.ok(Math.abs((sample(body, 'rxcluster_peer_rtt_seconds_sum') ?? 0) - 0.043) < 1e-9, body);
      assert.match(body, /^# TYPE rxcluster_event_loop_delay_seconds summary$/m);
      assert.ok((sample(body, 'rxcluster_event_loop_delay_seconds_sum') ?? -1) >= 0, body);
      assert.ok((sample(body, 'rxcluster_event_loop_delay_seconds_count') ?? -1) >= 0, body);
    } finally {
      metrics.close();
    }
  });

  it('should count each change of the view and name this node leader only while it is lowest and has quorum', async () => {
    const m = fakeManager('a', { b: 'Offline', c: 'Offline' }, false);
    const metrics = clusterMetrics(m);
    const read = async (): Promise<[changes: number | undefined, leader: number | undefined]> => {
      const { body } = await metrics.scrape();
      return [sample(body, 'rxcluster_view_changes_total'), sample(body, 'rxcluster_leader')];
    };
    try {
      assert.deepEqual(await read(), [0, 0], 'no quorum: no leader');
      m.members$.next(new Map([['b', { status: 'Authenticating' }], ['c', { status: 'Offline' }]]));
      assert.deepEqual(await read(), [0, 0], 'an Authenticating peer is not in the view');
      m.members$.next(new Map([['b', { status: 'Online' }], ['c', { status: 'Offline' }]]));
      m.quorum$.next(true);
      assert.deepEqual(await read(), [1, 1]);
      m.members$.next(new Map([['b', { status: 'Online' }], ['c', { status: 'Online' }]]));
      assert.deepEqual(await read(), [2, 1]);
      m.members$.next(new Map([['b', { status: 'Online' }], ['c', { status: 'Online' }]]));
      assert.deepEqual(await read(), [2, 1], 'the same members again is no change');
      m.members$.next(new Map([['b', { status: 'Leaving' }], ['c', { status: 'Online' }]]));
      m.quorum$.next(false);
      assert.deepEqual(await read(), [3, 0]);
    } finally {
      metrics.close();
    }
  });

  it('should take a prefix, refuse a registry holding its names (registering nothing), and leave the registry on close', async () => {
    const registry = new Registry();
    const first = clusterMetrics(fakeManager('a', {}), { registry });
    const before = await registry.metrics();
    assert.throws(() => clusterMetrics(fakeManager('b', {}), { registry }), (e: unknown) => e instanceof TypeError && /rxcluster_members, rxcluster_quorum/.test(e.message));
    assert.equal((await registry.metrics()).split('\n').filter((l) => l.startsWith('# TYPE')).length, before.split('\n').filter((l) => l.startsWith('# TYPE')).length);
    const second = clusterMetrics(fakeManager('b', {}), { registry, prefix: 'b_' });
    const both = await registry.metrics();
    assert.match(both, /^rxcluster_quorum 1$/m);
    assert.match(both, /^b_quorum 1$/m);
    assert.match(both, /^b_view_changes_total 0$/m);
    first.close();
    first.close();
    const after = await registry.metrics();
    assert.doesNotMatch(after, /rxcluster_/);
    assert.match(after, /^b_quorum 1$/m);
    second.close();
    assert.equal((await registry.metrics()).trim(), '');
    const again = clusterMetrics(fakeManager('a', {}), { registry });
    assert.match(await registry.metrics(), /^rxcluster_quorum 1$/m, 'the names are free again after close');
    again.close();
  });

  it('should expose the event-loop delay as a summary: quantiles of the latest window with samples, cumulative sum and count, never NaN', async () => {
    const metrics = clusterMetrics(fakeManager('a', {}));
    try {
      const quantiles = (body: string): (number | undefined)[] => ['0.5', '0.9', '0.99'].map((q) => sample(body, `rxcluster_event_loop_delay_seconds{quantile="${q}"}`));
      let first = (await metrics.scrape()).body;
      for (const deadline = performance.now() + 5000; (sample(first, 'rxcluster_event_loop_delay_seconds_count') ?? 0) < 3 && performance.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        first = (await metrics.scrape()).body;
      }
      const second = (await metrics.scrape()).body; // in the same macrotask: no timer, no new sample
      const [p50, p90, p99] = quantiles(first) as [number, number, number];
      assert.ok(p50 >= 0 && p50 <= p90 && p90 <= p99 && p99 < 10, `ordered quantiles in seconds: ${JSON.stringify([p50, p90, p99])}`);
      assert.deepEqual(quantiles(second), quantiles(first), 'repeated, not NaN, without new samples');
      const count = sample(first, 'rxcluster_event_loop_delay_seconds_count') ?? 0;
      assert.ok(count >= 3, `samples within 5 s, got ${count}`);
      assert.equal(sample(second, 'rxcluster_event_loop_delay_seconds_count'), count, 'the count is cumulative, and nothing was sampled between');
      assert.doesNotMatch(first + second, /nan/i);
    } finally {
      metrics.close();
    }
  });

  it('should serve an OpenMetrics registry in its own format, counters with _total', async () => {
    const registry = new Registry<RegistryContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const m = fakeManager('a', {});
    const metrics = clusterMetrics(m, { registry });
    m.stats.messagesSent = 7;
    const { contentType, body } = await metrics.scrape();
    assert.equal(contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.match(body, /^# TYPE rxcluster_messages_sent counter$/m);
    assert.equal(sample(body, 'rxcluster_messages_sent_total'), 7);
    assert.match(body, /# EOF\n$/);
    metrics.close();
    assert.equal((await registry.metrics()).trim(), '# EOF', 'every series left the registry');
  });

  it('should stop observing round trips and following members once closed', async () => {
    const m = fakeManager('a', {});
    const metrics = clusterMetrics(m);
    metrics.close();
    assert.equal(m.members$.observed, false, 'unsubscribed from members$');
    m.stats.rtt(5, 'b');
    assert.equal(await metrics.registry.getSingleMetric('rxcluster_peer_rtt_seconds')?.get().then(() => 'still there'), undefined);
  });
});
