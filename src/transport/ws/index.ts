import { Subject, catchError, map, throwError, type Observable } from 'rxjs';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { formatAddress, parseAddress } from '../../address.js';
import { DialError, type Connection, type ListenOptions, type Refusal, type TlsOptions, type Transport } from '../types.js';
import { isTlsError } from './codes.js';
import { WsConnection } from './connection.js';
import { dialSocket$, type DialOptions } from './dial.js';
import { MeshServer } from './server.js';

export { MESH_PATH } from './server.js';

/** Options of {@link wsTransport}; every field is optional. */
export interface WsTransportOptions {
  /**
   * TLS for dialing when the manager listens without TLS (`listen`), e.g. to
   * reach peers behind a TLS-terminating proxy. `listenTls` sets TLS for both
   * directions itself.
   */
  readonly dialTls?: TlsOptions;
  /**
   * Mask the frames sent on connections this node dialed with random keys
   * (default false). RFC 6455 masks what a client sends so that a script in a
   * browser cannot make an intermediary (a transparent proxy, a cache) read
   * chosen bytes as HTTP; it costs a copy and an XOR of every frame on both
   * ends. Between cluster nodes no browser speaks, so the dialing side sends a
   * zero key (ws's `generateMask`): its frames go out as they are, like the
   * accepting side's always do. Set it when the mesh crosses such an
   * intermediary in plain ws (with TLS it cannot read the frames anyway).
   */
  readonly randomMask?: boolean;
  /**
   * Bind every frame after the handshake to its connection with a MAC on
   * plain ws (default true; over TLS frames never carry one, TLS already
   * authenticates them). Without it, anyone who can write into a TCP
   * connection between two nodes (on the path, or by guessing its sequence
   * numbers) can inject messages, leaves and reports. Turn it off only on a
   * network nobody else can write into: it costs about 1 µs of CPU per
   * frame of a few hundred bytes on each end, about 10 µs per 64 KiB.
   */
  readonly frameMacs?: boolean;
}

/** A zero masking key: ws then sends the frame's bytes as they are (no copy, no XOR) and the receiver skips unmasking. */
function zeroMask(mask: Buffer): void {
  mask.fill(0, 0, 4);
}

/**
 * The default transport: a WebSocket per peer over TCP, or over TLS with
 * `listenTls`. One HTTP(S) server carries both the mesh (upgrades on
 * MESH_PATH) and, unless moved, the HTTP API.
 *
 * Addresses are `host:port`, IPv6 in brackets (`[::1]:9654`), or
 * `dns-name:port`; a DNS name is resolved again on every dial, so a peer
 * that moves is found at its new address.
 *
 * @param options - see WsTransportOptions
 * @returns a transport for one manager
 * @example
 * const m = new Manager('node1', secret, { transport: wsTransport() });
 */
export function wsTransport(options: WsTransportOptions = {}): Transport {
  return new WsTransport(options);
}

class WsTransport implements Transport {
  readonly kind = 'ws';
  readonly #incoming = new Subject<Connection>();
  readonly #refused = new Subject<Refusal>();
  readonly incoming$: Observable<Connection> = this.#incoming.asObservable();
  readonly refused$: Observable<Refusal> = this.#refused.asObservable();
  #server: MeshServer | undefined;
  /** Mutual TLS: connections carry their peer's certificate names. */
  #mutual = false;
  #dial: Omit<DialOptions, 'timeout'> | undefined;
  /** Every open connection, both directions, so close() cuts them all. */
  readonly #open = new Set<WsConnection>();
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(private readonly options: WsTransportOptions) {}

  parseAddress(address: string | undefined, purpose: 'listen' | 'dial'): string {
    if (address === undefined) throw new TypeError(`Invalid address: the ws transport needs "host:port"`);
    return formatAddress(parseAddress(address, purpose === 'listen'));
  }

  async listen(address: string, options: ListenOptions): Promise<string> {
    if (this.#server !== undefined || this.#closing !== undefined) throw new Error('this ws transport listens already; use one transport per manager');
    const tls = options.tls === undefined ? undefined : tlsOptions(options.tls);
    const dialTls = tls?.client ?? (this.options.dialTls === undefined ? undefined : tlsOptions(this.options.dialTls).client);
    const mutual = tls?.server.requestCert === true;
    const server = new MeshServer({
      maxPayload: options.maxPayload,
      ...(options.maxPendingHandshakes === undefined ? {} : { maxPendingHandshakes: options.maxPendingHandshakes }),
      ...(options.handshakeTimeout === undefined ? {} : { handshakeTimeout: options.handshakeTimeout }),
      // with mutual TLS a connection without a verified certificate names nobody: the session refuses it
      ...(mutual ? { peerNamesOf: (socket: TLSSocket) => certificateNames(socket) ?? [] } : {}),
      ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      ...(tls === undefined ? {} : { tls: tls.server }),
      onRefused: (remote, reason, kind) => this.#refused.next({ remote, reason, kind: kind ?? 'other' }),
    });
    this.#server = server;
    this.#mutual = mutual;
    this.#dial = { maxPayload: options.maxPayload, ...(dialTls === undefined ? {} : { tls: dialTls }), ...(this.options.randomMask === true ? {} : { generateMask: zeroMask }) };
    const maxPayload = options.maxPayload;
    const inboundSealed = tls !== undefined || this.options.frameMacs === false;
    // the server's accepted$ completes when it closes: this subscription ends with it
    server.accepted$.subscribe(({ ws, remote, release, peerNames }) =>
      this.#incoming.next(this.#track(new WsConnection(this.#nextId++, 'inbound', remote, ws, { maxPayload, release, sealed: inboundSealed, ...(peerNames === undefined ? {} : { peerNames }) }))),
    );
    try {
      return formatAddress(await server.listen(parseAddress(address, true)));
    } catch (error) {
      // a failed listen leaves the transport as it was, so the manager may try again
      this.#server = undefined;
      this.#dial = undefined;
      await server.close();
      throw error;
    }
  }

  dial$(address: string, _peer: string, timeout: number): Observable<Connection> {
    const dial = this.#dial;
    if (dial === undefined) return throwError(() => new DialError('the ws transport is not listening', false));
    return dialSocket$(parseAddress(address, false), { ...dial, timeout }).pipe(
      map((ws) => {
        const peerNames = this.#mutual ? (certificateNames((ws as unknown as { _socket?: TLSSocket })._socket) ?? []) : undefined;
        const sealed = dial.tls !== undefined || this.options.frameMacs === false;
        return this.#track(new WsConnection(this.#nextId++, 'outbound', address, ws, { maxPayload: dial.maxPayload, sealed, ...(peerNames === undefined ? {} : { peerNames }) }));
      }),
      catchError((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        return throwError(() => new DialError(isTlsError(error) ? `its certificate does not verify (${message})` : message, isTlsError(error), { cause: error }));
      }),
    );
  }

  updateTls(tls: Pick<TlsOptions, 'key' | 'cert' | 'ca'>): void {
    const server = this.#server;
    const dial = this.#dial;
    if (server === undefined || dial?.tls === undefined) throw new Error('updateTls: the ws transport does not listen with TLS (use listenTls)');
    const ca = tls.ca === undefined ? {} : { ca: (Array.isArray(tls.ca) ? [...(tls.ca as ReadonlyArray<string | Buffer>)] : tls.ca) as string | Buffer | Array<string | Buffer> };
    if (tls.key === undefined || tls.cert === undefined) throw new TypeError('Invalid TLS options: expected { key, cert, ca? }');
    // check the material before anything is swapped: a bad key throws here and changes nothing
    createSecureContext({ key: tls.key, cert: tls.cert, ...ca });
    server.updateTls({ key: tls.key, cert: tls.cert, ...ca });
    // new dials present the new certificate and verify against the new CAs; open connections keep theirs
    this.#dial = { ...dial, tls: { ...dial.tls, key: tls.key, cert: tls.cert, ...ca } };
  }

  #track(conn: WsConnection): WsConnection {
    if (this.#closing !== undefined) {
      conn.terminate();
      return conn;
    }
    this.#open.add(conn);
    conn.onceClosed(() => this.#open.delete(conn));
    return conn;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const conn of this.#open) conn.terminate();
      this.#open.clear();
      await this.#server?.close();
      this.#incoming.complete();
      this.#refused.complete();
    })();
    return this.#closing;
  }
}

/**
 * The names a verified peer certificate carries: its SAN DNS names and its
 * subject CN; undefined when the socket has no verified certificate.
 */
export function certificateNames(socket: TLSSocket | undefined): readonly string[] | undefined {
  if (socket === undefined || typeof socket.getPeerCertificate !== 'function' || socket.authorized !== true) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return undefined;
  const names = new Set<string>();
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const match = /^\s*DNS:(.+?)\s*$/.exec(part);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  const cn = cert.subject?.CN as unknown;
  for (const name of Array.isArray(cn) ? cn : [cn]) if (typeof name === 'string') names.add(name);
  return [...names];
}

/** The server and client TLS options of the ws transport for one node's key, certificate and CA. */
function tlsOptions(tls: TlsOptions): { server: NonNullable<ConstructorParameters<typeof MeshServer>[0]['tls']>; client: NonNullable<DialOptions['tls']> } {
  if (typeof tls !== 'object' || tls === null || tls.key === undefined || tls.cert === undefined) {
    throw new TypeError('Invalid TLS options: expected { key, cert, ca?, requestCert?, rejectUnauthorized? }');
  }
  const ca = tls.ca === undefined ? {} : { ca: (Array.isArray(tls.ca) ? [...tls.ca] : tls.ca) as string | Buffer | Array<string | Buffer> };
  const reject = tls.rejectUnauthorized ?? true;
  return {
    server: { key: tls.key, cert: tls.cert, ...ca, requestCert: tls.requestCert === true, rejectUnauthorized: tls.requestCert === true && reject },
    client: { key: tls.key, cert: tls.cert, ...ca, rejectUnauthorized: reject },
  };
}
