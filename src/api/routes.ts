import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isLeft } from 'fp-ts/lib/Either.js';
import { AdminPath, decodeWith, LoginBody, ManagerPath, PageQuery } from './codecs.js';
import { readBodyJson, readBodyText } from './body.js';
import { clearedSessionCookie, presentedToken, sameOrigin, sessionCookie, type LoginThrottle } from './auth.js';
import { clusterEvents$, clusterView, serveEventStream } from './events.js';
import { DASHBOARD_CSP, dashboardHtml } from './dashboard.js';
import { findManager, managerNames, type ApiTarget } from './registry.js';
import { fail, ok, type Reply } from './reply.js';

/** What a route gets: the request, its decoded path parameters and query, and the handler's state. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The manager whose handler this is. */
  readonly home: ApiTarget;
  /** Path parameters by name, percent-decoded, not yet validated. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly throttle: LoginThrottle;
  /** Counts an event stream in; undefined past the handler's limit, else the function that counts it out. */
  readonly openStream: () => (() => void) | undefined;
  /** Ms between the heartbeat comments of an event stream. */
  readonly heartbeatMs: number;
}

/**
 * A route answers a Reply, or undefined when it wrote the response itself
 * (the event stream).
 */
export type Route = (ctx: RouteContext) => Reply | undefined | Promise<Reply | undefined>;

/**
 * The manager `name` as this handler may show it: its own manager always,
 * another manager of the process only while its API is enabled.
 */
export function reachable(home: ApiTarget, name: string): ApiTarget | undefined {
  const target = findManager(name);
  return target !== undefined && (target === home || target.apiEnabled) ? target : undefined;
}

const unknownManager = (): Reply => fail(404, 'unknown manager');

/** `GET /`: the status page of `?manager=` or of the home manager. */
export const statusPage: Route = ({ home, query }) => {
  const decoded = decodeWith(PageQuery, query.has('manager') ? { manager: query.get('manager') } : {});
  if (isLeft(decoded)) return fail(400, decoded.left);
  const target = reachable(home, decoded.right.manager ?? home.name);
  if (target === undefined) return unknownManager();
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': DASHBOARD_CSP,
      'x-frame-options': 'DENY',
    },
    body: { raw: dashboardHtml(target.name, target.loginEnabled) },
  };
};

/** `GET /api/v1/cluster`: the managers of this process. */
export const listManagers: Route = ({ home }) => ok({ managers: managerNames().filter((name) => reachable(home, name) !== undefined) });

/**
 * `GET /api/v1/cluster/:manager`: every configured or connected node, the
 * quorum, and the view, leader, connectivity and recent events when the
 * manager has them.
 */
export const showManager: Route = ({ home, params }) => {
  const path = decodeWith(ManagerPath, params);
  if (isLeft(path)) return fail(400, path.left);
  const target = reachable(home, path.right.manager);
  if (target === undefined) return unknownManager();
  return ok(clusterView(target.membersNow(), target.quorumNow(), target.overviewNow()));
};

/** `GET /api/v1/cluster/:manager/events`: the status page's server-sent events. */
export const managerEvents: Route = ({ req, res, home, params, openStream, heartbeatMs }) => {
  const path = decodeWith(ManagerPath, params);
  if (isLeft(path)) return fail(400, path.left);
  const target = reachable(home, path.right.manager);
  if (target === undefined) return unknownManager();
  const release = openStream();
  if (release === undefined) return fail(503, 'too many event streams');
  try {
    serveEventStream(req, res, clusterEvents$(target, heartbeatMs), release);
  } catch (error) {
    release();
    throw error;
  }
  return undefined;
};

/**
 * `POST /api/v1/cluster/:manager/admin/:node/:action`: with a valid token,
 * emits `{ action, manager, node, data }` on the manager's fromClusterApi$,
 * `data` being the request body as text.
 */
export const adminAction: Route = async ({ req, home, params }) => {
  const path = decodeWith(AdminPath, params);
  if (isLeft(path)) return fail(400, path.left);
  const { manager, node, action } = path.right;
  const target = reachable(home, manager);
  if (target === undefined) return unknownManager();
  const presented = presentedToken(req);
  if (presented === undefined) return fail(403, 'a valid token is required (Authorization: Bearer, or the session cookie)');
  const username = target.verifyApiToken(presented.token);
  if (username === undefined) return fail(403, 'invalid or expired token');
  if (presented.from === 'cookie' && !sameOrigin(req)) return fail(403, 'cross-origin request refused');
  if (!target.membersNow().has(node)) return fail(404, 'unknown node');
  const body = await readBodyText(req);
  if (isLeft(body)) return body.left;
  target.apiRequest(action, node, body.right);
  return ok({ action, manager: target.name, node, username });
};

/**
 * `GET /api/v1/cluster/:manager/session`: who the presented token (bearer or
 * session cookie) belongs to, so a reloaded status page knows its login.
 * 403 without a valid token.
 */
export const whoAmI: Route = ({ req, home, params }) => {
  const path = decodeWith(ManagerPath, params);
  if (isLeft(path)) return fail(400, path.left);
  const target = reachable(home, path.right.manager);
  if (target === undefined) return unknownManager();
  const presented = presentedToken(req);
  const username = presented === undefined ? undefined : target.verifyApiToken(presented.token);
  if (username === undefined) return fail(403, 'no valid token');
  return ok({ username, manager: target.name });
};

/**
 * `POST /api/v1/login`: `{ username, password, manager? }`, checked against
 * the manager's `api.admins` (never the cluster secret); answers a token and
 * sets it as the session cookie. With no admin configured the route is off:
 * 404 with an error that says so. A wrong username or password is answered
 * 403 after a delay that grows with each failure from the same address (IPv6:
 * the same /64); an attempt while that delay, or the global one that many
 * failures from anywhere start, runs is answered 429 without being checked,
 * as is one while a check from the same address or too many checks in all
 * are running.
 */
export const login: Route = async ({ req, home, throttle }) => {
  const json = await readBodyJson(req);
  if (isLeft(json)) return json.left;
  const body = decodeWith(LoginBody, json.right);
  if (isLeft(body)) return fail(400, body.left);
  const { username, password } = body.right;
  const target = reachable(home, body.right.manager ?? home.name);
  if (target === undefined) return unknownManager();
  if (!target.loginEnabled) return fail(404, 'login is off: no admin is configured (api.admins); tokens come from manager.issueApiToken');
  const address = req.socket.remoteAddress ?? 'unknown';
  const wait = throttle.blockedFor(address);
  if (wait > 0) {
    return fail(429, `too many login attempts: retry in ${Math.ceil(wait / 1000)} s`, { 'retry-after': String(Math.ceil(wait / 1000)) });
  }
  const release = throttle.beginCheck(address);
  if (release === undefined) return fail(429, 'too many login attempts at once: retry in 1 s', { 'retry-after': '1' });
  let match: boolean;
  try {
    match = await target.checkLogin(username, password);
  } finally {
    release();
  }
  if (!match) {
    await delay(throttle.failed(address));
    return fail(403, 'wrong username or password');
  }
  throttle.succeeded(address);
  const token = target.issueApiToken(username);
  const secure = (req.socket as Partial<TLSSocket>).encrypted === true;
  return ok({ token, username, manager: target.name }, { 'set-cookie': sessionCookie(token, secure) });
};

/**
 * `POST /api/v1/logout`: clears the session cookie of this browser. The
 * token itself stays valid until it expires (tokens are not revocable);
 * needs no token, so a page whose token expired can still drop its cookie.
 */
export const logout: Route = ({ req }) => {
  const secure = (req.socket as Partial<TLSSocket>).encrypted === true;
  return ok({ loggedOut: true }, { 'set-cookie': clearedSessionCookie(secure) });
};

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
