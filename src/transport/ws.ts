import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerOptions as HttpsOptions } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { map, type Observable } from 'rxjs';
import { WsConnection } from './connection.js';
import { dialSocket$ } from './dial.js';
import { MeshServer } from './server.js';
import type { Connection, HostPort, Transport } from './types.js';
import { formatAddress } from '../address.js';

export interface WsTransportOptions {
  readonly maxPayload: number;
  readonly requestHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Server side TLS (listenTls). */
  readonly tlsServer?: HttpsOptions;
  /** Client side TLS used when dialing peers. */
  readonly tlsClient?: SecureContextOptions & { readonly rejectUnauthorized?: boolean };
  readonly onRefused?: (remote: string, reason: string, kind?: 'tls') => void;
}

/** The ws transport: one HTTP(S) server for the mesh and the API, ws clients to dial. */
export class WsTransport implements Transport {
  readonly #server: MeshServer;
  #nextId = 1;
  readonly incoming$: Observable<Connection>;

  constructor(private readonly options: WsTransportOptions) {
    this.#server = new MeshServer({
      maxPayload: options.maxPayload,
      ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
      ...(options.tlsServer === undefined ? {} : { tls: options.tlsServer }),
      ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused }),
    });
    this.incoming$ = this.#server.accepted$.pipe(
      map(({ ws, remote }) => new WsConnection(this.#nextId++, 'inbound', remote, ws)),
    );
  }

  listen(address: HostPort): Promise<HostPort> {
    return this.#server.listen(address);
  }

  dial$(address: HostPort, timeout: number): Observable<Connection> {
    const options = {
      maxPayload: this.options.maxPayload,
      timeout,
      ...(this.options.tlsClient === undefined ? {} : { tls: this.options.tlsClient }),
    };
    return dialSocket$(address, options).pipe(
      map((ws) => new WsConnection(this.#nextId++, 'outbound', formatAddress(address), ws)),
    );
  }

  close(): Promise<void> {
    return this.#server.close();
  }
}
