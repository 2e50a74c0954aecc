/**
 * A small TCP proxy on 127.0.0.1 for network faults: it forwards every
 * connection to one target and can be paused, which stalls the traffic
 * without closing anything, as a network that stops delivering would.
 *
 * - `pause()`: no byte moves in either direction on any connection; the
 *   sockets stay open (the proxy stops reading them, so the senders' data
 *   waits in buffers). New connections are accepted and held, not yet
 *   connected to the target.
 * - `resume()`: held data flows again, and held connections are connected
 *   to the target.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { within } from './raw.js';

/** Toward the target (client → target) or back (target → client). */
export type Direction = 'toTarget' | 'toClient';

export interface Proxy {
  /** `127.0.0.1:port` to dial instead of the target. */
  readonly address: string;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  /** When a chunk was last delivered in each direction (performance.now()), or -1. */
  readonly lastDelivered: Readonly<Record<Direction, number>>;
  /** Resolves when the next chunk is forwarded, in either direction; rejects after `ms`. */
  nextDelivery(ms: number): Promise<void>;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now (held ones included). */
  readonly open: number;
  /** The last chunks forwarded in `direction` (at most 64), oldest first. */
  recentChunks(direction: Direction): readonly Buffer[];
  /** Writes `bytes` into every open connection in `direction`, as if the other end had sent them (an on-path injector). */
  inject(direction: Direction, bytes: Buffer): number;
  /** Ends every connection and stops listening. Safe to call twice. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** A side waiting for the other's 'drain' must stay paused even on resume. */
  readonly blocked: Set<Socket>;
}

/**
 * Starts a proxy on 127.0.0.1:0 forwarding to `target` (`host:port`), or to
 * what `target()` answers when a connection comes (so the proxy may exist
 * before its target's port is known).
 */
export async function startProxy(target: string | (() => string)): Promise<Proxy> {
  const pairs = new Set<Pair>();
  const lastDelivered: Record<Direction, number> = { toTarget: -1, toClient: -1 };
  const recent: Record<Direction, Buffer[]> = { toTarget: [], toClient: [] };
  let paused = false;
  let accepted = 0;
  let closed = false;
  let waiters: (() => void)[] = [];

  const end = (pair: Pair): void => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  const forward = (pair: Pair, from: Socket, to: Socket, direction: Direction): void => {
    from.on('data', (chunk: Buffer) => {
      lastDelivered[direction] = performance.now();
      recent[direction].push(chunk);
      if (recent[direction].length > 64) recent[direction].shift();
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
      if (!to.write(chunk)) {
        pair.blocked.add(from);
        from.pause();
        to.once('drain', () => {
          pair.blocked.delete(from);
          if (!paused) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  };

  const connectUpstream = (pair: Pair): void => {
    const address = typeof target === 'string' ? target : target();
    const at = address.lastIndexOf(':');
    const upstream = connect(Number(address.slice(at + 1)), address.slice(0, at));
    pair.upstream = upstream;
    upstream.on('error', () => end(pair));
    upstream.on('close', () => end(pair));
    upstream.once('connect', () => {
      forward(pair, pair.client, upstream, 'toTarget');
      forward(pair, upstream, pair.client, 'toClient');
      if (paused) {
        pair.client.pause();
        upstream.pause();
      } else {
        pair.client.resume();
      }
    });
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const pair: Pair = { client, upstream: undefined, blocked: new Set() };
    pairs.add(pair);
    client.on('error', () => end(pair));
    client.on('close', () => end(pair));
    if (!paused) connectUpstream(pair); // else held until resume()
  });
  await within(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    }),
    3000,
    'the proxy to listen',
  );
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('proxy has no TCP address');

  return {
    address: `127.0.0.1:${bound.port}`,
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      for (const pair of pairs) {
        pair.client.pause();
        pair.upstream?.pause();
      }
    },
    resume() {
      paused = false;
      for (const pair of [...pairs]) {
        if (pair.upstream === undefined) {
          connectUpstream(pair);
          continue;
        }
        if (!pair.blocked.has(pair.client)) pair.client.resume();
        if (!pair.blocked.has(pair.upstream)) pair.upstream.resume();
      }
    },
    lastDelivered,
    nextDelivery(ms: number) {
      return within(new Promise<void>((resolve) => waiters.push(resolve)), ms, 'traffic through the proxy');
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    recentChunks(direction: Direction) {
      return [...recent[direction]];
    },
    inject(direction: Direction, bytes: Buffer) {
      let written = 0;
      for (const pair of pairs) {
        const to = direction === 'toClient' ? pair.client : pair.upstream;
        if (to === undefined || to.destroyed) continue;
        to.write(bytes);
        written++;
      }
      return written;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const pair of [...pairs]) end(pair);
      await within(new Promise<void>((resolve) => server.close(() => resolve())), 3000, 'the proxy to close');
    },
  };
}
