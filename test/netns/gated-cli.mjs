/**
 * The rxcluster CLI (its own `main`, the same flags), loaded but held at a
 * gate: it imports everything, prints {"type":"gate"}, and starts the node
 * only on SIGUSR2. Loading the library takes a CPU second or more on a busy
 * machine; a restart that must land within readTimeout of a freeze (3 s with
 * the short settings) cannot wait for that, so the lab loads the new instance
 * first and opens the gate when the old one froze.
 *
 * The CLI module comes as the first argument: dist/cli.js when the build is
 * fresh, else src/cli.ts (then run with --import tsx).
 *
 *   ip netns exec NS node test/netns/gated-cli.mjs /…/dist/cli.js --name n1 …
 */
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { pathToFileURL } from 'node:url';

const [modulePath, ...args] = process.argv.slice(2);
if (modulePath === undefined) throw new Error('usage: gated-cli.mjs CLI_MODULE [cli flags…]');
const { main } = await import(pathToFileURL(modulePath).href);

const keepAlive = setInterval(() => undefined, 60_000);
process.once('SIGUSR2', () => {
  clearInterval(keepAlive);
  main(args).catch((error) => {
    process.stderr.write(`rxcluster: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
});
process.stdout.write(`${JSON.stringify({ type: 'gate' })}\n`);
