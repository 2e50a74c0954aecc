/**
 * DESIGN.md, Metrics: a three-node cluster on 127.0.0.1 with metrics on;
 * `GET /metrics` is scraped and checked against what the cluster did, passes
 * `promtool check metrics`, and a real Prometheus scrapes the three nodes and
 * answers the series back through its HTTP API.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Manager } from '../src/index.js';
import { fastOptions, joinedAll, logText, SECRET, startMesh, startNode, type Node } from './support/cluster.js';
import { authOf, rawHello } from './support/raw.js';
import { scope } from './support/scope.js';
import { freePort, promtoolCheckMetrics, startPrometheus, waitFor, type Sample } from './support/prometheus.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const STATUSES = ['Offline', 'Authenticating', 'Online', 'Suspect', 'Leaving', 'Stopping'];
const REASONS = ['bad-frame', 'too-big', 'auth', 'peer-refused', 'handshake-timeout', 'tls', 'send', 'forged'];
const FAMILIES: readonly (readonly [name: string, type: string])[] = [
  ['rxcluster_members', 'gauge'],
  ['rxcluster_quorum', 'gauge'],
  ['rxcluster_leader', 'gauge'],
  ['rxcluster_view_changes_total', 'counter'],
  ['rxcluster_peer_rtt_seconds', 'histogram'],
  ['rxcluster_reconnects_total', 'counter'],
  ['rxcluster_messages_sent_total', 'counter'],
  ['rxcluster_messages_received_total', 'counter'],
  ['rxcluster_bytes_sent_total', 'counter'],
  ['rxcluster_bytes_received_total', 'counter'],
  ['rxcluster_send_buffer_bytes', 'gauge'],
  ['rxcluster_frames_refused_total', 'counter'],
  ['rxcluster_event_loop_delay_seconds', 'summary'],
];

/** A parsed exposition: each series line (`name{labels}`) to its value. */
type Series = ReadonlyMap<string, number>;

async function scrape(node: Node): Promise<{ status: number; contentType: string | null; text: string; series: Series }> {
  const res = await fetch(`http://${node.address}/metrics`, { signal: AbortSignal.timeout(3000) });
  const text = await res.text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, series };
}

/** Scrapes until `check` holds on the series (bounded), and returns that scrape. */
async function scrapeUntil(node: Node, check: (s: Series) => boolean, what: string, ms = 5000): Promise<Series> {
  let last: Series = new Map();
  await waitFor(async () => check((last = (await scrape(node)).series)), ms, `${node.manager.name}: ${what}`);
  return last;
}

function value(series: Series, name: string): number {
  const v = series.get(name);
  assert.notEqual(v, undefined, `series ${name} present`);
  return v as number;
}

async function metricsMesh(defer: (release: () => unknown) => void): Promise<Node[]> {
  const nodes = await startMesh(['a', 'b', 'c'], fastOptions({ metrics: {} }));
  defer(() => Promise.all(nodes.map((n) => n.manager.shutdown())));
  await joinedAll(nodes);
  return nodes;
}

/** Broadcasts `count` messages from `from` and waits until every other node received them all. */
async function broadcast(nodes: readonly Node[], from: Node, count: number): Promise<void> {
  const others = nodes.filter((n) => n !== from);
  const received = new Map(others.map((n) => [n, 0]));
  const subs = others.map((n) => n.manager.fromCluster$.subscribe(() => received.set(n, (received.get(n) ?? 0) + 1)));
  try {
    for (let i = 0; i < count; i++) from.manager.toCluster$.next({ i, text: `hello ${i}` });
    await waitFor(async () => [...received.values()].every((n) => n === count), 5000, `${count} messages at every peer`);
  } finally {
    for (const sub of subs) sub.unsubscribe();
  }
}

describe('metrics', () => {
  it('should serve at GET /metrics, without a token, every series of DESIGN.md with the values the cluster made', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await metricsMesh(defer);
    const [a, b, c] = nodes as [Node, Node, Node];

    const first = await scrape(a);
    assert.equal(first.status, 200);
    assert.equal(first.contentType, PROMETHEUS_TEXT);
    for (const [name, type] of FAMILIES) assert.match(first.text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`);

    for (const node of nodes) {
      const s = await scrapeUntil(node, (x) => (x.get('rxcluster_peer_rtt_seconds_count') ?? 0) >= 2 && x.has('rxcluster_event_loop_delay_seconds{quantile="0.99"}'), 'round trips to both peers and event-loop samples');
      const who = node.manager.name;
      assert.deepEqual(STATUSES.map((status) => value(s, `rxcluster_members{status="${status}"}`)), [0, 0, 2, 0, 0, 0], `${who}: both peers Online, nothing else`);
      assert.equal(value(s, 'rxcluster_quorum'), 1, `${who}: quorum`);
      assert.equal(value(s, 'rxcluster_leader'), who === 'a' ? 1 : 0, `${who}: a, the lowest name, leads`);
      const changes = value(s, 'rxcluster_view_changes_total');
      assert.ok(changes >= 1 && changes <= 2, `${who}: the view grew from itself to three in one or two steps, got ${changes}`);
      assert.equal(value(s, 'rxcluster_peer_rtt_seconds_bucket{le="+Inf"}'), value(s, 'rxcluster_peer_rtt_seconds_count'));
      const buckets = [...s].filter(([k]) => k.startsWith('rxcluster_peer_rtt_seconds_bucket{')).map(([, v]) => v);
      assert.equal(buckets.length, 14, `${who}: 13 buckets and +Inf`);
      assert.ok(buckets.every((v, i) => i === 0 || v >= (buckets[i - 1] as number)), `${who}: cumulative buckets ${JSON.stringify(buckets)}`);
      assert.ok(value(s, 'rxcluster_peer_rtt_seconds_sum') >= 0);
      assert.ok(value(s, 'rxcluster_event_loop_delay_seconds_count') > 0, `${who}: the event loop was sampled`);
      assert.ok(value(s, 'rxcluster_event_loop_delay_seconds{quantile="0.99"}') >= 0);
      assert.ok(Number.isSafeInteger(value(s, 'rxcluster_send_buffer_bytes')) && value(s, 'rxcluster_send_buffer_bytes') >= 0);
      assert.deepEqual(REASONS.map((reason) => value(s, `rxcluster_frames_refused_total{reason="${reason}"}`)), REASONS.map(() => 0), `${who}: nothing refused yet\n${logText(node)}`);
      assert.equal(value(s, 'rxcluster_messages_sent_total'), 0);
    }

    await broadcast(nodes, a, 5);
    const sentBy = await scrapeUntil(a, () => true, 'a scrape');
    const at = [await scrapeUntil(b, () => true, 'a scrape'), await scrapeUntil(c, () => true, 'a scrape')];
    assert.equal(value(sentBy, 'rxcluster_messages_sent_total'), 10, 'five broadcasts to two peers');
    assert.equal(value(sentBy, 'rxcluster_messages_received_total'), 0);
    assert.equal(value(sentBy, 'rxcluster_bytes_sent_total'), a.manager.stats.bytesSent);
    assert.ok(value(sentBy, 'rxcluster_bytes_sent_total') >= 10 * JSON.stringify({ i: 0, text: 'hello 0' }).length);
    for (const s of at) {
      assert.equal(value(s, 'rxcluster_messages_received_total'), 5);
      assert.equal(value(s, 'rxcluster_messages_sent_total'), 0);
      assert.ok(value(s, 'rxcluster_bytes_received_total') >= 5 * JSON.stringify({ i: 0, text: 'hello 0' }).length);
    }
    assert.equal(value(at[0] as Series, 'rxcluster_bytes_received_total') + value(at[1] as Series, 'rxcluster_bytes_received_total'), value(sentBy, 'rxcluster_bytes_sent_total'), 'what a sent is what b and c received');

    // a caller without the secret is refused at its proof: one more auth refusal on a, nothing else
    const half = await rawHello(a.address, 'mallory', 'a', `not-${SECRET}`);
    defer(() => half.client.destroy());
    half.client.send(authOf(half.proof));
    await half.client.waitClosed(3000);
    const refused = await scrapeUntil(a, (s) => s.get('rxcluster_frames_refused_total{reason="auth"}') === 1, 'one auth refusal');
    assert.deepEqual(REASONS.map((reason) => value(refused, `rxcluster_frames_refused_total{reason="${reason}"}`)), REASONS.map((reason) => (reason === 'auth' ? 1 : 0)));

    // c leaves: a's view shrinks once, a still leads with quorum (one of two peers), and a redials c
    const before = value(refused, 'rxcluster_view_changes_total');
    await c.manager.shutdown();
    const after = await scrapeUntil(a, (s) => s.get('rxcluster_members{status="Online"}') === 1 && (s.get('rxcluster_reconnects_total') ?? 0) > 0, 'c gone and redialed');
    assert.equal(value(after, 'rxcluster_view_changes_total'), before + 1, 'one view change: [a, b, c] → [a, b]');
    assert.equal(value(after, 'rxcluster_quorum'), 1);
    assert.equal(value(after, 'rxcluster_leader'), 1);
    assert.equal(STATUSES.reduce((sum, status) => sum + value(after, `rxcluster_members{status="${status}"}`), 0), 2, 'still two peers, b and c');
  });

  it('should pass promtool check metrics on every node\'s exposition', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await metricsMesh(defer);
    await broadcast(nodes, nodes[1] as Node, 3);
    for (const node of nodes) {
      const { text } = await scrape(node);
      const checked = await promtoolCheckMetrics(text);
      assert.deepEqual(checked, { code: 0, output: '' }, `promtool on ${node.manager.name}'s metrics:\n${text}`);
    }
    // promtool does find faults: a counter without _total and a bad line
    const broken = await promtoolCheckMetrics('# HELP x_count a counter\n# TYPE x_count counter\nx_count 1\n');
    assert.notEqual(broken.output, '', 'promtool lints a misnamed counter');
  });

  it('should be scraped by a real Prometheus, which answers the series back through its HTTP API', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await metricsMesh(defer);
    const [a, b, c] = nodes as [Node, Node, Node];
    await broadcast(nodes, a, 5);
    // a is told of a node d that is not there: a redials it (refused at once), so its reconnects count up
    a.manager.addNode('d', `127.0.0.1:${await freePort()}`);
    const prometheus = await startPrometheus(Object.fromEntries(nodes.map((n) => [n.manager.name, n.address])));
    defer(() => prometheus.stop());

    await waitFor(async () => {
      const targets = await prometheus.targets();
      const sent = await prometheus.query('rxcluster_messages_sent_total{node="a"}');
      const rtt = await prometheus.query('rxcluster_peer_rtt_seconds_count > 0');
      const redials = await prometheus.query('rxcluster_reconnects_total{node="a"} > 0');
      return ['a', 'b', 'c'].every((n) => targets[n] === 'up') && sent[0]?.value === 10 && rtt.length === 3 && redials.length === 1;
    }, 20_000, 'three targets up and their series in Prometheus').catch(async (error: unknown) => {
      throw new Error(`${String(error)}\ntargets: ${JSON.stringify(await prometheus.targets().catch(() => 'n/a'))}\nprometheus said:\n${prometheus.output()}`);
    });

    const byNode = (samples: Sample[]): Record<string, number> => Object.fromEntries(samples.map((s) => [s.metric['node'] ?? '?', s.value]).sort());
    assert.deepEqual(byNode(await prometheus.query('up{job="rxcluster"}')), { a: 1, b: 1, c: 1 });
    assert.deepEqual(byNode(await prometheus.query('rxcluster_quorum')), { a: 1, b: 1, c: 1 });
    assert.deepEqual(byNode(await prometheus.query('rxcluster_leader')), { a: 1, b: 0, c: 0 });
    assert.deepEqual((await prometheus.query('sum(rxcluster_leader)')).map((s) => s.value), [1], 'one leader in the cluster');
    assert.deepEqual(byNode(await prometheus.query('rxcluster_members{status="Online"}')), { a: 2, b: 2, c: 2 });
    assert.deepEqual(byNode(await prometheus.query('rxcluster_messages_sent_total')), { a: 10, b: 0, c: 0 });
    assert.deepEqual(byNode(await prometheus.query('rxcluster_messages_received_total')), { a: 0, b: 5, c: 5 });
    assert.deepEqual((await prometheus.query('sum(rxcluster_bytes_sent_total) - sum(rxcluster_bytes_received_total)')).map((s) => s.value), [0]);
    assert.deepEqual(byNode(await prometheus.query('count by (node) (rxcluster_frames_refused_total)')), { a: REASONS.length, b: REASONS.length, c: REASONS.length });
    assert.deepEqual(byNode(await prometheus.query('sum by (node) (rxcluster_frames_refused_total)')), { a: 0, b: 0, c: 0 });
    const median = byNode(await prometheus.query('histogram_quantile(0.5, rxcluster_peer_rtt_seconds_bucket)'));
    assert.deepEqual(Object.keys(median), ['a', 'b', 'c']);
    assert.ok(Object.values(median).every((v) => v >= 0 && v <= 0.1), `median round trips on loopback: ${JSON.stringify(median)}`);
    assert.deepEqual(Object.keys(byNode(await prometheus.query('rxcluster_event_loop_delay_seconds_count > 0'))), ['a', 'b', 'c']);
    assert.deepEqual(Object.keys(byNode(await prometheus.query('rxcluster_view_changes_total >= 1'))), ['a', 'b', 'c']);
    assert.deepEqual(byNode(await prometheus.query('rxcluster_send_buffer_bytes >= 0')), { a: 0, b: 0, c: 0 });
    const reconnects = byNode(await prometheus.query('rxcluster_reconnects_total'));
    assert.deepEqual(Object.keys(reconnects), ['a', 'b', 'c']);
    assert.ok((reconnects['a'] ?? 0) > 0 && (reconnects['a'] ?? 0) <= a.manager.stats.reconnects, `a's redials of d, as last scraped: ${reconnects['a']} (a counts ${a.manager.stats.reconnects} now)`);
    assert.deepEqual({ b: reconnects['b'], c: reconnects['c'] }, { b: b.manager.stats.reconnects, c: c.manager.stats.reconnects }, 'b and c redialed nobody since the mesh settled');
  });

  it('should answer 404 at /metrics when the manager runs without the metrics option', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const node = await startNode('solo');
    defer(() => node.manager.shutdown());
    const res = await scrape(node);
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.text), { success: false, error: 'metrics are off: construct the manager with the metrics option', data: null });
    assert.equal(node.manager.metricsRegistry, undefined);
  });

  it('should register in the registry given, with its prefix, and leave it on shutdown', { timeout: 10_000 }, async (t) => {
    const defer = scope(t);
    const registry = new Registry();
    const node = await startNode('solo', fastOptions({ metrics: { registry, prefix: 'app_cluster_' } }));
    defer(() => node.manager.shutdown());
    assert.equal(node.manager.metricsRegistry, registry);
    const res = await scrape(node);
    assert.equal(res.status, 200);
    assert.equal(value(res.series, 'app_cluster_quorum'), 1, 'no peers: quorum');
    assert.equal(value(res.series, 'app_cluster_leader'), 1, 'alone with quorum: leads');
    assert.doesNotMatch(res.text, /rxcluster_/);
    const types = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('# TYPE'));
    assert.deepEqual(types(res.text), types(await registry.metrics()), '/metrics serves that registry');
    assert.equal(types(res.text).length, 13);
    assert.throws(() => new Manager('other', SECRET, { metrics: { registry, prefix: 'app_cluster_' } }), (e: unknown) => e instanceof TypeError && /app_cluster_members/.test(e.message), 'a second manager on the same names');
    await node.manager.shutdown();
    assert.equal((await registry.metrics()).trim(), '', 'its series left the registry');
  });

  it('should refuse a malformed metrics option at construction with a TypeError naming the field', () => {
    assert.throws(() => new Manager('x', SECRET, { metrics: { prefix: 'bad-prefix' } }), /^TypeError: Invalid metrics\.prefix/);
    assert.throws(() => new Manager('x', SECRET, { metrics: { registry: {} as Registry } }), /^TypeError: Invalid metrics\.registry/);
  });
});
