import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

/** Runs an example as a user would (tsx), bounded; resolves its exit code and output. */
function run(file: string, ms = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the messaging examples', () => {
  it('examples/request-reply.ts gets its quote and a coded failure, then exits by itself', { timeout: 30_000 }, async () => {
    const { code, stdout, stderr } = await run('examples/request-reply.ts');
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'pricer quotes teapot at 600\nrequest to nobody failed: RXC_ERR_NOT_CONFIGURED\n');
  });

  it('examples/channels.ts routes typed orders, drops the bad one, and sees the metadata update', { timeout: 30_000 }, async () => {
    const { code, stdout, stderr } = await run('examples/channels.ts');
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'api sees cache with role cache\ncache got order 1: tea from api\ncache got order 2: jam from api\ncache moved to eu-2\n');
  });
});

describe('README excerpts', () => {
  it('every code block introduced as "From `examples/…`" is a verbatim excerpt of that file', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile('README.md', 'utf8');
    const excerpts = [...readme.matchAll(/From `(examples\/[\w.-]+\.ts)`[^\n]*\n(?:[^\n]*\n)*?```ts\n([\s\S]*?)\n```/g)];
    assert.ok(excerpts.length >= 3, `found ${excerpts.length} excerpts`);
    for (const [, file, code] of excerpts) {
      const source = await readFile(file ?? '', 'utf8');
      assert.ok(source.includes(code ?? '\u0000'), `the README block from ${file} is not verbatim in it:\n${code}`);
    }
  });
});
