/**
 * Request/reply between two nodes on loopback: a "pricer" answers requests,
 * a "shop" asks it and waits for the answer, with a timeout.
 *
 *   npx tsx examples/request-reply.ts
 */
import * as t from 'io-ts';
import { firstValueFrom } from 'rxjs';
import { Manager, RequestError } from '../src/index.js';

const SECRET = process.env['CLUSTER_SECRET'] ?? 'an-example-secret-of-32-bytes-or-more';
const Quote = t.type({ item: t.string, price: t.number });

const pricer = new Manager('pricer', SECRET);
const shop = new Manager('shop', SECRET);
const pricerAddress = await pricer.listen('127.0.0.1:0');
const shopAddress = await shop.listen('127.0.0.1:0');
const joined = firstValueFrom(shop.nodeJoin$);
pricer.addNode('shop', shopAddress);
shop.addNode('pricer', pricerAddress);

// the pricer answers every request once
pricer.requests$.subscribe((request) => {
  const item = request.message(t.string);
  request.reply({ item, price: item.length * 100 });
});

await joined;
const reply = await firstValueFrom(shop.request$('pricer', 'teapot', { timeout: 2000 }));
const quote = reply.message(Quote);
console.log(`${reply.name} quotes ${quote.item} at ${quote.price}`);

// a node that is not configured fails at once, with a code
try {
  await firstValueFrom(shop.request$('nobody', 'teapot'));
} catch (error) {
  console.log(`request to nobody failed: ${(error as RequestError).code}`);
}

await Promise.all([pricer.shutdown(), shop.shutdown()]);
