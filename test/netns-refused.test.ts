/**
 * Issue 10, point 1: "If namespaces are refused, the test fails with a clear
 * message: never skipped." A child process runs one node:test test that asks
 * the netns harness for a lab (`labFor`, as every netns test does), where
 * namespaces are refused:
 *
 * - as an ordinary user (uid/gid 65534, no groups): the usual way to get it
 *   wrong; the harness's preflight refuses before it runs any command;
 * - as root without capabilities (an empty bounding set, as in an
 *   unprivileged container): preflight passes, and `ip netns add` itself is
 *   refused by the kernel, which the lab's build reports.
 *
 * Each time the test fails (not skipped) and its message says what failed and
 * what to do, and no namespace appears on the host. The machine may be shared
 * with other runs of the netns tests, whose labs come and go meanwhile: a
 * namespace that appears is a failure unless it is a lab of another process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HARNESS = pathToFileURL(fileURLToPath(new URL('./netns/harness.ts', import.meta.url))).href;
/** The child's one test: a lab, as every netns test asks for one. */
const CHILD_TEST = `
import { test } from 'node:test';
const { labFor } = await import(${JSON.stringify(HARNESS)});
test('a netns test', async (t) => {
  const lab = await labFor(t, ['a']);
  process.stdout.write('# lab built: ' + lab.id + '\\n');
});
`;
/** Bounds each child: it loads the harness through tsx and fails in about a second. */
const CHILD_MS = 20_000;
const NOBODY = '65534';

interface Outcome {
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the child test behind `prefix` (a setpriv command line), resolving how it ended. */
function runChild(prefix: readonly string[]): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmpdir() };
  // under `node --test` this would make the child report to our runner instead of printing TAP
  delete env['NODE_TEST_CONTEXT'];
  const args = [...prefix, process.execPath, '--import', 'tsx', '--test-reporter=tap', '--input-type=module', '-e', CHILD_TEST];
  return new Promise((resolve, reject) => {
    const child = execFile(args[0] as string, args.slice(1), { cwd: ROOT, env, timeout: CHILD_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error !== null && error.killed) {
        reject(new Error(`the child did not end within ${CHILD_MS} ms:\n${stdout}\n${stderr}`));
        return;
      }
      resolve({ pid: child.pid, code: child.exitCode, stdout, stderr });
    });
  });
}

function namespaces(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'list'], { timeout: 10_000 }, (error, stdout) => {
      if (error !== null) reject(error);
      else resolve(stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((ns) => ns !== ''));
    });
  });
}

/** Namespaces that appeared between `before` and `after`, but for labs of processes other than `pids`. */
function appearedOf(before: readonly string[], after: readonly string[], pids: readonly (number | undefined)[]): string[] {
  return after.filter((ns) => {
    if (before.includes(ns)) return false;
    const lab = /^rxl(\d+)-/.exec(ns);
    return lab === null || pids.includes(Number(lab[1]));
  });
}

/** The failed test's TAP, checked: one test, failed, none skipped, exit 1, and the error line returned. */
function failedClearly(outcome: Outcome, what: string): string {
  const tap = `${outcome.stdout}\n${outcome.stderr}`;
  assert.equal(outcome.code, 1, `${what}: the child exits 1 (a failed test), got ${String(outcome.code)}:\n${tap}`);
  assert.match(outcome.stdout, /^not ok 1 - a netns test$/m, `${what}: the test fails:\n${tap}`);
  assert.match(outcome.stdout, /^# fail 1$/m, `${what}: one failure:\n${tap}`);
  assert.match(outcome.stdout, /^# skipped 0$/m, `${what}: never skipped:\n${tap}`);
  assert.match(outcome.stdout, /^# pass 0$/m, `${what}: nothing passes:\n${tap}`);
  assert.doesNotMatch(outcome.stdout, /# lab built/, `${what}: no lab was built:\n${tap}`);
  const error = /^ {2}error: (.*)$/m.exec(outcome.stdout)?.[1];
  assert.ok(error !== undefined, `${what}: the TAP carries the error:\n${tap}`);
  return error;
}

describe('the netns harness when namespaces are refused', () => {
  it('fails the test, never skips it, with a message naming what failed and what to do, and makes no namespace', { timeout: 60_000 }, async (t) => {
    assert.equal(process.platform, 'linux', 'the netns tests run on Linux');
    assert.equal(process.getuid?.(), 0, 'run as root, as every netns test is: this test starts its children with less');
    const before = await namespaces();
    const started = performance.now();
    const [nonRoot, noCaps] = await Promise.all([
      runChild(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']),
      runChild(['setpriv', '--bounding-set=-all', '--inh-caps=-all']),
    ]);
    const after = await namespaces();
    t.diagnostic(`both children done in ${(performance.now() - started).toFixed(0)} ms`);

    const refusedRoot = failedClearly(nonRoot, 'as uid 65534');
    assert.match(refusedRoot, /the netns lab needs root/, `as uid 65534: says what failed: ${refusedRoot}`);
    assert.match(refusedRoot, /run the tests as root/, `as uid 65534: says what to do: ${refusedRoot}`);

    const refusedNs = failedClearly(noCaps, 'as root without capabilities');
    assert.match(refusedNs, /network namespaces refused \(`ip netns add` failed\)/, `without capabilities: says what failed: ${refusedNs}`);
    assert.match(refusedNs, /Operation not permitted/, `without capabilities: passes on the kernel's reason: ${refusedNs}`);
    assert.match(refusedNs, /need root and a kernel with network namespaces/, `without capabilities: says what it needs: ${refusedNs}`);

    assert.deepEqual(appearedOf(before, after, [nonRoot.pid, noCaps.pid]), [], 'no namespace appeared on the host but other runs\' labs');
    for (const outcome of [nonRoot, noCaps]) assert.ok(!after.some((ns) => ns.startsWith(`rxl${String(outcome.pid)}-`)), `no lab namespace of the child ${String(outcome.pid)}`);
  });
});
