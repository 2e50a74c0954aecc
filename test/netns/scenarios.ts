/**
 * The 60-second scenarios of issue 10, point 2, as drivers: each makes a lab
 * of five rxcluster nodes, waits for the whole mesh, applies its fault for
 * `duration`, proves the fault bit (nft/iptables counters, the fault
 * timeline), and returns every line each node printed (join, leave, quorum,
 * log, and the coming suspect, view and leader lines), with the fault
 * timeline. They share nothing: run them concurrently.
 *
 * - oneWayLoss: n1's packets to n2 dropped, nothing else;
 * - lossAndDelay: 20 % loss on every node's input and 50 ± 10 ms on every node's output;
 * - flapping: n5's link down 5 s / up 5 s, six times.
 */
import { createLab, sleep, type FaultEvent, type Lab, type LabNode, type Line, type Timed } from './harness.js';

/** A timing profile: the CLI's --setting flags and the values in force. */
export interface Profile {
  readonly label: string;
  readonly settings: Readonly<Record<string, number>>;
  readonly readTimeout: number;
  readonly pingInterval: number;
  readonly joinDelay: number;
}

/** The defaults, and issue 10's short timings (joinDelay scaled by the CLI from readTimeout: 3000 × 500 / 11000). */
export const PROFILES: readonly Profile[] = [
  { label: 'defaults', settings: {}, readTimeout: 11_000, pingInterval: 5000, joinDelay: 500 },
  { label: 'ping 1000 / read 3000', settings: { pingInterval: 1000, readTimeout: 3000 }, readTimeout: 3000, pingInterval: 1000, joinDelay: 136 },
];

export interface ScenarioRecord {
  readonly scenario: string;
  readonly profile: Profile;
  readonly labId: string;
  /** Every line each node printed, by node name (one process per name in these scenarios). */
  readonly events: Readonly<Record<string, readonly Timed[]>>;
  /** The faults applied and removed, with their times (performance.now()). */
  readonly timeline: readonly FaultEvent[];
  /** When the lab was asked for (performance.now()): meshAt - createdAt is the start-up cost. */
  readonly createdAt: number;
  /** When the mesh was whole (every node joined every other) and the fault began / ended. */
  readonly meshAt: number;
  readonly faultFrom: number;
  readonly faultTo: number;
  /** When the recording ended: `settle` ms after the fault was removed. */
  readonly endAt: number;
  /** Proof that the fault bit: counters read while it was in place. */
  readonly evidence: Readonly<Record<string, unknown>>;
  /** Each node's stderr, when not empty. */
  readonly stderr: Readonly<Record<string, string>>;
}

export interface ScenarioOptions {
  /** How long the fault lasts, ms (default 60 s). */
  readonly duration?: number;
  /** How long the nodes keep running, recorded, once the fault is removed, ms (default 0). */
  readonly settle?: number;
}

const joinOf =
  (name: string) =>
  (line: Line): boolean =>
    line.type === 'join' && line['node'] === name;

/** Makes a lab, starts five nodes with the profile, waits for the whole mesh, runs `fault`, records, always destroys the lab. */
async function scenario(
  name: string,
  profile: Profile,
  fault: (lab: Lab, nodes: readonly LabNode[]) => Promise<Record<string, unknown>>,
  settle = 0,
): Promise<ScenarioRecord> {
  const createdAt = performance.now();
  const lab = await createLab();
  try {
    const nodes = await lab.startAll({ settings: profile.settings });
    await Promise.all(
      nodes.flatMap((node) => nodes.filter((other) => other !== node).map((other) => node.wait(joinOf(other.name), 90_000, `${node.name} of ${lab.id} to join ${other.name}`))),
    );
    const meshAt = performance.now();
    // a quiet moment, so that the join delay and first pings are behind
    await sleep(Math.max(1000, 2 * profile.joinDelay));
    const faultFrom = performance.now();
    const evidence = await fault(lab, nodes);
    const faultTo = performance.now();
    await sleep(settle);
    const endAt = performance.now();
    return {
      scenario: name,
      profile,
      labId: lab.id,
      events: Object.fromEntries(nodes.map((node) => [node.name, [...node.lines]])),
      timeline: [...lab.timeline],
      createdAt,
      meshAt,
      faultFrom,
      faultTo,
      endAt,
      evidence,
      stderr: Object.fromEntries(nodes.filter((node) => node.stderr().trim() !== '').map((node) => [node.name, node.stderr()])),
    };
  } finally {
    await lab.destroy();
  }
}

/** n1's packets to n2 silently dropped for `duration`; everything else works. */
export function oneWayLoss(profile: Profile, options: ScenarioOptions = {}): Promise<ScenarioRecord> {
  const duration = options.duration ?? 60_000;
  return scenario('one-way loss n1->n2', profile, async (lab) => {
    await lab.drop('n1', 'n2');
    await sleep(duration);
    const dropped = await lab.dropped();
    await lab.heal();
    return { dropped };
  }, options.settle);
}

/** 20 % loss on every node's input and 50 ± 10 ms on every node's output, for `duration`. */
export function lossAndDelay(profile: Profile, options: ScenarioOptions = {}): Promise<ScenarioRecord> {
  const duration = options.duration ?? 60_000;
  return scenario('20 % loss with 50 ± 10 ms delay', profile, async (lab) => {
    await Promise.all(lab.names.map(async (name) => {
      await lab.delay(name, 50, 10);
      await lab.loss(name, 0.2);
    }));
    await sleep(duration);
    const impaired = Object.fromEntries(await Promise.all(lab.names.map(async (name) => [name, await lab.impaired(name)] as const)));
    await lab.heal();
    return { impaired };
  }, options.settle);
}

/** n5's link down `down` ms, up `up` ms, `times` times (default 5 s / 5 s, six times: 60 s). */
export function flapping(profile: Profile, options: ScenarioOptions & { readonly down?: number; readonly up?: number; readonly times?: number } = {}): Promise<ScenarioRecord> {
  const down = options.down ?? 5000;
  const up = options.up ?? 5000;
  const times = options.times ?? 6;
  return scenario(`n5 flapping ${down / 1000} s down / ${up / 1000} s up × ${times}`, profile, async (lab) => {
    const flaps: { down: number; up: number }[] = [];
    for (let i = 0; i < times; i++) {
      await lab.linkDown('n5');
      const downAt = performance.now();
      await sleep(down);
      await lab.linkUp('n5');
      flaps.push({ down: downAt, up: performance.now() });
      await sleep(up);
    }
    return { flaps: flaps.length };
  }, options.settle);
}

export { storyOf } from './harness.js';
