import type { VirtualTimeScheduler } from 'rxjs';
import type { Transport } from '../types.js';
import { Fabric } from './fabric.js';
import { MemoryTransport } from './transport.js';

/** Default bound on the scheduler actions one `advance()` may run. */
const DEFAULT_MAX_ACTIONS = 10_000_000;

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /**
   * The virtual clock every delivery, dial and timeout runs on: a
   * `VirtualTimeScheduler`, or a `TestScheduler` used outside `run()`. Give
   * the same scheduler to every Manager on the network.
   */
  readonly scheduler: VirtualTimeScheduler;
  /** One-way delay of every frame, dial and close, in ms of virtual time. Default 0. */
  readonly latency?: number;
  /** Most scheduler actions one `advance()` may run before it throws. Default 10 000 000. */
  readonly maxActionsPerAdvance?: number;
}

/**
 * An in-memory network of named nodes for tests of a whole cluster in
 * virtual time: each Manager gets `network.transport()`, addresses are node
 * names, and faults (partitions, one-way cuts, latency, kill -9,
 * SIGSTOP/SIGCONT) are one call each. Nothing happens outside the given
 * scheduler: no real timers, no clock, no randomness, so the same calls give
 * the same events at the same virtual times.
 *
 * Timing, with `L` the latency when the thing is sent:
 * - a dial reaches its target after `L`; there it is accepted (the inbound
 *   connection is emitted on the target's `incoming$`, then the dialer's
 *   `dial$` emits its outbound connection, in the same action), refused
 *   (`DialError('connection refused')`: no node of that name), or kept
 *   waiting while either node is frozen. A dial not open after its `timeout`
 *   fails with `DialError('timed out')`: so does any dial across a partition
 *   or cut, in either direction.
 * - frames arrive after `L`, in order per direction (never overtaking an
 *   earlier frame, even when the latency drops), as UTF-8 strings, like ws
 *   text frames. A frame over the receiver's `maxPayload` closes the
 *   connection with `too-big` (local on the receiver); a Buffer that is not
 *   UTF-8 with `protocol`.
 * - `close(cause, reason)`: the peer sees `{ cause, reason, local: false }`
 *   after `L` (after the frames sent before it); the closer sees
 *   `{ cause, reason, local: true }` after a round trip, `2 × L`, or at the
 *   current time when either direction is blocked. Frames still arriving in
 *   between are delivered.
 * - `terminate()`: the terminator sees `{ cause: 'reset', local: true }` at
 *   the current virtual time, the peer sees `reset` (`local: false`) after `L`.
 * - Every event is delivered by a scheduler action, never inside the call
 *   that caused it: call `advance()` (even `advance(0)`) to see it.
 * - A frame, close or reset sent across a partition or cut is lost at send
 *   time; the connection stays open.
 *
 * @example
 * ```ts
 * import type { VirtualTimeScheduler } from 'rxjs';
 * import { MemoryNetwork } from 'rxcluster/testing';
 *
 * const scheduler = new VirtualTimeScheduler();
 * const network = new MemoryNetwork({ scheduler, latency: 5 });
 * const a = new Manager('a', secret, { transport: network.transport(), scheduler });
 * const b = new Manager('b', secret, { transport: network.transport(), scheduler });
 * a.addNode('b', 'b');
 * b.addNode('a', 'a');
 * await a.listen('a');
 * await b.listen('b');
 * network.advance(1_000);                 // a and b join
 * network.partition(['a'], ['b']);
 * network.advance(15_000);                // each sees the other leave (readTimeout)
 * network.heal();
 * network.advance(30_000);                // and join again
 * ```
 */
export class MemoryNetwork {
  private readonly fabric: Fabric;
  private readonly maxActions: number;

  /**
   * @param options - the scheduler (required), `latency` in ms (default 0),
   *   `maxActionsPerAdvance` (default 10 000 000)
   * @throws TypeError when the scheduler is not a VirtualTimeScheduler, or
   *   latency or maxActionsPerAdvance is not a finite number ≥ 0 (≥ 1)
   */
  constructor(options: MemoryNetworkOptions) {
    if (!isVirtualTime(options.scheduler)) {
      throw new TypeError('MemoryNetwork: options.scheduler must be a VirtualTimeScheduler or a TestScheduler');
    }
    const latency = options.latency ?? 0;
    checkMs('latency', latency);
    const maxActions = options.maxActionsPerAdvance ?? DEFAULT_MAX_ACTIONS;
    if (!Number.isInteger(maxActions) || maxActions < 1) {
      throw new TypeError(`MemoryNetwork: maxActionsPerAdvance must be a whole number ≥ 1, got ${String(maxActions)}`);
    }
    this.fabric = new Fabric(options.scheduler, latency);
    this.maxActions = maxActions;
  }

  /**
   * A fresh transport for one Manager (kind `memory`). It joins the network
   * under the name it listens on; it can dial only after `listen`.
   *
   * @returns a transport whose addresses are node names
   */
  transport(): Transport {
    return new MemoryTransport(this.fabric);
  }

  /**
   * Splits the network into groups: frames between nodes of different groups
   * are silently dropped, both ways. Nodes named in no group form one more
   * group together (so `partition(['a'])` isolates `a` from everyone else).
   * Replaces any earlier partition; cuts stay.
   *
   * @param groups - node names per group
   * @throws TypeError when a name is in more than one group
   */
  partition(...groups: ReadonlyArray<readonly string[]>): void {
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const name of group) {
        if (groupOf.has(name)) throw new TypeError(`MemoryNetwork.partition: ${JSON.stringify(name)} is in more than one group`);
        groupOf.set(name, index);
      }
    });
    this.fabric.setPartition(groupOf);
  }

  /**
   * Cuts one direction: frames (and dial answers) from `from` to `to` are
   * silently dropped; `to` → `from` still flows. A dial between the two, either
   * way, times out, since a connection needs both directions.
   *
   * @param from - the sending node's name
   * @param to - the receiving node's name
   */
  cut(from: string, to: string): void {
    this.fabric.addCut(from, to);
  }

  /** Undoes the partition and every cut (not kills, not freezes). */
  heal(): void {
    this.fabric.heal();
  }

  /**
   * Sets the one-way delay of everything sent from now on (frames, dials,
   * closes); what is in flight keeps its time, and order per direction holds.
   *
   * @param ms - delay in ms of virtual time, ≥ 0
   * @throws TypeError when ms is not a finite number ≥ 0
   */
  latency(ms: number): void {
    checkMs('latency', ms);
    this.fabric.latency = ms;
  }

  /**
   * Kills a node like kill -9: each of its connections is reset (its peers
   * see close `reset`, `local: false`, after one latency unless the way to
   * them is blocked; frames it had in flight are lost), its name is freed (dials to
   * it are refused; a new transport may listen on it: a restart), and its own
   * transport and connections observe nothing more: no events, sends go
   * nowhere, its dials never settle. A freeze of that name ends.
   *
   * @param name - the node's name
   * @throws Error when no node of that name is listening
   */
  kill(name: string): void {
    this.fabric.kill(name);
  }

  /**
   * Stops a node like SIGSTOP: frames to and from it are held, not lost
   * (its peers' `bufferedAmount` counts the bytes held for it), and dials to
   * or from it wait. The node's own timers still run: it is frozen on the
   * network only.
   *
   * @param name - the node's name (it need not be listening yet)
   */
  freeze(name: string): void {
    this.fabric.freeze(name);
  }

  /**
   * Resumes a frozen node like SIGCONT: held frames are delivered in order,
   * and waiting dials proceed, at the current virtual time (so by the next
   * `advance`). Dials whose timeout passed meanwhile have failed already.
   *
   * @param name - the node's name; thawing a node that is not frozen does nothing
   */
  thaw(name: string): void {
    this.fabric.thaw(name);
  }

  /**
   * Runs virtual time forward: every action queued on the scheduler for a
   * time ≤ now + ms runs, in time order (those scheduled meanwhile for such
   * a time too), then `scheduler.now()` is exactly now + ms. Later actions
   * stay queued. It runs the scheduler's queue itself (not `flush()`, whose
   * `maxFrames` it leaves alone), so inside `TestScheduler.run()` use the
   * marble time progression instead.
   *
   * @param ms - how far to go, in ms of virtual time, ≥ 0
   * @throws TypeError when ms is not a finite number ≥ 0
   * @throws Error when more than `maxActionsPerAdvance` actions run (an
   *   action rescheduling itself forever); time stops at that action
   * @throws whatever a scheduled action throws; the other actions stay queued
   */
  advance(ms: number): void {
    checkMs('advance', ms);
    const scheduler = this.fabric.scheduler;
    const target = scheduler.now() + ms;
    let ran = 0;
    for (let next = scheduler.actions[0]; next !== undefined && next.delay <= target; next = scheduler.actions[0]) {
      if (ran++ >= this.maxActions) {
        throw new Error(
          `MemoryNetwork.advance(${ms}): more than ${this.maxActions} scheduled actions ran before virtual time ${target}; an action reschedules itself forever?`,
        );
      }
      scheduler.actions.shift();
      scheduler.frame = next.delay;
      const error: unknown = next.execute(next.state, next.delay);
      if (error !== undefined) throw error;
    }
    scheduler.frame = target;
  }
}

/** Duck-typed, so a scheduler from another copy of rxjs passes too. */
function isVirtualTime(scheduler: unknown): scheduler is VirtualTimeScheduler {
  if (typeof scheduler !== 'object' || scheduler === null) return false;
  const candidate = scheduler as Partial<VirtualTimeScheduler>;
  return typeof candidate.frame === 'number' && Array.isArray(candidate.actions) && typeof candidate.schedule === 'function';
}

function checkMs(what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new TypeError(`MemoryNetwork: ${what} must be a finite number of ms ≥ 0, got ${String(ms)}`);
  }
}
