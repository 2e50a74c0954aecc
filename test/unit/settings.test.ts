import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SETTINGS, FAST_SETTINGS, mergeSettings, type Settings } from '../../src/settings.js';

const FIELDS = [
  'pingInterval',
  'joinDelay',
  'readTimeout',
  'connectInterval',
  'connectTimeout',
  'maxConnectInterval',
  'requestTimeout',
] as const satisfies readonly (keyof Settings)[];

/** Values no setting may take, with a label for the test name. */
const INVALID_VALUES: readonly (readonly [label: string, value: unknown])[] = [
  ['zero', 0],
  ['negative', -1],
  ['negative fractional', -0.5],
  ['fractional', 1.5],
  ['tiny fractional', 1e-3],
  ['numeric string', '1000'],
  ['empty string', ''],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['unsafe integer', Number.MAX_SAFE_INTEGER + 1],
  ['null', null],
  ['undefined', undefined],
  ['boolean', true],
  ['object', { ms: 1000 }],
  ['array', [1000]],
];

/** A mutable copy of the defaults, to prove a refused update leaves its base untouched. */
function base(): Settings {
  return { ...DEFAULT_SETTINGS };
}

describe('DEFAULT_SETTINGS', () => {
  it('should keep the seed defaults plus the back-off cap', () => {
    assert.deepEqual(DEFAULT_SETTINGS, {
      pingInterval: 5000,
      joinDelay: 500,
      readTimeout: 11000,
      connectInterval: 2000,
      connectTimeout: 10000,
      maxConnectInterval: 30000,
      requestTimeout: 5000,
    });
    assert.ok(Object.isFrozen(DEFAULT_SETTINGS));
  });

  for (const [name, settings] of [
    ['DEFAULT_SETTINGS', DEFAULT_SETTINGS],
    ['FAST_SETTINGS', FAST_SETTINGS],
  ] as const) {
    it(`should pass its own validation: ${name}`, () => {
      assert.deepEqual(mergeSettings(settings, { ...settings }), settings);
    });
  }
});

describe('mergeSettings', () => {
  it('should return the base itself for an undefined update', () => {
    const b = base();
    assert.equal(mergeSettings(b, undefined), b);
    assert.equal(mergeSettings(DEFAULT_SETTINGS, undefined), DEFAULT_SETTINGS);
  });

  it('should return the defaults, frozen, for an empty update', () => {
    const merged = mergeSettings(base(), {});
    assert.deepEqual(merged, DEFAULT_SETTINGS);
    assert.ok(Object.isFrozen(merged));
  });

  const accepted: readonly (readonly [label: string, update: Partial<Settings>, expected: Partial<Settings>])[] = [
    ['one field', { pingInterval: 1000 }, { pingInterval: 1000 }],
    ['the smallest value', { connectInterval: 1 }, { connectInterval: 1 }],
    ['joinDelay one below readTimeout', { joinDelay: 10999 }, { joinDelay: 10999 }],
    ['pingInterval one below readTimeout', { pingInterval: 10999 }, { pingInterval: 10999 }],
    ['connectInterval equal to maxConnectInterval', { connectInterval: 30000 }, { connectInterval: 30000 }],
    ['readTimeout raised together with joinDelay', { readTimeout: 60000, joinDelay: 20000 }, { readTimeout: 60000, joinDelay: 20000 }],
    ['both back-off fields at once', { connectInterval: 50000, maxConnectInterval: 60000 }, { connectInterval: 50000, maxConnectInterval: 60000 }],
    ['the largest safe integer', { connectTimeout: Number.MAX_SAFE_INTEGER }, { connectTimeout: Number.MAX_SAFE_INTEGER }],
  ];
  for (const [label, update, expected] of accepted) {
    it(`should accept ${label}`, () => {
      const b = base();
      const merged = mergeSettings(b, update);
      assert.deepEqual(merged, { ...DEFAULT_SETTINGS, ...expected });
      assert.ok(Object.isFrozen(merged));
      assert.deepEqual(b, DEFAULT_SETTINGS, 'base unchanged');
    });
  }

  for (const field of FIELDS) {
    for (const [label, value] of INVALID_VALUES) {
      it(`should refuse ${field} = ${label} with a TypeError naming ${field}`, () => {
        const b = base();
        assert.throws(
          () => mergeSettings(b, { [field]: value }),
          (error: unknown) => {
            assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
            assert.match(error.message, new RegExp(`\\b${field}\\b`));
            return true;
          },
        );
        assert.deepEqual(b, DEFAULT_SETTINGS, 'base unchanged');
      });
    }
  }

  const notObjects: readonly (readonly [label: string, update: unknown])[] = [
    ['null', null],
    ['a number', 5000],
    ['a string', 'pingInterval=5000'],
    ['an array', [5000]],
    ['a boolean', true],
  ];
  for (const [label, update] of notObjects) {
    it(`should refuse ${label} as an update`, () => {
      assert.throws(() => mergeSettings(base(), update), TypeError);
    });
  }

  const unknownFields: readonly (readonly [label: string, update: object, field: string])[] = [
    ['a misspelt field', { pingInteval: 1000 }, 'pingInteval'],
    ['a seed global', { channelBufferSize: 10 }, 'channelBufferSize'],
    ['an unknown field beside a valid one', { pingInterval: 1000, extra: 1 }, 'extra'],
    ['an inherited name: constructor', { constructor: 1000 }, 'constructor'],
    ['an inherited name: toString', { toString: 1000 }, 'toString'],
    ['an inherited name: hasOwnProperty', { hasOwnProperty: 1000 }, 'hasOwnProperty'],
    ['__proto__ as an own key (from JSON)', JSON.parse('{"__proto__": 1000}') as object, '__proto__'],
  ];
  for (const [label, update, field] of unknownFields) {
    it(`should refuse ${label}, naming it`, () => {
      const b = base();
      assert.throws(
        () => mergeSettings(b, update),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
          assert.ok(error.message.includes(`unknown field "${field}"`), error.message);
          return true;
        },
      );
      assert.deepEqual(b, DEFAULT_SETTINGS, 'base unchanged');
    });
  }

  const crossField: readonly (readonly [label: string, update: Partial<Settings>, names: readonly string[]])[] = [
    ['joinDelay equal to readTimeout', { joinDelay: 11000 }, ['joinDelay', 'readTimeout']],
    ['joinDelay above readTimeout', { joinDelay: 20000 }, ['joinDelay', 'readTimeout']],
    ['readTimeout lowered to joinDelay', { readTimeout: 500 }, ['joinDelay', 'readTimeout']],
    ['pingInterval equal to readTimeout', { pingInterval: 11000 }, ['pingInterval', 'readTimeout']],
    ['pingInterval above readTimeout', { pingInterval: 12000 }, ['pingInterval', 'readTimeout']],
    ['readTimeout lowered to pingInterval', { readTimeout: 5000 }, ['pingInterval', 'readTimeout']],
    ['connectInterval above maxConnectInterval', { connectInterval: 30001 }, ['connectInterval', 'maxConnectInterval']],
    ['maxConnectInterval lowered below connectInterval', { maxConnectInterval: 1999 }, ['connectInterval', 'maxConnectInterval']],
  ];
  for (const [label, update, names] of crossField) {
    it(`should refuse ${label}, naming ${names.join(' and ')}`, () => {
      const b = base();
      assert.throws(
        () => mergeSettings(b, update),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
          for (const name of names) assert.match(error.message, new RegExp(`\\b${name}\\b`));
          return true;
        },
      );
      assert.deepEqual(b, DEFAULT_SETTINGS, 'base unchanged');
    });
  }

  const halfValid: readonly (readonly [label: string, update: object])[] = [
    ['a valid field beside an invalid one', { pingInterval: 1000, joinDelay: 0 }],
    ['valid fields that break a cross-field rule together', { pingInterval: 1000, readTimeout: 900 }],
    ['a valid field beside an unknown one', { connectTimeout: 3000, bogus: 1 }],
  ];
  for (const [label, update] of halfValid) {
    it(`should never half-apply ${label}`, () => {
      const b = base();
      const frozen = mergeSettings(b, {});
      assert.throws(() => mergeSettings(b, update), TypeError);
      assert.throws(() => mergeSettings(frozen, update), TypeError);
      assert.deepEqual(b, DEFAULT_SETTINGS, 'mutable base unchanged');
      assert.deepEqual(frozen, DEFAULT_SETTINGS, 'frozen base unchanged');
    });
  }

  it('should not keep a reference to the update', () => {
    const update = { pingInterval: 1000 };
    const merged = mergeSettings(base(), update);
    update.pingInterval = 0;
    assert.equal(merged.pingInterval, 1000);
  });

  it('should return an object that cannot be changed afterwards', () => {
    const merged = mergeSettings(base(), { joinDelay: 700 });
    assert.throws(() => {
      (merged as { joinDelay: number }).joinDelay = 0;
    }, TypeError);
    assert.equal(merged.joinDelay, 700);
  });
});
