/**
 * The HTTP API and status page: two managers on 127.0.0.1:9701 and :9702,
 * up until Ctrl-C. Each serves the API on its cluster port.
 *
 *   npx tsx examples/api.ts
 *
 * Then, in a browser: http://127.0.0.1:9701/ (log in as alice with the
 * password "alice-password" to see the reconnect buttons: admins are
 * configured with hashAdminPassword, never with the cluster secret), or with
 * curl, using the token the program prints (TOKEN below):
 *
 *   curl -s http://127.0.0.1:9701/api/v1/cluster
 *   curl -s http://127.0.0.1:9701/api/v1/cluster/node1
 *   curl -sN http://127.0.0.1:9701/api/v1/cluster/node1/events
 *   curl -s -X POST -H "Authorization: Bearer $TOKEN" -d 'hello' http://127.0.0.1:9701/api/v1/cluster/node1/admin/node2/reconnect
 *   curl -s -c cookies.txt -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}' http://127.0.0.1:9701/api/v1/login
 *   curl -s -b cookies.txt -X POST -d 'v2' http://127.0.0.1:9701/api/v1/cluster/node1/admin/node2/deploy
 *
 * Every admin request shows up on node1's fromClusterApi$, printed below.
 */
import { hashAdminPassword, Manager } from '../src/index.js';

const SECRET = 'an-example-secret-of-32-bytes!!!';
const PASSWORD = 'alice-password';
// in production, run `rxcluster-hash-password` once and keep its output in your configuration
const admins = { alice: hashAdminPassword(PASSWORD) };
const ADDR1 = '127.0.0.1:9701';
const ADDR2 = '127.0.0.1:9702';

const node1 = new Manager('node1', SECRET, { api: { admins } });
const node2 = new Manager('node2', SECRET);
node1.addNode('node2', ADDR2);
node2.addNode('node1', ADDR1);

node1.fromClusterApi$.subscribe((request) => console.log(`node1 API request: ${JSON.stringify(request)}`));
node1.nodeJoin$.subscribe((name) => console.log(`node1: ${name} joined`));
node1.nodeLeave$.subscribe((name) => console.log(`node1: ${name} left`));
node1.quorum$.subscribe((quorum) => console.log(`node1: quorum ${quorum}`));

await node1.listen(ADDR1);
await node2.listen(ADDR2);

const token = node1.issueApiToken('alice');
const base = `http://${ADDR1}`;
console.log(`
status page:  ${base}/   (log in as alice, password "${PASSWORD}")
token:        ${token}

TOKEN='${token}'
curl -s ${base}/api/v1/cluster
curl -s ${base}/api/v1/cluster/node1
curl -sN ${base}/api/v1/cluster/node1/events
curl -s -X POST -H "Authorization: Bearer $TOKEN" -d 'hello' ${base}/api/v1/cluster/node1/admin/node2/reconnect
curl -s -c cookies.txt -H 'content-type: application/json' -d '{"username":"alice","password":"${PASSWORD}"}' ${base}/api/v1/login
curl -s -b cookies.txt -X POST -d 'v2' ${base}/api/v1/cluster/node1/admin/node2/deploy

Ctrl-C to stop.`);

let stopping = false;
process.on('SIGINT', () => {
  if (stopping) return;
  stopping = true;
  console.log('\nshutting down');
  Promise.all([node1.shutdown(), node2.shutdown()]).then(
    () => console.log('stopped'),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
});
