/**
 * decodeFrame's fast path (`Frame.is`, no allocation) against the generic
 * path it short-cuts (`Frame.decode` + the `data` check): for every input,
 * valid or not, the very same result, and on success the very same object.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isLeft, isRight, left, right, type Either } from 'fp-ts/lib/Either.js';
import { decodeFrame, Frame } from '../../src/protocol/frames.js';
import { reportErrors } from '../../src/protocol/report.js';
import { MAX_JSON_DEPTH } from '../../src/limits.js';

/** decodeFrame as it was before the fast path: the io-ts codec is the definition. */
function reference(raw: string): Either<string, Frame> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return left('frame is not JSON');
  }
  if (depth(parsed) > MAX_JSON_DEPTH) return left(`frame nests deeper than ${MAX_JSON_DEPTH} levels`);
  const decoded = Frame.decode(parsed);
  if (isLeft(decoded)) return left(reportErrors(decoded.left).slice(0, 3).join('; '));
  if (decoded.right.type === 'msg' && !('data' in (parsed as object))) return left('MsgFrame.data: expected a JSON value');
  return right(decoded.right);
}

/** How deep arrays and objects nest in a parsed JSON value. */
function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let most = 0;
  for (const v of Object.values(value)) most = Math.max(most, depth(v));
  return most + 1;
}

function same(raw: string): void {
  const got = decodeFrame(raw);
  const want = reference(raw);
  if (isLeft(want) && want.left === 'frame is not JSON') {
    assert.ok(isLeft(got) && got.left.startsWith('frame is not JSON'), `${raw}: ${JSON.stringify(got)}`);
    return;
  }
  assert.deepEqual(got, want, raw);
}

/** Frame.is holds only where Frame.decode succeeds with the very same object (no copy, no missing field). */
function isImpliesDecode(value: unknown): void {
  if (!Frame.is(value)) return;
  const decoded = Frame.decode(value);
  assert.ok(isRight(decoded), JSON.stringify(value));
  assert.equal(decoded.right, value);
  if ((value as { type: string }).type === 'msg') assert.ok('data' in (value as object));
}

const NONCE = 'a'.repeat(64);
const MAX_DATE_MS = 8.64e15;

const VALID: readonly Record<string, unknown>[] = [
  { type: 'hello', version: 2, name: 'node1', to: 'node2', nonce: NONCE },
  { type: 'challenge', version: 2, nonce: NONCE },
  { type: 'auth', proof: NONCE, instance: NONCE, incarnation: 1_700_000_000_000 },
  { type: 'welcome', proof: NONCE, instance: NONCE, incarnation: 0 },
  { type: 'ping', id: 42 },
  { type: 'pong', id: 0 },
  { type: 'msg', from: 'node1', time: 1_700_000_000_000, data: { order: 7, items: ['a', null] } },
  { type: 'leave' },
];

/** Values that probe each field's edges. */
const PROBES: readonly unknown[] = [
  undefined, null, true, 0, -1, 1.5, 42, MAX_DATE_MS, MAX_DATE_MS + 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e300,
  '', 'node1', 'x'.repeat(128), 'x'.repeat(129), 'no\u0007de', 'del\u007f', 'tab\t', 'ünï', NONCE, 'A'.repeat(64), 'a'.repeat(63), 'g'.repeat(64),
  '42', 'msg', 'ping', [], [1], {}, { a: 1 },
];

describe('decodeFrame fast path', () => {
  it('should decode every valid frame exactly as Frame.decode does, returning the parsed object', () => {
    for (const frame of VALID) {
      for (const extra of [{}, { extra: 1 }, { __proto__: 1 }]) {
        const raw = JSON.stringify({ ...frame, ...extra });
        same(raw);
        isImpliesDecode(JSON.parse(raw));
      }
    }
  });

  it('should agree with Frame.decode on every field of every frame set to every probe, or removed', () => {
    let cases = 0;
    for (const frame of VALID) {
      for (const field of [...Object.keys(frame), 'data', 'extra']) {
        for (const probe of PROBES) {
          const copy: Record<string, unknown> = { ...frame };
          if (probe === undefined) delete copy[field];
          else copy[field] = probe;
          const raw = JSON.stringify(copy);
          same(raw);
          isImpliesDecode(JSON.parse(raw));
          cases++;
        }
      }
    }
    assert.ok(cases > 1000);
  });

  it('should agree on frames.test.ts-style failures', () => {
    const raws = [
      'hello there', '{"type":"ping","id":', '', 'null', '42', '"ping"', '[{"type":"ping","id":1}]', '{"id":1}',
      '{"type":"gossip","id":1}', '{"type":"PING","id":1}', '{"type":"msg","from":"node1","time":1}',
      '{"type":"msg","from":"node1","time":1,"data":null}', '{"type":"auth"}', '{"type":"msg","from":"a","time":1,"data":1,"type":"ping"}',
      '{"type":"ping","id":1,"id":-1}', '{"type":"ping","id":-0}', '{"type":"ping","id":1e3}', '{"type":"ping","id":1.0}',
      '{"type":"leave","data":1}', '{"__proto__":{"type":"ping"},"id":1}',
      `{"type":"msg","from":"a","time":1,"data":${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}}`,
    ];
    for (const raw of raws) {
      same(raw);
      try {
        isImpliesDecode(JSON.parse(raw));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
      }
    }
  });

  it('should agree with Frame.decode on random frames (property)', () => {
    const field = fc.oneof(fc.constantFrom(...PROBES.filter((p) => p !== undefined)), fc.jsonValue(), fc.string(), fc.integer(), fc.double());
    const frame = fc.record(
      {
        type: fc.constantFrom('hello', 'challenge', 'auth', 'welcome', 'ping', 'pong', 'msg', 'leave', 'other'),
        version: fc.oneof(fc.constant(2), field),
        name: fc.oneof(fc.constant('n1'), field),
        to: fc.oneof(fc.constant('n2'), field),
        nonce: fc.oneof(fc.constant(NONCE), field),
        proof: fc.oneof(fc.constant(NONCE), field),
        instance: fc.oneof(fc.constant(NONCE), field),
        incarnation: fc.oneof(fc.constant(5), field),
        id: fc.oneof(fc.constant(7), field),
        from: fc.oneof(fc.constant('n1'), field),
        time: fc.oneof(fc.constant(1), field),
        data: field,
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(frame, (f) => {
        const raw = JSON.stringify(f);
        same(raw);
        isImpliesDecode(JSON.parse(raw));
      }),
      { numRuns: 3000 },
    );
  });
});
