/**
 * Bench child: one rxcluster Manager with default options, driven over IPC by
 * bench/run.ts. Sends with toCluster$ / toNode$, paces on
 * manager.bufferedAmount, receives through fromCluster$ and Packet.message().
 */
import { Manager, type LogEntry } from '../../src/index.js';
import { dialedBy, driver, num, rxTransport, serve, str, waitUntil, type Wire } from './common.js';

const SECRET = 'rxcluster-bench-secret';

let manager: Manager | undefined;
const joined = new Set<string>();
const left: string[] = [];
const problems: string[] = [];

function m(): Manager {
  if (manager === undefined) throw new Error('no manager: call listen first');
  return manager;
}

const wire = (): Wire => {
  const mgr = m();
  return {
    broadcast: (data) => mgr.toCluster$.next(data),
    sendTo: (node, message) => mgr.toNode$.next({ node, message }),
    bufferedAmount: () => mgr.bufferedAmount,
  };
};
const { deliver, handlers } = driver(wire);

serve({
  ...handlers,
  async listen(args) {
    const name = str(args, 'name');
    manager = new Manager(name, SECRET, rxTransport());
    manager.nodeJoin$.subscribe((peer) => joined.add(peer));
    manager.nodeLeave$.subscribe((peer) => left.push(peer));
    manager.log$.subscribe((entry: LogEntry) => {
      if (entry.level === 'warn' || entry.level === 'error') {
        problems.push(String(entry));
        if (problems.length > 50) problems.shift();
      }
    });
    manager.fromCluster$.subscribe((packet) => deliver(packet.message()));
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
  dialedBy(args) {
    return dialedBy(str(args, 'a'), num(args, 'portA'), str(args, 'b'), num(args, 'portB'));
  },
  /** What happened so far; `clear: true` forgets it (the set-up's expected refusal, for one). */
  status(args) {
    const result = { joined: [...joined], left: [...left], problems: [...problems] };
    if (args['clear'] === true) {
      left.length = 0;
      problems.length = 0;
    }
    return result;
  },
  async shutdown() {
    await manager?.shutdown();
    return true;
  },
});
