import type { Settings } from '../settings.js';

/** The share of each back-off delay that jitter may take away: 25 %. */
export const BACKOFF_JITTER = 0.25;

/**
 * The delay before redial number `attempt + 1` of a peer.
 *
 * The ceiling doubles from `connectInterval` with each failed attempt and
 * stops at `maxConnectInterval`: `b = min(maxConnectInterval,
 * connectInterval · 2^attempt)`. Jitter draws the delay uniformly from
 * `[b · (1 - BACKOFF_JITTER), b]`, so peers that lost the same node do not
 * redial it in lockstep, and no delay ever exceeds the cap.
 *
 * @param attempt - failed attempts since the peer last joined, from 0
 * @param settings - connectInterval and maxConnectInterval, in ms
 * @param random - a value in [0, 1)
 * @returns whole milliseconds, at least 1
 */
export function backoffDelay(
  attempt: number,
  settings: Pick<Settings, 'connectInterval' | 'maxConnectInterval'>,
  random: number,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt) || 0), 52);
  const ceiling = Math.min(settings.maxConnectInterval, settings.connectInterval * 2 ** exponent);
  const r = Math.min(Math.max(random || 0, 0), 1);
  return Math.max(1, Math.round(ceiling * (1 - BACKOFF_JITTER * (1 - r))));
}
