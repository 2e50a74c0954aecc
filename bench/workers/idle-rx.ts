/**
 * Idle-RSS child: one rxcluster Manager (default options) listening and
 * joined to one peer, doing nothing else. Loads only rxcluster.
 */
import { Manager } from '../../src/index.js';
import { num, rxTransport, serve, settledMemory, str, waitUntil } from './common.js';

let manager: Manager | undefined;
const joined = new Set<string>();

function m(): Manager {
  if (manager === undefined) throw new Error('no manager: call listen first');
  return manager;
}

serve({
  async listen(args) {
    manager = new Manager(str(args, 'name'), 'rxcluster-bench-secret', rxTransport());
    manager.nodeJoin$.subscribe((peer) => joined.add(peer));
    return manager.listen('127.0.0.1:0');
  },
  addNode(args) {
    m().addNode(str(args, 'name'), str(args, 'addr'));
    return true;
  },
  async waitJoin(args) {
    const peer = str(args, 'peer');
    await waitUntil(() => joined.has(peer), num(args, 'timeoutMs'), `${peer} to join`);
    return true;
  },
  memory(args) {
    return settledMemory(num(args, 'settleMs'));
  },
  async shutdown() {
    await manager?.shutdown();
    return true;
  },
});
