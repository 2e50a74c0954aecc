import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agreedMembers, viewId, type Report } from '../../src/membership/view.js';
import { quorumBy } from '../../src/protocol/quorum.js';

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** A report of `node`: whom it sees and whom it lost. */
function report(node: string, sees: readonly string[], down: readonly string[] = []): Report {
  return { node, inc: 1, v: 1, sees: [...sees].sort(), down: [...down].sort(), view: '0000000000000000' };
}

const full = (node: string): Report => report(node, NAMES.filter((n) => n !== node));

/**
 * The view computed by `self` from a set of reports (self's own among them).
 */
function viewFrom(self: string, reports: readonly Report[]): string[] {
  const byNode = new Map(reports.map((r) => [r.node, r]));
  const own = byNode.get(self);
  assert.ok(own !== undefined);
  return agreedMembers(self, own, (n) => byNode.get(n), (n) => NAMES.includes(n));
}

describe('agreed view', () => {
  it('should hold every node when all see all', () => {
    const reports = NAMES.map(full);
    for (const self of NAMES) assert.deepEqual(viewFrom(self, reports), NAMES);
  });

  it('should give every node the same view under a loss between n1 and n2: the one whose name sorts last goes', () => {
    const reports = [
      report('n1', ['n3', 'n4', 'n5'], ['n2']),
      report('n2', ['n3', 'n4', 'n5'], ['n1']),
      full('n3'),
      full('n4'),
      full('n5'),
    ];
    const views = NAMES.map((self) => viewFrom(self, reports));
    for (const view of views) assert.deepEqual(view, ['n1', 'n3', 'n4', 'n5']);
    assert.equal(new Set(views.map(viewId)).size, 1);
  });

  it('should keep out the node the view already left out when a one-way loss is then reported from both sides (no swap)', () => {
    // n2 reported n1 lost first: every node's view left n1 out; now n1 reports n2 lost too (a tie on the scores)
    const withoutN1 = viewId(['n2', 'n3', 'n4', 'n5']);
    const holding = (r: Report): Report => ({ ...r, view: withoutN1 });
    const reports = [
      report('n1', ['n3', 'n4', 'n5'], ['n2']),
      holding(report('n2', ['n3', 'n4', 'n5'], ['n1'])),
      holding(full('n3')),
      holding(full('n4')),
      holding(full('n5')),
    ];
    const views = NAMES.map((self) => viewFrom(self, reports));
    for (const [i, view] of views.entries()) assert.deepEqual(view, ['n2', 'n3', 'n4', 'n5'], `as ${NAMES[i] as string} computes it`);
    // with no view in place (nobody holds either), the name decides as before
    const fresh = reports.map((r) => ({ ...r, view: '0000000000000000' }));
    for (const self of NAMES) assert.deepEqual(viewFrom(self, fresh), ['n1', 'n3', 'n4', 'n5']);
  });

  it('should drop the node reported lost, not its accuser, while the lost node\'s own report is stale', () => {
    // n2 lost n1 (killed); n1's last report still sees everyone; the others have not noticed yet
    const reports = [full('n1'), report('n2', ['n3', 'n4', 'n5'], ['n1']), full('n3'), full('n4'), full('n5')];
    assert.deepEqual(viewFrom('n2', reports), ['n2', 'n3', 'n4', 'n5']);
  });

  it('should keep the majority side whole while its first node suspects the minority (a 3|2 partition as it begins)', () => {
    const reports = [report('n1', ['n2', 'n3'], ['n4', 'n5']), full('n2'), full('n3'), full('n4'), full('n5')];
    assert.deepEqual(viewFrom('n1', reports), ['n1', 'n2', 'n3']);
  });

  it('should leave a node whose links all fail inbound outside, not the healthy rest', () => {
    // n1 hears nobody (it suspects all); the others still hear n1's pings
    const reports = [report('n1', [], ['n2', 'n3', 'n4', 'n5']), full('n2'), full('n3'), full('n4'), full('n5')];
    for (const self of NAMES.slice(1)) assert.deepEqual(viewFrom(self, reports), ['n2', 'n3', 'n4', 'n5'], `as ${self} computes it`);
    // n1 reaches no report but its own: alone, it has no quorum either
    assert.deepEqual(viewFrom('n1', reports), ['n1']);
    assert.equal(quorumBy({ strategy: 'majority' }, { self: 'n1', configured: 4, members: ['n1'], oldest: 'n1' }), false);
  });

  it('should count only the nodes reachable through the reports: a minority ends with itself', () => {
    const reports = [
      report('n4', ['n5'], ['n1', 'n2', 'n3']),
      report('n5', ['n4'], ['n1', 'n2', 'n3']),
      full('n1'),
      full('n2'),
      full('n3'),
    ];
    assert.deepEqual(viewFrom('n4', reports), ['n4', 'n5']);
  });

  it('should take a node with no report yet to see whoever sees it: a newcomer breaks nothing', () => {
    const byNode = new Map(NAMES.filter((n) => n !== 'n5').map((n) => [n, full(n)]));
    assert.deepEqual(
      agreedMembers('n1', full('n1'), (n) => byNode.get(n), (n) => NAMES.includes(n)),
      NAMES,
    );
  });

  it('should give an id that depends only on the members', () => {
    assert.equal(viewId(['a', 'b']), viewId(['a', 'b']));
    assert.notEqual(viewId(['a', 'b']), viewId(['a', 'c']));
    assert.notEqual(viewId(['a', 'b']), viewId(['ab']));
    assert.match(viewId([]), /^[0-9a-f]{16}$/);
  });
});

describe('quorum strategies', () => {
  const facts = (members: string[], configured = 4, oldest = 'n1') => ({ self: 'n3', configured, members, oldest });

  it('majority: more than half of the configured nodes in the view, this node among them', () => {
    assert.equal(quorumBy({ strategy: 'majority' }, facts(['n1', 'n2', 'n3'])), true);
    assert.equal(quorumBy({ strategy: 'majority' }, facts(['n2', 'n3'])), false);
    assert.equal(quorumBy({ strategy: 'majority' }, facts(['n1', 'n2', 'n4'])), false, 'outside the view: no quorum');
    assert.equal(quorumBy({ strategy: 'majority' }, facts(['n3'], 1)), true, 'the seed rule: 1 configured peer, always');
  });

  it('static: at least size nodes in the view', () => {
    assert.equal(quorumBy({ strategy: 'static', size: 2 }, facts(['n2', 'n3'])), true);
    assert.equal(quorumBy({ strategy: 'static', size: 3 }, facts(['n2', 'n3'])), false);
  });

  it('keep-oldest: the side with the oldest node', () => {
    assert.equal(quorumBy({ strategy: 'keep-oldest' }, facts(['n1', 'n3'])), true);
    assert.equal(quorumBy({ strategy: 'keep-oldest' }, facts(['n2', 'n3', 'n4', 'n5'])), false);
  });

  it('referee: the side that reaches the referee', () => {
    assert.equal(quorumBy({ strategy: 'referee', node: 'n5' }, facts(['n3', 'n5'])), true);
    assert.equal(quorumBy({ strategy: 'referee', node: 'n5' }, facts(['n1', 'n2', 'n3', 'n4'])), false);
    assert.equal(quorumBy({ strategy: 'referee', node: 'n3' }, facts(['n3'])), true, 'the referee itself');
  });
});
