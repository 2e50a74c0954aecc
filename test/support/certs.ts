/**
 * Throwaway certificates made in memory with node:crypto at test time: a CA
 * and node certificates for 127.0.0.1 and localhost, P-256 keys, ECDSA-SHA256
 * signatures. No openssl, no private key ever committed or written to disk.
 *
 * node:crypto signs but does not build certificates, so the X.509 structure
 * (RFC 5280) is put together here in DER: a few tag-length-value helpers and
 * the handful of fields and extensions a TLS peer checks.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';

export interface Pem {
  readonly key: string;
  readonly cert: string;
}

export interface Pki {
  readonly ca: Pem;
  /** A certificate for `name`, valid for 127.0.0.1 and localhost, signed by this CA. */
  issue(name: string): Pem;
  /** Nothing to remove (everything lives in memory); kept so callers can release a Pki uniformly. */
  dispose(): void;
}

/** How long a test certificate is valid from its issue, ms. */
const VALIDITY_MS = 2 * 24 * 3600 * 1000;

/** A new CA, its key in memory. */
export function createPki(caName = 'rxcluster test CA'): Pki {
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caKeyId = keyId(caKeys.publicKey);
  const caCert = certificate({
    subject: caName,
    issuer: caName,
    publicKey: caKeys.publicKey,
    signingKey: caKeys.privateKey,
    authorityKeyId: caKeyId,
    extensions: [
      extension(OID.basicConstraints, true, sequence(boolean(true))),
      extension(OID.keyUsage, true, bitString([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
    ],
  });
  return {
    ca: { key: pemKey(caKeys.privateKey), cert: pemCert(caCert) },
    issue(name: string): Pem {
      const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = certificate({
        subject: name,
        issuer: caName,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        authorityKeyId: caKeyId,
        extensions: [
          extension(OID.basicConstraints, true, sequence()),
          extension(OID.keyUsage, true, bitString([KEY_USAGE.digitalSignature])),
          extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
          // GeneralName: [7] iPAddress, [2] dNSName, both implicitly tagged
          extension(OID.subjectAltName, false, sequence(tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x82, Buffer.from('localhost', 'ascii')))),
        ],
      });
      return { key: pemKey(keys.privateKey), cert: pemCert(cert) };
    },
    dispose(): void {
      // nothing on disk
    },
  };
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** Bit numbers of the KeyUsage bit string (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

interface CertificateSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly publicKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly authorityKeyId: Buffer;
  readonly extensions: readonly Buffer[];
}

/** A signed X.509 v3 certificate, DER. */
function certificate(spec: CertificateSpec): Buffer {
  const serial = randomBytes(8);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive and no leading zero byte
  const now = Date.now();
  const algorithm = sequence(oid(OID.ecdsaWithSha256));
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] version: v3
    integer(serial),
    algorithm,
    name(spec.issuer),
    sequence(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + VALIDITY_MS))),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, sequence( // [3] extensions
      extension(OID.subjectKeyIdentifier, false, octetString(keyId(spec.publicKey))),
      extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, spec.authorityKeyId))),
      ...spec.extensions,
    )),
  );
  const signature = sign('sha256', tbs, spec.signingKey); // ECDSA, DER-encoded (r, s)
  return sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

/** The SHA-1 of the public key's bits, the usual key identifier (RFC 5280 4.2.1.2). */
function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // the EC point is the last 65 bytes of a P-256 SubjectPublicKeyInfo
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function name(commonName: string): Buffer {
  return sequence(tlv(0x31, sequence(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : lengthBytes(n);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function lengthBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function boolean(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0]));
}

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function octetString(bytes: Buffer): Buffer {
  return tlv(0x04, bytes);
}

/** A BIT STRING with the given bits set, bit 0 the most significant of the first byte. */
function bitString(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  const unused = 7 - (highest & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime, YYMMDDHHMMSSZ: enough for dates up to 2049. */
function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

function pemCert(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function pemKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The SHA-256 fingerprint of the certificate a TLS server at `address` presents to a new connection now. */
export function servedFingerprint(address: string, client: Pem, ca: string | string[]): Promise<string> {
  const at = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: address.slice(0, at), port: Number(address.slice(at + 1)), ca, key: client.key, cert: client.cert, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
  });
}
