/**
 * ConnectionReader: one subscription to a connection's events for its whole
 * life, each event read once for every current reader, and the end told to
 * whoever waits for it (the session's frames and its close grace).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Observable, Subject } from 'rxjs';
import { ConnectionReader } from '../../src/session/reader.js';
import type { SocketEvent } from '../../src/transport/types.js';

const msg = (data: string): SocketEvent => ({ type: 'message', data });
const CLOSE: SocketEvent = { type: 'close', cause: 'normal', reason: '', local: false };

/** A connection whose events the test pushes, counting subscriptions and reads. */
function setUp(): {
  events$: Subject<SocketEvent>;
  reader: ConnectionReader<string>;
  counts: { reads: number; subscriptions: number; live: number };
} {
  const events$ = new Subject<SocketEvent>();
  const counts = { reads: 0, subscriptions: 0, live: 0 };
  const conn$ = new Observable<SocketEvent>((subscriber) => {
    counts.subscriptions++;
    counts.live++;
    const inner = events$.subscribe(subscriber);
    return () => {
      counts.live--;
      inner.unsubscribe();
    };
  });
  const reader = new ConnectionReader<string>(conn$, (event) => {
    counts.reads++;
    if (event.type === 'close') throw new Error('closed');
    if (event.data === 'bad') throw new Error('bad frame');
    return String(event.data);
  });
  return { events$, reader, counts };
}

describe('ConnectionReader', () => {
  it('should read each event once, for every current reader, over one subscription to the connection', () => {
    const { events$, reader, counts } = setUp();
    const a: string[] = [];
    const b: string[] = [];
    reader.values$.subscribe((v) => a.push(v));
    reader.values$.subscribe((v) => b.push(v));
    events$.next(msg('x'));
    events$.next(msg('y'));
    assert.deepEqual(a, ['x', 'y']);
    assert.deepEqual(b, ['x', 'y']);
    assert.equal(counts.reads, 2, 'one read per event, not one per reader');
    assert.equal(counts.subscriptions, 1);
  });

  it('should keep the connection subscribed after every reader left, reading nothing meanwhile, until its events complete', () => {
    const { events$, reader, counts } = setUp();
    const first = reader.values$.subscribe();
    events$.next(msg('x'));
    first.unsubscribe();
    events$.next(msg('unread'));
    assert.equal(counts.reads, 1, 'with no reader, an event is not read');
    assert.equal(counts.live, 1, 'still subscribed to the connection');
    const late: string[] = [];
    reader.values$.subscribe((v) => late.push(v));
    events$.next(msg('z'));
    assert.deepEqual(late, ['z']);
    assert.equal(counts.subscriptions, 1, 'the same subscription, not a second one');
    events$.complete();
    assert.equal(counts.live, 0);
  });

  it('should fail every current reader with what the read threw, and let them go', () => {
    const { events$, reader, counts } = setUp();
    const errors: unknown[] = [];
    const got: string[] = [];
    reader.values$.subscribe({ next: (v) => got.push(v), error: (e: unknown) => errors.push(e) });
    reader.values$.subscribe({ error: (e: unknown) => errors.push(e) });
    events$.next(msg('x'));
    events$.next(msg('bad'));
    events$.next(msg('after'));
    assert.deepEqual(got, ['x']);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['bad frame', 'bad frame'],
    );
    assert.equal(counts.reads, 2, 'the event after the failure is read by no one');
  });

  it('should hand a value to the readers there when it came: one that subscribes while it is handed out waits for the next', () => {
    const { events$, reader } = setUp();
    const seen: string[] = [];
    const first = reader.values$.subscribe((v) => {
      seen.push(`first ${v}`);
      first.unsubscribe();
      // eslint-disable-next-line rxjs-x/no-nested-subscribe -- a reader that comes while a value is handed out is the case under test
      reader.values$.subscribe((w) => seen.push(`second ${w}`));
    });
    events$.next(msg('a'));
    events$.next(msg('b'));
    assert.deepEqual(seen, ['first a', 'second b']);
  });

  it('should tell closed$ once the events complete: true then complete, at once for a subscriber after the end', () => {
    const { events$, reader } = setUp();
    const told: string[] = [];
    const errors: unknown[] = [];
    reader.values$.subscribe({ error: (e: unknown) => errors.push(e) });
    reader.closed$.subscribe({ next: (v) => told.push(`early ${v}`), complete: () => told.push('early done') });
    events$.next(CLOSE);
    assert.equal(told.length, 0, 'the close event fails the readers; the end is the completion');
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['closed'],
    );
    events$.complete();
    reader.closed$.subscribe({ next: (v) => told.push(`late ${v}`), complete: () => told.push('late done') });
    const completed: string[] = [];
    reader.values$.subscribe({ complete: () => completed.push('values done') });
    assert.deepEqual(told, ['early true', 'early done', 'late true', 'late done']);
    assert.deepEqual(completed, ['values done']);
  });

  it('should pass an error of the connection\'s events to every reader and every waiter, and to later subscribers', () => {
    const { events$, reader } = setUp();
    const errors: string[] = [];
    reader.values$.subscribe({ error: (e: unknown) => errors.push(`reader ${(e as Error).message}`) });
    reader.closed$.subscribe({ error: (e: unknown) => errors.push(`waiter ${(e as Error).message}`) });
    events$.error(new Error('broken'));
    reader.closed$.subscribe({ error: (e: unknown) => errors.push(`late ${(e as Error).message}`) });
    assert.deepEqual(errors, ['reader broken', 'waiter broken', 'late broken']);
  });

  it('should subscribe the connection for closed$ alone, and let a waiter go that unsubscribes', () => {
    const { events$, reader, counts } = setUp();
    const told: string[] = [];
    const waiting = reader.closed$.subscribe(() => told.push('gone'));
    assert.equal(counts.subscriptions, 1);
    waiting.unsubscribe();
    events$.complete();
    assert.deepEqual(told, []);
  });
});
