/**
 * Mesh child: one rxcluster Manager (default settings, joinDelay as asked)
 * in a mesh of N processes. Records when each peer joined (nodeJoin$) on
 * the wall clock shared by every process of the machine, so run.ts can
 * measure from "the last node was configured" to "every node sees every
 * peer Online". Loads only rxcluster.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { Manager, type LogEntry } from '../../src/index.js';
import { num, rxTransport, serve, settledMemory, str, waitUntil } from './common.js';

let manager: Manager | undefined;
/** With BENCH_MESH_PROF=<dir>: a CPU profile of each run's window, from this node's configuration to its last join. */
const profDir = process.env['BENCH_MESH_PROF'];
const profiler = profDir === undefined ? undefined : new Session();
let profiling = false;
let runs = 0;
/** Peer → wall-clock ms (performance.timeOrigin based) of its latest join. */
const joinedAt = new Map<string, number>();
const counts = { joins: 0, leaves: 0, refusedLogs: 0, dialFailLogs: 0, duplicateLogs: 0 };
const wallNow = (): number => performance.timeOrigin + performance.now();
/** CPU time (user + system, µs) when the peers were configured, and when the last one joined. */
let cpuAtConfigured = 0;
let cpuAtLastJoin = 0;
const cpuNow = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
/** With BENCH_MESH_TRACE set: every log entry with its wall-clock time, returned by waitJoined. */
const trace: string[] | undefined = process.env['BENCH_MESH_TRACE'] === undefined ? undefined : [];

function m(): Manager {
  if (manager === undefined) throw new Error('no manager: call listen first');
  return manager;
}

serve({
  /** A fresh Manager on a fresh port each time (a run after another reuses the process). */
  async listen(args) {
    await manager?.shutdown();
    joinedAt.clear();
    if (trace !== undefined) trace.length = 0;
    for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] = 0;
    manager = new Manager(str(args, 'name'), 'rxcluster-bench-secret-of-32-bytes!!', { settings: { joinDelay: num(args, 'joinDelay') }, ...rxTransport() });
    manager.nodeJoin$.subscribe((peer) => {
      counts.joins++;
      joinedAt.set(peer, wallNow());
      cpuAtLastJoin = cpuNow();
    });
    manager.nodeLeave$.subscribe((peer) => {
      counts.leaves++;
      joinedAt.delete(peer);
    });
    if (trace !== undefined) {
      // each peer's status changes (Authenticating is its link's up), for the trace
      const seen = new Map<string, string>();
      manager.members$.subscribe((members) => {
        for (const [peer, node] of members) {
          if (seen.get(peer) === node.status) continue;
          seen.set(peer, node.status);
          trace.push(`${wallNow().toFixed(1)} status ${peer} ${node.status}`);
        }
      });
    }
    manager.log$.subscribe((e: LogEntry) => {
      trace?.push(`${wallNow().toFixed(1)} ${e.level} ${e.message}`);
      if (e.code === 'RXC_ERR_PEER_REFUSED' || /refused/.test(e.message)) counts.refusedLogs++;
      if (e.code === 'RXC_ERR_DIAL') counts.dialFailLogs++;
      if (e.code === 'RXC_ERR_DUPLICATE') counts.duplicateLogs++;
    });
    return manager.listen('127.0.0.1:0');
  },
  /** Configures every peer given ({ name: addr }); returns the wall-clock time when done. */
  addNodes(args) {
    const peers = args['peers'] as Record<string, string>;
    if (profiler !== undefined) {
      profiler.connect();
      void profiler
        .post('Profiler.enable')
        .then(() => profiler.post('Profiler.setSamplingInterval', { interval: 100 }))
        .then(() => profiler.post('Profiler.start'));
      profiling = true;
    }
    cpuAtConfigured = cpuNow();
    for (const [name, addr] of Object.entries(peers)) m().addNode(name, addr);
    return wallNow();
  },
  /** Waits until `n` peers are joined; returns the latest join time and the event counts. */
  async waitJoined(args) {
    const n = num(args, 'n');
    await waitUntil(() => joinedAt.size >= n, num(args, 'timeoutMs'), `${n} peers to join`);
    if (profiler !== undefined && profDir !== undefined && profiling) {
      profiling = false;
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      mkdirSync(profDir, { recursive: true });
      writeFileSync(join(profDir, `${m().name}-run${++runs}.cpuprofile`), JSON.stringify(profile));
    }
    return { last: Math.max(...joinedAt.values()), counts, cpuMs: (cpuAtLastJoin - cpuAtConfigured) / 1000, stats: m().stats.snapshot(), ...(trace === undefined ? {} : { trace }) };
  },
  address() {
    return m().address;
  },
  memory(args) {
    return settledMemory(num(args, 'settleMs'));
  },
  async shutdown() {
    await manager?.shutdown();
    return true;
  },
});
