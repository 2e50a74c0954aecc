import type { Observable } from 'rxjs';

/**
 * What the transport reports about one socket. `close` is always the last
 * event; `error` carries the fault that led to it, when there was one.
 */
export type SocketEvent =
  | { readonly type: 'message'; readonly data: Buffer | string }
  | { readonly type: 'close'; readonly code: number; readonly reason: string; readonly error?: Error };

/**
 * One node-to-node connection, as the core sees it: frames in, frames out,
 * close. The core never touches a socket, so another transport (a NATS one is
 * planned) can stand in for ws.
 */
export interface Connection {
  /** Unique per transport instance, growing: the newer connection has the larger id. */
  readonly id: number;
  /** `outbound` when this node dialed, `inbound` when it accepted. */
  readonly direction: 'inbound' | 'outbound';
  /** `host:port` of the other end, for logs. */
  readonly remote: string;
  /**
   * The socket's events. Subscribe once, at once: the subscription attaches
   * the listeners; it completes after the `close` event; unsubscribing
   * earlier terminates the socket.
   */
  readonly events$: Observable<SocketEvent>;
  /**
   * Queues one text frame; a closed socket drops it silently. A Buffer holds
   * UTF-8 text already encoded, so a broadcast encodes once for all peers.
   */
  send(data: string | Buffer): void;
  /** Bytes queued and not yet written to the network. */
  readonly bufferedAmount: number;
  /** Orderly close with a code and a short reason. */
  close(code: number, reason: string): void;
  /** Immediate close, for a dead or hostile peer. */
  terminate(): void;
}

/** A listen or dial address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Node-to-node transport: connections in, connections out, close. */
export interface Transport {
  /** Starts accepting; resolves the bound address (port 0 picks one). */
  listen(address: HostPort): Promise<HostPort>;
  /** Accepted connections (hot). */
  readonly incoming$: Observable<Connection>;
  /**
   * A fresh connection per subscription: emits it once open, completes when
   * it closes, errors when it cannot be opened within `timeout` ms.
   * Unsubscribing terminates it.
   */
  dial$(address: HostPort, timeout: number): Observable<Connection>;
  /** Stops accepting and closes every socket. Idempotent. */
  close(): Promise<void>;
}
