import { createCipheriv, createHmac, hash } from 'node:crypto';
import { transcriptHmac, type HandshakeRole, type HandshakeTranscript } from './handshake.js';

/**
 * Frames after the handshake, bound to the session, on a connection a third
 * party could write into (plain ws; TLS, NATS and the memory network
 * authenticate frames themselves).
 *
 * Each direction has its own key, derived from the handshake key (the
 * stretched secret both sides proved) and the transcript (both names, both
 * nonces): `K_role = HMAC-SHA256(K, "rxcluster/3 frames from <role>" | Nd |
 * Na | dialer | acceptor)`. Every frame carries a MAC cut from the digest
 * `SHA-512/256(K_role | counter | payload)` for a frame of up to 984
 * bytes, `HMAC-SHA256(K_role, counter | payload)` up to 4096, and past
 * that the Poly1305 tag of ChaCha20-Poly1305 with the payload as
 * associated data (see Direction), where `counter` is the number of frames
 * this side sent before it on the connection (8 bytes, big-endian, never
 * sent: the stream keeps the order). A secret-prefix MAC is sound over
 * SHA-512/256, whose output is a truncated state (no length extension),
 * and costs one hash instead of HMAC's two and its object: about 0.6 µs
 * for a frame of a few hundred bytes. Past a few KiB the speed per byte
 * decides: SHA-512 94 µs per 64 KiB here, SHA-256 (instructions of its
 * own on most CPUs) 40, Poly1305 9.4.
 * A frame injected, altered,
 * dropped, replayed or reordered breaks the MAC of that frame or of the next
 * one; the receiver then closes the connection.
 *
 * On the wire the MAC goes first: before a text frame the first 22
 * characters of the digest in base64url (132 bits), before a binary one its
 * first 16 bytes.
 */

/** Bytes of a frame's MAC. */
export const FRAME_MAC_BYTES = 16;
/** Characters of a frame's MAC before a text frame (the digest's first 22 base64url characters: 132 bits). */
export const FRAME_MAC_CHARS = 22;

/** A close frame's reason holds at most this many bytes of UTF-8 (RFC 6455: 125 bytes of body, 2 of them the code). */
export const CLOSE_REASON_BYTES = 123;

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

/** The hash of the MAC: SHA-512/256, whose truncated state leaves nothing to extend a message from. */
const MAC_HASH = 'sha512-256';
/** Key and count before the payload. */
const PREFIX_BYTES = 40;
/** Frames up to this many bytes take HMAC-SHA256 when they do not fit the scratch buffer; longer ones ChaCha20-Poly1305. */
const HMAC_UP_TO = 4096;
/** Frames up to this many bytes are hashed in one call from a buffer of the direction's own (most are pings, pongs and messages of a few hundred bytes); longer ones stream. */
const SCRATCH_BYTES = 1024;

/** Seals the frames one side sends and opens the ones it receives. */
export interface FrameAuth {
  /** The frame to send instead of `data`: its MAC, then `data`. */
  seal(data: string | Buffer, binary: boolean): string | Buffer;
  /** The frame without its MAC, or undefined when the MAC does not hold (then the connection is not to be trusted any more). */
  open(data: string | Buffer): string | Buffer | undefined;
  /** A text frame received as its UTF-8 bytes: its text without the MAC, checked on the bytes as they came; undefined when the MAC does not hold. */
  openText(bytes: Buffer): string | undefined;
  /** The reason to close with instead of `text`: a MAC over the close's cause and text, then as much of the text as fits a close frame's reason with it (CLOSE_REASON_BYTES, never splitting a character). */
  sealClose(cause: string, text: string): string;
  /** The text of a close whose reason carries a MAC over `cause` and the text, next in order; undefined when it does not hold. */
  openClose(cause: string, reason: string): string | undefined;
}

/**
 * The frame MACs of one side of a connection.
 *
 * @param key - the handshake key both sides proved (the stretched secret)
 * @param transcript - both names and both nonces of the handshake
 * @param role - this side's role in the handshake
 */
export function frameAuth(key: Buffer, transcript: HandshakeTranscript, role: HandshakeRole): FrameAuth {
  const out = new Direction(directionKey(key, transcript, role));
  const into = new Direction(directionKey(key, transcript, role === 'dialer' ? 'acceptor' : 'dialer'));
  return {
    seal(data, binary) {
      if (!binary) {
        if (typeof data === 'string') return out.next(data, 'base64url').slice(0, FRAME_MAC_CHARS) + data;
        // one buffer: the MAC's characters, then the text's bytes
        const sealed = Buffer.allocUnsafe(FRAME_MAC_CHARS + data.length);
        const mac = out.next(data, 'base64url');
        for (let i = 0; i < FRAME_MAC_CHARS; i++) sealed[i] = mac.charCodeAt(i);
        sealed.set(data, FRAME_MAC_CHARS);
        return sealed;
      }
      const mac = out.next(data, 'binary');
      const body = typeof data === 'string' ? Buffer.from(data) : data;
      const sealed = Buffer.allocUnsafe(FRAME_MAC_BYTES + body.length);
      sealed.write(mac, 0, FRAME_MAC_BYTES, 'latin1');
      body.copy(sealed, FRAME_MAC_BYTES);
      return sealed;
    },
    open(data) {
      if (typeof data === 'string') {
        if (data.length < FRAME_MAC_CHARS) return undefined;
        const payload = data.slice(FRAME_MAC_CHARS);
        if (!samePrefix(data, into.peek(payload, 'base64url'), FRAME_MAC_CHARS)) return undefined;
        into.count++;
        return payload;
      }
      if (data.length < FRAME_MAC_BYTES) return undefined;
      const payload = data.subarray(FRAME_MAC_BYTES);
      if (!samePrefix(data.toString('latin1', 0, FRAME_MAC_BYTES), into.peek(payload, 'binary'), FRAME_MAC_BYTES)) return undefined;
      into.count++;
      return payload;
    },
    openText(bytes) {
      if (bytes.length < FRAME_MAC_CHARS) return undefined;
      if (!samePrefix(bytes, into.peek(bytes, 'base64url', FRAME_MAC_CHARS), FRAME_MAC_CHARS)) return undefined;
      into.count++;
      return bytes.toString('utf8', FRAME_MAC_CHARS);
    },
    sealClose(cause, text) {
      // the MAC and the text within a close frame's reason, cut at a character: what the peer reads is what was sealed
      const shown = truncateUtf8(text, CLOSE_REASON_BYTES - FRAME_MAC_CHARS);
      return out.next(`close ${cause} ${shown}`, 'base64url').slice(0, FRAME_MAC_CHARS) + shown;
    },
    openClose(cause, reason) {
      if (reason.length < FRAME_MAC_CHARS) return undefined;
      const text = reason.slice(FRAME_MAC_CHARS);
      if (!samePrefix(reason, into.peek(`close ${cause} ${text}`, 'base64url'), FRAME_MAC_CHARS)) return undefined;
      into.count++;
      return text;
    },
  };
}

/**
 * Whether the first `n` characters of `got` (a string, or bytes read as
 * Latin-1 characters: a text frame as received) and `want` are the same,
 * in a time that does not depend on where they differ. Characters, not
 * decoded bytes: a text frame's MAC must be spelled as this side spells it
 * (a lenient base64url decoder would take other spellings of the same
 * bytes), and a Buffer for each side would cost more than the hash.
 */
function samePrefix(got: string | Uint8Array, want: string, n: number): boolean {
  if (got.length < n || want.length < n) return false;
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= (typeof got === 'string' ? got.charCodeAt(i) : (got[i] as number)) ^ want.charCodeAt(i);
  return diff === 0;
}

/**
 * One direction of a connection: its key and how many frames it carried.
 * A frame's digest, by the payload's size in bytes, with `count` as 8
 * bytes big-endian:
 * - up to 984 (it fits the scratch buffer): SHA-512/256(key | count | payload);
 * - up to 4096: HMAC-SHA256(key, count | payload);
 * - longer: the Poly1305 tag of ChaCha20-Poly1305 under its own key
 *   (HMAC-SHA256(key, "chacha20-poly1305")) with nonce 0⁴ | count, over
 *   the payload as associated data and nothing to encrypt. Poly1305 runs
 *   about four times as fast per byte as SHA-256 here (9.4 against 40.5 µs
 *   per 64 KiB) but costs a cipher object per frame, so it pays only past
 *   about 4 KiB. The count makes each nonce unique under its key.
 *
 * The MAC is the digest's first 22 base64url characters before a text
 * frame, its first 16 bytes before a binary one. The digest is asked for
 * as a string: Node makes a string of a one-shot hash several times faster
 * than a Buffer.
 */
class Direction {
  count = 0;
  /** key | count | payload, for frames that fit. */
  readonly #scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES); // not from the shared pool: it holds the key

  readonly #key: Buffer;
  /** The ChaCha20-Poly1305 key of long frames, made on the first one. */
  #aeadKey: Buffer | undefined;

  constructor(key: Buffer) {
    this.#key = key;
    key.copy(this.#scratch, 0, 0, 32);
  }

  /** The first `length` bytes of the scratch buffer; the last view is kept (frames on a link tend to keep their size). */
  #lastView: Uint8Array | undefined;
  #view(length: number): Uint8Array {
    let view = this.#lastView;
    if (view?.length !== length) this.#lastView = view = new Uint8Array(this.#scratch.buffer, this.#scratch.byteOffset, length);
    return view;
  }

  /** The digest of `payload` as the next frame, in `encoding`; counts it. */
  next(payload: string | Buffer, encoding: 'base64url' | 'binary'): string {
    const digest = this.peek(payload, encoding);
    this.count++;
    return digest;
  }

  /**
   * The digest `payload` (from byte `from` on, for a Buffer) must carry as
   * the next frame, in `encoding` (the MAC is its first characters).
   */
  peek(payload: string | Buffer, encoding: 'base64url' | 'binary', from = 0): string {
    const scratch = this.#scratch;
    // the count, 8 bytes big-endian, written byte by byte: a frame's MAC runs for every frame, and
    // each Buffer method (its checks, its wrappers) is more code run than the bytes it writes
    const high = Math.floor(this.count / 0x1_0000_0000);
    const low = this.count >>> 0;
    scratch[32] = high >>> 24;
    scratch[33] = (high >>> 16) & 0xff;
    scratch[34] = (high >>> 8) & 0xff;
    scratch[35] = high & 0xff;
    scratch[36] = low >>> 24;
    scratch[37] = (low >>> 16) & 0xff;
    scratch[38] = (low >>> 8) & 0xff;
    scratch[39] = low & 0xff;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length - from;
    if (size <= SCRATCH_BYTES - PREFIX_BYTES) {
      if (typeof payload === 'string') scratch.write(payload, PREFIX_BYTES);
      else scratch.set(from === 0 ? payload : new Uint8Array(payload.buffer, payload.byteOffset + from, size), PREFIX_BYTES);
      return hash(MAC_HASH, this.#view(PREFIX_BYTES + size), encoding);
    }
    if (typeof payload !== 'string' && from > 0) payload = payload.subarray(from);
    if (size <= HMAC_UP_TO) {
      return createHmac('sha256', this.#key).update(scratch.subarray(32, PREFIX_BYTES)).update(payload).digest(encoding);
    }
    this.#aeadKey ??= createHmac('sha256', this.#key).update('chacha20-poly1305').digest();
    const nonce = Buffer.alloc(12);
    scratch.copy(nonce, 4, 32, PREFIX_BYTES);
    const cipher = createCipheriv('chacha20-poly1305', this.#aeadKey, nonce, { authTagLength: FRAME_MAC_BYTES });
    cipher.setAAD(typeof payload === 'string' ? Buffer.from(payload) : payload, { plaintextLength: 0 });
    cipher.final();
    return cipher.getAuthTag().toString(encoding);
  }
}

function directionKey(key: Buffer, transcript: HandshakeTranscript, from: HandshakeRole): Buffer {
  return transcriptHmac(key, `frames from ${from}`, transcript);
}
