import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

describe('after shutdown', () => {
  it('leaves no handle open: a process that shut its managers down exits by itself', { timeout: 20_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/exit-child.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    let doneAt = 0;
    child.stdout.on('data', () => {
      if (doneAt === 0 && out.includes('done')) doneAt = performance.now();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    try {
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      assert.equal(signal, null, 'the child was not killed: it exited by itself');
      assert.equal(code, 0);
      assert.ok(out.includes('done'), 'the mesh joined, delivered and shut down');
      assert.ok(performance.now() - doneAt < 2000, 'exit follows shutdown promptly');
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });
});
