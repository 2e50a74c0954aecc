import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { reportErrors } from './report.js';
import { MAX_JSON_DEPTH } from '../limits.js';

/*
 * The wire format: one JSON object per WebSocket text frame, tagged by `type`.
 * Frame types ONLY GROW: never rename or remove one, peers of another version
 * must still be told apart.
 */

export interface NodeNameBrand {
  readonly NodeName: unique symbol;
}
/** A node's name: 1 to 128 characters, no control characters. */
export const NodeName = t.brand(
  t.string,
  // eslint-disable-next-line no-control-regex
  (s): s is t.Branded<string, NodeNameBrand> => s.length >= 1 && s.length <= 128 && !/[\u0000-\u001f\u007f]/.test(s),
  'NodeName',
);
export type NodeName = t.TypeOf<typeof NodeName>;

export interface HexDigestBrand {
  readonly HexDigest: unique symbol;
}
/** 32 bytes as 64 lower-case hex characters: a nonce or an HMAC-SHA256. */
export const HexDigest = t.brand(
  t.string,
  (s): s is t.Branded<string, HexDigestBrand> => s.length === 64 && /^[0-9a-f]{64}$/.test(s),
  'HexDigest',
);
export type HexDigest = t.TypeOf<typeof HexDigest>;

export interface MillisBrand {
  readonly Millis: unique symbol;
}
/** The last epoch millisecond a Date can hold (ECMA-262 time range). */
const MAX_DATE_MS = 8.64e15;
/** A non-negative whole number of milliseconds (a duration or an epoch time a Date can hold). */
export const Millis = t.brand(
  t.number,
  (n): n is t.Branded<number, MillisBrand> => Number.isSafeInteger(n) && n >= 0 && n <= MAX_DATE_MS,
  'Millis',
);
export type Millis = t.TypeOf<typeof Millis>;

/** A process start's incarnation: the larger one is the newer process under a name. */
export const Incarnation = Millis;

/**
 * Whether the sender puts a MAC on its frames after the handshake (see
 * protocol/frameAuth.ts): absent means it does; `false` is sent by a side
 * whose connection authenticates frames itself (TLS, NATS, the memory
 * network) or whose ws transport has `frameMacs: false`. Both sides must
 * agree; each keeps its own setting whatever the other says, so a third
 * party that flips the flag can only make the handshake fail.
 */
const Macs = t.partial({ macs: t.boolean });
/**
 * Dialer → acceptor: who I am, whom I expect, my nonce, whether I MAC my
 * frames. Nothing about the acceptor is revealed before the dialer proves
 * the secret.
 */
export const HelloFrame = t.intersection(
  [t.type({ type: t.literal('hello'), version: t.Int, name: NodeName, to: NodeName, nonce: HexDigest }), Macs],
  'HelloFrame',
);
/** Acceptor → dialer: my nonce, and whether I MAC my frames. No name, no instance, no proof: the dialer proves first. */
export const ChallengeFrame = t.intersection([t.type({ type: t.literal('challenge'), version: t.Int, nonce: HexDigest }), Macs], 'ChallengeFrame');
/**
 * Dialer → acceptor: my proof of the secret, my instance (random per
 * process start) and incarnation (when it started), so a restarted node is
 * told apart from a second connection of the same process, and my metadata.
 */
export const AuthFrame = t.type(
  { type: t.literal('auth'), proof: HexDigest, instance: HexDigest, incarnation: Millis, meta: t.UnknownRecord },
  'AuthFrame',
);
/** Acceptor → dialer: your proof holds; here are mine. The connection is open once the dialer checks it. */
export const WelcomeFrame = t.type(
  { type: t.literal('welcome'), proof: HexDigest, instance: HexDigest, incarnation: Millis, meta: t.UnknownRecord },
  'WelcomeFrame',
);
/** Heartbeat; answered by a pong with the same id. */
export const PingFrame = t.type({ type: t.literal('ping'), id: Millis }, 'PingFrame');
/** Answer to a ping; its round trip is the peer's lag. */
export const PongFrame = t.type({ type: t.literal('pong'), id: Millis }, 'PongFrame');
/** An application message, broadcast or private. `data` is any JSON value. */
export const MsgFrame = t.type(
  { type: t.literal('msg'), from: NodeName, time: Millis, data: t.unknown },
  'MsgFrame',
);
/** The sender shuts down: announce its leave at once, do not wait for a timeout. */
export const LeaveFrame = t.type({ type: t.literal('leave') }, 'LeaveFrame');

export interface ChannelNameBrand {
  readonly ChannelName: unique symbol;
}
/** A channel's name: 1 to 128 characters, no control characters. */
export const ChannelName = t.brand(
  t.string,
  // eslint-disable-next-line no-control-regex
  (s): s is t.Branded<string, ChannelNameBrand> => s.length >= 1 && s.length <= 128 && !/[\u0000-\u001f\u007f]/.test(s),
  'ChannelName',
);
export type ChannelName = t.TypeOf<typeof ChannelName>;

/** A request: the receiver answers with a `res` of the same id. Ids are the sender's, growing. */
export const ReqFrame = t.type({ type: t.literal('req'), id: Millis, from: NodeName, time: Millis, data: t.unknown }, 'ReqFrame');
/** The reply to the request `id` of the receiver. */
export const ResFrame = t.type({ type: t.literal('res'), id: Millis, from: NodeName, time: Millis, data: t.unknown }, 'ResFrame');
/** A message on the channel `ch`. */
export const ChanFrame = t.type({ type: t.literal('chan'), ch: ChannelName, from: NodeName, time: Millis, data: t.unknown }, 'ChanFrame');
/** The sender's metadata changed: its whole new value. */
export const MetaFrame = t.type({ type: t.literal('meta'), data: t.UnknownRecord }, 'MetaFrame');

export interface ViewIdBrand {
  readonly ViewId: unique symbol;
}
/** A view id: 16 lower-case hex digits. */
export const ViewId = t.brand(t.string, (s): s is t.Branded<string, ViewIdBrand> => /^[0-9a-f]{16}$/.test(s), 'ViewId');
/** One node's reachability report: whom it sees and the view id it computed, versioned per process. */
export const ReachReport = t.type({ node: NodeName, inc: Millis, v: Millis, sees: t.array(NodeName), down: t.array(NodeName), view: ViewId }, 'ReachReport');
/** Reachability reports: the sender's own, or others' it relays. */
export const ReachFrame = t.type({ type: t.literal('reach'), rows: t.array(ReachReport) }, 'ReachFrame');

/** Every frame a peer may send. */
export const Frame = t.union(
  [HelloFrame, ChallengeFrame, AuthFrame, WelcomeFrame, PingFrame, PongFrame, MsgFrame, LeaveFrame, ReqFrame, ResFrame, ChanFrame, MetaFrame, ReachFrame],
  'Frame',
);
export type Frame = t.TypeOf<typeof Frame>;
export type HelloFrame = t.TypeOf<typeof HelloFrame>;
export type ChallengeFrame = t.TypeOf<typeof ChallengeFrame>;
export type AuthFrame = t.TypeOf<typeof AuthFrame>;
export type WelcomeFrame = t.TypeOf<typeof WelcomeFrame>;
export type PingFrame = t.TypeOf<typeof PingFrame>;
export type PongFrame = t.TypeOf<typeof PongFrame>;
export type MsgFrame = t.TypeOf<typeof MsgFrame>;
export type LeaveFrame = t.TypeOf<typeof LeaveFrame>;
export type ReqFrame = t.TypeOf<typeof ReqFrame>;
export type ResFrame = t.TypeOf<typeof ResFrame>;
export type ChanFrame = t.TypeOf<typeof ChanFrame>;
export type MetaFrame = t.TypeOf<typeof MetaFrame>;
export type ReachFrame = t.TypeOf<typeof ReachFrame>;
/** A frame that carries an application payload. */
export type PayloadFrame = MsgFrame | ReqFrame | ResFrame | ChanFrame;

/**
 * Decodes one inbound frame: JSON in a try, then the Frame codec.
 * The size limit is enforced before this, by the transport (ws maxPayload).
 *
 * @param raw - the frame's bytes or text
 * @returns the frame, or a one-line reason that never echoes the input
 */
export function decodeFrame(raw: string | Buffer): Either<string, Frame> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.length > 2 * MAX_JSON_DEPTH && jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    return left(`frame nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the input: keep only the position
    const at = /at position (\d+)/.exec((error as Error).message);
    return left(at === null ? 'frame is not JSON' : `frame is not JSON (at position ${at[1]})`);
  }
  // fast path, the same codec: io-ts's `is` allocates nothing, and when it
  // holds, decode succeeds with this very object (every field own and valid)
  if (Frame.is(parsed) && (!PAYLOAD_TYPES.has(parsed.type) || 'data' in parsed)) return right(parsed);
  const decoded = Frame.decode(parsed);
  if (isLeft(decoded)) return left(reportErrors(decoded.left).slice(0, 3).join('; '));
  const frame = decoded.right;
  if (PAYLOAD_TYPES.has(frame.type) && !('data' in (parsed as object))) {
    return left(`${NAME_OF[frame.type] ?? 'Frame'}.data: expected a JSON value`);
  }
  return right(frame);
}

const PAYLOAD_TYPES: ReadonlySet<string> = new Set(['msg', 'req', 'res', 'chan']);
const NAME_OF: Readonly<Record<string, string>> = { msg: 'MsgFrame', req: 'ReqFrame', res: 'ResFrame', chan: 'ChanFrame' };

/** The first byte of a binary frame: a binary payload with a JSON header (format version 1). */
export const BINARY_MAGIC = 0xb1;
/** The largest JSON header of a binary frame, in bytes. */
const MAX_BINARY_HEADER = 4096;

/**
 * A binary frame: `0xB1`, the header's length (2 bytes, big-endian), the
 * header (a payload frame as JSON with `data: null`), then the payload bytes
 * as they are. Bytes travel as bytes: no base64 detour.
 *
 * @param header - the frame without its payload (JSON text with `"data":null`)
 * @param payload - the bytes
 */
export function encodeBinary(header: string, payload: Uint8Array): Buffer {
  const head = Buffer.from(header);
  if (head.length > MAX_BINARY_HEADER) throw new TypeError(`binary frame header of ${head.length} bytes is over ${MAX_BINARY_HEADER}`);
  const out = Buffer.allocUnsafe(3 + head.length + payload.byteLength);
  out[0] = BINARY_MAGIC;
  out.writeUInt16BE(head.length, 1);
  head.copy(out, 3);
  out.set(payload, 3 + head.length);
  return out;
}

/**
 * Decodes a binary frame: the header through the same codecs as a text
 * frame, then its payload as bytes in `data`.
 *
 * @returns a payload frame whose `data` is a Buffer, or a one-line reason
 */
export function decodeBinary(raw: Buffer): Either<string, PayloadFrame> {
  if (raw.length < 3 || raw[0] !== BINARY_MAGIC) return left('binary frame without the rxcluster header');
  const length = raw.readUInt16BE(1);
  if (length > MAX_BINARY_HEADER || 3 + length > raw.length) return left('binary frame header length out of range');
  const header = decodeFrame(raw.toString('utf8', 3, 3 + length));
  if (isLeft(header)) return header;
  const frame = header.right;
  if (!PAYLOAD_TYPES.has(frame.type) || (frame as { data: unknown }).data !== null) return left(`binary frame header must be a msg, req, res or chan frame with null data`);
  return right({ ...(frame as PayloadFrame), data: raw.subarray(3 + length) });
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`, counting only
 * brackets outside strings. Valid JSON needs two characters per level, so
 * shorter texts are never checked.
 */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Why a peer would refuse an outgoing frame: larger than `maxPayload` bytes,
 * or nested past MAX_JSON_DEPTH. Checked before sending, since a refused frame
 * costs the whole connection and everything queued behind it.
 *
 * @returns the reason, or undefined when the frame is fine
 */
export function outgoingProblem(frame: string, maxPayload: number): string | undefined {
  if (frame.length * 3 > maxPayload) {
    const bytes = Buffer.byteLength(frame);
    if (bytes > maxPayload) return `the frame is ${bytes} bytes, over maxPayload (${maxPayload})`;
  }
  if (frame.length > 2 * MAX_JSON_DEPTH && jsonDepthExceeds(frame, MAX_JSON_DEPTH)) {
    return `the message nests deeper than ${MAX_JSON_DEPTH} levels`;
  }
  return undefined;
}

/** Serialises a frame. */
export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/**
 * Serialises an application message once, so a broadcast costs one
 * `JSON.stringify` whatever the number of peers.
 *
 * @throws TypeError when `data` has no JSON form (undefined, a function, a
 *   symbol, a BigInt, a cycle)
 */
export function encodeMsg(from: string, time: number, data: unknown): string {
  return encodePayload('{"type":"msg"', from, time, data);
}

/** Where a payload goes: a plain message, a channel, a request or a reply. */
export type PayloadKind = { readonly type: 'msg' } | { readonly type: 'chan'; readonly ch: string } | { readonly type: 'req' | 'res'; readonly id: number };

/** The opening of a payload frame of `kind`, up to (not including) `from`. */
export function payloadHead(kind: PayloadKind): string {
  switch (kind.type) {
    case 'msg':
      return '{"type":"msg"';
    case 'chan':
      return `{"type":"chan","ch":${JSON.stringify(kind.ch)}`;
    default:
      return `{"type":"${kind.type}","id":${kind.id}`;
  }
}

/**
 * Serialises a payload frame once; `data === null` with a binary payload
 * makes the header of a binary frame.
 *
 * @throws TypeError when `data` has no JSON form
 */
export function encodePayload(head: string, from: string, time: number, data: unknown): string {
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`a ${typeof data} has no JSON form`);
  return `${head},"from":${JSON.stringify(from)},"time":${time},"data":${json}}`;
}
