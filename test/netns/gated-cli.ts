/**
 * The rxcluster CLI (src/cli.ts's own `main`, the same flags), loaded but
 * held at a gate: it imports everything, prints {"type":"gate"}, and starts
 * the node only on SIGUSR2. Loading tsx and the library takes one or two
 * seconds on a busy machine; a restart that must land within readTimeout of
 * a freeze (3 s with the short settings) cannot wait for that, so the lab
 * loads the new instance first and opens the gate when the old one froze.
 *
 *   ip netns exec NS node --import tsx test/netns/gated-cli.ts --name n1 …
 */
import { main } from '../../src/cli.js';

const keepAlive = setInterval(() => undefined, 60_000);
process.once('SIGUSR2', () => {
  clearInterval(keepAlive);
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`rxcluster: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
});
process.stdout.write(`${JSON.stringify({ type: 'gate' })}\n`);
