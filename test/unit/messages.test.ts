/**
 * Error messages a user reads: they name the field in the user's words, say
 * what was found, and leak no internal codec names (PartialSettings,
 * PositiveInt) nor repeat the type.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as t from 'io-ts';
import { Packet } from '../../src/packet.js';
import { DEFAULT_SETTINGS, mergeSettings } from '../../src/settings.js';

function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return String(error);
  }
  assert.fail('expected a throw');
}

describe('settings errors', () => {
  const table: readonly (readonly [update: Record<string, unknown>, message: string])[] = [
    [{ readTimeout: 0 }, 'TypeError: Invalid settings: readTimeout must be a positive whole number of milliseconds (got 0)'],
    [{ joinDelay: 1.5 }, 'TypeError: Invalid settings: joinDelay must be a positive whole number of milliseconds (got 1.5)'],
    [{ pingInterval: '5s' }, 'TypeError: Invalid settings: pingInterval must be a positive whole number of milliseconds (got "5s")'],
    [{ connectTimeout: undefined }, 'TypeError: Invalid settings: connectTimeout must be a positive whole number of milliseconds (got nothing)'],
    [
      { readTimeout: -1, maxConnectInterval: null },
      'TypeError: Invalid settings: readTimeout must be a positive whole number of milliseconds (got -1); maxConnectInterval must be a positive whole number of milliseconds (got null)',
    ],
    [{ readTimeout: 'x'.repeat(500) }, 'TypeError: Invalid settings: readTimeout must be a positive whole number of milliseconds (got "xxxxxxxxxxxxxxxxxxxx...)'],
  ];
  for (const [update, message] of table) {
    it(`words ${JSON.stringify(update).slice(0, 40)} for a user`, () => {
      const text = thrown(() => mergeSettings(DEFAULT_SETTINGS, update));
      assert.equal(text, message);
      assert.doesNotMatch(text, /PositiveInt|PartialSettings|Settings\./);
    });
  }
});

describe('packet.message(codec) errors', () => {
  it('name the codec once and each wrong field with the kind found', () => {
    const Order = t.type({ id: t.number, item: t.string });
    const name = Order.name;
    const text = thrown(() => new Packet('node2', new Date(0), { id: 'x' }).message(Order));
    assert.equal(text, `Error: packet from node2 does not match ${name}: id: expected number, got string; item: expected string, got nothing`);
    assert.equal(text.split(name).length, 2, 'the type is written once');
    assert.equal(thrown(() => new Packet('node2', new Date(0), 'just you').message(Order)), `Error: packet from node2 does not match ${name}: got string`);
  });
});
