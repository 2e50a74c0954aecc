/**
 * Property-test support: fast-check arbitraries that mangle mesh frames, and
 * an oracle, written apart from src/protocol, that says what a manager must
 * do with the bytes a client sends (accept which frame, or close with which
 * code). Mutations are plain data, so a counterexample prints readably.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, PROTOCOL_VERSION } from '../../src/limits.js';

/** One WebSocket message a client sends: text, raw bytes as a text frame, or a binary frame. */
export interface Outgoing {
  readonly payload: string | Buffer;
  /** Sent as a binary frame (else a text frame, even for a Buffer). */
  readonly binary: boolean;
}

/** The bytes of a message on the wire. */
export function bytesOf(out: Outgoing): Buffer {
  return typeof out.payload === 'string' ? Buffer.from(out.payload, 'utf8') : out.payload;
}

/** What a manager's transport and codec make of one message. */
export type Verdict =
  | { readonly kind: 'tooBig' }
  | { readonly kind: 'badUtf8' }
  | { readonly kind: 'notJson' }
  | { readonly kind: 'notFrame' }
  | { readonly kind: 'frame'; readonly type: string; readonly frame: Readonly<Record<string, unknown>> };

/** The last epoch millisecond a Date can hold. */
const MAX_DATE_MS = 8.64e15;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const HEX64 = /^[0-9a-f]{64}$/;

const isName = (v: unknown): boolean => typeof v === 'string' && v.length >= 1 && v.length <= 128 && !CONTROL.test(v);
const isHex = (v: unknown): boolean => typeof v === 'string' && HEX64.test(v);
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isRecord = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMillis = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_DATE_MS;

/**
 * The frame type of a parsed JSON value, by the wire contract (frames are
 * JSON objects tagged by `type`; extra fields are allowed), or undefined.
 */
export function frameTypeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  switch (o['type']) {
    case 'hello':
      return isInt(o['version']) && isName(o['name']) && isName(o['to']) && isHex(o['nonce']) ? 'hello' : undefined;
    case 'challenge':
      return isInt(o['version']) && isHex(o['nonce']) ? 'challenge' : undefined;
    case 'auth':
      return isHex(o['proof']) && isHex(o['instance']) && isMillis(o['incarnation']) && isRecord(o['meta']) ? 'auth' : undefined;
    case 'welcome':
      return isHex(o['proof']) && isHex(o['instance']) && isMillis(o['incarnation']) && isRecord(o['meta']) ? 'welcome' : undefined;
    case 'ping':
      return isMillis(o['id']) ? 'ping' : undefined;
    case 'pong':
      return isMillis(o['id']) ? 'pong' : undefined;
    case 'msg':
      return isName(o['from']) && isMillis(o['time']) && 'data' in o ? 'msg' : undefined;
    case 'leave':
      return 'leave';
    case 'req':
    case 'res':
      return isMillis(o['id']) && isName(o['from']) && isMillis(o['time']) && 'data' in o ? o['type'] : undefined;
    case 'chan':
      return isName(o['ch']) && isName(o['from']) && isMillis(o['time']) && 'data' in o ? 'chan' : undefined;
    case 'meta':
      return isRecord(o['data']) ? 'meta' : undefined;
    default:
      return undefined;
  }
}

/** Classifies text as the codec must: not JSON, JSON but no frame, or a frame of some type. */
export function classifyText(text: string): Verdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'notJson' };
  }
  // text nesting past MAX_JSON_DEPTH is refused, whatever the frame (even
  // nesting that a duplicate key later discards from the parsed value)
  if (textDepth(text) > MAX_JSON_DEPTH) return { kind: 'notFrame' };
  const type = frameTypeOf(parsed);
  return type === undefined ? { kind: 'notFrame' } : { kind: 'frame', type, frame: parsed as Record<string, unknown> };
}

/** How deep brackets nest in JSON text, strings removed first (a scalar is 0). */
function textDepth(text: string): number {
  const bare = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  let depth = 0;
  let deepest = 0;
  for (const char of bare) {
    if (char === '[' || char === '{') deepest = Math.max(deepest, ++depth);
    else if (char === ']' || char === '}') depth--;
  }
  return deepest;
}

/**
 * What a manager with `maxPayload` must make of `out`. `live`: the sender
 * has finished its handshake, so a binary frame is a binary payload frame
 * (0xB1, a 2-byte header length, a JSON header with `data: null`, the bytes);
 * during the handshake a binary frame is read as text.
 */
export function classify(out: Outgoing, maxPayload: number, live = false): Verdict {
  const bytes = bytesOf(out);
  if (bytes.length > maxPayload) return { kind: 'tooBig' };
  if (live && out.binary) return classifyBinary(bytes);
  if (!out.binary && !isUtf8(bytes)) return { kind: 'badUtf8' };
  return classifyText(bytes.toString('utf8'));
}

/** A binary payload frame, by the wire contract. */
function classifyBinary(bytes: Buffer): Verdict {
  if (bytes.length < 3 || bytes[0] !== 0xb1) return { kind: 'notFrame' };
  const length = bytes.readUInt16BE(1);
  if (length > 4096 || 3 + length > bytes.length) return { kind: 'notFrame' };
  const header = classifyText(bytes.toString('utf8', 3, 3 + length));
  if (header.kind !== 'frame') return header.kind === 'notJson' ? { kind: 'notJson' } : { kind: 'notFrame' };
  if (!['msg', 'req', 'res', 'chan'].includes(header.type) || header.frame['data'] !== null) return { kind: 'notFrame' };
  return { kind: 'frame', type: header.type, frame: { ...header.frame, data: bytes.subarray(3 + length) } };
}

/** The close code a manager must send for a verdict that ends the connection as a protocol fault. */
export function faultCode(verdict: Verdict): number | undefined {
  switch (verdict.kind) {
    case 'tooBig':
      return 1009;
    case 'badUtf8':
      return 1007;
    case 'notJson':
    case 'notFrame':
      return 1002;
    case 'frame':
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// arbitraries

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** A valid nonce, proof or instance: 64 lower-case hex characters. */
export const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex);

/** A valid NodeName (1-128 characters, no control characters), unicode included. */
export const nodeName = fc
  .oneof(
    fc.constantFrom('A', 'B', 'R', 'C', 'é'.repeat(100), 'x'.repeat(128), '\u{1F600}', ' '),
    fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }),
  )
  .filter(isName);

/** A valid Millis. */
export const millis = fc.oneof(fc.constantFrom(0, 1, MAX_DATE_MS), fc.nat(), fc.maxSafeNat().map((n) => n % (MAX_DATE_MS + 1)));

/** Nested `{"a":{"a":…}}` n levels deep. */
function nest(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** Values to put where a field should be: wrong types, edge numbers, long or odd strings, nested objects. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -0, -1, 1, 2, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 53, MAX_DATE_MS, MAX_DATE_MS + 1,
    'NaN', 'Infinity', '1', '', ' ', 'A', 'B', 'R', 'C', 'hello', '\u0000', '\u007f', 'a\nb', '\ud800', '\udfff\ud800',
    'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), `${'a'.repeat(63)}\u0000`, [], {}, [1, 2], { type: 'hello' }, 'é'.repeat(129),
  ),
  hex64,
  fc.constantFrom<unknown>(-1, -0.5, 0.5, 2 ** 53, 2 ** 53 + 2, MAX_DATE_MS + 1, MAX_DATE_MS - 0.5, -MAX_DATE_MS, 1e21),
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 100, max: 40_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 30_000, max: 40_000 }).map((n) => 'é'.repeat(n / 2)), // around a 32 KiB maxPayload
  fc.integer({ min: 1, max: 800 }).map(nest),
);

/** Raw JSON tokens, some invalid JSON, some numbers JSON.parse reads as 1. */
const RAW_TOKENS = ['-0', '-1', '9007199254740993', '8640000000000001', '8640000000000000', '1.0', '1e0', '10e-1', '1.0000000000000001', '1e308', '-1e308', '1e400', '"NaN"', '"1"', '0x1', 'NaN', 'Infinity', '01', '+1', '.5', 'null', 'true', '[]', '{}', '"\\u0000"', '"\\ud800"', '1,', ''] as const;

/** One change to a frame; object-level ops first, then text-level ones. */
export type Mutation =
  | { readonly op: 'drop'; readonly key: string }
  | { readonly op: 'set'; readonly key: string; readonly value: unknown }
  | { readonly op: 'flip'; readonly key: string; readonly at: number; readonly char: string }
  | { readonly op: 'retype'; readonly type: string }
  | { readonly op: 'rawToken'; readonly key: string; readonly token: string }
  | { readonly op: 'dupKey'; readonly key: string; readonly value: unknown; readonly atEnd: boolean }
  | { readonly op: 'wrap'; readonly how: 'array' | 'object' }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'affix'; readonly text: string; readonly atEnd: boolean };

const TEXT_OPS = new Set(['rawToken', 'dupKey', 'wrap', 'truncate', 'affix']);

/** Mutations of a frame whose fields are `keys`. */
export function mutation(keys: readonly string[]): fc.Arbitrary<Mutation> {
  const key = fc.constantFrom(...keys, 'extra', '__proto__', 'constructor');
  return fc.oneof(
    { weight: 1, arbitrary: key.map((k): Mutation => ({ op: 'drop', key: k })) },
    { weight: 4, arbitrary: fc.record({ key: fc.constantFrom(...keys), value: weirdValue }).map(({ key: k, value }): Mutation => ({ op: 'set', key: k, value })) },
    { weight: 1, arbitrary: fc.record({ key, value: weirdValue }).map(({ key: k, value }): Mutation => ({ op: 'set', key: k, value })) },
    {
      weight: 2,
      arbitrary: fc
        .record({ key: fc.constantFrom(...keys), at: fc.nat({ max: 200 }), char: fc.oneof(fc.constantFrom('0', 'f', 'A', 'G', 'g', ' ', '\u0000', 'é', '\ud800'), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })) })
        .map(({ key: k, at, char }): Mutation => ({ op: 'flip', key: k, at, char })),
    },
    { weight: 1, arbitrary: fc.constantFrom('hello', 'challenge', 'auth', 'welcome', 'ping', 'pong', 'msg', 'leave', 'HELLO', 'Auth', '', 'gossip').map((type): Mutation => ({ op: 'retype', type })) },
    { weight: 2, arbitrary: fc.record({ key: fc.constantFrom(...keys), token: fc.constantFrom(...RAW_TOKENS) }).map(({ key: k, token }): Mutation => ({ op: 'rawToken', key: k, token })) },
    { weight: 1, arbitrary: fc.record({ key, value: weirdValue, atEnd: fc.boolean() }).map(({ key: k, value, atEnd }): Mutation => ({ op: 'dupKey', key: k, value, atEnd })) },
    { weight: 1, arbitrary: fc.constantFrom<'array' | 'object'>('array', 'object').map((how): Mutation => ({ op: 'wrap', how })) },
    { weight: 1, arbitrary: fc.nat({ max: 400 }).map((at): Mutation => ({ op: 'truncate', at })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ text: fc.oneof(fc.constantFrom(' ', '\n', '\ufeff', 'x', '}', ',', '{}', '\u0000'), fc.string({ maxLength: 5 })), atEnd: fc.boolean() })
        .map(({ text, atEnd }): Mutation => ({ op: 'affix', text, atEnd })),
    },
  );
}

/** Applies `mutations` to `base` (object ops in order, then text ops in order) and serialises. */
export function applyMutations(base: Readonly<Record<string, unknown>>, mutations: readonly Mutation[]): string {
  const obj: Record<string, unknown> = { ...base };
  for (const m of mutations) {
    switch (m.op) {
      case 'drop':
        delete obj[m.key];
        break;
      case 'set':
        Object.defineProperty(obj, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
        break;
      case 'flip': {
        const current = obj[m.key];
        if (typeof current === 'string' && current.length > 0) {
          const at = m.at % current.length;
          obj[m.key] = current.slice(0, at) + m.char + current.slice(at + 1);
        }
        break;
      }
      case 'retype':
        obj['type'] = m.type;
        break;
      default:
        break;
    }
  }
  let text = JSON.stringify(obj);
  for (const m of mutations) {
    if (!TEXT_OPS.has(m.op)) continue;
    switch (m.op) {
      case 'rawToken': {
        if (!Object.hasOwn(obj, m.key)) break;
        const field = `${JSON.stringify(m.key)}:${JSON.stringify(obj[m.key])}`;
        text = text.replace(field, `${JSON.stringify(m.key)}:${m.token}`);
        break;
      }
      case 'dupKey': {
        const field = `${JSON.stringify(m.key)}:${JSON.stringify(m.value) ?? 'null'}`;
        text = m.atEnd && text.endsWith('}') ? `${text.slice(0, -1)},${field}}` : text.startsWith('{') ? `{${field},${text.slice(1)}` : text;
        break;
      }
      case 'wrap':
        text = m.how === 'array' ? `[${text}]` : `{"frame":${text}}`;
        break;
      case 'truncate':
        text = text.slice(0, m.at % (text.length + 1));
        break;
      case 'affix':
        text = m.atEnd ? text + m.text : m.text + text;
        break;
      default:
        break;
    }
  }
  return text;
}

/** How a mutated text goes on the wire: a text frame, its UTF-8 as a binary frame, or with a byte broken. */
export type Carrier = { readonly as: 'text' } | { readonly as: 'binary' } | { readonly as: 'brokenText'; readonly at: number; readonly byte: number };

export const carrier: fc.Arbitrary<Carrier> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Carrier>({ as: 'text' }) },
  { weight: 2, arbitrary: fc.constant<Carrier>({ as: 'binary' }) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat({ max: 300 }), byte: fc.integer({ min: 0x80, max: 0xff }) }).map(({ at, byte }): Carrier => ({ as: 'brokenText', at, byte })) },
);

/** Puts `text` on the wire as `how` says. */
export function carry(text: string, how: Carrier): Outgoing {
  switch (how.as) {
    case 'text':
      return { payload: text, binary: false };
    case 'binary':
      return { payload: Buffer.from(text, 'utf8'), binary: true };
    case 'brokenText': {
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length > 0) bytes[how.at % bytes.length] = how.byte;
      return { payload: bytes, binary: false };
    }
  }
}

/** Anything at all as one message: random bytes (binary or text frame) or random strings. */
export const garbage: fc.Arbitrary<Outgoing> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b): Outgoing => ({ payload: Buffer.from(b), binary: true })),
  fc.uint8Array({ maxLength: 300 }).map((b): Outgoing => ({ payload: Buffer.from(b), binary: false })),
  fc.string({ maxLength: 300 }).map((s): Outgoing => ({ payload: s, binary: false })),
  fc.string({ maxLength: 300, unit: 'binary' }).map((s): Outgoing => ({ payload: s, binary: false })),
  fc.json({ maxDepth: 4 }).map((s): Outgoing => ({ payload: s, binary: false })),
  fc.constantFrom<Outgoing>(
    { payload: '', binary: false },
    { payload: Buffer.alloc(0), binary: true },
    { payload: 'null', binary: false },
    { payload: '{}', binary: false },
    { payload: '[]', binary: false },
    { payload: '"hello"', binary: false },
    { payload: '{"type":"hello"}', binary: false },
    { payload: '\ufeff{"type":"welcome"}', binary: false },
    { payload: '{"type":"welcome"}', binary: false },
    { payload: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, binary: false },
  ),
);

/** A valid hello from `name` to `to` (protocol 2: no instance, nothing about the dialer but its name). */
export function helloFrame(name: string, to: string, nonce: string): Record<string, unknown> {
  return { type: 'hello', version: PROTOCOL_VERSION, name, to, nonce };
}

/** A valid auth: the dialer's proof, its instance and its incarnation (process start, ms). */
export function authFrame(proof: string, instance: string, incarnation: number): Record<string, unknown> {
  return { type: 'auth', proof, instance, incarnation, meta: {} };
}

export const HELLO_KEYS = ['type', 'version', 'name', 'to', 'nonce'] as const;
export const CHALLENGE_KEYS = ['type', 'version', 'nonce'] as const;
export const AUTH_KEYS = ['type', 'proof', 'instance', 'incarnation', 'meta'] as const;
export const WELCOME_KEYS = AUTH_KEYS;
export const MSG_KEYS = ['type', 'from', 'time', 'data'] as const;
export const PING_KEYS = ['type', 'id'] as const;

/** Any well-formed frame of any type (valid fields), for out-of-stage tests. */
export const anyValidFrame: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ name: nodeName, to: nodeName, nonce: hex64 }).map(({ name, to, nonce }) => helloFrame(name, to, nonce)),
  hex64.map((nonce) => ({ type: 'challenge', version: PROTOCOL_VERSION, nonce })),
  fc.record({ proof: hex64, instance: hex64, incarnation: millis }).map(({ proof, instance, incarnation }) => authFrame(proof, instance, incarnation)),
  fc.record({ proof: hex64, instance: hex64, incarnation: millis }).map((f) => ({ type: 'welcome', ...f, meta: {} })),
  millis.map((id) => ({ type: 'ping', id })),
  millis.map((id) => ({ type: 'pong', id })),
  fc.record({ from: nodeName, time: millis, data: fc.jsonValue({ maxDepth: 3 }) }).map((f) => ({ type: 'msg', ...f })),
  fc.constant({ type: 'leave' }),
);

/** JSON data for a msg: fc.jsonValue, with unicode strings (lone surrogates included). */
export const msgData: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
  fc.constantFrom<unknown>(null, 0, -0, '', [], {}, 'é', '\ud800', JSON.parse('{"__proto__":{"polluted":true}}') as unknown, 1e308, Number.MAX_SAFE_INTEGER),
);
