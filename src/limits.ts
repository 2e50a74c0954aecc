/**
 * Named limits and codes shared across rxcluster, so no magic number hides elsewhere.
 */

/** Default bytes per frame (ws `maxPayload`): 1 MiB, never ws's own 100 MiB. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a frame may carry: deeper JSON parses,
 * but `JSON.stringify` of it overflows the stack in the receiving application.
 */
export const MAX_JSON_DEPTH = 256;

/** The largest `metadata` a node may carry, in bytes of its JSON form. */
export const MAX_METADATA_BYTES = 4096;

/** Default per-peer send buffer high-water mark: 16 MiB of unsent bytes. */
export const DEFAULT_SEND_BUFFER_BYTES = 16 * 1024 * 1024;

/** The wire protocol version carried in the handshake (3: frames after the handshake carry a MAC on connections that do not authenticate frames themselves). */
export const PROTOCOL_VERSION = 3;

/** The ws sub-protocol both sides ask for. */
export const WS_SUBPROTOCOL = 'rxcluster.v1';

/**
 * Ms a connection closed in order may take to finish its close before it is
 * cut (at most; never more than connectTimeout).
 */
export const CLOSE_GRACE = 1000;

/**
 * Reachability reports leave a node at most once per this many ms, or per
 * readTimeout / 10 when that is shorter (the first of a burst at once, the
 * newest of the rest at the end of the window): a node joining a mesh of N
 * changes its report about 2N times in a few hundred ms, and each change
 * went to every peer.
 */
export const REPORT_SPACING = 150;

/** The spacing of reachability reports under a readTimeout: {@link REPORT_SPACING}, or readTimeout / 10 when shorter. */
export function reportSpacing(readTimeout: number): number {
  return Math.min(REPORT_SPACING, Math.floor(readTimeout / 10));
}

/**
 * Ms a change of whom the view leaves out for a loss waits before it is
 * taken: three report spacings, time for a report to reach every node and be
 * relayed once. Two nodes that lose each other at about the same moment each
 * hear their own loss first; waiting lets both losses reach every node, so
 * each decides once, on the same reports (no view that the next report
 * takes back).
 */
export function viewSettle(readTimeout: number): number {
  return 3 * reportSpacing(readTimeout);
}

/**
 * Bytes a frame may hold before its sender proved the secret (hello, challenge,
 * auth and welcome are under 1 KiB plus the sender's metadata, at most 4 KiB): a bigger one is refused before it
 * is parsed, and the ws transport stops reading it at its header.
 */
export const HANDSHAKE_MAX_FRAME = 8 * 1024;

/**
 * Ms a connection refused for a bad frame before it proved the secret is
 * kept, unread, before it is cut: time for the close frame (1009 for an
 * oversized frame) and the FIN already sent to reach the caller. Nothing more
 * is read from it: ws would drain the rest of the refused frame, as much as the
 * caller cares to send, until the caller closes. Such a connection no longer
 * counts as a pending handshake (maxPendingHandshakes).
 */
export const REFUSED_LINGER = 1000;

/** Default of the `maxPendingHandshakes` option: accepted connections not yet authenticated, at most. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;

/** Ms between two log entries about the same kind of mass refusal (one entry sums them). */
export const REFUSAL_LOG_INTERVAL = 5000;

/** Bytes of each handshake nonce (hex-encoded on the wire, twice as many characters). */
export const NONCE_BYTES = 32;

/**
 * WebSocket close codes the ws transport sends, one per neutral close cause
 * (see transport/ws/codes.ts): standard ones for protocol faults, 4000-4999
 * for our own. 4001 is retired: never sent, never reused.
 */
export const CLOSE = Object.freeze({
  /** Orderly close: the answer to a peer's leave notice, or an admin `reconnect`. */
  NORMAL: 1000,
  /** Going away (this node shuts down). */
  GOING_AWAY: 1001,
  /** Undecodable or unexpected frame. */
  PROTOCOL_ERROR: 1002,
  /** Failed authentication or refused peer. */
  POLICY_VIOLATION: 1008,
  /** Frame too big (sent by ws itself). */
  MESSAGE_TOO_BIG: 1009,
  /** Another connection to the same peer was kept instead of this one. */
  DUPLICATE: 4000,
  /** The node was removed from this manager's configuration. */
  REMOVED: 4002,
  /** The peer fell silent past readTimeout. */
  READ_TIMEOUT: 4003,
  /** The handshake did not finish within connectTimeout. */
  HANDSHAKE_TIMEOUT: 4004,
  /** The peer's unsent data passed sendBufferBytes. */
  SLOW_CONSUMER: 4005,
});

/**
 * Stable codes carried by log entries and errors; the README lists them.
 */
export const CODES = Object.freeze({
  /** A frame could not be parsed or validated, or came at the wrong stage. */
  BAD_FRAME: 'RXC_ERR_BAD_FRAME',
  /** A frame was larger than maxPayload, or a handshake frame larger than HANDSHAKE_MAX_FRAME. */
  FRAME_TOO_BIG: 'RXC_ERR_FRAME_TOO_BIG',
  /** The other side failed to prove the shared secret, or refused our proof. */
  AUTH: 'RXC_ERR_AUTH',
  /** The peer's name is not configured here, is our own, or its version differs. */
  PEER_REFUSED: 'RXC_ERR_PEER_REFUSED',
  /** The handshake did not finish within connectTimeout. */
  HANDSHAKE_TIMEOUT: 'RXC_ERR_HANDSHAKE_TIMEOUT',
  /** Connections were refused at once: maxPendingHandshakes unauthenticated ones were open already. */
  HANDSHAKE_LIMIT: 'RXC_ERR_HANDSHAKE_LIMIT',
  /** The peer was silent past readTimeout. */
  READ_TIMEOUT: 'RXC_ERR_READ_TIMEOUT',
  /** A joined peer has been silent for readTimeout: suspected, not yet dropped. */
  SUSPECT: 'RXC_ERR_SUSPECT',
  /** A peer's link keeps failing (flap damping): its join is held. */
  FLAPPING: 'RXC_ERR_FLAPPING',
  /** A second connection to an already connected peer was closed. */
  DUPLICATE: 'RXC_ERR_DUPLICATE',
  /** A suspected link (silent while other peers still heard the peer) was replaced by a fresh connection, with no leave. */
  STALLED: 'RXC_ERR_STALLED',
  /** A peer's send buffer passed sendBufferBytes; it was disconnected. */
  SLOW_CONSUMER: 'RXC_ERR_SLOW_CONSUMER',
  /** A dial failed (refused, unreachable, timed out). */
  DIAL: 'RXC_ERR_DIAL',
  /** A TLS handshake failed (no certificate, or one the cluster's CA did not sign), or a peer's certificate does not name it. */
  TLS: 'RXC_ERR_TLS',
  /** A socket reported an error. */
  SOCKET: 'RXC_ERR_SOCKET',
  /** The application handed toCluster$/toNode$ something that cannot be sent. */
  SEND: 'RXC_ERR_SEND',
  /** A request got no reply within its timeout. */
  REQUEST_TIMEOUT: 'RXC_ERR_REQUEST_TIMEOUT',
  /** A request was made to a node that is not configured. */
  NOT_CONFIGURED: 'RXC_ERR_NOT_CONFIGURED',
  /** A request was made to a configured node that is not online. */
  NOT_ONLINE: 'RXC_ERR_NOT_ONLINE',
  /** The node a request was pending at left before it replied. */
  PEER_LEFT: 'RXC_ERR_PEER_LEFT',
  /** A request was answered twice, or a reply came for no pending request. */
  REPLY: 'RXC_ERR_REPLY',
  /** A channel message failed the channel's codec and was dropped. */
  CHANNEL_DECODE: 'RXC_ERR_CHANNEL_DECODE',
  /** A sealed frame's MAC did not hold (NATS): forged or corrupted; dropped. */
  FORGED: 'RXC_ERR_FORGED',
  /** A sealed frame's sequence number was not new (NATS): a replay; dropped. */
  REPLAY: 'RXC_ERR_REPLAY',
  /** Sequence numbers skipped: frames lost on the way (NATS failover); counted. */
  FRAMES_LOST: 'RXC_ERR_FRAMES_LOST',
  /** The NATS client lost or changed its server, or the server reported an error. */
  NATS: 'RXC_ERR_NATS',
});

export type Code = (typeof CODES)[keyof typeof CODES];

/**
 * Why a connection closed, in words every transport shares. Each transport
 * maps these to and from its own codes (ws: the WebSocket close codes of
 * `limits.ts`; NATS: control frames; memory: the cause itself), so the core
 * never reads a transport's codes.
 *
 * - `normal`: an orderly close with no more to say.
 * - `shutdown`: the closing node leaves the cluster (it shuts down).
 * - `protocol`: an undecodable, unexpected or transport-invalid frame.
 * - `too-big`: a frame over the size limit.
 * - `policy`: authentication failed or the peer was refused.
 * - `timeout`: the peer was silent past readTimeout.
 * - `handshake-timeout`: the handshake did not finish within connectTimeout.
 * - `duplicate`: another connection between the same two nodes was kept.
 * - `removed`: the node was removed from the closer's configuration.
 * - `slow`: the peer's unsent data passed sendBufferBytes.
 * - `reset`: the connection broke with no close at all (network, crash).
 */
export type CloseCause =
  | 'normal'
  | 'shutdown'
  | 'protocol'
  | 'too-big'
  | 'policy'
  | 'timeout'
  | 'handshake-timeout'
  | 'duplicate'
  | 'removed'
  | 'slow'
  | 'reset';
