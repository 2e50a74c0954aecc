import { CLOSE } from '../../limits.js';
import type { CloseCause } from '../types.js';

/** The WebSocket close code the ws transport sends for each neutral cause. */
const CODE_OF: Readonly<Record<CloseCause, number>> = Object.freeze({
  normal: CLOSE.NORMAL,
  shutdown: CLOSE.GOING_AWAY,
  protocol: CLOSE.PROTOCOL_ERROR,
  'too-big': CLOSE.MESSAGE_TOO_BIG,
  policy: CLOSE.POLICY_VIOLATION,
  timeout: CLOSE.READ_TIMEOUT,
  'handshake-timeout': CLOSE.HANDSHAKE_TIMEOUT,
  duplicate: CLOSE.DUPLICATE,
  removed: CLOSE.REMOVED,
  slow: CLOSE.SLOW_CONSUMER,
  // 1006 may not be sent: a reset is a terminate(), never a close frame
  reset: CLOSE.NORMAL,
});

const CAUSE_OF: ReadonlyMap<number, CloseCause> = new Map<number, CloseCause>([
  [CLOSE.NORMAL, 'normal'],
  [CLOSE.GOING_AWAY, 'shutdown'],
  [CLOSE.PROTOCOL_ERROR, 'protocol'],
  [1003, 'protocol'],
  [1007, 'protocol'],
  [CLOSE.POLICY_VIOLATION, 'policy'],
  [CLOSE.MESSAGE_TOO_BIG, 'too-big'],
  [CLOSE.READ_TIMEOUT, 'timeout'],
  [CLOSE.HANDSHAKE_TIMEOUT, 'handshake-timeout'],
  [CLOSE.DUPLICATE, 'duplicate'],
  [CLOSE.REMOVED, 'removed'],
  [CLOSE.SLOW_CONSUMER, 'slow'],
]);

/** The close code to send for `cause`. */
export function closeCodeOf(cause: CloseCause): number {
  return CODE_OF[cause];
}

/**
 * The neutral cause of a received close code, and of the ws error that led
 * to it when there was one: an oversized frame is `too-big`, any other
 * WebSocket protocol violation `protocol`, no close frame at all (1006)
 * `reset`; a close frame with a code of no meaning to us is still an
 * orderly close, `normal`.
 */
export function causeOf(code: number, error: Error | undefined): CloseCause {
  if ((error as { code?: unknown } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 'too-big';
  if (isWsProtocolError(error)) return 'protocol';
  if (code === ABNORMAL_CLOSURE) return 'reset';
  return CAUSE_OF.get(code) ?? 'normal';
}

/** The code ws reports when the connection ended with no close frame. */
export const ABNORMAL_CLOSURE = 1006;

/** Whether ws found a fault in what the peer sent (an oversized or invalid frame: a `WS_ERR_*` code); ws has sent its close frame. */
export function isWsProtocolError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('WS_ERR_');
}

/** Whether a dial or TLS error is a certificate or TLS fault (logged as RXC_ERR_TLS). */
export function isTlsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|TLS|SSL|VERIFY/.test(code);
}
