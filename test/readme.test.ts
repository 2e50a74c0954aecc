/**
 * The README's examples in this checkout: the quick start is
 * examples/quick-start.ts verbatim, the set-up commands exist and `npm start`
 * does what the README says. (The quick start and the CLI sample run from
 * the packed package in test/package.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { within } from './support/raw.js';
import { codeBlocks, matchesSample, onlyBlock, readme, ROOT, section } from './support/readme.js';

describe('README', () => {
  it('shows examples/quick-start.ts verbatim as its quick start', () => {
    const shown = onlyBlock(readme(), 'Quick start', 'ts');
    const file = readFileSync(`${ROOT}examples/quick-start.ts`, 'utf8');
    assert.equal(shown, file, 'README "Quick start" and examples/quick-start.ts differ: copy the file into the README');
  });

  it('set-up commands are npm scripts of this package, and npm test is the CI command', () => {
    const commands = onlyBlock(readme(), 'Set up', 'sh')
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter((line) => line !== '');
    assert.deepEqual(commands, ['npm install', 'npm start', 'npm test']);
    const scripts = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.ok(scripts['start'] !== undefined && scripts['test'] !== undefined);
    assert.match(readFileSync(`${ROOT}.ci/run`, 'utf8'), /^npm test$/m, '.ci/run runs the README test command');
  });

  it('npm start prints what the README says', { timeout: 60_000 }, async (t) => {
    assert.match(section(readme(), 'Set up'), /npm start +# the two-node example: node2 says "Hello World!", node1 prints it/);
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 50_000, 'npm start to finish');
    assert.equal(code, 0, output);
    assert.match(output, /Hello World!/);
  });

  it('sample matching treats … as any text within one JSON string', () => {
    assert.ok(matchesSample('{"time":"…"}', '{"time":"2026-01-01T00:00:00.000Z"}'));
    assert.ok(!matchesSample('{"time":"…"}', '{"time":"a","x":"b"}'));
    assert.equal(codeBlocks('a\n```sh\nx\n```\nb\n```ts\ny\n```\n').map((b) => `${b.lang}:${b.code}`).join('|'), 'sh:x\n|ts:y\n');
  });
});
