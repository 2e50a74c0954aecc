import type { Code } from './limits.js';

/** Base class of rxcluster's errors: a stable `code` and an optional cause. */
export class ClusterError extends Error {
  override readonly name: string = 'ClusterError';
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A peer stayed silent past readTimeout. */
export class ReadTimeoutError extends Error {
  override readonly name = 'ReadTimeoutError';
  /**
   * @param silence - milliseconds since the last frame was read
   * @param readTimeout - the setting in force
   */
  constructor(
    readonly silence: number,
    readonly readTimeout: number,
  ) {
    super(`no frame read for ${silence} ms (readTimeout ${readTimeout} ms)`);
  }
}

/** A handshake did not finish within connectTimeout. */
export class HandshakeTimeoutError extends Error {
  override readonly name = 'HandshakeTimeoutError';
  constructor(readonly connectTimeout: number) {
    super(`handshake not finished within connectTimeout (${connectTimeout} ms)`);
  }
}

/**
 * A `request$` that ended without a reply: `code` says why
 * (RXC_ERR_REQUEST_TIMEOUT, RXC_ERR_NOT_CONFIGURED, RXC_ERR_NOT_ONLINE,
 * RXC_ERR_PEER_LEFT, RXC_ERR_SEND).
 */
export class RequestError extends ClusterError {
  override readonly name = 'RequestError';
  /**
   * @param code - why the request failed
   * @param node - the node asked
   * @param message - one sentence
   */
  constructor(code: Code, readonly node: string, message: string) {
    super(code, message);
  }
}
