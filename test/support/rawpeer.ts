/**
 * An outside implementation of the dialer's side of the handshake over a
 * RawClient: hello, challenge, auth with handshakeProof (the dialer proves
 * first), then the welcome, whose proof must check out. Every wait is bounded; on failure the client is terminated.
 */
import { PROTOCOL_VERSION } from '../../src/limits.js';
import { handshakeProof, verifyProof, type HandshakeTranscript } from '../../src/protocol/handshake.js';
import { RawClient, nonce } from './raw.js';

export interface Challenge {
  readonly type: 'challenge';
  readonly version: number;
  readonly name: string;
  readonly nonce: string;
  readonly instance: string;
}

export interface HalfOpen {
  readonly client: RawClient;
  readonly transcript: HandshakeTranscript;
  readonly challenge: Challenge;
  /** The dialer's proof the acceptor expects. */
  readonly proof: string;
  /** The acceptor's proof its welcome must carry. */
  readonly acceptorProof: string;
}

export interface RawPeerOptions {
  readonly autoPong?: boolean;
  /** The instance id claimed in the hello; default a fresh one. */
  readonly instance?: string;
  readonly ms?: number;
}

function isChallenge(frame: unknown): frame is Challenge {
  const f = frame as Partial<Challenge> | null;
  return typeof f === 'object' && f !== null && f.type === 'challenge' && typeof f.nonce === 'string' && !('proof' in f);
}

/**
 * Opens a client, sends a valid hello as `name` to `acceptor`, and reads the
 * challenge, which must carry no proof (the dialer proves first).
 */
export async function rawHello(address: string, name: string, acceptor: string, secret: string, options: RawPeerOptions = {}): Promise<HalfOpen> {
  const ms = options.ms ?? 3000;
  const client = await RawClient.open(address, { autoPong: options.autoPong ?? true, ms });
  try {
    const dialerNonce = nonce();
    client.send({ type: 'hello', version: PROTOCOL_VERSION, name, to: acceptor, nonce: dialerNonce, instance: options.instance ?? nonce() });
    const challenge = await client.next(ms, `${acceptor}'s challenge to ${name}`);
    if (!isChallenge(challenge)) throw new Error(`expected a challenge, got ${JSON.stringify(challenge)}`);
    const transcript: HandshakeTranscript = { dialer: name, acceptor, dialerNonce, acceptorNonce: challenge.nonce };
    if (challenge.name !== acceptor || challenge.version !== PROTOCOL_VERSION) throw new Error(`unexpected challenge ${JSON.stringify(challenge)}`);
    return { client, transcript, challenge, proof: handshakeProof(secret, 'dialer', transcript), acceptorProof: handshakeProof(secret, 'acceptor', transcript) };
  } catch (error) {
    client.destroy();
    throw error;
  }
}

/** A full handshake as `name`: resolves the client once welcomed. */
export async function rawJoin(address: string, name: string, acceptor: string, secret: string, options: RawPeerOptions = {}): Promise<RawClient> {
  const ms = options.ms ?? 3000;
  const half = await rawHello(address, name, acceptor, secret, options);
  try {
    half.client.send({ type: 'auth', proof: half.proof });
    const welcome = (await half.client.next(ms, `${acceptor}'s welcome`)) as { type?: unknown; proof?: unknown };
    if (welcome.type !== 'welcome') throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
    if (typeof welcome.proof !== 'string' || !verifyProof(secret, 'acceptor', half.transcript, welcome.proof)) {
      throw new Error(`${acceptor}'s proof in its welcome does not check out`);
    }
    return half.client;
  } catch (error) {
    half.client.destroy();
    throw error;
  }
}
