import type { Subscriber, Subscription } from 'rxjs';
import { DialError, type Connection } from '../types.js';
import { connectPair, type MemoryConnection, type SideInfo } from './connection.js';
import type { Endpoint, Fabric, Waiter } from './fabric.js';

/** The dialing node, as one dial needs it. */
export interface DialingNode {
  readonly name: string;
  side(): SideInfo;
  adopt(connection: MemoryConnection): void;
}

/**
 * One dial: the connection request reaches the target after one latency,
 * where it is refused, accepted or (to or from a frozen node) kept waiting
 * for a thaw; a dial not open after `timeout` ms fails. A request or answer
 * crossing a partition or cut is lost, so such a dial times out.
 */
export class Dial implements Waiter {
  private settled = false;
  private readonly timers: Subscription[] = [];
  private connection: MemoryConnection | undefined;

  constructor(
    private readonly fabric: Fabric,
    private readonly dialer: DialingNode,
    private readonly target: string,
    private readonly subscriber: Subscriber<Connection>,
  ) {}

  /** Starts the clock: the timeout, and the request unless the way there is cut. */
  start(timeout: number): void {
    this.timers.push(this.fabric.schedule(timeout, () => this.fail(new DialError('timed out', false))));
    if (!this.fabric.isBlocked(this.dialer.name, this.target)) {
      this.timers.push(this.fabric.schedule(this.fabric.latency, () => this.arrive()));
    }
  }

  /** A thaw or kill happened: try again at the current time. */
  retry(): void {
    if (!this.settled) this.timers.push(this.fabric.schedule(0, () => this.arrive()));
  }

  /** Fails a dial not yet open; returns false when it was open or over already. */
  fail(error: DialError): boolean {
    if (this.settled) return false;
    this.stop();
    this.subscriber.error(error);
    return true;
  }

  /** Forgets the dial without a word (its subscriber left, or its node died). */
  stop(): void {
    this.settled = true;
    this.fabric.unwait(this);
    for (const timer of this.timers.splice(0)) timer.unsubscribe();
  }

  /** Unsubscribed: stop a pending dial, terminate an open connection. */
  teardown(): void {
    this.stop();
    this.connection?.terminate();
  }

  private arrive(): void {
    if (this.settled || this.fabric.isSplit(this.dialer.name, this.target)) return;
    const endpoint = this.fabric.lookup(this.target);
    if (endpoint === undefined) {
      this.fail(new DialError('connection refused', false));
    } else if (this.fabric.isFrozen(this.target) || this.fabric.isFrozen(this.dialer.name)) {
      this.fabric.wait(this);
    } else {
      this.open(endpoint);
    }
  }

  private open(endpoint: Endpoint): void {
    this.stop();
    const [outbound, inbound] = connectPair(this.fabric, this.dialer.side(), endpoint.side());
    this.connection = outbound;
    this.dialer.adopt(outbound);
    outbound.onEnd(() => this.subscriber.complete());
    endpoint.accept(inbound);
    this.subscriber.next(outbound);
  }
}
