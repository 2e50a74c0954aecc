import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Subject, type Observable } from 'rxjs';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { DEFAULT_MAX_PENDING_HANDSHAKES, REFUSAL_LOG_INTERVAL, WS_SUBPROTOCOL } from '../../limits.js';
import { RateLimitedReport } from '../../log.js';
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
  readonly onRefused?: (remote: string, reason: string, kind?: 'tls' | 'overload') => void;
  /** Accepted sockets not yet authenticated, at most; past it a new one is destroyed at once. Default 64. */
  readonly maxPendingHandshakes?: number;
  /** Ms from a socket's accept to its WebSocket upgrade before it is destroyed, read at each accept. Default 10000. */
  readonly handshakeTimeout?: () => number;
  /** Names the verified client certificate carries, for mutual TLS; undefined: not checked. */
  readonly peerNamesOf?: (socket: TLSSocket) => readonly string[] | undefined;
}

/** A socket that upgraded: the WebSocket, who it is, and how to count it out of the pending handshakes. */
export interface Accepted {
  readonly ws: WebSocket;
  readonly remote: string;
  /** Counts the connection out of the pending handshakes: it authenticated. Idempotent. */
  readonly release: () => void;
  /** The verified client certificate's names, with mutual TLS. */
  readonly peerNames?: readonly string[];
}

/**
 * One HTTP(S) server carrying both the mesh (WebSocket upgrades on
 * MESH_PATH, ws in `noServer` mode) and plain HTTP requests.
 */
export class MeshServer {
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #accepted = new Subject<Accepted>();
  /** Raw TCP sockets accepted and not yet authenticated (nor serving plain HTTP), with the deadline of their upgrade. */
  readonly #pending = new Map<Duplex, { timer: ReturnType<typeof setTimeout> | undefined }>();
  /** Raw sockets that left the pending count (authenticated, or serving plain HTTP) and are still open. */
  readonly #established = new Set<Duplex>();
  readonly #maxPending: number;
  readonly #overloaded: RateLimitedReport;
  readonly #expired: RateLimitedReport;
  #closing: Promise<void> | undefined;

  /** Sockets that completed the WebSocket upgrade (hot). */
  readonly accepted$: Observable<Accepted> = this.#accepted.asObservable();

  constructor(private readonly options: MeshServerOptions) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      clientTracking: true,
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    });
    const max = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    this.#overloaded = new RateLimitedReport(REFUSAL_LOG_INTERVAL, (count) =>
      this.options.onRefused?.('-', `refused ${count} connection${count === 1 ? '' : 's'} at once: ${max} handshakes pending (maxPendingHandshakes)`, 'overload'),
    );
    this.#expired = new RateLimitedReport(REFUSAL_LOG_INTERVAL, (count) =>
      this.options.onRefused?.('-', `closed ${count} connection${count === 1 ? '' : 's'} that did not upgrade within connectTimeout`),
    );
    const serve = options.requestHandler ?? notFound;
    // a socket that serves plain HTTP is no handshake: the HTTP timeouts and the API's own limits hold it
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#promote(req.socket);
      serve(req, res);
    };
    // slow or silent HTTP clients must not hold sockets forever; node checks
    // these deadlines only every connectionsCheckingInterval (30 s by default)
    const http = { headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, connectionsCheckingInterval: 1000 };
    this.#server = options.tls === undefined ? createServer(http, handler) : createTlsServer({ ...http, ...options.tls }, handler);
    this.#maxPending = max;
    this.#server.on('connection', (socket: Socket) => this.#accept(socket, max));
    // past the limit, Node closes a new connection's handle before any object is made for it
    this.#server.on('drop', () => this.#overloaded.hit());
    this.#syncLimit();
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head, max));
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

  /**
   * A TCP connection came in: refused at once past maxPendingHandshakes, else
   * counted as pending and given until the upgrade to finish, whether or not
   * it ever sends a byte.
   */
  #accept(socket: Socket, max: number): void {
    if (this.#pending.size >= max || this.#closing !== undefined) {
      if (this.#closing === undefined) this.#overloaded.hit();
      socket.destroy();
      return;
    }
    const ms = this.options.handshakeTimeout?.() ?? 10_000;
    const timer = setTimeout(() => {
      this.#expired.hit();
      socket.destroy();
    }, ms);
    timer.unref();
    this.#pending.set(socket, { timer });
    this.#syncLimit();
    socket.once('close', () => this.#forget(socket));
  }

  /** Counts a socket (raw or TLS) out of the pending handshakes: it authenticated, or serves plain HTTP. */
  #promote(socket: Duplex): void {
    const raw = rawOf(socket);
    const entry = this.#pending.get(raw);
    if (entry === undefined) return;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.#pending.delete(raw);
    this.#established.add(raw);
    this.#syncLimit();
  }

  /** A raw socket closed. */
  #forget(raw: Duplex): void {
    const entry = this.#pending.get(raw);
    if (entry?.timer !== undefined) clearTimeout(entry.timer);
    this.#pending.delete(raw);
    this.#established.delete(raw);
    this.#syncLimit();
  }

  /**
   * Lets the server hold every established connection plus maxPendingHandshakes
   * more: Node then refuses a connection past it at the handle, before the HTTP
   * server makes a socket and a parser for it, so a flood costs next to nothing.
   */
  #syncLimit(): void {
    if (this.#closing === undefined) this.#server.maxConnections = this.#established.size + this.#maxPending;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, max: number): void {
    const remote = remoteOf(socket);
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    const raw = rawOf(socket);
    // an upgrade after plain HTTP requests on a kept-alive socket counts again
    const full = !this.#pending.has(raw) && this.#pending.size >= max;
    if (this.#closing !== undefined || path !== MESH_PATH || full) {
      if (full) this.#overloaded.hit();
      else this.options.onRefused?.(remote, this.#closing !== undefined ? 'server is closing' : `upgrade on unknown path`);
      abort(socket, path !== MESH_PATH ? 404 : 503);
      return;
    }
    if (!this.#pending.has(raw)) {
      // counted again as pending until it authenticates
      this.#established.delete(raw);
      this.#pending.set(raw, { timer: undefined });
      this.#syncLimit();
    }
    const peerNames = this.options.peerNamesOf?.(socket as TLSSocket);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.#closing !== undefined) {
        ws.terminate();
        return;
      }
      // upgraded: from here the session's handshake deadline holds it
      const entry = this.#pending.get(raw);
      if (entry?.timer !== undefined) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
      }
      this.#accepted.next({ ws, remote, release: () => this.#promote(raw), ...(peerNames === undefined ? {} : { peerNames }) });
    });
  }

  /** Unauthenticated connections now. */
  get pendingHandshakes(): number {
    return this.#pending.size;
  }

  /** Serves new TLS connections with a new key and certificate; open ones keep theirs. */
  updateTls(context: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | Array<string | Buffer> }): void {
    const server = this.#server as Server & { setSecureContext?: (options: object) => void };
    if (server.setSecureContext === undefined) throw new Error('this server does not serve TLS');
    server.setSecureContext(context);
  }

  /** Stops accepting, terminates every socket, completes accepted$. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const ws of this.#wss.clients) ws.terminate();
      for (const { timer } of this.#pending.values()) if (timer !== undefined) clearTimeout(timer);
      this.#overloaded.close();
      this.#expired.close();
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

/** The TCP socket under a TLS one (Node keeps it as `_parent`), or the socket itself. */
function rawOf(socket: Duplex): Duplex {
  return (socket as Duplex & { _parent?: Duplex | null })._parent ?? socket;
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
