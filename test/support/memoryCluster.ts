/**
 * What the virtual-time cluster tests share: managers on one memory network
 * and one virtual clock, each started configured with the others and
 * listening on its name, with a recorder of what it tells; kill -9; and a
 * shutdown of every manager ever started, its grace run in virtual time.
 * Each test file's own class records what it needs and forgets it on a kill.
 */
import assert from 'node:assert/strict';
import type { Subscription, VirtualTimeScheduler } from 'rxjs';
import type { Manager } from '../../src/index.js';
import { MemoryNetwork } from '../../src/testing.js';

export abstract class MemoryCluster {
  readonly network: MemoryNetwork;
  /** The current manager of each name. */
  readonly managers = new Map<string, Manager>();
  /** Every manager ever started, the killed ones too: all are shut down at the end. */
  protected readonly everyManager: Manager[] = [];
  protected readonly recorders = new Map<Manager, Subscription>();
  /** Shutdowns begun before the end (a killed manager's), awaited with the rest. */
  protected readonly pending: Promise<void>[] = [];

  constructor(
    readonly scheduler: VirtualTimeScheduler,
    /** Every node's name: each one started is configured with the others. */
    private readonly names: readonly string[],
  ) {
    this.network = new MemoryNetwork({ scheduler });
  }

  now(): number {
    return this.scheduler.now();
  }

  advance(ms: number): void {
    this.network.advance(ms);
  }

  advanceTo(t: number): void {
    assert.ok(t >= this.now(), `advanceTo(${t}) is in the past (now ${this.now()})`);
    this.network.advance(t - this.now());
  }

  /**
   * Starts (or restarts) `name`: the manager `make` builds on a new transport
   * of the network, recorded by `record`, configured with every other name,
   * listening on its name.
   */
  protected async launch(name: string, make: (transport: ReturnType<MemoryNetwork['transport']>) => Manager, record: (m: Manager) => Subscription): Promise<Manager> {
    const m = make(this.network.transport());
    this.recorders.set(m, record(m));
    for (const other of this.names) if (other !== name) m.addNode(other, other);
    assert.equal(await m.listen(name), name);
    this.managers.set(name, m);
    this.everyManager.push(m);
    return m;
  }

  /** kill -9: the process tells nothing more (its recorder stops, `forget` drops what was kept of it); peers see its connections reset. */
  kill(name: string): Manager {
    const m = this.managers.get(name);
    assert.ok(m !== undefined, `${name} runs`);
    this.network.kill(name);
    this.recorders.get(m)?.unsubscribe();
    this.managers.delete(name);
    this.forget(name);
    return m;
  }

  /** Drops what the subclass keeps of `name`'s current process (after a kill). */
  protected abstract forget(name: string): void;

  /** Shuts every manager down, the grace run in virtual time, and checks each shutdown resolved. */
  async shutdownAll(): Promise<void> {
    let settled = 0;
    const shutdowns = [...this.pending, ...this.everyManager.map((m) => m.shutdown())];
    const all = Promise.all(shutdowns.map((p) => p.then(() => void settled++)));
    for (let i = 0; i < 10 && settled < shutdowns.length; i++) {
      this.advance(1_000);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await all;
    for (const rec of this.recorders.values()) rec.unsubscribe();
  }
}
