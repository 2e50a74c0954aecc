/**
 * Idle-RSS baseline child: a bare ws WebSocketServer listening, plus one
 * connection to the peer (accepted or dialed), doing nothing else. Loads only
 * ws, so the figure is what ws itself costs.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { num, serve, settledMemory, str, waitUntil } from './common.js';

const MAX_PAYLOAD = 1024 * 1024;
let server: WebSocketServer | undefined;
let socket: WebSocket | undefined;

function keep(ws: WebSocket): void {
  socket = ws;
  ws.on('error', () => undefined);
}

serve({
  async listen() {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    server = wss;
    wss.on('connection', keep);
    await once(wss, 'listening');
    const { address, port } = wss.address() as AddressInfo;
    return `${address}:${port}`;
  },
  async connect(args) {
    const ws = new WebSocket(`ws://${str(args, 'addr')}/`, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    const timeoutMs = num(args, 'timeoutMs');
    await Promise.race([
      once(ws, 'open'),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    keep(ws);
    return true;
  },
  async waitConnected(args) {
    await waitUntil(() => socket?.readyState === WebSocket.OPEN, num(args, 'timeoutMs'), 'a connection');
    return true;
  },
  memory(args) {
    return settledMemory(num(args, 'settleMs'));
  },
  async shutdown() {
    socket?.close(1000);
    server?.close();
    return true;
  },
});
