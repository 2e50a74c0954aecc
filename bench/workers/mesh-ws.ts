/**
 * Mesh baseline child: bare ws in a mesh of N processes, doing the least a
 * mesh must: when configured it dials every peer it was given and says its
 * name; it accepts a caller only if that caller is configured here (else it
 * closes it, as rxcluster refuses an unconfigured node), and answers `ok`.
 * A peer counts as Online `joinDelay` ms after its connection was accepted
 * (acceptor) or answered (dialer), if still open: the same wait rxcluster's
 * joinDelay imposes. No retry: the later-configured side always dials.
 * Loads only ws.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { num, serve, settledMemory, str, waitUntil, wsText } from './common.js';

const MAX_PAYLOAD = 1024 * 1024;
let self = '';
let joinDelay = 100;
let server: WebSocketServer | undefined;
let bound = '';
const configured = new Set<string>();
const sockets = new Set<WebSocket>();
const joinedAt = new Map<string, number>();
const counts = { joins: 0, refused: 0 };
const wallNow = (): number => performance.timeOrigin + performance.now();


function online(ws: WebSocket, peer: string): void {
  setTimeout(() => {
    if (ws.readyState !== WebSocket.OPEN || joinedAt.has(peer)) return;
    counts.joins++;
    joinedAt.set(peer, wallNow());
  }, joinDelay);
}

function track(ws: WebSocket): void {
  sockets.add(ws);
  ws.on('error', () => undefined);
  ws.on('close', () => sockets.delete(ws));
}

async function stop(): Promise<void> {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
  const s = server;
  server = undefined;
  if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
}

serve({
  /** A fresh server on a fresh port each time (a run after another reuses the process). */
  async listen(args) {
    await stop();
    joinedAt.clear();
    configured.clear();
    counts.joins = 0;
    counts.refused = 0;
    self = str(args, 'name');
    joinDelay = num(args, 'joinDelay');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    server = wss;
    wss.on('connection', (ws) => {
      track(ws);
      ws.once('message', (data) => {
        const peer = (JSON.parse(wsText(data)) as { name?: string }).name ?? '';
        if (!configured.has(peer)) {
          counts.refused++;
          ws.close(1008, 'refused');
          return;
        }
        ws.send('{"ok":true}');
        online(ws, peer);
      });
    });
    await once(wss, 'listening');
    const { address, port } = wss.address() as AddressInfo;
    bound = `${address}:${port}`;
    return bound;
  },
  addNodes(args) {
    const peers = args['peers'] as Record<string, string>;
    for (const name of Object.keys(peers)) configured.add(name);
    const at = wallNow();
    for (const [name, addr] of Object.entries(peers)) {
      const ws = new WebSocket(`ws://${addr}/`, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
      track(ws);
      ws.once('open', () => ws.send(JSON.stringify({ name: self })));
      ws.once('message', () => online(ws, name));
    }
    return at;
  },
  async waitJoined(args) {
    const n = num(args, 'n');
    await waitUntil(() => joinedAt.size >= n, num(args, 'timeoutMs'), `${n} peers to join`);
    return { last: Math.max(...joinedAt.values()), counts };
  },
  address() {
    return bound;
  },
  memory(args) {
    return settledMemory(num(args, 'settleMs'));
  },
  async shutdown() {
    await stop();
    return true;
  },
});
