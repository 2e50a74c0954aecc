/**
 * A tiny network probe the netns harness runs inside a lab namespace
 * (`ip netns exec NS node probe.mjs MODE ...`), to prove that a fault really
 * takes effect. Plain JavaScript so that it starts in ~0.1 s (no tsx).
 *
 *   serve PORT            TCP echo and UDP counter on 0.0.0.0:PORT; prints {"ready":true};
 *                         each stdin line prints {"udp":{"<source ip>":count,...}}
 *   connect HOST PORT MS  one TCP connect: {"ok":true,"ms":…} or {"ok":false,"error":…}
 *   rtt HOST PORT COUNT   COUNT one-byte TCP round trips: {"rtts":[ms,…]} (or {"error":…})
 *   udp HOST PORT COUNT INTERVAL_MS   sends COUNT datagrams: {"sent":COUNT}
 */
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

const [mode, ...args] = process.argv.slice(2);
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function serve(port) {
  const counts = {};
  // a large receive buffer: on a busy machine the counter must not be where datagrams are lost
  const udp = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  udp.on('message', (_data, from) => {
    counts[from.address] = (counts[from.address] ?? 0) + 1;
  });
  const tcp = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await Promise.all([
    new Promise((resolve) => udp.bind(port, '0.0.0.0', resolve)),
    new Promise((resolve) => tcp.listen(port, '0.0.0.0', resolve)),
  ]);
  print({ ready: true });
  createInterface({ input: process.stdin }).on('line', () => print({ udp: counts })).on('close', () => process.exit(0));
}

function tcpConnect(host, port, ms) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: 'timeout' });
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ ok: true, ms: performance.now() - started, socket });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: error.code ?? error.message });
    });
  });
}

async function rtt(host, port, count) {
  const result = await tcpConnect(host, port, 5000);
  if (!result.ok) return { error: result.error };
  const socket = result.socket;
  socket.setNoDelay(true);
  const rtts = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const echoed = new Promise((resolve, reject) => {
      socket.once('data', resolve);
      socket.once('error', reject);
    });
    socket.write('x');
    await echoed;
    rtts.push(performance.now() - started);
  }
  socket.destroy();
  return { rtts };
}

async function udp(host, port, count, interval) {
  const socket = createSocket('udp4');
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => socket.send(`${i}`, port, host, resolve));
    if (interval > 0) await sleep(interval);
  }
  socket.close();
  return { sent: count };
}

switch (mode) {
  case 'serve':
    await serve(Number(args[0]));
    break;
  case 'connect': {
    const { socket, ...result } = await tcpConnect(args[0], Number(args[1]), Number(args[2]));
    socket?.destroy();
    print(result);
    break;
  }
  case 'rtt':
    print(await rtt(args[0], Number(args[1]), Number(args[2])));
    break;
  case 'udp':
    print(await udp(args[0], Number(args[1]), Number(args[2]), Number(args[3])));
    break;
  default:
    process.stderr.write(`probe: unknown mode ${mode}\n`);
    process.exit(2);
}
