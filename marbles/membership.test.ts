import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { map, mergeMap, scan, from, filter, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  initialMembership,
  reduceMembership,
  type LinkRef,
  type MembershipEffect,
  type MembershipInput,
  type MembershipStep,
} from '../src/membership/index.js';

/**
 * The membership fold as the manager runs it: inputs in a `scan`, effects
 * out. Each spec draws inputs over time and the announcements (joins,
 * leaves, closes) they cause; the fold adds no time of its own, so every
 * announcement lands in the frame of the input that caused it.
 */
const membership$ = (inputs$: Observable<MembershipInput>): Observable<string> =>
  inputs$.pipe(
    scan((step: MembershipStep, input) => reduceMembership(step.state, input), { state: initialMembership('self'), effects: [] }),
    mergeMap((step) => from(step.effects)),
    filter((e: MembershipEffect) => e.type !== 'log' && e.type !== 'gossip' && e.type !== 'recheck'),
    map((e) =>
      e.type === 'join'
        ? `+${e.node}`
        : e.type === 'leave'
          ? `-${e.node}:${e.reason}`
          : e.type === 'update'
            ? `~${e.node}`
            : e.type === 'suspect'
              ? `?${e.node}:${e.suspect}`
              : e.type === 'holdJoin'
                ? `h${e.link.peer}${e.link.seq}`
                : `x${e.link.peer}${e.link.seq}:${e.reason}`,
    ),
  );

const link = (peer: string, seq: number, opts: { instance?: string; incarnation?: number; dialer?: string } = {}): LinkRef => ({
  peer,
  seq,
  instance: opts.instance ?? `${peer}-1`,
  incarnation: opts.incarnation ?? 1,
  dialer: opts.dialer ?? 'self',
  remote: peer,
  metadata: {},
});

describe('membership fold', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
  });
  it('should announce a join at joinDue and a leave with the reason of the down', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const b = link('b', 1);
      const inputs$ = hot('  c-u----j---d-', {
        c: { type: 'configure', name: 'b', addr: 'b' },
        u: { type: 'up', link: b, time: 2 },
        j: { type: 'joinDue', link: b, time: 7 },
        d: { type: 'down', link: b, reason: 'timeout', time: 11 },
      } satisfies Record<string, MembershipInput>);
      const expected = '   -------J---L-';
      expectObservable(membership$(inputs$)).toBe(expected, { J: '+b', L: '-b:timeout' });
    });
  });

  it('should tell each leave reason as the session gave it, and shutdown when the peer announced it', () => {
    for (const reason of ['lost', 'slow', 'removed', 'duplicate'] as const) {
      testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
      testScheduler.run(({ hot, expectObservable }) => {
        const b = link('b', 1);
        const inputs$ = hot('  cuj-d', {
          c: { type: 'configure', name: 'b', addr: 'b' },
          u: { type: 'up', link: b, time: 1 },
          j: { type: 'joinDue', link: b, time: 2 },
          d: { type: 'down', link: b, reason, time: 4 },
        } satisfies Record<string, MembershipInput>);
        expectObservable(membership$(inputs$)).toBe('--J-L', { J: '+b', L: `-b:${reason}` });
      });
    }
    testScheduler = new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));
    testScheduler.run(({ hot, expectObservable }) => {
      const b = link('b', 1);
      const inputs$ = hot('  cujbd', {
        c: { type: 'configure', name: 'b', addr: 'b' },
        u: { type: 'up', link: b, time: 1 },
        j: { type: 'joinDue', link: b, time: 2 },
        b: { type: 'leaving', link: b },
        d: { type: 'down', link: b, reason: 'lost', time: 4 },
      } satisfies Record<string, MembershipInput>);
      expectObservable(membership$(inputs$)).toBe('--J-L', { J: '+b', L: '-b:shutdown' });
    });
  });

  it('should resolve two links to one peer with one close and one join', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const ours = link('b', 1, { dialer: 'self' });
      const theirs = link('b', 2, { dialer: 'b' }); // 'b' < 'self': both ends keep this one
      const inputs$ = hot('  cu-v-d---j', {
        c: { type: 'configure', name: 'b', addr: 'b' },
        u: { type: 'up', link: ours, time: 1 },
        v: { type: 'up', link: theirs, time: 3 },
        d: { type: 'down', link: ours, reason: 'duplicate', time: 5 },
        j: { type: 'joinDue', link: theirs, time: 9 },
      } satisfies Record<string, MembershipInput>);
      expectObservable(membership$(inputs$)).toBe('---X-----J', { X: 'xb1:duplicate', J: '+b' });
    });
  });

  it('should replace a restarted peer at once: the old instance leaves, the new one joins after its joinDue', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const old = link('b', 1, { instance: 'i-old', incarnation: 10 });
      const fresh = link('b', 2, { instance: 'i-new', incarnation: 20 });
      const inputs$ = hot('  cuj--n-d--k', {
        c: { type: 'configure', name: 'b', addr: 'b' },
        u: { type: 'up', link: old, time: 1 },
        j: { type: 'joinDue', link: old, time: 2 },
        n: { type: 'up', link: fresh, time: 5 },
        d: { type: 'down', link: old, reason: 'restarted', time: 7 },
        k: { type: 'joinDue', link: fresh, time: 10 },
      } satisfies Record<string, MembershipInput>);
      expectObservable(membership$(inputs$)).toBe('--J--(XL)-K', { J: '+b', X: 'xb1:restarted', L: '-b:restarted', K: '+b' });
    });
  });

  it('should close a link whose handshake finishes after removeNode, and announce nothing', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const b = link('b', 1);
      const inputs$ = hot('  c-r-u--j', {
        c: { type: 'configure', name: 'b', addr: 'b' },
        r: { type: 'unconfigure', name: 'b' },
        u: { type: 'up', link: b, time: 4 },
        j: { type: 'joinDue', link: b, time: 7 },
      } satisfies Record<string, MembershipInput>);
      expectObservable(membership$(inputs$)).toBe('----X---', { X: 'xb1:removed' });
    });
  });

  it('should complete with its inputs, pass errors through, and emit nothing for no input', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      expectObservable(membership$(hot<MembershipInput>('  ---|'))).toBe('---|');
      expectObservable(membership$(cold<MembershipInput>(' --#'))).toBe('--#');
      expectObservable(membership$(hot<MembershipInput>('  ----'))).toBe('----');
    });
  });
});
