/**
 * The package as a newcomer gets it: `npm pack`, installed into an empty
 * project (from the npm cache when it can, else the npm registry), where the
 * quick start passes a strict type check and runs, and the README's CLI
 * sample runs through the real `npx`, signals included.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sleep } from './support/cluster.js';
import { freePorts } from './support/cli-node.js';
import { within } from './support/raw.js';
import { matchesSample, onlyBlock, readme, ROOT } from './support/readme.js';

const SECRET = 'a-test-secret-of-thirty-two-bytes!';
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

/** Whether dist/ was built after the last change to src/ (else `npm pack` builds it, through prepack). */
function distIsFresh(): boolean {
  const built = (() => {
    try {
      return statSync(join(ROOT, 'dist/index.js')).mtimeMs;
    } catch {
      return 0;
    }
  })();
  const sources = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return built > 0 && sources.every((entry) => statSync(join(entry.parentPath, entry.name)).mtimeMs <= built);
}

/** The environment of a user's shell: none of npm's or the test runner's variables. */
function userEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(key) && key !== 'NODE_TEST_CONTEXT' && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, ...extra };
}

function run(command: string, args: readonly string[], cwd: string, ms: number): Promise<{ code: number; stdout: string; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: userEnv({}), timeout: ms, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, output: `${stdout}${stderr}` });
    });
  });
}

/** A child process whose output lines are kept, with bounded waits. */
interface Proc {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  waitFor(predicate: (line: string) => boolean, ms: number, what: string): Promise<string>;
  readonly exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

function start(command: string, args: readonly string[], cwd: string, env: Record<string, string>): Proc {
  const child = spawn(command, args, { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  for (const [stream, lines] of [[child.stdout, stdout], [child.stderr, stderr]] as const) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const check of waiters) check();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitFor: (predicate, ms, what) =>
      within(
        new Promise<string>((resolve) => {
          const check = (): void => {
            const found = [...stdout, ...stderr].find(predicate);
            if (found === undefined) return;
            waiters.delete(check);
            resolve(found);
          };
          waiters.add(check);
          check();
        }),
        ms,
        what,
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}; stdout: ${stdout.join('\n')}; stderr: ${stderr.join('\n')}`);
      }),
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the packed package in an empty project', () => {
  let dir = '';
  let project = '';
  let files: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxcluster-pack-'));
    project = join(dir, 'project');
    mkdirSync(project);
    // `npm test` has just built dist (its typecheck step): pack that, unless a source is newer
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir, ...(distIsFresh() ? ['--ignore-scripts'] : [])], ROOT, 120_000);
    assert.equal(packed.code, 0, packed.output);
    // the prepack build prints first; the JSON report is the rest of stdout
    const report = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
    files = report[0]?.files.map((file) => file.path) ?? [];
    const tarball = join(dir, report[0]?.filename ?? 'missing.tgz');

    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'newcomer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    const deps = [tarball, `io-ts@${pkg.dependencies['io-ts']}`, `fp-ts@${pkg.dependencies['fp-ts']}`];
    const quiet = ['--no-audit', '--no-fund', '--loglevel=error'];
    // the npm cache that `npm ci` filled is enough when it holds the packuments too; else ask the registry
    let installed = await run('npm', ['install', '--offline', ...quiet, ...deps], project, 120_000);
    if (installed.code !== 0) installed = await run('npm', ['install', '--prefer-offline', ...quiet, ...deps], project, 180_000);
    assert.equal(installed.code, 0, installed.output);

    copyFileSync(join(ROOT, 'examples/quick-start.ts'), join(project, 'quick-start.ts'));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true, noImplicitOverride: true, noEmit: true, skipLibCheck: true,
        types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['quick-start.ts'],
    }, null, 2));
  }, { timeout: 300_000 });

  after(() => {
    for (const child of children) child.kill('SIGKILL');
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('ships dist, README and LICENSE; no sources, no source maps', () => {
    for (const wanted of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js']) assert.ok(files.includes(wanted), `${wanted} is in the package: ${files.join(' ')}`);
    assert.deepEqual(files.filter((file) => file.endsWith('.map')), [], 'no source maps pointing at sources the package lacks');
    assert.deepEqual(files.filter((file) => !file.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(file)), []);
    assert.match(readFileSync(join(project, 'node_modules/rxcluster/LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 rxcluster authors\n/);
  });

  it('is ESM only: require() is refused with ERR_PACKAGE_PATH_NOT_EXPORTED, import works', { timeout: 30_000 }, async () => {
    const required = await run(process.execPath, ['-e', "require('rxcluster')"], project, 20_000);
    assert.notEqual(required.code, 0);
    assert.match(required.output, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
    const imported = await run(process.execPath, ['--input-type=module', '-e', "const { Manager } = await import('rxcluster'); console.log(typeof Manager)"], project, 20_000);
    assert.equal(imported.output.trim(), 'function');
  });

  it('the quick start passes a strict type check against the installed package', { timeout: 120_000 }, async () => {
    const checked = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], project, 110_000);
    assert.equal(checked.code, 0, checked.output);
  });

  it('the quick start runs: two copies join and each gets the other\'s order; the log shows from the start', { timeout: 60_000 }, async () => {
    const [port1 = 0, port2 = 0] = await freePorts(2);
    const tsx = import.meta.resolve('tsx');
    const common = { CLUSTER_SECRET: SECRET };
    const node1 = start(process.execPath, ['--import', tsx, 'quick-start.ts'], project, { ...common, LISTEN: `127.0.0.1:${port1}`, PEER: `node2=127.0.0.1:${port2}` });
    const node2 = start(process.execPath, ['--import', tsx, 'quick-start.ts'], project, { ...common, NODE_NAME: 'node2', LISTEN: `127.0.0.1:${port2}`, PEER: `node1=127.0.0.1:${port1}` });
    await node1.waitFor((line) => line === 'node2 sent order 1: tea from node2', 20_000, 'node1 to print the order of node2');
    await node2.waitFor((line) => line === 'node1 sent order 1: tea from node1', 20_000, 'node2 to print the order of node1');
    await node1.waitFor((line) => /^Error: packet from node2 does not match .*: got string$/.test(line), 5000, 'node1 to refuse the private string');
    assert.ok(node1.stdout.some((line) => line.endsWith(`INFO listening on 127.0.0.1:${port1}`)), 'log$ was subscribed before listen');
    node2.child.kill('SIGTERM');
    await node1.waitFor((line) => line === 'node2 left', 5000, 'node1 to print the leave of node2');
    assert.equal(await within(node2.exited, 10_000, 'node2 to exit'), 0);
    node1.child.kill('SIGINT');
    assert.equal(await within(node1.exited, 10_000, 'node1 to exit'), 0);
  });

  it('the quick start shows the weak-secret warning', { timeout: 30_000 }, async () => {
    const node = start(process.execPath, ['--import', import.meta.resolve('tsx'), 'quick-start.ts'], project, { CLUSTER_SECRET: 'short', LISTEN: '127.0.0.1:0', PEER: 'node2=127.0.0.1:1' });
    await node.waitFor((line) => / WARN the shared secret is only \d+ bytes/.test(line), 20_000, 'the weak-secret warning');
    await sleep(500); // the warning comes from inside listen(); the signal handlers are set right after it
    node.child.kill('SIGTERM');
    assert.equal(await within(node.exited, 10_000, 'the node to exit'), 0);
  });

  it('the README CLI sample, run with npx, prints what the README shows; SIGTERM to npx stops the node cleanly', { timeout: 90_000 }, async () => {
    const text = readme();
    const commands = onlyBlock(text, 'Node runner (CLI)', 'sh').split('\n').filter((line) => line.startsWith('npx '));
    assert.equal(commands.length, 1, 'one npx command in the sample');
    const sample = onlyBlock(text, 'Node runner (CLI)', 'jsonl').trimEnd().split('\n');
    const [p1 = 0, p2 = 0, p3 = 0] = await freePorts(3);
    const ports = (line: string): string => line.replaceAll('9654', String(p1)).replaceAll('9655', String(p2)).replaceAll('9656', String(p3));
    const args1 = ports(commands[0] ?? '').split(/\s+/).slice(1);
    // node2 "the same way": its own name and port, node1 as its peer
    const args2 = ['rxcluster', '--name', 'node2', '--listen', `127.0.0.1:${p2}`, '--peer', `node1=127.0.0.1:${p1}`, '--setting', 'readTimeout=5000'];
    const env = { RXCLUSTER_SECRET: SECRET };

    const node1 = start('npx', args1, project, env);
    await node1.waitFor((line) => line.startsWith('{"type":"listening"'), 30_000, 'node1 to listen');
    const node2 = start('npx', args2, project, env);
    await node1.waitFor((line) => line === '{"type":"quorum","quorum":true}', 30_000, 'node1 to reach quorum');
    node2.child.kill('SIGTERM'); // to npx, as a user's kill or a supervisor would
    await node1.waitFor((line) => line === '{"type":"quorum","quorum":false}', 10_000, 'node1 to lose quorum');
    await within(node2.exited, 10_000, 'npx of node2 to exit');
    await node2.waitFor((line) => line === '{"type":"stopped"}', 10_000, 'node2 (the node under npx) to stop cleanly');
    node1.child.kill('SIGTERM');
    await node1.waitFor((line) => line === '{"type":"stopped"}', 10_000, 'node1 to stop');
    await within(node1.exited, 10_000, 'npx of node1 to exit');

    const shown = sample.map(ports);
    assert.equal(node1.stdout.length, shown.length, `stdout has the sample's lines:\n${node1.stdout.join('\n')}`);
    shown.forEach((expected, i) => assert.ok(matchesSample(expected, node1.stdout[i] ?? ''), `line ${i + 1}: ${node1.stdout[i]} is not like ${expected}`));
    for (const port of [p1, p2]) assert.equal(await listening(port), false, `nothing left listening on ${port}`);
    assert.ok(node1.stderr.some((line) => / INFO \[node2\] node node2 joined$/.test(line)), 'log lines on stderr');
  });
});
