/**
 * A real Prometheus (Debian's `prometheus` package, /usr/bin) and promtool for
 * the metrics tests: a throwaway config and TSDB directory, a free port on
 * 127.0.0.1 (never 9090, where a packaged service may run), every wait
 * bounded, and `stop()` kills the server and deletes its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './raw.js';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/** Throws one clear line when Debian's prometheus package is not installed. */
function needPrometheus(): void {
  if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
    throw new Error('prometheus is not installed: apt-get install -y prometheus (.ci/run does it when missing)');
  }
}

/** A port on 127.0.0.1 that was free a moment ago (the OS picked it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await within(new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  }), 3000, 'a free port');
  const bound = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (bound === null || typeof bound === 'string') throw new Error('no TCP address');
  return bound.port;
}

/** Runs `promtool check metrics` on `text` (stdin); resolves with its exit code and output. */
export async function promtoolCheckMetrics(text: string, ms = 10_000): Promise<{ code: number | null; output: string }> {
  needPrometheus();
  const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  child.stdin.on('error', () => undefined); // an early exit closes stdin; the exit code tells
  child.stdin.end(text);
  try {
    return { code: await within(exited, ms, 'promtool check metrics'), output };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** One sample of an instant vector: its labels and value. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PrometheusServer {
  readonly url: string;
  /** The instant vector of `query` now, through `GET /api/v1/query`. */
  query(query: string): Promise<Sample[]>;
  /** The scrape targets' health by their `node` label (`up`, `down`, `unknown`). */
  targets(): Promise<Record<string, string>>;
  /** What the server printed, for assertion messages (the last 4 KiB). */
  output(): string;
  /** Kills the server (SIGTERM, SIGKILL after 5 s) and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` (`node` label → `host:port`) every
 * second at `/metrics`, and resolves once it is ready.
 */
export async function startPrometheus(targets: Readonly<Record<string, string>>, ms = 15_000): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'rxcluster-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 900ms',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: rxcluster',
    '    metrics_path: /metrics',
    '    static_configs:',
    ...Object.entries(targets).flatMap(([node, address]) => [`      - targets: ['${address}']`, `        labels: { node: '${node}' }`]),
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let printed = '';
  let child: ChildProcess | undefined;
  const exited = new Promise<void>((resolve) => {
    needPrometheus();
    child = spawn(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      printed = (printed + chunk.toString('utf8')).slice(-4096);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => {
      printed += `\nspawn failed: ${error.message}`;
      resolve();
    });
    child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await within(exited, 5000, 'prometheus to exit').catch(() => {
          child?.kill('SIGKILL');
          return within(exited, 5000, 'prometheus to die');
        });
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const server: PrometheusServer = {
    url,
    query: async (query) => {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(query)}`)) as { result: { metric: Record<string, string>; value: [number, string] }[] };
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    targets: async () => {
      const data = (await api('/api/v1/targets?state=active')) as { activeTargets: { labels: Record<string, string>; health: string }[] };
      return Object.fromEntries(data.activeTargets.map((t) => [t.labels['node'] ?? '?', t.health]));
    },
    output: () => printed,
    stop,
  };
  try {
    await waitFor(async () => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) throw new Error(`prometheus exited:\n${printed}`);
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return res?.status === 200;
    }, ms, 'prometheus to be ready');
  } catch (error) {
    await stop();
    throw error;
  }
  return server;
}

/**
 * Polls `check` every 200 ms until it resolves true; rejects after `ms`
 * with the last error or a timeout naming `what`. A check that throws a
 * non-transient error can say so by throwing; the poll retries until the
 * deadline either way.
 */
export async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
