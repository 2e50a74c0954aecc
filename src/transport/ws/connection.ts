import type { Observable } from 'rxjs';
import WebSocket from 'ws';
import { socketEvents$ } from './socketEvents.js';
import type { CloseCause, Connection, SocketEvent } from '../types.js';
import { closeCodeOf } from './codes.js';

/** Send options of every frame (ws copies them): one object, not one per frame. */
const TEXT = Object.freeze({ binary: false });
/** The same for a binary frame. */
const BINARY = Object.freeze({ binary: true });

/** A ws socket behind the Connection interface. */
export class WsConnection implements Connection {
  readonly events$: Observable<SocketEvent>;

  constructor(
    readonly id: number,
    readonly direction: 'inbound' | 'outbound',
    readonly remote: string,
    private readonly ws: WebSocket,
  ) {
    this.events$ = socketEvents$(ws);
  }

  /** Calls `listener` once the socket has closed (at once if it has). */
  onceClosed(listener: () => void): void {
    if (this.ws.readyState === WebSocket.CLOSED) listener();
    else this.ws.once('close', listener);
  }

  send(data: string | Buffer, binary = false): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, binary ? BINARY : TEXT);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(cause: CloseCause, reason: string): void {
    if (cause === 'reset') {
      this.terminate();
      return;
    }
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(closeCodeOf(cause), truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** A close frame's reason may hold at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/** The longest prefix of `text` that fits `max` bytes of UTF-8, never splitting a character. */
export function truncateUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > max) break;
    out += char;
    bytes += size;
  }
  return out;
}
