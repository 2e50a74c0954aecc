/**
 * The delivery soak as a longer run (not a test): N processes broadcast
 * numbered messages as fast as writable$ allows and check every sequence.
 *
 *   npx tsx bench/soak.ts            # 60 s, 5 processes, 64-byte payload
 *
 * Knobs (environment): RXC_SOAK_SECONDS (default 60), RXC_SOAK_NODES (5),
 * RXC_SOAK_PAYLOAD_BYTES (64), RXC_SOAK_SEND_BUFFER_BYTES (the library's default).
 * Progress goes to stderr; the last line of stdout is one JSON object with
 * every figure. Exits 1 when any message was lost, duplicated or reordered,
 * a peer left, or the run failed. Every child is killed at the end.
 */
import { deliveryFaults, envNumber, PAYLOAD_BYTES, runSoak } from '../test/support/soak-node.js';

async function main(): Promise<number> {
  const seconds = envNumber('RXC_SOAK_SECONDS', 60);
  const nodes = envNumber('RXC_SOAK_NODES', 5);
  const payloadBytes = envNumber('RXC_SOAK_PAYLOAD_BYTES', PAYLOAD_BYTES);
  const sendBufferBytes = envNumber('RXC_SOAK_SEND_BUFFER_BYTES', undefined);
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  log(`soak: ${nodes} processes, ${seconds} s, ${payloadBytes}-byte payload`);
  const result = await runSoak({
    nodes,
    durationMs: seconds * 1000,
    payloadBytes,
    ...(sendBufferBytes === undefined ? {} : { sendBufferBytes }),
    progress: log,
  });
  const reports = [...result.reports.values()];
  const sent = [...result.sent.values()];
  const delivered = reports.reduce((sum, r) => sum + Object.values(r.receivedPerSender).reduce((a, b) => a + b, 0), 0);
  const sum = (key: 'gaps' | 'dups' | 'reorders' | 'missing'): number => reports.reduce((total, r) => total + r[key], 0);
  const faults = deliveryFaults(result);
  const summary = {
    nodes,
    seconds,
    payloadBytes,
    sendBufferBytes: sendBufferBytes ?? 'default',
    wallMs: result.wallMs,
    phases: result.phases,
    delivered,
    deliveredPerSecond: Math.round(delivered / seconds),
    senders: sent.map((s) => ({
      name: s.name,
      sent: s.sent,
      perSecond: Math.round(s.sent / (s.sendMs / 1000)),
      pauses: s.pauses,
      pausedMs: s.pausedMs,
      maxBufferedAmount: s.maxBufferedAmount,
      drainMs: s.drainMs,
    })),
    gaps: sum('gaps'),
    missing: sum('missing'),
    dups: sum('dups'),
    reorders: sum('reorders'),
    leaves: reports.reduce((total, r) => total + r.leaves.length, 0),
    slowConsumerDrops: reports.reduce((total, r) => total + r.slowConsumerDrops, 0),
    maxBufferedAmount: Math.max(...sent.map((s) => s.maxBufferedAmount)),
    faults,
  };
  for (const line of faults) log(`FAULT ${line}`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return faults.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
