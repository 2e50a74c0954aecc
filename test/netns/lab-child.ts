/**
 * A process that makes a netns lab and then leaves by the way its argument
 * says, for the harness's teardown tests:
 *
 *   node --import tsx test/netns/lab-child.ts wait|throw|exit
 *
 * Prints {"type":"lab","id":…,"namespaces":[…]} once the lab exists, then
 * - wait: waits (up to 60 s) to be signalled (SIGTERM, SIGINT) or killed;
 * - throw: throws an uncaught error;
 * - exit: returns without destroying the lab (the exit handler must).
 */
import { createLab } from './harness.js';

const how = process.argv[2];
const lab = await createLab({ names: ['a', 'b'] });
process.stdout.write(`${JSON.stringify({ type: 'lab', id: lab.id, namespaces: lab.leftovers() })}\n`);
if (how === 'wait') {
  setTimeout(() => undefined, 60_000);
} else if (how === 'throw') {
  setTimeout(() => {
    throw new Error('an uncaught error in a lab process');
  }, 10);
}
