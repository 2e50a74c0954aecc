import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Manager, DEFAULT_SETTINGS } from '../src/index.js';
import { all, fastOptions, first, sleep, startNode, SECRET } from './support/cluster.js';

describe('one node alone', () => {
  it('has quorum, logs, receives nothing of its own, and emits no leave after shutdown', { timeout: 10_000 }, async () => {
    const node = await startNode('solo');
    const { manager } = node;
    const received: unknown[] = [];
    const leaves: string[] = [];
    manager.fromCluster$.subscribe((p) => received.push(p.message()));
    manager.nodeLeave$.subscribe((n) => leaves.push(n));
    assert.equal(await first(manager.quorum$), true);
    manager.toCluster$.next('to nobody');
    manager.toCluster$.next({ nested: [1, 2, 3] });
    await sleep(200);
    assert.deepEqual(received, [], 'a broadcast never comes back to its sender');
    assert.ok(node.logs.length > 0, 'log$ is not empty');
    assert.match(String(node.logs[0]), /^\d{4}-\d\d-\d\dT.*Z INFO listening on 127\.0\.0\.1:\d+$/);
    await manager.shutdown();
    assert.deepEqual(leaves, []);
  });

  it('resolves the bound address for port 0', { timeout: 5000 }, async () => {
    const manager = new Manager('a', SECRET);
    try {
      const address = await manager.listen('127.0.0.1:0');
      assert.match(address, /^127\.0\.0\.1:(\d+)$/);
      assert.notEqual(address, '127.0.0.1:0');
      assert.equal(manager.address, address);
    } finally {
      await manager.shutdown();
    }
  });

  it('rejects a busy port and a malformed address with a clear error', { timeout: 5000 }, async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const busy = new Manager('a', SECRET);
    const bad = new Manager('b', SECRET);
    try {
      await assert.rejects(busy.listen(`127.0.0.1:${port}`), /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
      for (const address of ['127.0.0.1', 'localhost:99999', ':80', '127.0.0.1:-1', 'a b:1']) {
        await assert.rejects(bad.listen(address), (e: Error) => e instanceof TypeError && e.message.includes(address));
      }
      // a failed listen leaves the manager usable
      const bound = await busy.listen('127.0.0.1:0');
      assert.match(bound, /^127\.0\.0\.1:\d+$/);
      await assert.rejects(busy.listen('127.0.0.1:0'), /already|listening/);
    } finally {
      await Promise.all([busy.shutdown(), bad.shutdown()]);
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('completes every stream on shutdown, and shutdown is idempotent', { timeout: 5000 }, async () => {
    const { manager } = await startNode('a');
    const streams = {
      fromCluster$: all(manager.fromCluster$),
      fromClusterApi$: all(manager.fromClusterApi$),
      nodeJoin$: all(manager.nodeJoin$),
      nodeLeave$: all(manager.nodeLeave$),
      quorum$: all(manager.quorum$),
      members$: all(manager.members$),
      log$: all(manager.log$),
    };
    const first1 = manager.shutdown();
    const second = manager.shutdown();
    assert.equal(first1, second, 'the second call returns the first call\'s Promise');
    await first1;
    const done = await Promise.all(Object.values(streams));
    assert.deepEqual(done[4], [true]);
    assert.ok((done[6] as unknown[]).some((entry) => String(entry).includes('stopped')));
    // after shutdown, subscribing completes at once and sending is harmless
    manager.toCluster$.next('late');
    manager.toNode$.next({ node: 'x', message: 1 });
    assert.deepEqual(await all(manager.nodeJoin$, 100), []);
  });

  it('shuts down cleanly without ever listening', { timeout: 5000 }, async () => {
    const manager = new Manager('a', SECRET);
    const joins = all(manager.nodeJoin$);
    await manager.shutdown();
    assert.deepEqual(await joins, []);
  });
});

describe('configuration', () => {
  it('tracks configured nodes (nodeConfigured, nodesConfigured, members$)', { timeout: 5000 }, async () => {
    const manager = new Manager('a', SECRET, fastOptions());
    try {
      assert.deepEqual(manager.nodesConfigured(), {});
      assert.equal(manager.nodeConfigured('b'), false);
      manager.addNode('b', '127.0.0.1:1');
      manager.addNode('c', '127.0.0.1:2');
      assert.equal(manager.nodeConfigured('b'), true);
      assert.deepEqual(manager.nodesConfigured(), { b: true, c: true });
      const members = await first(manager.members$);
      assert.deepEqual([...members.keys()].sort(), ['b', 'c']);
      assert.equal(members.get('b')?.status, 'Offline');
      assert.equal(members.get('b')?.addr, '127.0.0.1:1');
      manager.removeNode('b');
      assert.deepEqual(manager.nodesConfigured(), { c: true });
      assert.deepEqual([...(await first(manager.members$)).keys()], ['c']);
      manager.removeNode('nobody');
    } finally {
      await manager.shutdown();
    }
  });

  it('refuses bad arguments at the call site with a TypeError naming them', () => {
    assert.throws(() => new Manager('', SECRET), /Invalid name/);
    assert.throws(() => new Manager('a\nb', SECRET), /Invalid name/);
    assert.throws(() => new Manager('a', ''), /Invalid authKey/);
    assert.throws(() => new Manager('a', SECRET, { maxPayload: 0 }), /Invalid maxPayload/);
    assert.throws(() => new Manager('a', SECRET, { sendBufferBytes: 1.5 }), /Invalid sendBufferBytes/);
    assert.throws(() => new Manager('a', SECRET, { settings: { pingInterval: -1 } }), /pingInterval/);
    assert.throws(() => new Manager('a', SECRET, { settings: { joinDelay: 11000 } }), /joinDelay .* readTimeout/);
    assert.throws(() => new Manager('a', SECRET, { api: { tokenDuration: 0 } }), /api\.tokenDuration/);
    const m = new Manager('a', SECRET);
    assert.throws(() => m.addNode('a', '127.0.0.1:1'), /own name/);
    assert.throws(() => m.addNode('b', 'nowhere'), /Invalid address "nowhere"/);
    assert.throws(() => m.addNode('b', '127.0.0.1:0'), /Invalid address/);
  });

  it('validates updateSettings whole, and never half-applies it', async () => {
    const m = new Manager('a', SECRET);
    assert.deepEqual(m.settings, DEFAULT_SETTINGS);
    assert.throws(() => m.updateSettings({ pingInterval: 1000, readTimeout: 0 }), /readTimeout/);
    assert.equal(m.settings.pingInterval, DEFAULT_SETTINGS.pingInterval, 'nothing applied from a refused update');
    assert.throws(() => m.updateSettings({ readTimeout: 400 }), /joinDelay \(500\) must be shorter than readTimeout \(400\)/);
    assert.throws(() => m.updateSettings({ nonsense: 1 } as never), /unknown field "nonsense"/);
    m.updateSettings({ pingInterval: 1000, readTimeout: 3000 });
    assert.equal(m.settings.pingInterval, 1000);
    assert.equal(m.settings.readTimeout, 3000);
    await m.shutdown();
  });
});

describe('shutdown during listen', () => {
  it('closes the port that was being bound, and the listen rejects', { timeout: 5000 }, async () => {
    const manager = new Manager('a', SECRET);
    const listening = manager.listen('127.0.0.1:0');
    const stopped = manager.shutdown();
    await assert.rejects(listening, /shut down meanwhile/);
    await stopped;
    assert.equal(manager.address, null);
  });
});
