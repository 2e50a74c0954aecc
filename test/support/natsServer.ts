/**
 * Real nats-server processes (Debian's, core NATS) on free loopback ports for
 * the NATS tests: one server, or a cluster of three joined by routes. Every
 * server started here is killed when the test process exits, whatever the path.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect as netConnect, createServer } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { sleep } from './cluster.js';

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One nats-server process. */
export class NatsServer {
  #child: ChildProcess | undefined;
  #stderr = '';

  constructor(
    readonly name: string,
    readonly port: number,
    readonly clusterPort: number | undefined,
    readonly routes: readonly number[],
  ) {}

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the process and waits (at most 5 s) until it takes clients. */
  async start(): Promise<void> {
    if (this.running) return;
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-n', this.name];
    if (this.clusterPort !== undefined) {
      args.push('--cluster_name', 'rxc', '--cluster', `nats://127.0.0.1:${this.clusterPort}`);
      if (this.routes.length > 0) args.push('--routes', this.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
    }
    if (spawnSync('nats-server', ['--version']).error !== undefined) {
      throw new Error('nats-server is not installed: apt-get install -y nats-server (.ci/run does it when missing)');
    }
    const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    started.add(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
    });
    child.once('exit', () => started.delete(child));
    const deadline = Date.now() + 5000;
    for (;;) {
      const error = await serverInfo(this.port);
      if (error === undefined) return;
      if (!this.running || Date.now() > deadline) throw new Error(`nats-server ${this.name} did not start: ${error}\n${this.#stderr}`);
      await sleep(50);
    }
  }

  /** Sends `signal` to the process (SIGSTOP / SIGCONT to pause and resume it); false when it does not run. */
  signal(signal: NodeJS.Signals): boolean {
    return this.running && (this.#child?.kill(signal) ?? false);
  }

  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
  }
}

/** Whether a NATS server answers on `port` with its INFO line: undefined when it does, else why not. */
function serverInfo(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    const done = (result: string | undefined): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done('no INFO within 1 s'));
    socket.once('error', (e) => done(e.message));
    socket.once('data', (chunk: Buffer) => done(chunk.toString().startsWith('INFO') ? undefined : 'not a NATS server'));
  });
}

/** One server on free ports, started. */
export async function startNatsServer(): Promise<NatsServer> {
  const server = new NatsServer('n1', await freePort(), undefined, []);
  await server.start();
  return server;
}

/**
 * Three servers joined by routes (each routes to the other two), started,
 * and checked: a message published on each server reaches a subscriber on
 * each other one (at most 10 s).
 */
export async function startNatsCluster(size = 3): Promise<NatsServer[]> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const servers = ports.map((port, i) => new NatsServer(`n${i + 1}`, port, clusterPorts[i], clusterPorts.filter((_, j) => j !== i)));
  try {
    await Promise.all(servers.map((s) => s.start()));
    await routed(servers);
  } catch (error) {
    await stopAll(servers);
    throw error;
  }
  return servers;
}

/** Waits until each server's subscribers hear each other server's publishers. */
async function routed(servers: readonly NatsServer[]): Promise<void> {
  const clients = await Promise.all(servers.map((s) => connect({ servers: s.url, reconnect: false })));
  try {
    const deadline = Date.now() + 10_000;
    for (let i = 0; i < clients.length; i++) {
      const heard = new Set<number>();
      const sub = clients[i]!.subscribe(`routecheck.${i}`, { callback: (_e, m) => void heard.add(Number(m.string())) });
      await clients[i]!.flush();
      while (heard.size < clients.length - 1) {
        if (Date.now() > deadline) throw new Error(`NATS routes not up: server ${i + 1} heard ${[...heard].join(',')}`);
        for (let j = 0; j < clients.length; j++) if (j !== i) clients[j]!.publish(`routecheck.${i}`, String(j));
        await Promise.all(clients.map((c) => c.flush()));
        await sleep(50);
      }
      sub.unsubscribe();
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Kills every server. */
export async function stopAll(servers: readonly NatsServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}
