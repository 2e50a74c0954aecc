import { Observable } from 'rxjs';
import WebSocket from 'ws';
import type { SecureContextOptions } from 'node:tls';
import { WS_SUBPROTOCOL } from '../../limits.js';
import { formatAddress } from '../../address.js';
import { MESH_PATH } from './server.js';
import type { HostPort } from '../../address.js';

export interface DialOptions {
  readonly maxPayload: number;
  /** ms for the TCP connect and the WebSocket upgrade. */
  readonly timeout: number;
  /** Dial over TLS with these options (verifying the peer against `ca`). */
  readonly tls?: SecureContextOptions & { readonly rejectUnauthorized?: boolean };
  /** Fills each frame's masking key (ws's option): a zero key sends the bytes unmasked-as-is; absent, random keys. */
  readonly generateMask?: (mask: Buffer) => void;
}

/**
 * A fresh ws socket per subscription: emits it once open, completes when it
 * closes, errors when it cannot be opened. Unsubscribing while it is still
 * being opened terminates it; once open, the socket lives until its consumer
 * closes it, so reconnecting is `retry`/`repeat` upstream.
 */
export function dialSocket$(address: HostPort, options: DialOptions): Observable<WebSocket> {
  return new Observable<WebSocket>((subscriber) => {
    const scheme = options.tls === undefined ? 'ws' : 'wss';
    const url = `${scheme}://${formatAddress(address)}${MESH_PATH}`;
    const ws = new WebSocket(url, WS_SUBPROTOCOL, {
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      handshakeTimeout: options.timeout,
      followRedirects: false,
      ...(options.generateMask === undefined ? {} : { generateMask: options.generateMask }),
      ...(options.tls ?? {}),
    });
    let opened = false;
    const onOpen = (): void => {
      opened = true;
      subscriber.next(ws);
    };
    const onError = (error: Error): void => {
      if (!opened) subscriber.error(error);
    };
    const onUnexpected = (_req: unknown, res: { statusCode?: number }): void => {
      subscriber.error(new Error(`upgrade refused with HTTP ${res.statusCode ?? '?'}`));
    };
    const onClose = (): void => {
      if (opened) subscriber.complete();
      else subscriber.error(new Error('closed before open'));
    };
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('close', onClose);
    ws.on('unexpected-response', onUnexpected);
    return () => {
      ws.off('open', onOpen);
      ws.off('close', onClose);
      ws.off('unexpected-response', onUnexpected);
      // a late error after teardown must not throw: keep a listener
      ws.off('error', onError);
      ws.on('error', () => undefined);
      // once open, the socket belongs to its consumer (the connection's own
      // events$ and the transport's close()); only a dial still under way is cut
      if (!opened && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) ws.terminate();
    };
  });
}
