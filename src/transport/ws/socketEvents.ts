import { Observable } from 'rxjs';
import type WebSocket from 'ws';
import type { SocketEvent } from '../types.js';
import { ABNORMAL_CLOSURE, causeOf, isWsProtocolError } from './codes.js';

/**
 * The events of one ws socket as an Observable; `heard` is called at each
 * message, before it is emitted.
 *
 * Subscribing attaches every listener, `'error'` included (an unheard
 * `'error'` would throw); the last error is folded into the `close` event,
 * after which the stream completes. A fault ws found in what the peer sent (an
 * oversized or invalid frame, a `WS_ERR_*` error) is that close at once: ws
 * has sent its close frame and is only finishing the closing handshake, which
 * takes as long as the peer cares to take. Teardown removes exactly the
 * listeners it added and terminates a socket that is still open, unless it is
 * finishing an orderly close.
 */
export function socketEvents$(ws: WebSocket, heard?: () => void): Observable<SocketEvent> {
  return new Observable<SocketEvent>((subscriber) => {
    let lastError: Error | undefined;
    const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
      heard?.();
      const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // a text frame as its bytes: the session checks its MAC on them before it decodes them, once
      subscriber.next({ type: 'message', data: buffer, text: !isBinary });
    };
    const onError = (error: Error): void => {
      lastError = error;
      if (isWsProtocolError(error)) onClose(ABNORMAL_CLOSURE, Buffer.alloc(0));
    };
    const onClose = (code: number, reason: Buffer): void => {
      // ws reports a fault it found itself (an oversized or invalid frame, a
      // socket error) as an 'error' before the close
      const text = reason.toString('utf8');
      const cause = causeOf(code, lastError);
      const event: SocketEvent =
        lastError === undefined
          ? { type: 'close', cause, reason: text, local: false }
          : { type: 'close', cause, reason: text, local: true, error: lastError };
      subscriber.next(event);
      subscriber.complete();
    };
    ws.on('message', onMessage);
    ws.on('error', onError);
    ws.on('close', onClose);
    if (ws.readyState === ws.CLOSED) onClose(ABNORMAL_CLOSURE, Buffer.alloc(0));
    return () => {
      ws.off('message', onMessage);
      ws.off('error', onError);
      ws.off('close', onClose);
      if (ws.readyState !== ws.CLOSED) {
        // keep an error listener: a late socket error must not throw
        ws.on('error', noop);
        // a socket already CLOSING is finishing an orderly close (its close
        // frame must still reach the peer); ws itself ends it after its timeout
        if (ws.readyState !== ws.CLOSING) ws.terminate();
      }
    };
  });
}

function noop(): void {}
