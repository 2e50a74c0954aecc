import { Observable, Subject } from 'rxjs';
import { DialError, type Connection, type ListenOptions, type Refusal, type Transport } from '../types.js';
import type { MemoryConnection, SideInfo } from './connection.js';
import { Dial, type DialingNode } from './dial.js';
import type { Endpoint, Fabric } from './fabric.js';

/** Longest node name, in characters. */
const MAX_NAME_LENGTH = 128;

/**
 * Checks a memory address: a node name of 1 to 128 characters without
 * control characters.
 *
 * @param address - the address to check
 * @returns the address itself, which is its canonical form
 * @throws TypeError naming the address when it is missing or malformed
 */
export function parseMemoryAddress(address: string | undefined): string {
  if (typeof address !== 'string' || !isNodeName(address)) {
    throw new TypeError(
      `Invalid address ${JSON.stringify(address) ?? 'undefined'} for the memory transport: expected a node name (1-${MAX_NAME_LENGTH} characters, no control characters)`,
    );
  }
  return address;
}

function isNodeName(name: string): boolean {
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return false;
  }
  return true;
}

/**
 * One node's transport on a memory network (kind `memory`); made by
 * `MemoryNetwork.transport()`. Addresses are node names.
 */
export class MemoryTransport implements Transport, Endpoint, DialingNode {
  /** Always `memory`. */
  readonly kind = 'memory';
  /** Accepted connections (hot); completes on close. */
  readonly incoming$: Observable<Connection>;
  /** Never emits (nothing is refused before it is a connection here); completes on close. */
  readonly refused$: Observable<Refusal>;
  private readonly incoming = new Subject<Connection>();
  private readonly refused = new Subject<Refusal>();
  private readonly connections = new Set<MemoryConnection>();
  private readonly dials = new Set<Dial>();
  private listening: string | undefined;
  private maxPayload = Infinity;
  private nextId = 1;
  private killed = false;
  private closing: Promise<void> | undefined;

  /** @param fabric - the network this transport joins */
  constructor(private readonly fabric: Fabric) {
    this.incoming$ = this.incoming.asObservable();
    this.refused$ = this.refused.asObservable();
  }

  /** This node's name; empty before `listen`. */
  get name(): string {
    return this.listening ?? '';
  }

  /**
   * Checks a node name.
   *
   * @returns the name itself
   * @throws TypeError naming the address when it is not a node name
   */
  parseAddress(address: string | undefined, _purpose: 'listen' | 'dial'): string {
    return parseMemoryAddress(address);
  }

  /**
   * Joins the network under the name `address`; `options.maxPayload` bounds
   * incoming frames, `requestHandler` is ignored.
   *
   * @returns the name
   * @rejects TypeError for a malformed name; Error when the name is taken,
   *   this transport listens already or is closed, or `options.tls` is given
   */
  listen(address: string, options: ListenOptions): Promise<string> {
    try {
      const name = parseMemoryAddress(address);
      this.checkListen(name, options);
      this.listening = name;
      this.maxPayload = options.maxPayload;
      return Promise.resolve(name);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Dials the node named `address` (`peer` is not used: the address is the name).
   * Emits the connection after one latency, completes when it closes; errors with
   * DialError `not listening`, `transport closed` (at once), `connection refused`
   * (after one latency) or `timed out` (after `timeout` ms). Unsubscribing
   * terminates the connection.
   *
   * @param address - the target node's name
   * @param _peer - unused
   * @param timeout - ms of virtual time for the connection to open
   */
  dial$(address: string, _peer: string, timeout: number): Observable<Connection> {
    return new Observable<Connection>((subscriber) => {
      const refusal = this.dialRefusal();
      if (refusal !== undefined) {
        subscriber.error(refusal);
        return undefined;
      }
      // a killed node observes nothing: its dials never settle
      if (this.killed) return undefined;
      const dial = new Dial(this.fabric, this, address, subscriber);
      this.dials.add(dial);
      dial.start(timeout);
      return () => {
        this.dials.delete(dial);
        dial.teardown();
      };
    });
  }

  /**
   * Frees the name, terminates every connection (peers see `reset`), fails
   * pending dials with DialError `transport closed`, completes `incoming$`
   * and `refused$`. Idempotent: later calls return the first Promise.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Internal ({@link Endpoint}, {@link DialingNode}): a new side on this node. */
  side(): SideInfo {
    return { id: this.nextId++, name: this.name, maxPayload: this.maxPayload };
  }

  /** Internal: keeps a new outbound side, to terminate it on close. */
  adopt(connection: MemoryConnection): void {
    this.track(connection);
  }

  /** Internal: keeps a new inbound side and announces it. */
  accept(connection: MemoryConnection): void {
    this.track(connection);
    this.incoming.next(connection);
  }

  /** Internal: kill -9. Nothing more is observed here; peers see resets. */
  die(): void {
    this.killed = true;
    for (const dial of this.dials) dial.stop();
    this.dials.clear();
    for (const connection of this.connections) connection.die();
    this.connections.clear();
  }

  private checkListen(name: string, options: ListenOptions): void {
    if (options.tls !== undefined) throw new Error('the memory transport has no TLS');
    if (this.closing !== undefined || this.killed) throw new Error('this memory transport is closed');
    if (this.listening !== undefined) throw new Error(`this memory transport listens already, as ${JSON.stringify(this.listening)}`);
    if (!this.fabric.register(name, this)) throw new Error(`a node named ${JSON.stringify(name)} listens already on this memory network`);
  }

  private dialRefusal(): DialError | undefined {
    if (this.closing !== undefined) return new DialError('transport closed', false);
    if (this.listening === undefined) return new DialError('not listening', false);
    return undefined;
  }

  private track(connection: MemoryConnection): void {
    this.connections.add(connection);
    connection.onEnd(() => this.connections.delete(connection));
  }

  private shutdown(): Promise<void> {
    if (this.listening !== undefined) this.fabric.unregister(this.listening, this);
    const closed = new DialError('transport closed', false);
    for (const dial of [...this.dials]) {
      if (this.killed) dial.stop();
      else dial.fail(closed);
    }
    this.dials.clear();
    for (const connection of [...this.connections]) connection.terminate();
    this.incoming.complete();
    this.refused.complete();
    return Promise.resolve();
  }
}
