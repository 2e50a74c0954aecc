/**
 * One test per defect the review of the core found (issue "One core, any
 * transport", point 5). Each failed before its fix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Observable, Subject, BehaviorSubject, VirtualTimeScheduler, type Subscriber } from 'rxjs';
import { Manager, type MembershipEvent } from '../src/index.js';
import { dialAll$, type ConfigChange } from '../src/dialer.js';
import { MemoryNetwork } from '../src/testing.js';
import { initialMembership } from '../src/membership/state.js';
import type { Link } from '../src/session/link.js';
import { FAST_SETTINGS, type Settings } from '../src/settings.js';
import { fastOptions, first, joinedAll, logText, membersNow, SECRET, shutdownAll, sleep, startMesh, startNode } from './support/cluster.js';
import { rawJoin } from './support/raw.js';

describe('review findings, fixed', () => {
  it('a peer silent past readTimeout is told 4003 before its socket is cut (it used to see 1006 and record "lost")', { timeout: 10_000 }, async () => {
    const a = await startNode('A', fastOptions());
    a.manager.addNode('R', '127.0.0.1:1');
    try {
      // an outside peer that proves the secret, then never answers a ping
      const r = await rawJoin(a.address, 'R', 'A', SECRET, { autoPong: false });
      const closed = await r.waitClosed(5000);
      assert.equal(closed.code, 4003, `close ${closed.code} ${closed.reason}`);
      assert.ok(a.logs.some((e) => e.code === 'RXC_ERR_READ_TIMEOUT'), logText(a));
    } finally {
      await a.manager.shutdown();
    }
  });

  it('addNode with a new address for a joined node keeps its live link: no leave, no close', { timeout: 10_000 }, async () => {
    const nodes = await startMesh(['a', 'b']);
    try {
      await joinedAll(nodes);
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const events: MembershipEvent[] = [];
      a.manager.membership$.subscribe((e) => events.push(e));
      b.manager.membership$.subscribe((e) => events.push(e));
      a.manager.addNode('b', '127.0.0.1:9'); // b "moved"; the live link stays
      await sleep(600); // several pings at FAST_SETTINGS
      assert.deepEqual(events, [], 'no leave or join on either side');
      assert.equal(membersNow(a.manager).get('b')?.status, 'Online');
      assert.equal(membersNow(a.manager).get('b')?.addr, '127.0.0.1:9', 'the next dial uses the new address');
    } finally {
      await shutdownAll(nodes);
    }
  });

  it('10,000 addNode/removeNode cycles with distinct names leave no subscription behind on the settings stream', { timeout: 60_000 }, async () => {
    const scheduler = new VirtualTimeScheduler();
    const network = new MemoryNetwork({ scheduler });
    const transport = network.transport();
    await transport.listen('self', { maxPayload: 1024 });
    let observers = 0;
    const current$ = new BehaviorSubject<Settings>(FAST_SETTINGS);
    const settings$ = new Observable<Settings>((subscriber: Subscriber<Settings>) => {
      observers++;
      const inner = current$.subscribe(subscriber);
      return () => {
        observers--;
        inner.unsubscribe();
      };
    });
    const state$ = new BehaviorSubject(initialMembership<Link>('self'));
    const changes$ = new Subject<ConfigChange>();
    const sub = dialAll$(() => [], changes$, {
      transport, settings$, state$, joined$: new Subject<string>(), scheduler, random: () => 0.5,
      failed: () => undefined, redialed: () => undefined, log: () => undefined,
    }).subscribe();
    try {
      for (let i = 0; i < 10_000; i++) {
        changes$.next({ name: `n${i}`, addr: `n${i}` });
        changes$.next({ name: `n${i}`, addr: undefined });
      }
      network.advance(1000);
      assert.equal(observers, 0, `settings observers left behind: ${observers}`);
      // and a configured one does hold its subscriptions (the count can rise)
      changes$.next({ name: 'kept', addr: 'kept' });
      assert.ok(observers > 0, 'a live dial loop reads the settings');
    } finally {
      sub.unsubscribe();
      await transport.close();
    }
    assert.equal(observers, 0);
  });

  it('two managers with one name in one process do not overwrite each other in the API; one that never listens is not listed', { timeout: 10_000 }, async () => {
    const first$ = await startNode('twin');
    const second = new Manager('twin', SECRET, fastOptions());
    const logs: string[] = [];
    second.log$.subscribe((e) => logs.push(e.message));
    const never = new Manager('never-listens', SECRET, fastOptions());
    try {
      await second.listen('127.0.0.1:0');
      assert.ok(logs.some((m) => /another manager named twin is listed/.test(m)), logs.join('\n'));
      const list = (await (await fetch(`http://${first$.address}/api/v1/cluster`)).json()) as { data: { managers: string[] } };
      assert.ok(list.data.managers.includes('twin'));
      assert.ok(!list.data.managers.includes('never-listens'), 'a manager that never listened is not listed');
      await second.shutdown();
      // the first one is still served after the second one stopped
      const shown = await fetch(`http://${first$.address}/api/v1/cluster/twin`);
      assert.equal(shown.status, 200);
    } finally {
      await Promise.all([first$.manager.shutdown(), second.shutdown(), never.shutdown()]);
    }
  });

  it("a peer's close reason is quoted in the log with control characters escaped: it cannot forge a log line", { timeout: 10_000 }, async () => {
    const a = await startNode('A', fastOptions());
    a.manager.addNode('R', '127.0.0.1:1');
    try {
      const r = await rawJoin(a.address, 'R', 'A', SECRET);
      await first(a.manager.membership$, (e) => e.type === 'join', 3000, 'R joined');
      r.ws.close(4999, 'bye\n2026-01-01T00:00:00.000Z ERROR forged line');
      const entry = await first(a.manager.log$, (e) => e.message.includes('bye'), 3000, 'the close logged');
      assert.doesNotMatch(entry.message, /\n/);
      assert.match(entry.message, /bye\\u000a2026/);
      assert.doesNotMatch(String(entry), /\n/);
    } finally {
      await a.manager.shutdown();
    }
  });
});
