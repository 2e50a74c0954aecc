/**
 * The seed's quorum rule: with 0 or 1 configured peers there is always quorum;
 * otherwise a strict majority of the cluster (the configured peers plus this
 * node) must be reachable, counting this node as online:
 * `(configured + 1) / 2 < online + 1`.
 *
 * @param configured - configured peers, never counting this node
 * @param online - configured peers that are online (joined), never counting this node
 * @returns whether this node sees a majority
 */
export function hasQuorum(configured: number, online: number): boolean {
  if (configured <= 1) return true;
  return (configured + 1) / 2 < online + 1;
}
