/**
 * Starts a three-node mesh, exchanges a message, shuts everything down and
 * then simply returns: if any handle (socket, server, timer) were left open,
 * this process would not exit by itself. Used by test/exit.test.ts.
 */
import { joinedAll, first, shutdownAll, startMesh } from './cluster.js';

const nodes = await startMesh(['x', 'y', 'z']);
await joinedAll(nodes);
const got = first(nodes[1]!.manager.fromCluster$);
nodes[0]!.manager.toCluster$.next('ping');
await got;
await shutdownAll(nodes);
process.stdout.write('done\n');
