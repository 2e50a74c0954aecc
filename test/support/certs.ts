/**
 * Throwaway certificates made with openssl at test time: a CA and node
 * certificates for 127.0.0.1. No private key is ever committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly key: string;
  readonly cert: string;
}

export interface Pki {
  readonly ca: Pem;
  /** A certificate for `name`, valid for 127.0.0.1 and localhost, signed by this CA. */
  issue(name: string): Pem;
  /** Removes the temporary folder. */
  dispose(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

/** A new CA in a temporary folder. */
export function createPki(caName = 'rxcluster test CA'): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'rxcluster-pki-'));
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${caName}`, '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  let serial = 1;
  return {
    ca: { key: read('ca.key'), cert: read('ca.crt') },
    issue(name: string): Pem {
      const base = `node-${serial++}`;
      writeFileSync(join(dir, `${base}.ext`), [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ].join('\n'));
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-subj', `/CN=${name}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
      openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial + 1000),
        '-days', '2', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
      return { key: read(`${base}.key`), cert: read(`${base}.crt`) };
    },
    dispose(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
