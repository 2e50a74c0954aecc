import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { formatAddress, parseAddress } from '../address.js';
import type { RequestHandler } from './registry.js';

/** Ms an API client may take to send its request headers. */
const HEADERS_TIMEOUT = 10_000;
/** Ms an API client may take to send its whole request. */
const REQUEST_TIMEOUT = 30_000;

/** Key and certificate for an API served over HTTPS. */
export interface ApiTls {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/**
 * The HTTP API on a port of its own (`api.listen`), apart from the cluster
 * port: admins reach it on an interface the mesh need not share. Plain HTTP,
 * or HTTPS with the node's own key and certificate when the manager listens
 * with TLS. Slow clients are cut like on the cluster port.
 */
export class ApiServer {
  readonly #server: Server;
  #closing: Promise<void> | undefined;

  constructor(handler: RequestHandler, tls?: ApiTls) {
    const http = { headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, connectionsCheckingInterval: 1000 };
    this.#server = tls === undefined ? createServer(http, handler) : createHttpsServer({ ...http, ...context(tls) }, handler);
    this.#server.on('clientError', (_error: Error, socket: { destroy(): void }) => socket.destroy());
    this.#server.on('tlsClientError', (_error: Error, socket: { destroy(): void }) => socket.destroy());
  }

  /**
   * Binds `address` (`host:port`, port 0 picks one).
   *
   * @returns the bound address
   * @rejects Error when the address is malformed or cannot be bound
   */
  listen(address: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let at;
      try {
        at = parseAddress(address, true);
      } catch (error) {
        reject(new TypeError(`Invalid api.listen: ${(error as Error).message}`));
        return;
      }
      const onError = (error: Error): void => reject(new Error(`cannot listen on ${address} (api.listen): ${error.message}`, { cause: error }));
      this.#server.once('error', onError);
      this.#server.listen(at.port, at.host, () => {
        this.#server.off('error', onError);
        const bound = this.#server.address() as AddressInfo;
        resolve(formatAddress({ host: bound.address, port: bound.port }));
      });
    });
  }

  /** Serves new connections with a new key and certificate (HTTPS only; plain HTTP ignores it). */
  updateTls(tls: ApiTls): void {
    const server = this.#server as Server & { setSecureContext?: (options: object) => void };
    server.setSecureContext?.(context(tls));
  }

  /** Stops listening and cuts every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
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

function context(tls: ApiTls): { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | Array<string | Buffer> } {
  return { key: tls.key, cert: tls.cert, ...(tls.ca === undefined ? {} : { ca: (Array.isArray(tls.ca) ? [...(tls.ca as ReadonlyArray<string | Buffer>)] : tls.ca) as string | Buffer | Array<string | Buffer> }) };
}
