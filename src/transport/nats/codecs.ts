import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { NodeName } from '../../protocol/frames.js';
import { reportErrors } from '../../protocol/report.js';

/*
 * The JSON the NATS transport itself exchanges: the open request and its
 * answer (the pair's opening, before any key exists), and a heartbeat's
 * payload. Frames of the session travel sealed and are none of its business.
 */

const Hex32 = t.refinement(t.string, (s) => /^[0-9a-f]{32}$/.test(s), 'Hex32');
const Hex64 = t.refinement(t.string, (s) => /^[0-9a-f]{64}$/.test(s), 'Hex64');
const Seq = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0 && n < 2 ** 48, 'Seq');
const Ms = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'Ms');
/** A broadcast floor and a heartbeat floor: the sender's sequence numbers at the opening. */
const Floors = t.tuple([Seq, Seq], 'Floors');

/**
 * The NATS transport's wire version, in every open request and reply: 2
 * since broadcasts may come as sealed batches (kind M), which a version-1
 * node would drop as forged. An open of another version is refused, saying
 * which, so a cluster upgrades all its nodes rather than losing broadcasts.
 */
export const NATS_WIRE_VERSION = 2;
const WireVersion = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 1, 'WireVersion');

/** Dialer → acceptor's handshake subject: open a pair connection (any version decodes; another than ours is refused). */
export const OpenRequest = t.type(
  { v: WireVersion, from: NodeName, to: NodeName, cid: Hex32, nonce: Hex64, epoch: Hex32, floors: Floors },
  'OpenRequest',
);
export type OpenRequest = t.TypeOf<typeof OpenRequest>;

/** Acceptor → dialer: the acceptor's half of the opening, or a refusal. */
export const OpenReply = t.union(
  [t.type({ v: t.literal(NATS_WIRE_VERSION), nonce: Hex64, epoch: Hex32, floors: Floors }, 'OpenAccepted'), t.type({ v: WireVersion, refused: t.string }, 'OpenRefused')],
  'OpenReply',
);
export type OpenReply = t.TypeOf<typeof OpenReply>;

/**
 * What a heartbeat says: the sender's name and clock (`t`, ms), and per peer
 * it has connections with (keyed by the first 12 hex characters of the
 * peer's epoch): the ids of those connections (`c`, first 8 hex characters
 * each) and, when it heard that peer's heartbeat, an echo `e` of it: the
 * peer's own `t` and how many ms the sender held it before this beat.
 */
export const BeatPayload = t.type(
  {
    n: NodeName,
    t: Ms,
    p: t.record(t.string, t.intersection([t.type({ c: t.array(t.string) }), t.partial({ e: t.tuple([Ms, Ms]) })])),
  },
  'BeatPayload',
);
export type BeatPayload = t.TypeOf<typeof BeatPayload>;

/** Bytes an open request or answer may take. */
export const MAX_OPEN_BYTES = 2048;

/**
 * Parses and decodes JSON with a codec.
 *
 * @returns the value, or a one-line reason that never echoes the input
 */
export function decodeJson<A>(codec: t.Decoder<unknown, A>, bytes: Uint8Array): A | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const decoded = codec.decode(parsed);
  return isLeft(decoded) ? reportErrors(decoded.left).slice(0, 2).join('; ') : decoded.right;
}
