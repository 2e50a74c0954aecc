/**
 * One process of `bench/nats.ts`, driven over IPC: a sender or a group of
 * receivers, over NATS (rxcluster), the ws mesh (rxcluster) or bare nats.js.
 * See bench/nats.ts.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Manager, natsTransport } from '../src/index.js';
import { encodeMsg } from '../src/protocol/frames.js';
import { FAST_SETTINGS } from '../src/settings.js';

type Kind = 'nats' | 'ws' | 'raw';
type Command =
  | { readonly op: 'start'; readonly kind: Kind; readonly role: 'tx' | 'rx'; readonly names: readonly string[]; readonly peers: Readonly<Record<string, string>>; readonly url: string; readonly prefix: string }
  | { readonly op: 'send'; readonly count: number }
  | { readonly op: 'expect'; readonly count: number; readonly ms: number }
  | { readonly op: 'stop' };

const SECRET = 'bench-secret-of-at-least-32-bytes';
const PAYLOAD = 'x'.repeat(100);
const settings = { ...FAST_SETTINGS, readTimeout: 5000, pingInterval: 1000 };
const managers: Manager[] = [];
const clients: NatsConnection[] = [];
let kind: Kind = 'nats';
let prefix = 'bench';
/** Messages received per receiver, and when the first and the last came. */
let received = 0;
let firstAt = 0;
let lastAt = 0;

function reply(value: unknown): void {
  process.send?.(value);
}

function count(): void {
  const now = performance.now();
  if (received === 0) firstAt = now;
  received++;
  lastAt = now;
}

async function start(c: Extract<Command, { op: 'start' }>): Promise<unknown> {
  kind = c.kind;
  prefix = c.prefix;
  if (kind === 'raw') {
    for (let i = 0; i < c.names.length; i++) {
      const nc = await connect({ servers: c.url });
      clients.push(nc);
      if (c.role === 'rx') nc.subscribe(`${prefix}.raw`, { callback: (_e, m) => void (JSON.parse(m.string()) as unknown, count()) });
      await nc.flush();
    }
    return { addresses: {} };
  }
  const addresses: Record<string, string> = {};
  for (const name of c.names) {
    const m = new Manager(name, SECRET, { settings, ...(kind === 'nats' ? { transport: natsTransport({ servers: c.url, subjectPrefix: prefix }) } : {}) });
    managers.push(m);
    if (c.role === 'rx') m.fromCluster$.subscribe((p) => void (p.message(), count()));
    addresses[name] = await m.listen(kind === 'nats' ? undefined : '127.0.0.1:0');
  }
  return { addresses };
}

function configure(peers: Readonly<Record<string, string>>): void {
  for (const m of managers) for (const [name, addr] of Object.entries(peers)) if (name !== m.name) m.addNode(name, kind === 'nats' ? undefined : addr);
}

async function joined(n: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const online = (m: Manager): number => {
    let k = 0;
    m.members$.subscribe((mm) => (k = [...mm.values()].filter((p) => p.status === 'Online').length)).unsubscribe();
    return k;
  };
  while (!managers.every((m) => online(m) >= n)) {
    if (Date.now() > deadline) throw new Error(`not joined within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Unsent bytes of the sender: the manager's, or the raw client's (its internals, as the NATS transport reads them). */
function unsent(): number {
  if (kind !== 'raw') return managers[0]?.bufferedAmount ?? 0;
  const p = (clients[0] as unknown as { protocol?: { outbound?: { size?: () => number } } }).protocol;
  return p?.outbound?.size?.() ?? 0;
}

async function send(n: number): Promise<unknown> {
  const m = managers[0];
  const nc = clients[0];
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let seq = 0; seq < n; seq++) {
    const message = { seq, payload: PAYLOAD };
    if (kind === 'raw') nc?.publish(`${prefix}.raw`, encodeMsg('tx', Date.now(), message));
    else m?.toCluster$.next(message);
    if (seq % 100 === 99) {
      while (unsent() > 1024 * 1024) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
  }
  if (kind === 'raw') await nc?.flush();
  while (unsent() > 0) await new Promise((r) => setTimeout(r, 1));
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, ms: performance.now() - started };
}

async function expect(total: number, ms: number): Promise<unknown> {
  const deadline = Date.now() + ms;
  while (received < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const result = { received, ms: lastAt - firstAt };
  received = 0;
  return result;
}

process.on('message', (raw: unknown) => {
  const c = raw as Command & { id: number; peers?: Record<string, string>; join?: number };
  const run = async (): Promise<unknown> => {
    switch (c.op) {
      case 'start':
        return start(c);
      case 'send':
        return send(c.count);
      case 'expect':
        return expect(c.count, c.ms);
      case 'stop':
        await Promise.all(managers.map((m) => m.shutdown()));
        await Promise.all(clients.map((nc) => nc.close()));
        setImmediate(() => process.exit(0));
        return {};
      default: {
        const x = raw as { op: string; peers: Record<string, string>; join: number };
        if (x.op === 'configure') {
          configure(x.peers);
          await joined(x.join, 20_000);
          return {};
        }
        throw new Error(`unknown op ${x.op}`);
      }
    }
  };
  run().then(
    (value) => reply({ id: c.id, ok: true, value }),
    (error: unknown) => reply({ id: c.id, ok: false, error: String(error) }),
  );
});
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(3);
}, 500).unref();
reply({ ready: true });
