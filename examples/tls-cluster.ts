/**
 * A three-node cluster over mutual TLS on 127.0.0.1:9711-9713. On first run it
 * makes a throwaway CA and one certificate per node with openssl, in
 * examples/.certs/ (git-ignored; never commit a private key). Each node proves
 * both the certificate and the shared secret; node1 broadcasts, node3 gets a
 * private message, then all shut down.
 *
 *   npx tsx examples/tls-cluster.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { Manager } from '../src/index.js';

const dir = join(import.meta.dirname, '.certs');
const nodes = { node1: '127.0.0.1:9711', node2: '127.0.0.1:9712', node3: '127.0.0.1:9713' } as const;
type Name = keyof typeof nodes;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Makes the CA and the node certificates unless they exist. */
function ensureCertificates(): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!existsSync(join(dir, 'ca.crt'))) {
    openssl(['req', '-x509', ...ec, '-days', '365', '-subj', '/CN=rxcluster example CA', '-keyout', 'ca.key', '-out', 'ca.crt',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  }
  for (const name of Object.keys(nodes)) {
    if (existsSync(join(dir, `${name}.crt`))) continue;
    writeFileSync(join(dir, `${name}.ext`), 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(['req', ...ec, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365',
      '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  }
}

ensureCertificates();
const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
const ca = read('ca.crt');

const managers = new Map<Name, Manager>();
for (const name of Object.keys(nodes) as Name[]) {
  const m = new Manager(name, 'example-secret-change-me-please!');
  for (const [peer, addr] of Object.entries(nodes)) if (peer !== name) m.addNode(peer, addr);
  m.log$.pipe(filter((e) => e.level === 'warn' || e.level === 'error')).subscribe((e) => console.log(`${name}: ${String(e)}`));
  managers.set(name, m);
}
const get = (name: Name): Manager => managers.get(name) as Manager;

// each node waits until it sees both others
const allJoined = [...managers.values()].map((m) => firstValueFrom(m.nodeJoin$.pipe(take(2), toArray())));
for (const [name, m] of managers) {
  await m.listenTls(nodes[name], { key: read(`${name}.key`), cert: read(`${name}.crt`), ca, requestCert: true });
}
await Promise.all(allJoined);
console.log('all three nodes joined over mutual TLS');

const broadcast = Promise.all([firstValueFrom(get('node2').fromCluster$), firstValueFrom(get('node3').fromCluster$)]);
get('node1').toCluster$.next({ hello: 'everyone' });
for (const p of await broadcast) console.log(`received from ${p.name}: ${p.dataMessage}`);

const privately = firstValueFrom(get('node3').fromCluster$);
get('node1').toNode$.next({ node: 'node3', message: 'only for node3' });
console.log(`node3 received privately: ${(await privately).message() as string}`);

await Promise.all([...managers.values()].map((m) => m.shutdown()));
console.log('all shut down');
