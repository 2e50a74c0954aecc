/**
 * The two systems `bench/serf.ts` compares, each run as five processes in a
 * netns lab (test/netns/harness.ts), and what each prints turned into one
 * kind of membership event:
 *
 * - rxcluster: the CLI as the lab starts it (`lab.start`), with a settings
 *   profile; `join` is up, `leave` is down, `suspect` a suspicion, `view` a
 *   view change; times are the node's own (`eventAt`).
 * - serf: Debian's `serf agent` (LAN profile) bound to the node's address,
 *   RPC on 127.0.0.1:7373 of its own namespace. Its log (stdout, INFO) says
 *   `serf: EventMemberJoin|Failed|Leave: NAME ADDR` when its member list
 *   changes and `memberlist: Suspect NAME has failed` when one of its probes
 *   goes unanswered; these lines are timed when read here (the log has
 *   whole seconds only). Event-handler scripts would run later: the agent
 *   coalesces member events for about a second before it calls them.
 *
 * A restart beside a frozen old process (`restartBeside`) puts the new
 * process on the next port of the same address, the old one still holding
 * its own: rxcluster's new instance is loaded first behind a gate (as in
 * test/netns.test.ts), then the old one is frozen and the gate opened;
 * serf's old agent is frozen, then a new agent of the same name starts
 * (RPC on 127.0.0.1:7374) and joins another node.
 */
import { spawn } from 'node:child_process';
import { CODES } from '../src/limits.js';
import { eventAt, PORT, Recorded, run, type Lab, type Timed } from '../test/netns/harness.js';
import type { Profile } from '../test/netns/scenarios.js';

/** A membership event as an observer reported it. */
export interface Membership {
  /** performance.now() of the event. */
  readonly at: number;
  readonly kind: 'up' | 'down' | 'suspect' | 'view';
  /** The node it is about ('' for a view change). */
  readonly node: string;
  /** The leave reason or serf's event name. */
  readonly detail: string;
  /** A view's members. */
  readonly members?: readonly string[];
}

/** One process of a node (a node has several when it is restarted). */
export interface Member {
  readonly name: string;
  readonly proc: Recorded;
  /** When it was spawned, and when it was up (listening, or serf's log streaming). */
  readonly spawnedAt: number;
  readonly readyAt: number;
  /** serf: its agent's RPC address (in its namespace). */
  readonly rpc?: string;
}

/** One entry of a member list as an observer showed it (serf's `members`). */
export interface Entry {
  readonly name: string;
  /** host:port. */
  readonly addr: string;
  readonly status: string;
}

/** A line in which a process spoke of two processes under one name (serf's name conflicts, rxcluster's refusal of an older process). */
export interface Conflict {
  readonly at: number;
  readonly text: string;
}

export interface System {
  /** The label in the table. */
  readonly label: string;
  /** Starts every node of the lab; resolves once each process is up (not yet joined). */
  startAll(lab: Lab): Promise<Member[]>;
  /** Starts `name` again (after kill -9), joining the running nodes. */
  restart(lab: Lab, name: string): Promise<Member>;
  /**
   * Starts a second process of `old`'s name beside it, on the next port of
   * the same address, and freezes `old` (SIGSTOP) just before the new one
   * starts; resolves once the new one is up, with when `old` froze.
   */
  restartBeside(lab: Lab, old: Member): Promise<{ readonly fresh: Member; readonly frozenAt: number }>;
  /** What a process reported so far, in order. */
  events(member: Member): Membership[];
  /** The lines of a process about two processes under one name, in order. */
  conflicts(member: Member): Conflict[];
  /** A process's member list, when the system can be asked for one. */
  roster?(lab: Lab, member: Member): Promise<Entry[]>;
}

// ---------------------------------------------------------------- rxcluster

export function rxcluster(profile: Profile): System {
  const start = async (lab: Lab, name: string): Promise<Member> => {
    const node = await lab.start(name, { settings: profile.settings });
    return { name, proc: node, spawnedAt: node.spawnedAt, readyAt: node.listeningAt() ?? performance.now() };
  };
  return {
    label: profile.label === 'defaults' ? 'rxcluster' : `rxcluster (${profile.label})`,
    startAll: (lab) => Promise.all(lab.names.map((name) => start(lab, name))),
    restart: start,
    restartBeside: async (lab, old) => {
      // loaded first and held at a gate: loading takes longer than the short readTimeout
      const node = await lab.start(old.name, { settings: profile.settings, port: PORT + 1, gated: true });
      const frozenAt = performance.now();
      if (!old.proc.signal('SIGSTOP')) throw new Error(`the old ${old.name} (pid ${old.proc.pid}) had exited before it could be frozen`);
      const listening = await node.openGate();
      return { fresh: { name: old.name, proc: node, spawnedAt: node.spawnedAt, readyAt: listening.at }, frozenAt };
    },
    events: (member) => member.proc.lines.flatMap((timed) => rxclusterEvent(timed)),
    conflicts: (member) =>
      member.proc.lines.flatMap(({ line, at }) => (line.type === 'log' && line['code'] === CODES.PEER_REFUSED ? [{ at: eventAt({ line, at }), text: String(line['message']) }] : [])),
  };
}

function rxclusterEvent(timed: Timed): Membership[] {
  const { line } = timed;
  const node = typeof line['node'] === 'string' ? line['node'] : '';
  switch (line.type) {
    case 'join':
      return [{ at: eventAt(timed), kind: 'up', node, detail: 'join' }];
    case 'leave':
      return [{ at: eventAt(timed), kind: 'down', node, detail: String(line['reason']) }];
    case 'suspect':
      return [{ at: eventAt(timed), kind: 'suspect', node, detail: 'suspect' }];
    case 'view':
      return [{ at: eventAt(timed), kind: 'view', node: '', detail: String(line['id']), members: Array.isArray(line['members']) ? line['members'].map(String) : [] }];
    default:
      return [];
  }
}

// ---------------------------------------------------------------- serf

/** The port serf binds on each node's address (the lab's nodes have one address each). */
const SERF_PORT = 7946;
/** The line after which serf's agent log streams: the agent is up (and has joined, when told to). */
const SERF_READY = 'Log data will now stream in as it occurs';
const SERF_MEMBER = /\bserf: EventMember(Join|Failed|Leave): (\S+) /;
const SERF_SUSPECT = /\bmemberlist: Suspect (\S+) has failed/;
/** Where a serf log line's text starts, after its date and time. */
const SERF_STAMP = /^\s*\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /;

async function startSerf(lab: Lab, name: string, join: string | undefined, started: Recorded[], port = SERF_PORT, rpc = '127.0.0.1:7373'): Promise<Member> {
  const args = ['agent', `-node=${name}`, `-bind=${lab.ip(name)}:${port}`, `-rpc-addr=${rpc}`, '-profile=lan', '-log-level=info'];
  if (join !== undefined) args.push(`-join=${lab.ip(join)}:${SERF_PORT}`);
  const spawnedAt = performance.now();
  const proc = new Recorded(spawn('ip', ['netns', 'exec', lab.ns(name), 'serf', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
  started.push(proc);
  const ready = await proc.wait((line) => line.type === 'text' && String(line['text']).includes(SERF_READY), 20_000, `serf agent ${name} of ${lab.id} to start`);
  return { name, proc, spawnedAt, readyAt: ready.at, rpc };
}

function serfEvent(timed: Timed, self: string): Membership[] {
  if (timed.line.type !== 'text') return [];
  const text = String(timed.line['text']);
  const member = SERF_MEMBER.exec(text);
  if (member !== null) {
    const [, what = '', node = ''] = member;
    if (node === self) return [];
    return [{ at: timed.at, kind: what === 'Join' ? 'up' : 'down', node, detail: what.toLowerCase() }];
  }
  const suspect = SERF_SUSPECT.exec(text);
  if (suspect !== null) return [{ at: timed.at, kind: 'suspect', node: suspect[1] ?? '', detail: 'suspect' }];
  return [];
}

/**
 * serf with its LAN profile. The first node starts alone, the others join
 * it; a restarted node joins the first other one. `started` collects every
 * process, for the caller to stop (a frozen one too: `Recorded.stop`
 * resumes it before SIGKILL).
 */
export function serf(started: Recorded[]): System {
  return {
    label: 'serf (LAN profile)',
    startAll: async (lab) => {
      const [first, ...rest] = lab.names;
      if (first === undefined) throw new Error('a lab without nodes');
      const seed = await startSerf(lab, first, undefined, started);
      return [seed, ...(await Promise.all(rest.map((name) => startSerf(lab, name, first, started))))];
    },
    restart: (lab, name) => startSerf(lab, name, lab.names.find((other) => other !== name), started),
    restartBeside: async (lab, old) => {
      const frozenAt = performance.now();
      if (!old.proc.signal('SIGSTOP')) throw new Error(`the old ${old.name} (pid ${old.proc.pid}) had exited before it could be frozen`);
      // the old agent still holds its gossip port and its RPC port
      const fresh = await startSerf(lab, old.name, lab.names.find((other) => other !== old.name), started, SERF_PORT + 1, '127.0.0.1:7374');
      return { fresh, frozenAt };
    },
    events: (member) => member.proc.lines.flatMap((timed) => serfEvent(timed, member.name)),
    conflicts: (member) =>
      member.proc.lines.flatMap(({ line, at }) => {
        const text = line.type === 'text' ? String(line['text']) : '';
        return /conflict/i.test(text) ? [{ at, text: text.replace(SERF_STAMP, '') }] : [];
      }),
    roster: async (lab, member) => {
      const out = await run('ip', ['netns', 'exec', lab.ns(member.name), 'serf', 'members', `-rpc-addr=${member.rpc ?? '127.0.0.1:7373'}`, '-format=json'], 5000);
      const members = (JSON.parse(out) as { members?: { name?: unknown; addr?: unknown; status?: unknown }[] }).members ?? [];
      return members.map((m) => ({ name: String(m.name), addr: String(m.addr), status: String(m.status) }));
    },
  };
}
