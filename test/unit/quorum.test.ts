import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasQuorum } from '../../src/protocol/quorum.js';

/**
 * DESIGN.md: "with 0 or 1 configured peers it is true; otherwise
 * (configured + 1) / 2 < (online peers + 1)". Written out by hand:
 * the cluster has configured + 1 members, this node counts as online.
 */
const TABLE: readonly (readonly [configured: number, online: number, quorum: boolean])[] = [
  [0, 0, true],
  [1, 0, true],
  [1, 1, true],
  // 2 peers, 3 members: 1.5 < online + 1 → online ≥ 1
  [2, 0, false],
  [2, 1, true],
  [2, 2, true],
  // 3 peers, 4 members: 2 < online + 1 → online ≥ 2
  [3, 0, false],
  [3, 1, false],
  [3, 2, true],
  [3, 3, true],
  // 4 peers, 5 members: 2.5 < online + 1 → online ≥ 2
  [4, 1, false],
  [4, 2, true],
  [4, 4, true],
  // 5 peers, 6 members: 3 < online + 1 → online ≥ 3
  [5, 2, false],
  [5, 3, true],
  // 6 peers, 7 members: 3.5 < online + 1 → online ≥ 3
  [6, 2, false],
  [6, 3, true],
  // 7 peers, 8 members: 4 < online + 1 → online ≥ 4
  [7, 3, false],
  [7, 4, true],
  // 9 peers, 10 members: 5 < online + 1 → online ≥ 5
  [9, 4, false],
  [9, 5, true],
  // 100 peers, 101 members: 50.5 < online + 1 → online ≥ 50
  [100, 49, false],
  [100, 50, true],
];

/** The rule as DESIGN.md states it. */
function rule(configured: number, online: number): boolean {
  return configured <= 1 || (configured + 1) / 2 < online + 1;
}

/** The same rule as a majority count: more than half the members, this node included, are up. */
function majority(configured: number, online: number): boolean {
  const members = configured + 1;
  const up = online + 1;
  return configured <= 1 || 2 * up > members;
}

describe('hasQuorum', () => {
  for (const [configured, online, quorum] of TABLE) {
    it(`should be ${quorum} with ${online} of ${configured} configured peers online`, () => {
      assert.equal(hasQuorum(configured, online), quorum);
    });
  }

  it('should match the table with the rule of DESIGN.md', () => {
    for (const [configured, online, quorum] of TABLE) {
      assert.equal(rule(configured, online), quorum, `rule(${configured}, ${online})`);
      assert.equal(majority(configured, online), quorum, `majority(${configured}, ${online})`);
    }
  });

  it('should follow the rule for every count up to 64 peers', () => {
    for (let configured = 0; configured <= 64; configured++) {
      for (let online = 0; online <= configured; online++) {
        assert.equal(hasQuorum(configured, online), rule(configured, online), `hasQuorum(${configured}, ${online})`);
        assert.equal(hasQuorum(configured, online), majority(configured, online), `majority(${configured}, ${online})`);
      }
    }
  });

  it('should never lose quorum when one more peer comes online', () => {
    for (let configured = 0; configured <= 64; configured++) {
      for (let online = 0; online < configured; online++) {
        if (hasQuorum(configured, online)) assert.ok(hasQuorum(configured, online + 1), `${configured}/${online + 1}`);
      }
    }
  });

  it('should always hold with every configured peer online', () => {
    for (let configured = 0; configured <= 64; configured++) assert.ok(hasQuorum(configured, configured));
  });

  it('should need a peer online once two or more are configured', () => {
    for (let configured = 2; configured <= 64; configured++) assert.equal(hasQuorum(configured, 0), false);
  });
});
