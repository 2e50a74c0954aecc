import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { firstValueFrom } from 'rxjs';
import { fastOptions, first, joinedAll, logText, membersNow, shutdownAll } from './support/cluster.js';
import { natsMesh, type NatsNode } from './support/natsNodes.js';
import { startNatsServer, type NatsServer } from './support/natsServer.js';

describe('NATS transport: request/reply, channels, metadata and bytes', () => {
  let server: NatsServer;
  before(async () => {
    server = await startNatsServer();
  });
  after(async () => {
    await server.stop();
  });

  it('works as over ws: a reply, a typed channel message, metadata and its update, bytes as bytes (unicast and broadcast)', { timeout: 20_000 }, async () => {
    const nodes = await natsMesh(['p', 'q'], [server.url], fastOptions({ metadata: { role: 'cache' } }), 'rxc.msg');
    const [p, q] = nodes as [NatsNode, NatsNode];
    try {
      await joinedAll(nodes);
      assert.deepEqual(membersNow(p.manager).get('q')?.metadata, { role: 'cache' });
      q.manager.requests$.subscribe((req) => req.reply(req.binary ? Buffer.concat([req.bytes(), Buffer.from([9])]) : `re: ${String(req.message())}`));
      assert.equal((await firstValueFrom(p.manager.request$('q', 'hello', { timeout: 2000 }))).message(), 're: hello');
      const bytesReply = await firstValueFrom(p.manager.request$('q', Uint8Array.from([1, 2, 3]), { timeout: 2000 }));
      assert.equal(bytesReply.binary, true);
      assert.deepEqual([...bytesReply.bytes()], [1, 2, 3, 9]);
      const onChannel = first(q.manager.channel('n', t.number).messages$, () => true, 3000, 'the channel message');
      p.manager.channel('n', t.number).next(7);
      assert.equal((await onChannel).value, 7);
      const blob = Buffer.alloc(32 * 1024, 5);
      const gotBlob = first(q.manager.fromCluster$, (pk) => pk.binary, 3000, 'the binary broadcast');
      p.manager.toCluster$.next(blob);
      assert.equal(Buffer.compare((await gotBlob).bytes(), blob), 0);
      const updated = first(q.manager.membership$, (e) => e.type === 'update', 3000, 'the update');
      p.manager.setMetadata({ role: 'primary' });
      const event = await updated;
      assert.ok(event.type === 'update' && event.node === 'p');
      assert.deepEqual(event.metadata, { role: 'primary' });
    } catch (error) {
      throw new Error(`${String(error)}\n${nodes.map(logText).join('\n')}`, { cause: error });
    } finally {
      await shutdownAll(nodes);
    }
  });
});
