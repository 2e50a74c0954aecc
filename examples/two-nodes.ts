/**
 * The seed's example, as a TypeScript program: two managers join, node2 says
 * "Hello World!" to the cluster, node1 prints it, both shut down.
 *
 *   npm start
 */
import * as t from 'io-ts';
import { firstValueFrom } from 'rxjs';
import { Manager } from '../src/index.js';

// start cluster 1
const manager = new Manager('node1', 'secret');
manager.addNode('node2', '127.0.0.1:9655');
await manager.listen('127.0.0.1:9654');

// start cluster 2
const manager2 = new Manager('node2', 'secret');
manager2.addNode('node1', '127.0.0.1:9654');
// subscribe before listening: nodeJoin$ is hot
const joined = firstValueFrom(manager2.nodeJoin$);
const received = firstValueFrom(manager.fromCluster$);
await manager2.listen('127.0.0.1:9655');

// wait for cluster join to be complete
console.log(`manager2: ${await joined} joined`);

// send message to all nodes of manager2
manager2.toCluster$.next('Hello World!');

// receive it on manager, decoded as a string
const packet = await received;
console.log(`manager: ${packet.name} says ${packet.message(t.string)}`);

await Promise.all([manager.shutdown(), manager2.shutdown()]);
