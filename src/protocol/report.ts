import type * as t from 'io-ts';

/**
 * Turns io-ts validation errors into short paths such as
 * `PingFrame.id: expected Int`. The offending value is never echoed: it may be
 * large, or a secret.
 *
 * The path names the union member that was tried (io-ts picks the member by
 * its literal `type` tag), then each field down to the one that failed.
 *
 * @param errors - the Left of a failed decode
 * @returns one line per failure, without duplicates
 */
export function reportErrors(errors: t.Errors): string[] {
  const lines = new Set<string>();
  for (const error of errors) {
    if (error.message !== undefined) {
      lines.add(error.message);
      continue;
    }
    const context = error.context;
    const first = context[0];
    const parts: string[] = [first?.type.name ?? 'value'];
    for (let i = 1; i < context.length; i++) {
      const entry = context[i];
      const parent = context[i - 1];
      if (entry === undefined || parent === undefined) continue;
      if (isUnion(parent.type)) {
        // a union member: at the root, name the path by the member's codec;
        // deeper down, the member's index says nothing to a reader, so skip it
        if (i === 1) parts.splice(0, parts.length, entry.type.name);
      } else if (entry.key !== '') {
        parts.push(entry.key);
      }
    }
    const last = context[context.length - 1];
    lines.add(`${parts.join('.')}: expected ${last?.type.name ?? 'unknown'}`);
  }
  return [...lines];
}

function isUnion(codec: t.Decoder<unknown, unknown>): boolean {
  return (codec as { _tag?: string })._tag === 'UnionType';
}
