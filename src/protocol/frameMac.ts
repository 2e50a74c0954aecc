import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Frame MACs for transports where anyone on the bus can publish (NATS): the
 * keys, the sealed envelope every frame travels in, and its check. Pure maths,
 * no I/O.
 *
 * One layout for every sealed frame:
 *
 * ```
 * offset  0      kind    1 byte   (F pair frame, C pair close, B broadcast, M broadcasts, H heartbeat)
 * offset  1      id     16 bytes  (pair: the connection id; B and H: the sender's epoch)
 * offset 17      seq     6 bytes  (big-endian, grows by one per frame under this id and kind; M: its last broadcast's)
 * offset 23      mac    16 bytes  (HMAC-SHA256(key, bytes 0..22 | payload), first 16 bytes)
 * offset 39      payload
 * ```
 *
 * Pair frames are sealed with a key per direction derived from the secret and
 * the pair's opening (both nonces, both epochs, both names, the connection id,
 * both replay floors), so a frame of one connection or direction never passes
 * for another. Broadcasts and heartbeats are sealed with the cluster key, one
 * per secret. The kind is under the MAC, so a heartbeat never passes for a
 * broadcast.
 *
 * A batch (`M`) carries several broadcasts of one sender, each as a 4-byte
 * big-endian length and its bytes, under one MAC: they take the sequence
 * numbers up to the header's, one each, so a receiver counts a lost batch
 * as the broadcasts it held.
 */

/** Bytes of a sealed frame's header, MAC included. */
export const SEALED_HEADER_BYTES = 39;
/** Bytes of a connection id or an epoch. */
export const SEALED_ID_BYTES = 16;
/** Bytes of the MAC kept (HMAC-SHA256 truncated to 128 bits). */
export const MAC_BYTES = 16;
/** The largest sequence number a header holds (2^48 - 1). */
export const MAX_SEQ = 2 ** 48 - 1;

/** Bytes of the length before each broadcast of a batch. */
export const BATCH_LENGTH_BYTES = 4;

/** What a sealed frame carries: F a pair text frame, Y a pair binary frame, C a close, B a broadcast, M several broadcasts, H a heartbeat. */
export type SealedKind = 'F' | 'C' | 'B' | 'M' | 'H' | 'Y';

const KIND_BYTE: Readonly<Record<SealedKind, number>> = { F: 0x46, C: 0x43, B: 0x42, M: 0x4d, H: 0x48, Y: 0x59 };
const KIND_OF = new Map<number, SealedKind>(Object.entries(KIND_BYTE).map(([k, b]) => [b, k as SealedKind]));

/** A sealed frame as read, before its MAC is checked. */
export interface SealedFrame {
  readonly kind: SealedKind;
  /** The connection id (pair kinds) or the sender's epoch (B, H), as 32 hex characters. */
  readonly id: string;
  readonly seq: number;
  /** The whole frame, to check the MAC against. */
  readonly bytes: Uint8Array;
  /** The payload: a view into `bytes`, not a copy. */
  readonly payload: Buffer;
}

/** Every field of a key's derivation, length-prefixed so no two inputs serialise alike. */
function derive(secret: string | Buffer, fields: readonly string[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const field of fields) h.update(`${Buffer.byteLength(field)}:${field};`);
  return h.digest();
}

/**
 * The cluster key: seals broadcasts and heartbeats.
 *
 * @param secret - the cluster's shared secret
 * @returns 32 bytes
 */
export function clusterKey(secret: string | Buffer): Buffer {
  return derive(secret, ['rxcluster/nats cluster 1']);
}

/** The opening of one pair connection: what both sides know once the open request was answered. */
export interface PairOpening {
  /** The connection id, 32 hex characters. */
  readonly cid: string;
  readonly dialer: string;
  readonly acceptor: string;
  readonly dialerNonce: string;
  readonly acceptorNonce: string;
  readonly dialerEpoch: string;
  readonly acceptorEpoch: string;
  /** The dialer's broadcast and heartbeat sequence numbers when it opened (its replay floors). */
  readonly dialerFloors: readonly [number, number];
  /** The acceptor's, when it answered. */
  readonly acceptorFloors: readonly [number, number];
}

/**
 * The two keys of one pair connection, one per direction.
 *
 * @param secret - the cluster's shared secret
 * @param opening - the connection's opening
 * @returns `toAcceptor` seals what the dialer sends; `toDialer` what the acceptor sends
 */
export function pairKeys(secret: string | Buffer, opening: PairOpening): { readonly toAcceptor: Buffer; readonly toDialer: Buffer } {
  const o = opening;
  const fields = [o.cid, o.dialer, o.acceptor, o.dialerNonce, o.acceptorNonce, o.dialerEpoch, o.acceptorEpoch, ...o.dialerFloors.map(String), ...o.acceptorFloors.map(String)];
  return {
    toAcceptor: derive(secret, ['rxcluster/nats pair 1 dialer>acceptor', ...fields]),
    toDialer: derive(secret, ['rxcluster/nats pair 1 acceptor>dialer', ...fields]),
  };
}

/**
 * Seals one frame.
 *
 * @param key - the pair direction's key or the cluster key
 * @param kind - what it carries
 * @param id - 16 bytes: the connection id or the sender's epoch
 * @param seq - 1 to MAX_SEQ
 * @param payload - the bytes carried
 * @returns header and payload in one buffer
 */
export function seal(key: Buffer, kind: SealedKind, id: Buffer, seq: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = header(kind, id, seq, body.length);
  out.set(body, SEALED_HEADER_BYTES);
  return sign(key, out);
}

/**
 * Seals several broadcasts of one sender as one batch (`M`).
 *
 * @param key - the cluster key
 * @param id - the sender's epoch, 16 bytes
 * @param seq - the last broadcast's sequence number: the first is `seq - parts.length + 1`
 * @param parts - the broadcasts, in the order sent
 * @returns header and payload in one buffer
 */
export function sealBatch(key: Buffer, id: Buffer, seq: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += BATCH_LENGTH_BYTES + part.length;
  const out = header('M', id, seq, length);
  let at = SEALED_HEADER_BYTES;
  for (const part of parts) {
    out.writeUInt32BE(part.length, at);
    out.set(part, at + BATCH_LENGTH_BYTES);
    at += BATCH_LENGTH_BYTES + part.length;
  }
  return sign(key, out);
}

/**
 * The broadcasts of a batch's payload.
 *
 * @returns views into `payload`, in order; undefined when the lengths do not add up or it holds fewer than two
 */
export function batchParts(payload: Buffer): Buffer[] | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < payload.length) {
    if (payload.length - at < BATCH_LENGTH_BYTES) return undefined;
    const end = at + BATCH_LENGTH_BYTES + payload.readUInt32BE(at);
    if (end > payload.length) return undefined;
    parts.push(payload.subarray(at + BATCH_LENGTH_BYTES, end));
    at = end;
  }
  return parts.length < 2 ? undefined : parts;
}

/** A frame of `length` payload bytes, its header written but for the MAC. */
function header(kind: SealedKind, id: Buffer, seq: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(SEALED_HEADER_BYTES + length);
  out[0] = KIND_BYTE[kind];
  id.copy(out, 1, 0, SEALED_ID_BYTES);
  out.writeUIntBE(seq, 17, 6);
  return out;
}

/** Writes the MAC of a frame whose header and payload are in place. */
function sign(key: Buffer, out: Buffer): Buffer {
  const mac = createHmac('sha256', key).update(out.subarray(0, 23)).update(out.subarray(SEALED_HEADER_BYTES)).digest();
  mac.copy(out, 23, 0, MAC_BYTES);
  return out;
}

/**
 * Reads a sealed frame's header, without checking its MAC.
 *
 * @returns the frame, or undefined when it is too short or of no known kind
 */
export function openSealed(bytes: Uint8Array): SealedFrame | undefined {
  if (bytes.length < SEALED_HEADER_BYTES) return undefined;
  const kind = KIND_OF.get(bytes[0] ?? 0);
  if (kind === undefined) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return { kind, id: buf.toString('hex', 1, 17), seq: buf.readUIntBE(17, 6), bytes, payload: buf.subarray(SEALED_HEADER_BYTES) };
}

/**
 * Checks a sealed frame's MAC in constant time.
 *
 * @returns true only when `key` sealed exactly these bytes
 */
export function macHolds(key: Buffer, frame: SealedFrame): boolean {
  const buf = Buffer.from(frame.bytes.buffer, frame.bytes.byteOffset, frame.bytes.length);
  const expected = createHmac('sha256', key).update(buf.subarray(0, 23)).update(frame.payload).digest().subarray(0, MAC_BYTES);
  return timingSafeEqual(expected, buf.subarray(23, 23 + MAC_BYTES));
}
