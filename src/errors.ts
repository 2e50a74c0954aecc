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
