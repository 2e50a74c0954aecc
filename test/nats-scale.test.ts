/**
 * Fifty managers over one NATS server, in four child processes plus this
 * one: every node sees its 49 peers Online within a bounded time; presence
 * costs one heartbeat per node per pingInterval, not one ping per pair.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fastOptions, first, membersNow, shutdownAll } from './support/cluster.js';
import { startNatsNode, type NatsNode } from './support/natsNodes.js';
import { startNatsServer } from './support/natsServer.js';
import { scope } from './support/scope.js';

const N = 50;
const CHILDREN = 4;
const PER_CHILD = 12;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
// long timeouts: on a loaded 2-CPU machine a join storm of 2450 pairs starves handshakes, and a timed-out handshake only adds churn
const SETTINGS = { pingInterval: 2000, readTimeout: 30_000, joinDelay: 200, connectInterval: 500, maxConnectInterval: 3000, connectTimeout: 20_000 };

describe('NATS: fifty managers', () => {
  it('join over one NATS server and each sees 49 peers Online, within 200 s', { timeout: 280_000 }, async (t) => {
    const defer = scope(t);
    const server = await startNatsServer();
    defer(() => server.stop());
    const names = Array.from({ length: N }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const started = performance.now();
    // names 0..47 in four children (12 each), 48 and 49 here
    const children = Array.from({ length: CHILDREN }, (_, c) => {
      const mine = names.slice(c * PER_CHILD, (c + 1) * PER_CHILD);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/nats-many.ts', server.url, JSON.stringify(mine), JSON.stringify(names), JSON.stringify(SETTINGS)], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      defer(() => {
        child.kill('SIGKILL');
      });
      const full = new Promise<number>((resolve, reject) => {
        const reader = createInterface({ input: child.stdout });
        reader.on('line', (line) => {
          const m = /^full (\d+)$/.exec(line);
          if (m !== null) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`child ${c} exited with ${code}`)));
      });
      return { child, full };
    });
    const local: NatsNode[] = [];
    defer(() => shutdownAll(local));
    for (const name of names.slice(CHILDREN * PER_CHILD)) {
      const node = await startNatsNode(name, [server.url], fastOptions({ settings: SETTINGS }), 'rxc.scale');
      local.push(node);
      for (const other of names) if (other !== name) node.manager.addNode(other);
    }
    await Promise.all(local.map((n) => first(n.manager.members$, (m) => [...m.values()].filter((p) => p.status === 'Online').length === N - 1, 200_000, `${n.manager.name} to see ${N - 1} peers`)));
    const fullCounts = await Promise.all(children.map((c) => c.full));
    const took = performance.now() - started;
    t.diagnostic(`${N} managers: all saw ${N - 1} peers Online after ${(took / 1000).toFixed(1)} s`);
    assert.deepEqual(fullCounts, Array(CHILDREN).fill(PER_CHILD), 'every child node saw 49 peers');
    for (const node of local) assert.equal([...membersNow(node.manager).values()].filter((p) => p.status === 'Online').length, N - 1);
    // presence: about one heartbeat per node per pingInterval, not N² pings
    const probe = local[0]!;
    const before = { sent: probe.transport.stats.beatsSent, got: probe.transport.stats.beatsReceived };
    const windowMs = 6000;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const sent = probe.transport.stats.beatsSent - before.sent;
    const got = probe.transport.stats.beatsReceived - before.got;
    t.diagnostic(`in ${windowMs} ms one node sent ${sent} heartbeats and heard ${got}`);
    assert.ok(sent >= 2 && sent <= 4, `one heartbeat per pingInterval: ${sent}`);
    assert.ok(got >= 2 * (N - 1) && got <= 4 * (N - 1), `one heartbeat per peer per pingInterval: ${got}`);
    for (const c of children) c.child.stdin?.end();
  });
});
