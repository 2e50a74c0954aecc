import { BehaviorSubject, Subject, take, type Observable, type Subscription } from 'rxjs';
import type { ApiClusterNode } from '../membership/snapshot.js';
import type { ApiRequest } from '../types.js';
import { clusterOverview$, recentEvents, type ApiMembershipEvent, type ApiOverview, type ApiView, type MembershipEventLike } from './overview.js';
import { ApiCredentials } from './credentials.js';
import { createApiHandler } from './handler.js';
import { ApiServer, type ApiTls } from './server.js';
import { registerManager, unregisterManager, type ApiTarget, type RequestHandler } from './registry.js';

/**
 * The part of a Manager's public API the HTTP API reads. The optional
 * streams are read when the status page or `GET /api/v1/cluster/:manager`
 * first asks for them; without one, its field is left out of the answers.
 */
export interface ApiManagerView {
  readonly name: string;
  readonly members$: Observable<ReadonlyMap<string, ApiClusterNode>>;
  readonly quorum$: Observable<boolean>;
  /** The cluster view (replayed). */
  readonly view$?: Observable<ApiView>;
  /** The leader's name, null while there is none (replayed). */
  readonly leader$?: Observable<string | null>;
  /** For each node this one has a report from (itself included), the names it sees (replayed). */
  readonly reachability$?: Observable<ReadonlyMap<string, readonly string[]>>;
  /** Joins, leaves, updates, suspicions (hot): the API keeps the last RECENT_EVENTS while listed. */
  readonly membership$?: Observable<MembershipEventLike>;
}

/**
 * What the HTTP API serves for one manager: its public streams, the API's
 * own credentials, and where admin requests go.
 *
 * @param manager - the manager's public view (name, members$, quorum$; both replayed)
 * @param enabled - whether other managers' handlers may show it
 * @param credentials - the token key and login check
 * @param submit - hands an admin request to the manager (emitted on fromClusterApi$)
 * @param events$ - the recent membership events (replayed), when the API keeps them
 */
export function apiTarget(
  manager: ApiManagerView,
  enabled: boolean,
  credentials: ApiCredentials,
  submit: (action: string, node: string, data: string) => void,
  events$?: Observable<readonly ApiMembershipEvent[]>,
): ApiTarget {
  const overview$ = clusterOverview$(() => ({
    view$: manager.view$,
    leader$: manager.leader$,
    reachability$: manager.reachability$,
    events$: manager.membership$ === undefined ? undefined : events$,
  }));
  return {
    name: manager.name,
    apiEnabled: enabled,
    members$: manager.members$,
    quorum$: manager.quorum$,
    overview$,
    membersNow: () => current(manager.members$, new Map()),
    quorumNow: () => current(manager.quorum$, false),
    overviewNow: () => current<ApiOverview>(overview$, {}),
    loginEnabled: credentials.loginEnabled,
    checkLogin: (username, password) => credentials.checkLogin(username, password),
    issueApiToken: (username) => credentials.issue(username, manager.name),
    verifyApiToken: (token) => credentials.verify(token, manager.name),
    apiRequest: submit,
  };
}

/** The value a replayed stream holds now (it emits it synchronously on subscription), or `fallback`. */
function current<T>(source$: Observable<T>, fallback: T): T {
  let value = fallback;
  source$.pipe(take(1)).subscribe((v) => (value = v));
  return value;
}

/** What the manager hands its API. */
export interface ManagerApiOptions {
  readonly enabled: boolean;
  readonly signingKey: string | Buffer;
  readonly tokenDuration: number;
  /** username → hashAdminPassword(password); none: the login route is off. */
  readonly admins: Readonly<Record<string, string>>;
  /** `host:port` of a server of the API's own; undefined: the API shares the cluster port. */
  readonly listen: string | undefined;
  /** The Prometheus text of the manager's metrics, when they are on. */
  readonly metrics?: ApiTarget['metrics'];
}

/** What admin requests do to the manager besides being emitted. */
export interface AdminActions {
  /** Logs a line about `node` (level info). */
  log(message: string, node: string): void;
  /** Ends the connection to `node`, if it has one; it is redialed as after any loss. */
  reconnect(node: string): void;
}

/**
 * A manager's side of the HTTP API: its credentials, its request handler,
 * its place in the process's registry, and the admin requests it takes. The
 * manager holds one and hands it only its public view and what admin
 * requests may do.
 */
export class ManagerApi {
  readonly #credentials: ApiCredentials;
  readonly #target: ApiTarget;
  readonly #options: ManagerApiOptions;
  readonly #manager: ApiManagerView;
  readonly #actions: AdminActions;
  readonly #requests = new Subject<ApiRequest>();
  /** The recent membership events, kept from register() to unregister(). */
  readonly #events = new BehaviorSubject<readonly ApiMembershipEvent[]>([]);
  #recording: Subscription | undefined;
  #handler: RequestHandler | undefined;
  #server: ApiServer | undefined;

  /** Admin requests that came through the HTTP API (hot): the manager's fromClusterApi$. */
  readonly requests$: Observable<ApiRequest> = this.#requests.asObservable();

  constructor(manager: ApiManagerView, options: ManagerApiOptions, actions: AdminActions) {
    this.#options = options;
    this.#manager = manager;
    this.#actions = actions;
    this.#credentials = new ApiCredentials(options.signingKey, options.tokenDuration, options.admins);
    const target = apiTarget(manager, options.enabled, this.#credentials, (action, node, data) => this.#submit(action, node, data), this.#events.asObservable());
    this.#target = options.metrics === undefined ? target : { ...target, metrics: options.metrics };
  }

  /** One admin request: logged; `reconnect` drops that node's connection; then emitted on requests$. Ignored once completed. */
  #submit(action: string, node: string, data: string): void {
    if (this.#requests.closed) return;
    this.#actions.log(`API request ${action} for ${node}`, node);
    if (action === 'reconnect') this.#actions.reconnect(node);
    this.#requests.next({ action, manager: this.#manager.name, node, data });
  }

  /** Completes requests$: admin requests are ignored from now on. */
  complete(): void {
    this.#requests.complete();
  }

  /** The API as a Node request handler (made on first use). */
  get handler(): RequestHandler {
    this.#handler ??= createApiHandler(this.#target);
    return this.#handler;
  }

  /** Whether the transport's server (the cluster port) serves the API: enabled, and no `api.listen`. */
  get onClusterPort(): boolean {
    return this.#options.enabled && this.#options.listen === undefined;
  }

  /**
   * Starts the API's own server when `api.listen` is set (HTTPS with `tls`).
   *
   * @returns its bound address, or null when the API has none
   * @rejects Error when its address cannot be bound
   */
  async listen(tls?: ApiTls): Promise<string | null> {
    const at = this.#options.listen;
    if (!this.#options.enabled || at === undefined) return null;
    const server = new ApiServer(this.handler, tls);
    try {
      const bound = await server.listen(at);
      this.#server = server;
      return bound;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** New key and certificate for the API's own HTTPS server, if it has one. */
  updateTls(tls: ApiTls): void {
    this.#server?.updateTls(tls);
  }

  /** Closes the API's own server, if it has one. Idempotent. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.close();
  }

  /** A signed HS256 token for `username`. */
  issue(username: string): string {
    if (typeof username !== 'string' || username.length === 0 || username.length > 128) throw new TypeError('Invalid username: expected 1 to 128 characters');
    return this.#credentials.issue(username, this.#target.name);
  }

  /**
   * Lists the manager for `GET /api/v1/cluster` and starts keeping its recent
   * membership events; false when another manager of this process holds its name.
   */
  register(): boolean {
    const membership$ = this.#manager.membership$;
    if (this.#recording === undefined && membership$ !== undefined) {
      this.#recording = recentEvents(membership$).subscribe((events) => this.#events.next(events));
    }
    return registerManager(this.#target);
  }

  /** Unlists the manager and stops keeping its events (those kept stay shown). */
  unregister(): void {
    this.#recording?.unsubscribe();
    unregisterManager(this.#target);
  }
}
