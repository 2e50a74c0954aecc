/**
 * One cluster node in its own process, for fault tests (SIGKILL, SIGSTOP,
 * SIGTERM) and for hostile input that might crash a process.
 *
 *   RXC_SECRET=… node --import tsx test/support/node-process.ts <name> '<peers>' ['<settings>'] ['<options>']
 *
 * - `<peers>`: a JSON list of "name=host:port" strings
 * - `<settings>`: a JSON object of Settings fields (ms); default FAST_SETTINGS
 * - `<options>`: a JSON object of other ManagerOptions (maxPayload, sendBufferBytes, logTraffic)
 *
 * Listens on 127.0.0.1:0 and prints one JSON object per line on stdout:
 * `{"type":"listening","address":"127.0.0.1:port"}`, then `join`/`leave`
 * (`{"type":"join","node":"A"}`), `log` (`{"type":"log","level","message","node","code"}`)
 * and, after SIGTERM or SIGINT has shut the manager down, `{"type":"stopped"}`.
 * SIGUSR2 blocks its event loop for RXC_BLOCK_MS ms (`blocking`, `unblocked` lines).
 * It then exits by itself, with code 0, once nothing is left open.
 */
import { Manager, natsTransport, type ManagerOptions } from '../../src/index.js';
import { FAST_SETTINGS, type Settings } from '../../src/settings.js';

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function fail(message: string): never {
  process.stderr.write(`node-process: ${message}\n`);
  process.exit(2);
}

function parseJson(label: string, text: string | undefined, fallback: unknown): unknown {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return fail(`${label} is not JSON: ${text}`);
  }
}

const [name, peersArg, settingsArg, optionsArg] = process.argv.slice(2);
const secret = process.env.RXC_SECRET;
if (name === undefined || peersArg === undefined) fail('usage: node-process.ts <name> <peers JSON> [settings JSON] [options JSON]');
if (secret === undefined || secret === '') fail('RXC_SECRET is not set');

const peers = parseJson('peers', peersArg, []);
if (!Array.isArray(peers) || !peers.every((p): p is string => typeof p === 'string' && p.includes('='))) {
  fail(`peers must be a JSON list of "name=host:port": ${peersArg}`);
}
const settings = parseJson('settings', settingsArg, FAST_SETTINGS) as Partial<Settings>;
const extra = parseJson('options', optionsArg, {}) as Pick<ManagerOptions, 'maxPayload' | 'sendBufferBytes' | 'logTraffic'>;

// RXC_NATS_SERVERS (a JSON list of URLs) runs this node over NATS instead (RXC_NATS_PREFIX: the subject prefix)
const natsServers = process.env.RXC_NATS_SERVERS;
const transport =
  natsServers === undefined
    ? undefined
    : natsTransport({ servers: JSON.parse(natsServers) as string[], subjectPrefix: process.env.RXC_NATS_PREFIX ?? 'rxcluster', reconnectTimeWait: 100 });
const manager = new Manager(name, secret, { ...extra, settings, ...(transport === undefined ? {} : { transport }) });
manager.nodeJoin$.subscribe((node) => emit({ type: 'join', node }));
manager.nodeLeave$.subscribe((node) => emit({ type: 'leave', node }));
manager.log$.subscribe((entry) =>
  emit({ type: 'log', level: entry.level, message: entry.message, node: entry.node ?? null, code: entry.code ?? null }),
);
for (const peer of peers) {
  const at = peer.indexOf('=');
  manager.addNode(peer.slice(0, at), peer.slice(at + 1));
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  manager.shutdown().then(
    () => emit({ type: 'stopped' }),
    (error: unknown) => fail(`shutdown failed: ${String(error)}`),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// SIGUSR2 blocks this process's event loop for RXC_BLOCK_MS (a GC pause, a
// long synchronous job): the process stays alive but reads and timers wait
process.on('SIGUSR2', () => {
  const ms = Number(process.env.RXC_BLOCK_MS ?? '0');
  emit({ type: 'blocking', ms });
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs
  }
  emit({ type: 'unblocked' });
});

// an orphan (the test runner died without killing us) must not linger
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(3);
}, 500).unref();

manager.listen(transport === undefined ? '127.0.0.1:0' : undefined).then(
  (address) => emit({ type: 'listening', address }),
  (error: unknown) => fail(`listen failed: ${String(error)}`),
);
