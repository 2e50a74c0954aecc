/**
 * Peer hosts for the memory-per-peer figure: one child holds `count` extra
 * nodes of one kind, each on its own port, all of which only ever link to
 * the memory probe. With them the probe goes from a few peers to dozens, so
 * that its RSS and heap growth per peer is not lost in page granularity and
 * in code the JIT compiles meanwhile (both are per process, not per peer).
 *
 * - `rx`: a default rxcluster Manager per node, configured with the probe.
 * - `ws`: a bare ws server per node that accepts the probe only (it says its
 *   name and gets `ok`), and dials the probe once told to, as the mesh
 *   baseline (mesh-ws.ts) does.
 *
 * Loads rxcluster only for `rx`.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { num, rxTransport, serve, str, wsText } from './common.js';

const MAX_PAYLOAD = 1024 * 1024;
const SECRET = 'rxcluster-bench-secret-of-32-bytes!!';

interface Hosted {
  readonly name: string;
  readonly addr: string;
  addProbe(addr: string): void;
  stop(): Promise<void>;
}

const hosted: Hosted[] = [];


async function rxNode(name: string, joinDelay: number): Promise<Hosted> {
  const { Manager } = await import('../../src/index.js');
  const manager = new Manager(name, SECRET, { settings: { joinDelay }, ...rxTransport() });
  const addr = await manager.listen('127.0.0.1:0');
  return { name, addr, addProbe: (probe) => manager.addNode('probe', probe), stop: () => manager.shutdown() };
}

async function wsNode(name: string): Promise<Hosted> {
  const sockets = new Set<WebSocket>();
  const track = (ws: WebSocket): void => {
    sockets.add(ws);
    ws.on('error', () => undefined);
    ws.on('close', () => sockets.delete(ws));
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  let probeKnown = false;
  wss.on('connection', (ws) => {
    track(ws);
    ws.once('message', (data) => {
      const peer = (JSON.parse(wsText(data)) as { name?: string }).name ?? '';
      if (peer !== 'probe' || !probeKnown) {
        ws.close(1008, 'refused');
        return;
      }
      ws.send('{"ok":true}');
    });
  });
  await once(wss, 'listening');
  const { address, port } = wss.address() as AddressInfo;
  return {
    name,
    addr: `${address}:${port}`,
    addProbe: (probe) => {
      probeKnown = true;
      const ws = new WebSocket(`ws://${probe}/`, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
      track(ws);
      ws.once('open', () => ws.send(JSON.stringify({ name })));
    },
    stop: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

serve({
  /** Starts `count` nodes of `kind` named `<prefix>0…`; returns { name: addr }. */
  async start(args) {
    const kind = str(args, 'kind');
    const prefix = str(args, 'prefix');
    const joinDelay = num(args, 'joinDelay');
    for (let i = 0; i < num(args, 'count'); i++) {
      const name = `${prefix}${i}`;
      hosted.push(kind === 'rx' ? await rxNode(name, joinDelay) : await wsNode(name));
    }
    return Object.fromEntries(hosted.map((h) => [h.name, h.addr]));
  },
  /** Every hosted node configures (rx) or dials (ws) the probe at `addr`. */
  addProbe(args) {
    const addr = str(args, 'addr');
    for (const h of hosted) h.addProbe(addr);
    return true;
  },
  async shutdown() {
    await Promise.all(hosted.map((h) => h.stop()));
    hosted.length = 0;
    return true;
  },
});
