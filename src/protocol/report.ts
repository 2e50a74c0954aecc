import type * as t from 'io-ts';

/** How `reportErrors` words its lines. */
export interface ReportOptions {
  /**
   * Paths relative to the decoded value, without the codec's name (the caller
   * names the codec once), each with the JSON kind of what was found:
   * `id: expected number, got string`; a wrong value as a whole is `got string`.
   * Default false: `PingFrame.id: expected Int`.
   */
  readonly relative?: boolean;
}

/**
 * Turns io-ts validation errors into short paths such as
 * `PingFrame.id: expected Int`. The offending value is never echoed: it may be
 * large, or a secret (with `relative`, only its JSON kind is named).
 *
 * The path names the union member that was tried (io-ts picks the member by
 * its literal `type` tag), then each field down to the one that failed.
 *
 * @param errors - the Left of a failed decode
 * @param options - see `ReportOptions`
 * @returns one line per failure, without duplicates
 */
export function reportErrors(errors: t.Errors, options: ReportOptions = {}): string[] {
  const relative = options.relative === true;
  const lines = new Set<string>();
  for (const error of errors) {
    if (error.message !== undefined) {
      lines.add(error.message);
      continue;
    }
    const context = error.context;
    const first = context[0];
    const parts: string[] = relative ? [] : [first?.type.name ?? 'value'];
    for (let i = 1; i < context.length; i++) {
      const entry = context[i];
      const parent = context[i - 1];
      if (entry === undefined || parent === undefined) continue;
      if (isUnion(parent.type)) {
        // a union member: at the root, name the path by the member's codec;
        // deeper down, the member's index says nothing to a reader, so skip it
        if (i === 1 && !relative) parts.splice(0, parts.length, entry.type.name);
      } else if (isIntersection(parent.type)) {
        // a part of an intersection (a frame's required fields and its optional ones): its index says nothing either
      } else if (entry.key !== '') {
        parts.push(entry.key);
      }
    }
    const last = context[context.length - 1];
    const expected = last?.type.name ?? 'unknown';
    if (!relative) lines.add(`${parts.join('.')}: expected ${expected}`);
    else if (parts.length === 0) lines.add(`got ${kindOf(error.value)}`);
    else lines.add(`${parts.join('.')}: expected ${expected}, got ${kindOf(error.value)}`);
  }
  return [...lines];
}

/** The JSON kind of a value, never the value: `string`, `number`, `object`, `array`, `null`, `nothing`. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

function isUnion(codec: t.Decoder<unknown, unknown>): boolean {
  return (codec as { _tag?: string })._tag === 'UnionType';
}

function isIntersection(codec: t.Decoder<unknown, unknown>): boolean {
  return (codec as { _tag?: string })._tag === 'IntersectionType';
}
