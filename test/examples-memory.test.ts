/**
 * examples/testing-your-app.ts runs as a user would run it: a child process
 * that exits 0 by itself and prints its "ok" lines (the README quotes it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'examples/testing-your-app.ts';
/** The child is killed past this; the test's own timeout is above it. */
const CHILD_LIMIT_MS = 30_000;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const limit = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
    child.on('error', (error) => {
      clearTimeout(limit);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('examples/testing-your-app.ts', () => {
  it('runs a three-node cluster through a partition in virtual time, prints its ok lines and exits 0 by itself', { timeout: 45_000 }, async () => {
    const { code, signal, stdout, stderr } = await run(EXAMPLE);
    assert.equal(signal, null, `the example exits by itself (killed after ${CHILD_LIMIT_MS} ms otherwise); stderr: ${stderr}`);
    assert.equal(code, 0, `exit code 0; stderr: ${stderr}`);
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      'ok 1 - joined: every node takes writes',
      'ok 2 - partitioned: a and b keep writing, c pauses',
      'ok 3 - healed: c takes writes again',
      'ok 4 - counts 2 2 2 after 76 virtual seconds',
      'ok 5 - shut down',
    ]);
    assert.equal(stderr, '', 'nothing on stderr');
  });
});
