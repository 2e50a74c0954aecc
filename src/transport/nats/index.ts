export { natsTransport, NatsTransport, DEFAULT_RECONNECT_TIME_WAIT, MAX_PENDING_HANDSHAKES, type NatsTransportOptions, type NatsTransportStats } from './transport.js';
export { DEFAULT_SUBJECT_PREFIX, nameToken } from './subjects.js';
