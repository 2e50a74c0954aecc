import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { isLeft, isRight, type Either } from 'fp-ts/lib/Either.js';
import {
  AuthFrame,
  ChallengeFrame,
  decodeFrame,
  encodeFrame,
  encodeMsg,
  Frame,
  HelloFrame,
  HexDigest,
  LeaveFrame,
  Millis,
  MsgFrame,
  NodeName,
  PingFrame,
  PongFrame,
  WelcomeFrame,
} from '../../src/protocol/frames.js';
import { reportErrors } from '../../src/protocol/report.js';
import { MAX_JSON_DEPTH } from '../../src/limits.js';

const NONCE = 'a'.repeat(64);
const PROOF = '0123456789abcdef'.repeat(4);
/** The last epoch millisecond a Date can hold. */
const MAX_DATE_MS = 8.64e15;

/** Something that must never come back in a log line. */
const SECRET = `sk_live_${'Zq9x'.repeat(30)}`;
/** Fragments of SECRET, any of which in a message would be an echo. */
const SECRET_FRAGMENTS = ['sk_live', 'Zq9x'];

function leftOf<A>(result: Either<string, A>): string {
  if (!isLeft(result)) assert.fail(`expected a Left, got ${JSON.stringify(result.right)}`);
  return result.left;
}

function rightOf<A>(result: Either<string, A>): A {
  if (!isRight(result)) assert.fail(`expected a Right, got ${result.left}`);
  return result.right;
}

/** The frame with `field` replaced by `value`, or removed when `value` is `REMOVE`. */
const REMOVE = Symbol('remove');
function withField(frame: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy = { ...frame };
  if (value === REMOVE) delete copy[field];
  else copy[field] = value;
  return copy;
}

interface CodecCase {
  readonly codec: t.Decoder<unknown, unknown> & { readonly name: string };
  readonly valid: Record<string, unknown>;
  /** field, bad value (or REMOVE), reported path */
  readonly failures: readonly (readonly [field: string, value: unknown, expected: string])[];
}

const CASES: readonly CodecCase[] = [
  {
    codec: HelloFrame,
    valid: { type: 'hello', version: 2, name: 'node1', to: 'node2', nonce: NONCE },
    failures: [
      ['version', 1.5, 'HelloFrame.version: expected Int'],
      ['version', '1', 'HelloFrame.version: expected Int'],
      ['version', REMOVE, 'HelloFrame.version: expected Int'],
      ['name', '', 'HelloFrame.name: expected NodeName'],
      ['name', 42, 'HelloFrame.name: expected NodeName'],
      ['name', REMOVE, 'HelloFrame.name: expected NodeName'],
      ['to', 'node\u0000', 'HelloFrame.to: expected NodeName'],
      ['to', null, 'HelloFrame.to: expected NodeName'],
      ['nonce', 'abc', 'HelloFrame.nonce: expected HexDigest'],
      ['nonce', 'A'.repeat(64), 'HelloFrame.nonce: expected HexDigest'],
      ['nonce', REMOVE, 'HelloFrame.nonce: expected HexDigest'],
    ],
  },
  {
    codec: ChallengeFrame,
    valid: { type: 'challenge', version: 2, nonce: NONCE },
    failures: [
      ['version', 'one', 'ChallengeFrame.version: expected Int'],
      ['nonce', REMOVE, 'ChallengeFrame.nonce: expected HexDigest'],
      ['nonce', 'g'.repeat(64), 'ChallengeFrame.nonce: expected HexDigest'],
    ],
  },
  {
    codec: AuthFrame,
    valid: { type: 'auth', proof: PROOF, instance: NONCE, incarnation: 1_700_000_000_000, meta: { role: 'cache' } },
    failures: [
      ['proof', 'zz', 'AuthFrame.proof: expected HexDigest'],
      ['proof', REMOVE, 'AuthFrame.proof: expected HexDigest'],
      ['instance', REMOVE, 'AuthFrame.instance: expected HexDigest'],
      ['instance', 'x', 'AuthFrame.instance: expected HexDigest'],
      ['incarnation', -1, 'AuthFrame.incarnation: expected Millis'],
      ['incarnation', REMOVE, 'AuthFrame.incarnation: expected Millis'],
      ['meta', REMOVE, 'AuthFrame.meta: expected UnknownRecord'],
      ['meta', [1], 'AuthFrame.meta: expected UnknownRecord'],
    ],
  },
  {
    codec: WelcomeFrame,
    valid: { type: 'welcome', proof: PROOF, instance: PROOF, incarnation: 0, meta: {} },
    failures: [
      ['proof', REMOVE, 'WelcomeFrame.proof: expected HexDigest'],
      ['proof', 'xyz', 'WelcomeFrame.proof: expected HexDigest'],
      ['instance', REMOVE, 'WelcomeFrame.instance: expected HexDigest'],
      ['incarnation', 1.5, 'WelcomeFrame.incarnation: expected Millis'],
      ['meta', 'x', 'WelcomeFrame.meta: expected UnknownRecord'],
    ],
  },
  {
    codec: PingFrame,
    valid: { type: 'ping', id: 42 },
    failures: [
      ['id', -1, 'PingFrame.id: expected Millis'],
      ['id', 1.5, 'PingFrame.id: expected Millis'],
      ['id', '42', 'PingFrame.id: expected Millis'],
      ['id', REMOVE, 'PingFrame.id: expected Millis'],
    ],
  },
  {
    codec: PongFrame,
    valid: { type: 'pong', id: 0 },
    failures: [
      ['id', null, 'PongFrame.id: expected Millis'],
      ['id', Number.MAX_SAFE_INTEGER + 1, 'PongFrame.id: expected Millis'],
    ],
  },
  {
    codec: MsgFrame,
    valid: { type: 'msg', from: 'node1', time: 1_700_000_000_000, data: { order: 7, items: ['a', null] } },
    failures: [
      ['from', 42, 'MsgFrame.from: expected NodeName'],
      ['from', 'bad\nname', 'MsgFrame.from: expected NodeName'],
      ['from', REMOVE, 'MsgFrame.from: expected NodeName'],
      ['time', -5, 'MsgFrame.time: expected Millis'],
      ['time', '2024-01-01', 'MsgFrame.time: expected Millis'],
      ['time', MAX_DATE_MS + 1, 'MsgFrame.time: expected Millis'],
    ],
  },
  { codec: LeaveFrame, valid: { type: 'leave' }, failures: [] },
];

describe('frame codecs', () => {
  for (const { codec, valid, failures } of CASES) {
    describe(codec.name, () => {
      it('should decode a valid frame, alone and through Frame and decodeFrame', () => {
        const direct = codec.decode(valid);
        assert.ok(isRight(direct), `direct decode failed: ${isLeft(direct) ? reportErrors(direct.left).join('; ') : ''}`);
        assert.deepEqual(direct.right, valid);
        assert.ok(Frame.is(valid));
        assert.deepEqual(rightOf(decodeFrame(JSON.stringify(valid))), valid);
        assert.deepEqual(rightOf(decodeFrame(Buffer.from(JSON.stringify(valid)))), valid);
      });

      it('should round-trip through encodeFrame', () => {
        assert.deepEqual(rightOf(decodeFrame(encodeFrame(valid as Frame))), valid);
      });

      it(`should report ${codec.name}.type: expected "${String(valid['type'])}" for another tag`, () => {
        const result = codec.decode({ ...valid, type: valid['type'] === 'ping' ? 'pong' : 'ping' });
        assert.ok(isLeft(result));
        assert.deepEqual(reportErrors(result.left), [`${codec.name}.type: expected "${String(valid['type'])}"`]);
      });

      for (const [field, value, expected] of failures) {
        const what = value === REMOVE ? 'missing' : JSON.stringify(value)?.slice(0, 20);
        it(`should report "${expected}" for ${field} ${what}`, () => {
          const bad = withField(valid, field, value);
          const direct = codec.decode(bad);
          assert.ok(isLeft(direct), 'direct decode should fail');
          assert.deepEqual(reportErrors(direct.left), [expected]);
          assert.equal(leftOf(decodeFrame(JSON.stringify(bad))), expected);
        });
      }
    });
  }
});

describe('brands', () => {
  const table: readonly (readonly [name: string, codec: t.Decoder<unknown, unknown>, value: unknown, ok: boolean])[] = [
    ['NodeName', NodeName, 'a', true],
    ['NodeName', NodeName, 'n'.repeat(128), true],
    ['NodeName', NodeName, 'nöde-1 with spaces', true],
    ['NodeName', NodeName, '', false],
    ['NodeName', NodeName, 'n'.repeat(129), false],
    ['NodeName', NodeName, 'tab\there', false],
    ['NodeName', NodeName, 'del\u007f', false],
    ['NodeName', NodeName, '\u001fx', false],
    ['HexDigest', HexDigest, NONCE, true],
    ['HexDigest', HexDigest, PROOF.toUpperCase(), false],
    ['HexDigest', HexDigest, `${NONCE.slice(1)}g`, false],
    ['HexDigest', HexDigest, `${NONCE}\n`, false],
    ['Millis', Millis, 0, true],
    ['Millis', Millis, MAX_DATE_MS, true],
    ['Millis', Millis, MAX_DATE_MS + 1, false],
    ['Millis', Millis, -0.5, false],
    ['Millis', Millis, Number.NaN, false],
    ['Millis', Millis, Number.POSITIVE_INFINITY, false],
  ];
  for (const [name, codec, value, ok] of table) {
    it(`${name} should ${ok ? 'accept' : 'refuse'} ${JSON.stringify(value)?.slice(0, 24) ?? String(value)}`, () => {
      assert.equal(isRight(codec.decode(value)), ok);
    });
  }
});

describe('decodeFrame', () => {
  const failures: readonly (readonly [label: string, raw: string | Buffer, expected: string | RegExp])[] = [
    ['non-JSON text', 'hello there', /^frame is not JSON/],
    ['truncated JSON', '{"type":"ping","id":', /^frame is not JSON/],
    ['an empty frame', '', /^frame is not JSON/],
    ['invalid UTF-8 bytes', Buffer.from([0xff, 0xfe, 0x7b]), /^frame is not JSON/],
    ['JSON null', 'null', 'Frame: expected Frame'],
    ['a JSON number', '42', 'Frame: expected Frame'],
    ['a JSON string', '"ping"', 'Frame: expected Frame'],
    ['a JSON array', '[{"type":"ping","id":1}]', 'Frame: expected Frame'],
    ['an object without type', '{"id":1}', 'Frame: expected Frame'],
    ['an unknown type', '{"type":"gossip","id":1}', 'Frame: expected Frame'],
    ['a type of the wrong case', '{"type":"PING","id":1}', 'Frame: expected Frame'],
    ['a msg frame without data', '{"type":"msg","from":"node1","time":1}', 'MsgFrame.data: expected a JSON value'],
    ['a control character in a name', JSON.stringify({ type: 'hello', version: 2, name: 'no\u0007de', to: 'node2', nonce: NONCE }), 'HelloFrame.name: expected NodeName'],
    ['an over-long name', JSON.stringify({ type: 'msg', from: 'x'.repeat(129), time: 1, data: 1 }), 'MsgFrame.from: expected NodeName'],
  ];
  for (const [label, raw, expected] of failures) {
    it(`should refuse ${label}`, () => {
      const reason = leftOf(decodeFrame(raw));
      if (typeof expected === 'string') assert.equal(reason, expected);
      else assert.match(reason, expected);
    });
  }

  it('should accept a msg frame whose data is null', () => {
    const frame = rightOf(decodeFrame('{"type":"msg","from":"node1","time":1,"data":null}'));
    assert.deepEqual(frame, { type: 'msg', from: 'node1', time: 1, data: null });
  });

  it('should report at most three problems, on one line', () => {
    const reason = leftOf(decodeFrame('{"type":"auth"}'));
    assert.equal(reason.split('; ').length, 3);
    assert.doesNotMatch(reason, /\n/);
  });

  const secretInputs: readonly (readonly [label: string, raw: string])[] = [
    ['non-JSON starting with the secret', SECRET],
    ['non-JSON ending with the secret', `{${SECRET}`],
    ['unterminated JSON string holding the secret', `{"type":"msg","from":"node1","time":1,"data":"${SECRET}`],
    ['a bare word then the secret', `undefined ${SECRET}`],
    ['the secret as a ping id', JSON.stringify({ type: 'ping', id: SECRET })],
    ['the secret as a nonce', JSON.stringify({ type: 'hello', version: 2, name: 'node1', to: 'node2', nonce: SECRET })],
    ['the secret as an over-long name', JSON.stringify({ type: 'msg', from: SECRET.repeat(3), time: 1, data: 1 })],
    ['the secret with a control character as a name', JSON.stringify({ type: 'auth', proof: `${SECRET}\u0000` })],
    ['the secret as an unknown type', JSON.stringify({ type: SECRET })],
    ['the secret as a key', JSON.stringify({ [SECRET]: 1 })],
  ];
  for (const [label, raw] of secretInputs) {
    it(`should never echo the offending value: ${label}`, () => {
      const reason = leftOf(decodeFrame(raw));
      for (const fragment of SECRET_FRAGMENTS) {
        assert.ok(!reason.includes(fragment), `"${reason}" echoes "${fragment}"`);
      }
      assert.ok(reason.length < 200, `reason is ${reason.length} characters long`);
    });
  }
});

describe('reportErrors', () => {
  const Inner = t.type({ b: t.number }, 'Inner');
  const Outer = t.type({ a: Inner, list: t.array(t.string) }, 'Outer');
  const table: readonly (readonly [label: string, value: unknown, expected: readonly string[]])[] = [
    ['a nested field', { a: { b: 'x' }, list: [] }, ['Outer.a.b: expected number']],
    ['an array element', { a: { b: 1 }, list: ['ok', 2] }, ['Outer.list.1: expected string']],
    ['not an object', 'x', ['Outer: expected Outer']],
    ['two fields', { a: null, list: null }, ['Outer.a: expected Inner', 'Outer.list: expected Array<string>']],
  ];
  for (const [label, value, expected] of table) {
    it(`should name the path of ${label}`, () => {
      const result = Outer.decode(value);
      assert.ok(isLeft(result));
      assert.deepEqual(reportErrors(result.left), expected);
    });
  }

  it('should report each path once', () => {
    // a nested union's members fail at the same path; its member index is not shown
    const Holder = t.type({ x: t.union([t.type({ k: t.number }), t.type({ k: t.number, j: t.string })]) }, 'Holder');
    const result = Holder.decode({ x: { k: 'x', j: 'ok' } });
    assert.ok(isLeft(result));
    assert.equal(result.left.length, 2);
    assert.deepEqual(reportErrors(result.left), ['Holder.x.k: expected number']);
  });
});

describe('encodeMsg', () => {
  const values: readonly (readonly [label: string, data: unknown])[] = [
    ['null', null],
    ['zero', 0],
    ['a negative fraction', -1.5],
    ['true', true],
    ['an empty string', ''],
    ['a string with quotes, newlines and unicode', 'say "hi"\nto nöde \u2028 😀'],
    ['an empty array', []],
    ['a nested array', [1, [2, [3, null]]]],
    ['an empty object', {}],
    ['a nested object', { a: { b: [true, 'x'] }, c: null }],
  ];
  for (const [label, data] of values) {
    it(`should round-trip ${label} through decodeFrame`, () => {
      const frame = rightOf(decodeFrame(encodeMsg('node1', 1_700_000_000_000, data)));
      assert.deepEqual(frame, { type: 'msg', from: 'node1', time: 1_700_000_000_000, data });
    });
  }

  it('should escape the sender name', () => {
    const from = 'nöde "one" \\ two';
    const frame = rightOf(decodeFrame(encodeMsg(from, 0, 1)));
    assert.deepEqual(frame, { type: 'msg', from, time: 0, data: 1 });
  });

  it('should produce the same frame as encodeFrame', () => {
    const data = { x: [1, 'two'] };
    assert.equal(encodeMsg('node1', 5, data), encodeFrame({ type: 'msg', from: 'node1' as NodeName, time: 5 as Millis, data }));
  });

  const cycle: Record<string, unknown> = { a: 1 };
  cycle['self'] = cycle;
  const unsendable: readonly (readonly [label: string, data: unknown])[] = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a BigInt', 10n],
    ['a BigInt inside an object', { n: 10n }],
    ['a cycle', cycle],
  ];
  for (const [label, data] of unsendable) {
    it(`should throw a TypeError for ${label}`, () => {
      assert.throws(() => encodeMsg('node1', 1, data), TypeError);
    });
  }
});

describe('decodeFrame nesting limit', () => {
  const msgNested = (levels: number, inside = '0'): string =>
    `{"type":"msg","from":"R","time":1,"data":${'['.repeat(levels)}${inside}${']'.repeat(levels)}}`;

  it('accepts JSON nested up to MAX_JSON_DEPTH levels, the frame object included', () => {
    const result = decodeFrame(msgNested(MAX_JSON_DEPTH - 1));
    assert.equal(result._tag, 'Right');
  });

  it('refuses one level more, without parsing it, naming the limit', () => {
    const result = decodeFrame(msgNested(MAX_JSON_DEPTH));
    assert.deepEqual(result, { _tag: 'Left', left: `frame nests deeper than ${MAX_JSON_DEPTH} levels` });
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = `{"type":"msg","from":"R","time":1,"data":"${'[\\"{'.repeat(MAX_JSON_DEPTH * 2)}"}`;
    assert.equal(decodeFrame(text)._tag, 'Right');
  });
});
