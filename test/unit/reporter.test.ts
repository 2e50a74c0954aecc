/**
 * The suite's reporter (test/support/reporter.mjs): node's TAP output with its
 * closing `# pass` / `# fail` lines, then the names of the failed tests.
 * Runs a real `node --test` on a sample file with known failures.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = 'test/fixtures/reporter-sample.ts';

function runSample(extra: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  // inside a test run, NODE_TEST_CONTEXT would make the child report to this runner instead of printing
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=./test/support/reporter.mjs', ...extra, SAMPLE],
      { cwd: ROOT, env, timeout: 30_000 },
      (error, stdout) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout }),
    );
  });
}

describe('test reporter', () => {
  it('ends with the names of the failed tests, after the TAP summary', { timeout: 40_000 }, async () => {
    const { code, stdout } = await runSample([]);
    assert.equal(code, 1, 'a failed run still exits non-zero');
    const lines = stdout.trimEnd().split('\n');
    const fail = lines.indexOf('# fail 1');
    const pass = lines.indexOf('# pass 2');
    assert.ok(pass > 0 && fail > pass, `TAP's summary lines are there:\n${stdout.slice(-600)}`);
    assert.ok(lines.some((line) => line.startsWith('ok ') || line.startsWith('not ok ')), 'the TAP body is there');
    assert.deepEqual(lines.slice(lines.indexOf('# failed tests (2):')), [
      '# failed tests (2):',
      `#   ${SAMPLE}: sample suite > fails on purpose (AssertionError: one is not two)`,
      `#   ${SAMPLE}: sample suite > inner > times out on purpose (test timed out after 50ms)`,
    ]);
    assert.ok(lines.indexOf('# failed tests (2):') > fail, 'the names come last');
  });

  it('adds nothing when every test passed', { timeout: 40_000 }, async () => {
    const { code, stdout } = await runSample(['--test-name-pattern=pass']);
    assert.equal(code, 0);
    assert.match(stdout, /^# pass 2$/m);
    assert.match(stdout, /^# fail 0$/m);
    assert.doesNotMatch(stdout, /failed tests/);
  });
});
