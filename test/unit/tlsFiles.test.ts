import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { asyncScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { burstEnds } from '../../src/tlsFiles.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => assert.deepEqual(actual, expected));
}

const V = { a: undefined, x: undefined };

describe('burstEnds (the TLS folder watch)', () => {
  it('should end a burst quietMs after its last change', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // changes at 0, 100 and 200 ms; quiet 300, max wait 3000: one reload, at 500
      const changes$ = cold<void>('a 99ms a 99ms a', V);
      expectObservable(changes$.pipe(burstEnds(300, 3000, asyncScheduler))).toBe('500ms x', V);
    });
  });

  it('should end a burst maxWaitMs after its first change when the folder never falls quiet', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // a change every 70 ms from 0 to 4830 ms (a file written beside the certificates all the time):
      // a reload at 3000 (3 s after the burst's first change), then 300 ms after the last change, at 5130
      const changes$ = cold<void>(Array.from({ length: 70 }, () => 'a').join(' 69ms '), V);
      expectObservable(changes$.pipe(burstEnds(300, 3000, asyncScheduler))).toBe('3000ms x 2129ms x', V);
    });
  });
});
