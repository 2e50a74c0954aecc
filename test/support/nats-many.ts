/**
 * Several managers over NATS in one child process, for the scale test:
 *
 *   node --import tsx test/support/nats-many.ts <server url> '<names here JSON>' '<all names JSON>' '<settings JSON>'
 *
 * Prints `full <count>` once every manager here sees every other name Online.
 * Shuts down and exits when stdin closes; an orphan exits by itself.
 */
import { Manager, natsTransport } from '../../src/index.js';
import { FAST_SETTINGS, type Settings } from '../../src/settings.js';
import { SECRET } from './cluster.js';

const [url, mineArg, allArg, settingsArg] = process.argv.slice(2);
if (url === undefined || mineArg === undefined || allArg === undefined) {
  process.stderr.write('usage: nats-many.ts <url> <names JSON> <all names JSON> [settings JSON]\n');
  process.exit(2);
}
const mine = JSON.parse(mineArg) as string[];
const all = JSON.parse(allArg) as string[];
const settings = { ...FAST_SETTINGS, ...(JSON.parse(settingsArg ?? '{}') as Partial<Settings>) };
const managers = mine.map((name) => new Manager(name, SECRET, { settings, transport: natsTransport({ servers: url, subjectPrefix: 'rxc.scale', reconnectTimeWait: 100 }) }));
let full = 0;
for (const m of managers) {
  for (const other of all) if (other !== m.name) m.addNode(other);
  let done = false;
  m.members$.subscribe((members) => {
    if (done || [...members.values()].filter((p) => p.status === 'Online').length < all.length - 1) return;
    done = true;
    if (++full === managers.length) process.stdout.write(`full ${full}\n`);
    if (full === managers.length && process.env.RXC_CPU === "1") { const u = process.cpuUsage(); process.stderr.write(`cpu ${((u.user + u.system) / 1000).toFixed(0)} ms\n`); }
  });
}
await Promise.all(managers.map((m) => m.listen()));

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(3);
}, 500).unref();
process.stdin.resume();
process.stdin.once('end', () => {
  void Promise.all(managers.map((m) => m.shutdown())).then(() => process.exit(0));
});
