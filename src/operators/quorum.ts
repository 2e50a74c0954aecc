import { distinctUntilChanged, map, type OperatorFunction } from 'rxjs';
import { hasQuorum } from '../protocol/quorum.js';

/** How many peers are configured and how many of them are online, never counting this node. */
export interface QuorumCounts {
  /** Configured peers. */
  readonly configured: number;
  /** Configured peers that have joined. */
  readonly online: number;
}

/**
 * Turns peer counts into whether this node has quorum, emitting only when that
 * answer changes.
 *
 * Each count is judged by the seed's rule ({@link hasQuorum}): with 0 or 1
 * configured peers there is always quorum, otherwise `(configured + 1) / 2 <
 * online + 1`. The first answer is always emitted; after it, an answer equal to
 * the previous one is dropped, so a count that changes without moving the
 * majority stays silent.
 *
 * ```
 * counts:   -a----b----c----d--|      a = 2/0, b = 2/1, c = 3/1, d = 3/2
 * quorum(): -F----T----F----T--|
 *
 * counts:   -a----b----c-------|      a = 0/0, b = 1/0, c = 3/2
 * quorum(): -T-----------------|      (always true: no answer changed)
 * ```
 *
 * No timing is involved. Completion and errors of the source pass through at
 * once; there is nothing to flush.
 *
 * @returns an operator from {@link QuorumCounts} to `true`/`false`, one value per change
 */
export function quorum(): OperatorFunction<QuorumCounts, boolean> {
  return (counts$) =>
    counts$.pipe(
      map(({ configured, online }) => hasQuorum(configured, online)),
      distinctUntilChanged(),
    );
}
