/**
 * The pure timing operators of rxcluster: no sockets, no wall clock; time only
 * through the scheduler each one takes.
 */
export { backpressure, type BackpressureConfig } from './backpressure.js';
export { handshakeDeadline } from './handshakeDeadline.js';
export { heartbeat } from './heartbeat.js';
export { joinDelay, type Membership } from './joinDelay.js';
export { quorum, type QuorumCounts } from './quorum.js';
export { reconnectBackoff, type ReconnectBackoffConfig } from './reconnectBackoff.js';
export { readTimeout } from './readTimeout.js';
export {
  resolveDuplicates,
  type ConnectionDecision,
  type ConnectionEvent,
} from './resolveDuplicates.js';
export { requestTimeout } from './requestTimeout.js';
export { Deadlines, type Deadline } from './deadlines.js';
