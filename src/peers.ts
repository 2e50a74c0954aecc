import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import type { Link, LeaveReason } from './session.js';

/** The seed's node status strings. */
export const STATUS = Object.freeze({
  /** A configured node with no connection (the seed's StatusOffline). */
  OFFLINE: 'Offline',
  /** A connection is being set up or waits out joinDelay (StatusAuthenticating). */
  AUTHENTICATING: 'Authenticating',
  /** Joined (StatusOnline). */
  ONLINE: 'Online',
  /** The node announced its shutdown (StatusLeaving). */
  LEAVING: 'Leaving',
  /** This manager is shutting down (StatusShutdown). */
  STOPPING: 'Stopping',
});
export type Status = (typeof STATUS)[keyof typeof STATUS];

export const StatusOffline = STATUS.OFFLINE;
export const StatusAuthenticating = STATUS.AUTHENTICATING;
export const StatusOnline = STATUS.ONLINE;
export const StatusLeaving = STATUS.LEAVING;
export const StatusShutdown = STATUS.STOPPING;

/** What members$ and the HTTP API say about one peer (the seed's APIClusterNode). */
export interface ApiClusterNode {
  readonly name: string;
  /** Configured address, or the remote address of an inbound connection. */
  readonly addr: string;
  readonly status: Status;
  /** The last fault seen on this peer, or ''. */
  readonly error: string;
  /** When the peer last joined, or null. */
  readonly jointime: Date | null;
  /** Last measured ping round trip, in ms (0 before the first pong). */
  readonly lag: number;
  /** Application packets received from this peer since it was first seen. */
  readonly packets: number;
  /** Whether the node is configured here (addNode). */
  readonly configured: boolean;
  /** Why it last left, or null. */
  readonly leaveReason: LeaveReason | null;
}

interface PeerRecord {
  addr: string;
  configured: boolean;
  status: Status;
  error: string;
  jointime: Date | null;
  lag: number;
  packets: number;
  leaveReason: LeaveReason | null;
  active: Link | undefined;
  joined: boolean;
}

/**
 * The manager's knowledge of its peers: configuration, the active link of
 * each, status and counters. Each change that matters to a reader publishes a
 * fresh immutable snapshot on `members$`; packet counts ride along with the
 * next snapshot rather than publish one per packet.
 */
export class PeerTable {
  readonly #peers = new Map<string, PeerRecord>();
  readonly #members = new BehaviorSubject<ReadonlyMap<string, ApiClusterNode>>(new Map());
  readonly #active = new Subject<{ readonly peer: string; readonly active: boolean }>();

  /** Snapshots of every configured or connected peer, current value first. */
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>> = this.#members.asObservable();
  /** Each change of whether a peer has an active link. */
  readonly active$: Observable<{ readonly peer: string; readonly active: boolean }> = this.#active.asObservable();

  configure(name: string, addr: string): void {
    const record = this.#record(name);
    record.addr = addr;
    record.configured = true;
    this.#publish();
  }

  /** Forgets a node's configuration; drops it when it has no link left. */
  unconfigure(name: string): void {
    const record = this.#peers.get(name);
    if (record === undefined) return;
    record.configured = false;
    if (record.active === undefined) this.#peers.delete(name);
    this.#publish();
  }

  isConfigured(name: string): boolean {
    return this.#peers.get(name)?.configured === true;
  }

  configured(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [name, record] of this.#peers) if (record.configured) out[name] = true;
    return out;
  }

  configuredCount(): number {
    let n = 0;
    for (const record of this.#peers.values()) if (record.configured) n++;
    return n;
  }

  joinedCount(): number {
    let n = 0;
    for (const record of this.#peers.values()) if (record.configured && record.joined) n++;
    return n;
  }

  addrOf(name: string): string | undefined {
    return this.#peers.get(name)?.addr;
  }

  active(name: string): Link | undefined {
    return this.#peers.get(name)?.active;
  }

  hasActive(name: string): boolean {
    return this.#peers.get(name)?.active !== undefined;
  }

  /** Every active link. */
  *links(): IterableIterator<Link> {
    for (const record of this.#peers.values()) if (record.active !== undefined) yield record.active;
  }

  /** The active link of every joined (online) peer, for a broadcast. */
  *onlineLinks(): IterableIterator<Link> {
    for (const record of this.#peers.values()) if (record.joined && record.active !== undefined) yield record.active;
  }

  /** The active link of `name` when it is joined (online). */
  onlineLink(name: string): Link | undefined {
    const record = this.#peers.get(name);
    return record?.joined === true ? record.active : undefined;
  }

  setActive(name: string, link: Link | undefined): void {
    const record = this.#record(name);
    const was = record.active !== undefined;
    record.active = link;
    if (link !== undefined) {
      if (record.addr === '') record.addr = link.conn.remote;
      if (!record.joined) record.status = STATUS.AUTHENTICATING;
    } else if (!record.joined) {
      record.status = STATUS.OFFLINE;
      if (!record.configured) this.#peers.delete(name);
    }
    this.#publish();
    if (was !== (link !== undefined)) this.#active.next({ peer: name, active: link !== undefined });
  }

  setStatus(name: string, status: Status, error?: string): void {
    const record = this.#peers.get(name);
    if (record === undefined) return;
    record.status = status;
    if (error !== undefined) record.error = error;
    this.#publish();
  }

  setError(name: string, error: string): void {
    const record = this.#peers.get(name);
    if (record === undefined || record.error === error) return;
    record.error = error;
    this.#publish();
  }

  join(name: string, time: Date): void {
    const record = this.#record(name);
    record.joined = true;
    record.jointime = time;
    record.status = STATUS.ONLINE;
    record.error = '';
    record.leaveReason = null;
    this.#publish();
  }

  /** The peer left: its reason is the one recorded by `ended`. */
  leave(name: string): LeaveReason {
    const record = this.#peers.get(name);
    if (record === undefined) return 'lost';
    record.joined = false;
    record.status = STATUS.OFFLINE;
    const reason = record.leaveReason ?? 'lost';
    if (!record.configured && record.active === undefined) this.#peers.delete(name);
    this.#publish();
    return reason;
  }

  /** A link is about to end: records why, when it is the peer's active one. */
  ending(name: string, link: Link, reason: LeaveReason, error?: string): void {
    const record = this.#peers.get(name);
    if (record === undefined || record.active !== link) return;
    record.leaveReason = reason;
    if (error !== undefined) record.error = error;
  }

  lag(name: string, ms: number): void {
    const record = this.#peers.get(name);
    if (record === undefined) return;
    record.lag = ms;
    this.#publish();
  }

  countPacket(name: string): void {
    const record = this.#peers.get(name);
    if (record !== undefined) record.packets++;
  }

  /** Marks every peer Stopping (this node shuts down). */
  stopping(): void {
    for (const record of this.#peers.values()) record.status = STATUS.STOPPING;
    this.#publish();
  }

  /** The current snapshot, counters included. */
  snapshot(): ReadonlyMap<string, ApiClusterNode> {
    const out = new Map<string, ApiClusterNode>();
    for (const [name, r] of this.#peers) {
      out.set(name, Object.freeze({
        name,
        addr: r.addr,
        status: r.status,
        error: r.error,
        jointime: r.jointime,
        lag: r.lag,
        packets: r.packets,
        configured: r.configured,
        leaveReason: r.leaveReason,
      }));
    }
    return out;
  }

  complete(): void {
    this.#members.complete();
    this.#active.complete();
  }

  #record(name: string): PeerRecord {
    let record = this.#peers.get(name);
    if (record === undefined) {
      record = { addr: '', configured: false, status: STATUS.OFFLINE, error: '', jointime: null, lag: 0, packets: 0, leaveReason: null, active: undefined, joined: false };
      this.#peers.set(name, record);
    }
    return record;
  }

  #publish(): void {
    if (!this.#members.closed) this.#members.next(this.snapshot());
  }
}
