/**
 * The NATS subjects one cluster uses, under a prefix (default `rxcluster`).
 * Node names may hold characters a subject token may not (`.`, `*`, `>`,
 * spaces): each name is one token, its UTF-8 bytes in base64url.
 *
 * ```
 * <prefix>.hs.<node>           open requests to <node> (request/reply)
 * <prefix>.p.<to>.<from>       pair frames and closes, <from> → <to>
 * <prefix>.all                 broadcasts (one publish for every peer; one tick's as one batch)
 * <prefix>.beat                heartbeats (one per node per pingInterval)
 * ```
 */

/** The default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = 'rxcluster';

const PREFIX_FORM = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Checks a subject prefix: dot-separated tokens of letters, digits, `_` and `-`.
 *
 * @throws TypeError naming the prefix when it is malformed
 */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || prefix.length > 200 || !PREFIX_FORM.test(prefix)) {
    throw new TypeError(`Invalid subjectPrefix ${JSON.stringify(prefix)}: expected dot-separated tokens of letters, digits, "_" and "-"`);
  }
  return prefix;
}

/** A node name as one subject token: base64url of its UTF-8 bytes. */
export function nameToken(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

/** The subjects of one cluster, as seen by one node. */
export class Subjects {
  /** Where this node takes open requests. */
  readonly handshake: string;
  /** Every pair subject addressed to this node (one wildcard subscription). */
  readonly pairsToSelf: string;
  readonly all: string;
  readonly beat: string;

  constructor(
    readonly prefix: string,
    readonly self: string,
  ) {
    const me = nameToken(self);
    this.handshake = `${prefix}.hs.${me}`;
    this.pairsToSelf = `${prefix}.p.${me}.*`;
    this.all = `${prefix}.all`;
    this.beat = `${prefix}.beat`;
  }

  /** Where to send open requests for `node`. */
  handshakeOf(node: string): string {
    return `${this.prefix}.hs.${nameToken(node)}`;
  }

  /** Where this node sends pair frames for `node`. */
  pairTo(node: string): string {
    return `${this.prefix}.p.${nameToken(node)}.${nameToken(this.self)}`;
  }
}
