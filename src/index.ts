/**
 * rxcluster: an authenticated full-mesh cluster of named Node.js processes,
 * with every Go channel of its predecessor turned into an RxJS stream.
 */
export type { ClusterManager } from './clusterManager.js';
export { Manager, type ManagerOptions, type NodeMessage, type ApiRequest, type StateDump, type TlsOptions, type MembershipEvent } from './manager.js';
export { wsTransport, type WsTransportOptions } from './transport/ws/index.js';
export { natsTransport, NatsTransport, type NatsTransportOptions, type NatsTransportStats } from './transport/nats/index.js';
export { Packet, TypedPacket, IncomingRequest, unpackPacket } from './packet.js';
export type { Channel, RequestOptions } from './messaging.js';
export { LogEntry, type LogLevel } from './log.js';
export {
  STATUS,
  StatusOffline,
  StatusAuthenticating,
  StatusOnline,
  StatusLeaving,
  StatusShutdown,
  type Status,
  type ApiClusterNode,
} from './public-status.js';
export type { LeaveReason } from './session/link.js';
export { reduceMembership, initialMembership, type MembershipState, type MembershipInput, type MembershipEffect, type PeerState, type LinkRef } from './membership/index.js';
export { DEFAULT_SETTINGS, FAST_SETTINGS, mergeSettings, type Settings } from './settings.js';
export { CLOSE, CODES, DEFAULT_MAX_PAYLOAD, DEFAULT_SEND_BUFFER_BYTES, PROTOCOL_VERSION, type Code } from './limits.js';
export { ClusterError, ReadTimeoutError, HandshakeTimeoutError, RequestError } from './errors.js';
export { hasQuorum, quorumBy, type QuorumStrategy } from './protocol/quorum.js';
export { viewId, type View, type Report } from './membership/view.js';
export { stretchSecret, HANDSHAKE_SALT, STRETCH_PARAMS, type Keyring, type Secret } from './protocol/keyring.js';
export { frameAuth, FRAME_MAC_BYTES, FRAME_MAC_CHARS, type FrameAuth } from './protocol/frameAuth.js';
export { backoffDelay } from './protocol/backoff.js';
export * from './operators/index.js';
export { DialError, type Connection, type Transport, type SocketEvent, type CloseCause, type ListenOptions, type Refusal, type RequestHandler, type TransportLogEntry } from './transport/types.js';
export { createApiHandler, type ApiHandlerOptions } from './api/handler.js';
export { hashAdminPassword } from './api/password.js';
export { LoginThrottle, type LoginThrottleOptions } from './api/auth.js';
export type { ApiTarget } from './api/registry.js';
export { TrafficStats, type TrafficSnapshot, type RefusalReason } from './stats.js';
export { clusterMetrics, DEFAULT_METRICS_PREFIX, RTT_BUCKETS, EVENT_LOOP_QUANTILES, EVENT_LOOP_RESOLUTION_MS, type ClusterMetrics, type MetricsOptions, type MetricsSource } from './metrics/index.js';
