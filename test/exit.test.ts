import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FAST, freePorts, startCli } from './support/cli-node.js';

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

  it('exits promptly even when a peer is frozen and never answers the close', { timeout: 30_000 }, async () => {
    const cleanups: (() => unknown)[] = [];
    try {
      // A must hold the link it dialed itself (closing such a socket is what
      // ws would hold on to): B starts first, fails to reach A and waits 5 s
      // before its next try, while A dials B as soon as it listens
      const [portA, portB] = await freePorts(2);
      const b = await startCli('B', { listen: `127.0.0.1:${portB}`, peers: { A: `127.0.0.1:${portA}` }, settings: { ...FAST, connectInterval: 5000, maxConnectInterval: 5000 } });
      cleanups.push(() => b.stop());
      // a long readTimeout: A must not drop the frozen B by itself during the grace
      const a = await startCli('A', { listen: `127.0.0.1:${portA}`, peers: { B: `127.0.0.1:${portB}` }, settings: { ...FAST, readTimeout: 20_000 } });
      cleanups.push(() => a.stop());
      await a.wait((l) => l.type === 'join' && l.node === 'B', 4000, 'A to announce B');
      b.child.kill('SIGSTOP');
      const started = performance.now();
      a.child.kill('SIGTERM');
      const exit = await a.exited;
      const elapsed = performance.now() - started;
      assert.equal(exit.code, 0, `A's exit: ${JSON.stringify(exit)}; stderr: ${a.stderr()}`);
      assert.ok(elapsed < 4000, `A exited ${elapsed.toFixed(0)} ms after SIGTERM (the shutdown grace is 1 s; ws alone would hold the closing socket 30 s)`);
    } finally {
      for (const release of cleanups.reverse()) await release();
    }
  });
});
