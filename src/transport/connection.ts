import type { Observable } from 'rxjs';
import WebSocket from 'ws';
import { socketEvents$ } from './socketEvents.js';
import type { Connection, SocketEvent } from './types.js';

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

  send(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: false });
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}
