import type { BehaviorSubject } from 'rxjs';
import type { ManagerApi } from './api/adapter.js';
import type { LogLevel } from './log.js';
import type { Settings } from './settings.js';
import type { TlsOptions, Transport } from './transport/types.js';
import type { StateDump } from './types.js';

/** Where a manager is in its life (new → listening → stopping → stopped), and what it is bound to. */
export interface Lifecycle {
  phase: StateDump['state'];
  /** The transport's bound address, once listening. */
  address: string | null;
  /** The bound address of the API's own server (`api.listen`), while it has one. */
  apiAddress: string | null;
}

/** What listening needs from the manager. */
export interface ListenContext {
  readonly name: string;
  readonly transport: Transport;
  readonly api: ManagerApi;
  readonly options: { readonly maxPayload: number; readonly maxPendingHandshakes: number };
  readonly settings$: BehaviorSubject<Settings>;
  /** The stretched primary secret now. */
  secret(): Buffer;
  /** Every stretched secret of the keyring now, the primary first. */
  secrets(): readonly Buffer[];
  /** Why the primary secret is weak, or undefined. */
  weak(): string | undefined;
  log(level: LogLevel, message: string): void;
  /** Starts the connection pipelines: called once bound, before listen resolves. */
  start(): void;
}

/**
 * Takes a new manager to listening (ListenAndServe): binds the API's own
 * server when it has one (HTTPS with `tls`), then the transport, which hosts
 * the API on the cluster port otherwise; lists the manager in the process's
 * API and starts its pipelines. When binding fails, whatever was bound is
 * closed and the manager is new again, unless it was shut down meanwhile.
 *
 * @returns the transport's bound address
 * @rejects Error when the address is malformed, the port busy, the key or certificate unusable, or the manager not new (or shut down meanwhile)
 */
export async function listenAndServe(life: Lifecycle, addr: string | undefined, tls: TlsOptions | undefined, ctx: ListenContext): Promise<string> {
  const { name, transport, api } = ctx;
  const address = transport.parseAddress(addr, 'listen');
  if (life.phase !== 'new') throw new Error(`cannot listen: manager ${name} is ${life.phase}`);
  life.phase = 'listening';
  let bound: string;
  try {
    life.apiAddress = await api.listen(tls);
    const handler = api.onClusterPort ? { requestHandler: api.handler } : {};
    const limits = { maxPendingHandshakes: ctx.options.maxPendingHandshakes, handshakeTimeout: () => ctx.settings$.value.connectTimeout };
    // transports that seal frames themselves (NATS) key them from the stretched primary secret
    const self = { self: name, secret: ctx.secret(), secrets: ctx.secrets(), settings$: ctx.settings$.asObservable() };
    bound = await transport.listen(address, { maxPayload: ctx.options.maxPayload, ...limits, ...(tls === undefined ? {} : { tls }), ...handler, ...self });
  } catch (error) {
    await api.close();
    life.apiAddress = null;
    if (life.phase !== 'listening') throw new Error(`cannot listen on ${address}: manager ${name} was shut down meanwhile`, { cause: error });
    life.phase = 'new';
    const message = (error as Error).message;
    throw error instanceof TypeError || message.startsWith('cannot listen') ? error : new Error(`cannot listen on ${address}: ${message}`, { cause: error });
  }
  if (life.phase !== 'listening') throw new Error(`cannot listen on ${address}: manager ${name} was shut down meanwhile`);
  life.address = bound;
  if (!api.register()) ctx.log('warn', `another manager named ${name} is listed by this process's HTTP API; this one is not`);
  ctx.start();
  ctx.log('info', `listening on ${bound}`);
  const weak = ctx.weak();
  if (weak !== undefined) ctx.log('warn', weak);
  return bound;
}
