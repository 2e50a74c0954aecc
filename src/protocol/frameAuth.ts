import { createHmac, timingSafeEqual } from 'node:crypto';
import { PROTOCOL_VERSION } from '../limits.js';
import type { HandshakeRole, HandshakeTranscript } from './handshake.js';

/**
 * Frames after the handshake, bound to the session, on a connection a third
 * party could write into (plain ws; TLS, NATS and the memory network
 * authenticate frames themselves).
 *
 * Each direction has its own key, derived from the handshake key (the
 * stretched secret both sides proved) and the transcript (both names, both
 * nonces): `K_role = HMAC-SHA256(K, "rxcluster/3 frames from <role>" | Nd |
 * Na | dialer | acceptor)`. Every frame carries the first 16 bytes of
 * `HMAC-SHA256(K_role, counter | payload)`, where `counter` is the number of
 * frames this side sent before it on the connection (8 bytes, big-endian,
 * never sent: the stream keeps the order). A frame injected, altered,
 * dropped, replayed or reordered breaks the MAC of that frame or of the next
 * one; the receiver then closes the connection.
 *
 * On the wire the MAC goes first: 22 base64url characters before a text
 * frame, 16 bytes before a binary one.
 */

/** Bytes of a frame's MAC. */
export const FRAME_MAC_BYTES = 16;
/** Characters of a frame's MAC before a text frame (base64url of 16 bytes, no padding). */
export const FRAME_MAC_CHARS = 22;

/** Seals the frames one side sends and opens the ones it receives. */
export interface FrameAuth {
  /** The frame to send instead of `data`: its MAC, then `data`. */
  seal(data: string | Buffer, binary: boolean): string | Buffer;
  /** The frame without its MAC, or undefined when the MAC does not hold (then the connection is not to be trusted any more). */
  open(data: string | Buffer): string | Buffer | undefined;
}

/**
 * The frame MACs of one side of a connection.
 *
 * @param key - the handshake key both sides proved (the stretched secret)
 * @param transcript - both names and both nonces of the handshake
 * @param role - this side's role in the handshake
 */
export function frameAuth(key: Buffer, transcript: HandshakeTranscript, role: HandshakeRole): FrameAuth {
  const other: HandshakeRole = role === 'dialer' ? 'acceptor' : 'dialer';
  const out = directionKey(key, transcript, role);
  const into = directionKey(key, transcript, other);
  const sent = Buffer.alloc(8);
  const received = Buffer.alloc(8);
  let sentCount = 0n;
  let receivedCount = 0n;
  return {
    seal(data, binary) {
      sent.writeBigUInt64BE(sentCount++);
      const mac = tag(out, sent, data);
      if (binary) return Buffer.concat([mac, typeof data === 'string' ? Buffer.from(data) : data]);
      const prefix = mac.toString('base64url');
      return typeof data === 'string' ? prefix + data : Buffer.concat([Buffer.from(prefix, 'latin1'), data]);
    },
    open(data) {
      let mac: Buffer;
      let payload: string | Buffer;
      if (typeof data === 'string') {
        if (data.length < FRAME_MAC_CHARS) return undefined;
        mac = Buffer.from(data.slice(0, FRAME_MAC_CHARS), 'base64url');
        payload = data.slice(FRAME_MAC_CHARS);
      } else {
        if (data.length < FRAME_MAC_BYTES) return undefined;
        mac = data.subarray(0, FRAME_MAC_BYTES);
        payload = data.subarray(FRAME_MAC_BYTES);
      }
      received.writeBigUInt64BE(receivedCount);
      const expected = tag(into, received, payload);
      if (mac.length !== FRAME_MAC_BYTES || !timingSafeEqual(mac, expected)) return undefined;
      receivedCount++;
      return payload;
    },
  };
}

function directionKey(key: Buffer, transcript: HandshakeTranscript, from: HandshakeRole): Buffer {
  const h = createHmac('sha256', key);
  for (const field of [`rxcluster/${PROTOCOL_VERSION} frames from ${from}`, transcript.dialerNonce, transcript.acceptorNonce, transcript.dialer, transcript.acceptor]) {
    h.update(`${Buffer.byteLength(field)}:${field};`);
  }
  return h.digest();
}

function tag(key: Buffer, counter: Buffer, payload: string | Buffer): Buffer {
  return createHmac('sha256', key).update(counter).update(payload).digest().subarray(0, FRAME_MAC_BYTES);
}
