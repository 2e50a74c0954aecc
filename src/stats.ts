import { CODES, type Code } from './limits.js';

/** Why a frame or connection was refused, as counted in {@link TrafficStats.refused}. */
export type RefusalReason = 'bad-frame' | 'too-big' | 'auth' | 'peer-refused' | 'handshake-timeout' | 'tls' | 'send' | 'forged';

/** A snapshot of what crossed this node's connections since it started. */
export interface TrafficSnapshot {
  /** Application messages queued for peers (a broadcast to n peers counts n). */
  readonly messagesSent: number;
  /** Bytes of those messages' frames. */
  readonly bytesSent: number;
  /** Application messages received from peers. */
  readonly messagesReceived: number;
  /** Bytes of those messages' frames (UTF-8 JSON). */
  readonly bytesReceived: number;
  /** Dials started to configured peers after the first one (redials). */
  readonly reconnects: number;
  /** Replies that came after their request timed out or was cancelled (dropped). */
  readonly lateReplies: number;
  /** Frames, connections and messages refused, by reason. */
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

/** The refusal each log code counts as. */
const REFUSAL_OF: Partial<Record<Code, RefusalReason>> = {
  [CODES.BAD_FRAME]: 'bad-frame',
  [CODES.FRAME_TOO_BIG]: 'too-big',
  [CODES.AUTH]: 'auth',
  [CODES.PEER_REFUSED]: 'peer-refused',
  [CODES.HANDSHAKE_TIMEOUT]: 'handshake-timeout',
  [CODES.TLS]: 'tls',
  [CODES.SEND]: 'send',
  [CODES.FORGED]: 'forged',
};

/**
 * Counters of one manager's traffic, kept beside the fold (statistics, not
 * membership). Cheap to update on the hot path: plain number fields.
 */
export class TrafficStats {
  messagesSent = 0;
  bytesSent = 0;
  messagesReceived = 0;
  bytesReceived = 0;
  reconnects = 0;
  /** Replies that came after their request timed out or was cancelled. */
  lateReplies = 0;
  readonly #refused: Record<RefusalReason, number> = { 'bad-frame': 0, 'too-big': 0, auth: 0, 'peer-refused': 0, 'handshake-timeout': 0, tls: 0, send: 0, forged: 0 };
  readonly #rtt = new Set<(seconds: number, peer: string) => void>();

  refused(reason: RefusalReason): void {
    this.#refused[reason]++;
  }

  /** Counts a log entry's code when it tells of a refusal; other codes count nothing. */
  logged(code: Code | undefined): void {
    const reason = code === undefined ? undefined : REFUSAL_OF[code];
    if (reason !== undefined) this.#refused[reason]++;
  }

  /** A measured round trip to `peer`, in ms. */
  rtt(ms: number, peer: string): void {
    for (const listener of this.#rtt) listener(ms / 1000, peer);
  }

  /**
   * Calls `listener` with each measured round trip, in seconds.
   *
   * @returns the function that removes it
   */
  onRtt(listener: (seconds: number, peer: string) => void): () => void {
    this.#rtt.add(listener);
    return () => this.#rtt.delete(listener);
  }

  snapshot(): TrafficSnapshot {
    return {
      messagesSent: this.messagesSent,
      bytesSent: this.bytesSent,
      messagesReceived: this.messagesReceived,
      bytesReceived: this.bytesReceived,
      reconnects: this.reconnects,
      lateReplies: this.lateReplies,
      refused: { ...this.#refused },
    };
  }
}
