import type { Subscription, VirtualTimeScheduler } from 'rxjs';
import type { MemoryConnection, SideInfo } from './connection.js';

/** A listening memory transport, as the fabric sees it. */
export interface Endpoint {
  /** Allocates the id, name and frame limit of a new side on this node. */
  side(): SideInfo;
  /** Takes a new inbound side and emits it on `incoming$`. */
  accept(connection: MemoryConnection): void;
  /** Dies like kill -9. */
  die(): void;
}

/** Something that waits for a node to thaw (a dial to or from a frozen node). */
export interface Waiter {
  /** Tries again, at the current virtual time. */
  retry(): void;
}

/** Anything holding frames that a thaw must pump again. */
export interface Held {
  /** True when `name` is one end. */
  touches(name: string): boolean;
  /** Delivers what is due and no longer held. */
  pump(): void;
}

/**
 * The shared state of one memory network: the clock, the rules that drop or
 * hold traffic (partition, cuts, freezes, latency), and who listens where.
 * Internal: users reach it through `MemoryNetwork`.
 */
export class Fabric {
  /** One-way delay of what is sent from now on, in ms. */
  latency: number;
  private groups = new Map<string, number>();
  private readonly cuts = new Set<string>();
  private readonly frozen = new Set<string>();
  private readonly listeners = new Map<string, Endpoint>();
  private readonly held = new Set<Held>();
  private readonly waiters = new Set<Waiter>();

  constructor(
    readonly scheduler: VirtualTimeScheduler,
    latency: number,
  ) {
    this.latency = latency;
  }

  /** Virtual time, in ms. */
  now(): number {
    return this.scheduler.now();
  }

  /** Runs `work` after `delay` ms of virtual time, as a scheduler action. */
  schedule(delay: number, work: () => void): Subscription {
    return this.scheduler.schedule(work, delay);
  }

  /** True when frames from `from` to `to` are dropped (partition or cut). */
  isBlocked(from: string, to: string): boolean {
    if (from === to) return false;
    return this.groupOf(from) !== this.groupOf(to) || this.cuts.has(cutKey(from, to));
  }

  /** True when either direction between the two nodes is blocked. */
  isSplit(a: string, b: string): boolean {
    return this.isBlocked(a, b) || this.isBlocked(b, a);
  }

  /** True while `name` is frozen. */
  isFrozen(name: string): boolean {
    return this.frozen.has(name);
  }

  /** Replaces the partition: group index per name; unnamed nodes share group -1. */
  setPartition(groups: ReadonlyMap<string, number>): void {
    this.groups = new Map(groups);
  }

  /** Drops frames from `from` to `to` until `heal()`. */
  addCut(from: string, to: string): void {
    this.cuts.add(cutKey(from, to));
  }

  /** Ends the partition and every cut. */
  heal(): void {
    this.groups = new Map();
    this.cuts.clear();
  }

  /** Holds traffic to and from `name` until `thaw(name)`. */
  freeze(name: string): void {
    this.frozen.add(name);
  }

  /** Ends a freeze; held frames and waiting dials move on at the current time. */
  thaw(name: string): void {
    if (!this.frozen.delete(name)) return;
    this.wake(name);
  }

  /**
   * Kills the node listening on `name`.
   *
   * @throws Error when no node of that name is listening
   */
  kill(name: string): void {
    const endpoint = this.listeners.get(name);
    if (endpoint === undefined) throw new Error(`MemoryNetwork.kill: no node named ${JSON.stringify(name)} is listening`);
    this.listeners.delete(name);
    this.frozen.delete(name);
    endpoint.die();
    this.wake(name);
  }

  /** Makes `endpoint` the listener of `name`; false when the name is taken. */
  register(name: string, endpoint: Endpoint): boolean {
    if (this.listeners.has(name)) return false;
    this.listeners.set(name, endpoint);
    return true;
  }

  /** Frees `name` if `endpoint` holds it. */
  unregister(name: string, endpoint: Endpoint): void {
    if (this.listeners.get(name) === endpoint) this.listeners.delete(name);
  }

  /** The node listening on `name`, if any. */
  lookup(name: string): Endpoint | undefined {
    return this.listeners.get(name);
  }

  /** Notes a non-empty pipe, for a thaw to pump. */
  hold(item: Held): void {
    this.held.add(item);
  }

  /** Forgets an emptied pipe. */
  release(item: Held): void {
    this.held.delete(item);
  }

  /** Parks a dial until the next thaw or kill. */
  wait(waiter: Waiter): void {
    this.waiters.add(waiter);
  }

  /** Unparks a dial that settled. */
  unwait(waiter: Waiter): void {
    this.waiters.delete(waiter);
  }

  /** Pumps what touches `name` and retries every waiting dial, at the current time. */
  private wake(name: string): void {
    for (const item of [...this.held]) {
      if (item.touches(name)) this.schedule(0, () => item.pump());
    }
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiting) waiter.retry();
  }

  private groupOf(name: string): number {
    return this.groups.get(name) ?? -1;
  }
}

function cutKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}
