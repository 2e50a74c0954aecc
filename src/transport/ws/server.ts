import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { Subject, type Observable } from 'rxjs';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { WS_SUBPROTOCOL } from '../../limits.js';
import { formatAddress, type HostPort } from '../../address.js';

/** Ms an HTTP client may take to send its request headers. */
export const HEADERS_TIMEOUT = 10_000;
/** Ms an HTTP client may take to send its whole request. */
export const REQUEST_TIMEOUT = 30_000;

/** The HTTP path node-to-node WebSocket upgrades use. */
export const MESH_PATH = '/rxcluster/v1';

export interface MeshServerOptions {
  /** Bytes per frame; ws closes a bigger one with 1009. */
  readonly maxPayload: number;
  /** Serves plain HTTP requests on the same port (the API); 404 when absent. */
  readonly requestHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Serve HTTPS/WSS with these options. */
  readonly tls?: HttpsOptions;
  /** Reports sockets refused before they became WebSocket connections. */
  readonly onRefused?: (remote: string, reason: string, kind?: 'tls') => void;
}

/**
 * One HTTP(S) server carrying both the mesh (WebSocket upgrades on
 * MESH_PATH, ws in `noServer` mode) and plain HTTP requests.
 */
export class MeshServer {
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #accepted = new Subject<{ ws: WebSocket; remote: string }>();
  #closing: Promise<void> | undefined;

  /** Sockets that completed the WebSocket upgrade (hot). */
  readonly accepted$: Observable<{ ws: WebSocket; remote: string }> = this.#accepted.asObservable();

  constructor(private readonly options: MeshServerOptions) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      clientTracking: true,
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    });
    const handler = options.requestHandler ?? notFound;
    // slow or silent HTTP clients must not hold sockets forever; node checks
    // these deadlines only every connectionsCheckingInterval (30 s by default)
    const http = { headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, connectionsCheckingInterval: 1000 };
    this.#server = options.tls === undefined ? createServer(http, handler) : createTlsServer({ ...http, ...options.tls }, handler);
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.#server.on('tlsClientError', (error: Error, socket: Duplex) => {
      this.options.onRefused?.(remoteOf(socket), `TLS handshake failed: ${error.message}`, 'tls');
      socket.destroy();
    });
    this.#server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
      this.options.onRefused?.(remoteOf(socket), `bad HTTP request (${error.message})`);
      const status =
        error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    });
  }

  /** Binds and starts serving; resolves the bound address. */
  listen(address: HostPort): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.#server.off('listening', onListening);
        reject(new Error(`cannot listen on ${formatAddress(address)}: ${error.message}`, { cause: error }));
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        if (this.#closing !== undefined) {
          // closed while the port was being bound: release it
          this.#server.close();
          this.#server.closeAllConnections();
          reject(new Error(`cannot listen on ${formatAddress(address)}: closed meanwhile`));
          return;
        }
        const bound = this.#server.address() as AddressInfo;
        resolve({ host: bound.address, port: bound.port });
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen(address.port, address.host);
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = remoteOf(socket);
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (this.#closing !== undefined || path !== MESH_PATH) {
      this.options.onRefused?.(remote, this.#closing !== undefined ? 'server is closing' : `upgrade on unknown path`);
      abort(socket, this.#closing !== undefined ? 503 : 404);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.#closing !== undefined) {
        ws.terminate();
        return;
      }
      this.#accepted.next({ ws, remote });
    });
  }

  /** Stops accepting, terminates every socket, completes accepted$. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const ws of this.#wss.clients) ws.terminate();
      this.#wss.close();
      this.#accepted.complete();
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }
}

function remoteOf(socket: Duplex): string {
  const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
  return s.remoteAddress === undefined ? 'unknown' : formatAddress({ host: s.remoteAddress, port: s.remotePort ?? 0 });
}

function abort(socket: Duplex, status: number): void {
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Service Unavailable'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ success: false, error: 'not found', data: null }));
}
