/**
 * Typed channels and node metadata: two nodes tell message kinds apart by
 * channel name, decode them with io-ts, and route by the peer's role.
 *
 *   npx tsx examples/channels.ts
 */
import * as t from 'io-ts';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { Manager } from '../src/index.js';

const SECRET = process.env['CLUSTER_SECRET'] ?? 'an-example-secret-of-32-bytes-or-more';
const Order = t.type({ id: t.number, item: t.string });

const cache = new Manager('cache', SECRET, { metadata: { role: 'cache', zone: 'eu-1' } });
const api = new Manager('api', SECRET, { metadata: { role: 'api' } });
const cacheAddress = await cache.listen('127.0.0.1:0');
const apiAddress = await api.listen('127.0.0.1:0');
const joined = firstValueFrom(api.nodeJoin$);
cache.addNode('api', apiAddress);
api.addNode('cache', cacheAddress);
await joined;

// the peer's metadata arrives with its join
const role = (await firstValueFrom(api.members$)).get('cache')?.metadata['role'];
console.log(`api sees cache with role ${String(role)}`);

// orders on their own channel, decoded; a message that does not fit is logged and dropped
const orders$ = cache.channel('orders', Order).messages$.pipe(take(2), toArray());
const received = firstValueFrom(orders$);
const orders = api.channel('orders', Order);
orders.next({ id: 1, item: 'tea' });
api.channel('orders').next({ id: 'not a number', item: 'cake' }); // dropped by the receiver's codec
orders.toNode('cache', { id: 2, item: 'jam' });
for (const order of await received) console.log(`cache got order ${order.value.id}: ${order.value.item} from ${order.name}`);

// a metadata change reaches every peer as an update
const update = firstValueFrom(api.membership$.pipe(filter((e) => e.type === 'update')));
cache.setMetadata({ role: 'cache', zone: 'eu-2' });
const event = await update;
if (event.type === 'update') console.log(`${event.node} moved to ${String(event.metadata['zone'])}`);

await Promise.all([cache.shutdown(), api.shutdown()]);
