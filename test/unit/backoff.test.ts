import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_JITTER, backoffDelay } from '../../src/protocol/backoff.js';
import { DEFAULT_SETTINGS, FAST_SETTINGS } from '../../src/settings.js';

const DEFAULTS = { connectInterval: 2000, maxConnectInterval: 30000 };
const UNCAPPED = { connectInterval: 2000, maxConnectInterval: Number.MAX_SAFE_INTEGER };
const TOP = 0.999999;

function assertWholeInRange(delay: number, max: number): void {
  assert.ok(Number.isSafeInteger(delay), `${delay} is not a safe integer`);
  assert.ok(delay >= 1, `${delay} < 1`);
  assert.ok(delay <= max, `${delay} > cap ${max}`);
}

describe('backoffDelay', () => {
  it('should take a quarter at most away: BACKOFF_JITTER is 0.25', () => {
    assert.equal(BACKOFF_JITTER, 0.25);
  });

  it('should use the settings names of DEFAULT_SETTINGS', () => {
    assert.equal(backoffDelay(0, DEFAULT_SETTINGS, TOP), 2000);
    assert.equal(backoffDelay(0, FAST_SETTINGS, TOP), 100);
  });

  // ceiling b = min(30000, 2000 · 2^attempt); delay = round(b · (1 - 0.25 · (1 - random)))
  const table: readonly (readonly [attempt: number, random: number, expected: number])[] = [
    [0, 0, 1500],
    [0, 0.5, 1750],
    [0, TOP, 2000],
    [1, 0, 3000],
    [1, 0.5, 3500],
    [1, TOP, 4000],
    [2, 0, 6000],
    [2, TOP, 8000],
    [3, 0, 12000],
    [3, TOP, 16000],
    [4, 0, 22500],
    [4, TOP, 30000],
    [5, 0, 22500],
    [5, TOP, 30000],
    [100, 0, 22500],
    [100, TOP, 30000],
    [1e9, 0, 22500],
    [Number.MAX_SAFE_INTEGER, TOP, 30000],
    [Number.POSITIVE_INFINITY, TOP, 30000],
  ];
  for (const [attempt, random, expected] of table) {
    it(`should wait ${expected} ms before attempt ${attempt} with random ${random}`, () => {
      assert.equal(backoffDelay(attempt, DEFAULTS, random), expected);
    });
  }

  it('should double with each attempt until the cap', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      assert.equal(backoffDelay(attempt + 1, UNCAPPED, 0), 2 * backoffDelay(attempt, UNCAPPED, 0), `attempt ${attempt}`);
    }
  });

  it('should never go past the cap nor below three quarters of the ceiling', () => {
    for (let attempt = 0; attempt <= 64; attempt++) {
      const ceiling = Math.min(DEFAULTS.maxConnectInterval, DEFAULTS.connectInterval * 2 ** attempt);
      for (const random of [0, 0.1, 0.25, 0.5, 0.75, 0.9, TOP]) {
        const delay = backoffDelay(attempt, DEFAULTS, random);
        assertWholeInRange(delay, DEFAULTS.maxConnectInterval);
        assert.ok(delay >= Math.floor(ceiling * (1 - BACKOFF_JITTER)), `attempt ${attempt} random ${random}: ${delay}`);
        assert.ok(delay <= ceiling, `attempt ${attempt} random ${random}: ${delay} > ${ceiling}`);
      }
    }
  });

  it('should grow with random', () => {
    let previous = 0;
    for (let i = 0; i <= 100; i++) {
      const delay = backoffDelay(2, DEFAULTS, Math.min(i / 100, TOP));
      assert.ok(delay >= previous, `random ${i / 100}: ${delay} < ${previous}`);
      previous = delay;
    }
  });

  it('should not overflow for a huge attempt under an uncapped maximum', () => {
    for (const attempt of [53, 1000, 1e9, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      for (const random of [0, TOP]) {
        const delay = backoffDelay(attempt, UNCAPPED, random);
        assertWholeInRange(delay, UNCAPPED.maxConnectInterval);
      }
    }
  });

  const tiny: readonly (readonly [label: string, settings: { connectInterval: number; maxConnectInterval: number }, attempt: number, random: number, expected: number])[] = [
    ['1 ms, random 0', { connectInterval: 1, maxConnectInterval: 1 }, 0, 0, 1],
    ['1 ms, random top', { connectInterval: 1, maxConnectInterval: 1 }, 0, TOP, 1],
    ['1 ms, many attempts', { connectInterval: 1, maxConnectInterval: 1 }, 40, 0, 1],
    ['1 ms doubled', { connectInterval: 1, maxConnectInterval: 100 }, 1, TOP, 2],
    ['3 ms, random 0', { connectInterval: 3, maxConnectInterval: 100 }, 0, 0, 2],
  ];
  for (const [label, settings, attempt, random, expected] of tiny) {
    it(`should wait at least 1 ms: ${label} → ${expected}`, () => {
      assert.equal(backoffDelay(attempt, settings, random), expected);
    });
  }

  const odd: readonly (readonly [label: string, attempt: number, random: number, expected: number | undefined])[] = [
    ['a negative attempt counts as 0', -3, 0, 1500],
    ['-Infinity attempts count as 0', Number.NEGATIVE_INFINITY, TOP, 2000],
    ['a fractional attempt rounds down', 1.7, 0, 3000],
    ['random 1 is the ceiling', 2, 1, 8000],
    ['random above 1 is the ceiling', 2, 7, 8000],
    ['a negative random is the floor', 2, -1, 6000],
    ['a NaN attempt stays in range', Number.NaN, 0.5, undefined],
    ['a NaN random stays in range', 2, Number.NaN, undefined],
    ['both NaN stay in range', Number.NaN, Number.NaN, undefined],
  ];
  for (const [label, attempt, random, expected] of odd) {
    it(`should return whole milliseconds in range: ${label}`, () => {
      const delay = backoffDelay(attempt, DEFAULTS, random);
      assertWholeInRange(delay, DEFAULTS.maxConnectInterval);
      if (expected !== undefined) assert.equal(delay, expected);
    });
  }
});
