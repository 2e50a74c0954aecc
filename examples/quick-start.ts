import * as t from 'io-ts';
import { Manager } from 'rxcluster';

// run it twice, as node1 (the defaults) and as node2:
//   NODE_NAME=node2 LISTEN=127.0.0.1:9655 PEER=node1=127.0.0.1:9654 npx tsx quick-start.ts
const name = process.env.NODE_NAME ?? 'node1';
const listen = process.env.LISTEN ?? '127.0.0.1:9654';       // port 0 picks a free port
const [peer = 'node2', peerAddress = '127.0.0.1:9655'] = (process.env.PEER ?? '').split('=');
const secret = process.env.CLUSTER_SECRET;                    // 32 random bytes, the same on every node
if (secret === undefined) throw new Error('set CLUSTER_SECRET');

const m = new Manager(name, secret);
m.log$.subscribe((entry) => console.log(String(entry)));       // first: log$ is hot, listen() already logs
m.quorum$.subscribe((ok) => console.log(ok ? 'quorum' : 'NO quorum'));   // value at once, then changes
m.nodeLeave$.subscribe((n) => console.log(`${n} left`));

const Order = t.type({ id: t.number, item: t.string });
m.fromCluster$.subscribe((packet) => {
  try {
    const order = packet.message(Order);         // throws, naming the wrong field
    console.log(`${packet.name} sent order ${order.id}: ${order.item}`);
  } catch (error) {
    console.warn(String(error));                 // an error thrown in a subscriber would end the process
  }
});

// messages go to online peers only: send once a peer has joined
m.nodeJoin$.subscribe((n) => {
  console.log(`${n} joined`);
  m.toCluster$.next({ id: 1, item: `tea from ${name}` });     // to every online peer, never to self
  m.toNode$.next({ node: n, message: 'just you' });          // to one peer: not an Order, so refused above
});

m.addNode(peer, peerAddress);                    // before or after listen
await m.listen(listen);

const stop = (): void => void m.shutdown();      // peers see a leave at once
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
