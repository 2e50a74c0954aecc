/**
 * Delivery under load: five processes broadcast numbered messages as fast as
 * writable$ lets them, for RXC_SOAK_SECONDS (default 8; the issue's
 * 60 s run is `RXC_SOAK_SECONDS=60`), and every receiver checks every
 * sender's sequence. Between online peers, nothing is lost, duplicated or
 * reordered, and nobody leaves.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryFaults, envNumber, PAYLOAD_BYTES, runSoak } from './support/soak-node.js';

const NODES = 5;
const DEFAULT_SECONDS = 8;

const seconds = envNumber('RXC_SOAK_SECONDS', DEFAULT_SECONDS);
// knobs for exploring, off by default: bigger messages or smaller send buffers make writable$ close more often
const payloadBytes = envNumber('RXC_SOAK_PAYLOAD_BYTES', PAYLOAD_BYTES);
const sendBufferBytes = envNumber('RXC_SOAK_SEND_BUFFER_BYTES', undefined);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

describe('delivery under load', () => {
  it(
    `${NODES} processes broadcasting for ${seconds} s as fast as writable$ allows: every receiver gets every message of every sender, once and in order, and nobody leaves`,
    { timeout: seconds * 1000 + 60_000 },
    async (t) => {
      const result = await runSoak({
        nodes: NODES,
        durationMs: seconds * 1000,
        payloadBytes,
        ...(sendBufferBytes === undefined ? {} : { sendBufferBytes }),
        progress: (line) => t.diagnostic(line),
      });

      let delivered = 0;
      let maxBuffered = 0;
      let gaps = 0;
      let dups = 0;
      let reorders = 0;
      let leaves = 0;
      for (const r of result.reports.values()) {
        delivered += Object.values(r.receivedPerSender).reduce((a, b) => a + b, 0);
        maxBuffered = Math.max(maxBuffered, r.maxBufferedAmount);
        gaps += r.gaps;
        dups += r.dups;
        reorders += r.reorders;
        leaves += r.leaves.length;
      }
      const totalSent = [...result.sent.values()].reduce((a, s) => a + s.sent, 0);
      t.diagnostic(`${NODES} nodes, ${seconds} s, ${payloadBytes}-byte payload, sendBufferBytes ${sendBufferBytes === undefined ? 'default' : fmt(sendBufferBytes)}; wall time ${fmt(result.wallMs)} ms (phases ${JSON.stringify(result.phases)})`);
      t.diagnostic(`delivered: ${fmt(delivered)} messages = ${fmt(delivered / seconds)} msg/s summed over receivers`);
      for (const s of result.sent.values()) {
        t.diagnostic(
          `${s.name} sent ${fmt(s.sent)} = ${fmt(s.sent / (s.sendMs / 1000))} msg/s; paused ${s.pauses}× (${fmt(s.pausedMs)} ms) on writable$; max buffered ${fmt(s.maxBufferedAmount)} B; drained in ${s.drainMs} ms`,
        );
      }
      t.diagnostic(`total sent ${fmt(totalSent)}; gaps ${gaps}, dups ${dups}, reorders ${reorders}, leaves ${leaves}; max bufferedAmount ${fmt(maxBuffered)} B`);

      assert.deepEqual(deliveryFaults(result), [], 'every message of every sender reached every receiver once and in order');
      assert.equal(delivered, totalSent * (NODES - 1), 'delivered = sent × receivers');
      for (const r of result.reports.values()) {
        assert.deepEqual(r.firstWarnings, [], `${r.name} logged no warning`);
      }
    },
  );
});
