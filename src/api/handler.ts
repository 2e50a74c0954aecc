import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiTarget, RequestHandler } from './registry.js';
import { LoginThrottle, type LoginThrottleOptions } from './auth.js';
import { DEFAULT_HEARTBEAT_MS } from './events.js';
import { metricsRoute } from './metricsRoute.js';
import { fail, ok, writeReply, type Reply } from './reply.js';
import { adminAction, listManagers, login, logout, managerEvents, showManager, statusPage, whoAmI, type Route, type RouteContext } from './routes.js';

/** Options of `createApiHandler`; every field is optional. */
export interface ApiHandlerOptions {
  /** Ms between heartbeat comments on an event stream. Default 15000. */
  readonly heartbeatMs?: number;
  /** Open event streams at most; past it `GET …/events` answers 503. Default 64. */
  readonly maxEventStreams?: number;
  /** The delay of answers to wrong secrets. Default 100 ms doubling up to 3 s, per remote address. */
  readonly login?: LoginThrottleOptions;
}

/** The longest request target (path and query) the API reads, in characters. */
export const MAX_TARGET_LENGTH = 2048;

type Method = 'GET' | 'POST';

/** The routes: path segments (`:name` a parameter) and a route per method. HEAD is served wherever GET is. */
const ROUTES: readonly { readonly path: readonly string[]; readonly methods: Partial<Record<Method, Route>> }[] = [
  { path: [], methods: { GET: statusPage } },
  { path: ['api', 'v1', 'cluster'], methods: { GET: listManagers } },
  { path: ['api', 'v1', 'cluster', ':manager'], methods: { GET: showManager } },
  { path: ['api', 'v1', 'cluster', ':manager', 'events'], methods: { GET: managerEvents } },
  { path: ['api', 'v1', 'cluster', ':manager', 'session'], methods: { GET: whoAmI } },
  { path: ['api', 'v1', 'cluster', ':manager', 'admin', ':node', ':action'], methods: { POST: adminAction } },
  { path: ['api', 'v1', 'login'], methods: { POST: login } },
  { path: ['api', 'v1', 'logout'], methods: { POST: logout } },
  { path: ['metrics'], methods: { GET: metricsRoute } },
];

/**
 * The HTTP API of this process as a Node request handler, served for `home`
 * (the manager whose port it is, and the default of the status page and of
 * a login). Mount it in your own `http.createServer` or express app; the
 * manager serves it on its cluster port while `api.enabled`.
 *
 * Routes: `GET /` (status page, `?manager=`), `GET /api/v1/cluster`,
 * `GET /api/v1/cluster/:manager`, `GET /api/v1/cluster/:manager/events`
 * (server-sent events), `POST /api/v1/cluster/:manager/admin/:node/:action`
 * (token required), `GET /api/v1/cluster/:manager/session`, `POST /api/v1/login`,
 * `POST /api/v1/logout`, `GET /metrics` (Prometheus text,
 * when the manager has the `metrics` option). Every JSON answer is the envelope
 * `{ success, error, data }`. The handler never throws and answers every
 * request: a fault of its own is a 500 envelope.
 *
 * Other managers of the process are reachable through it while their own
 * API is enabled.
 *
 * @param home - the manager it serves
 * @param options - event stream and login throttle tuning
 * @returns `(req, res) => void`
 */
export function createApiHandler(home: ApiTarget, options: ApiHandlerOptions = {}): RequestHandler {
  const throttle = new LoginThrottle(options.login);
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxEventStreams = options.maxEventStreams ?? 64;
  let streams = 0;
  const openStream = (): (() => void) | undefined => {
    if (streams >= maxEventStreams) return undefined;
    streams++;
    let open = true;
    return () => {
      if (open) streams--;
      open = false;
    };
  };

  return (req, res) => {
    try {
      const reply = dispatch(req, res, { home, throttle, heartbeatMs, openStream });
      if (reply instanceof Promise) {
        reply.then(
          (r) => answer(req, res, r),
          (error: unknown) => lastResort(req, res, error),
        );
      } else {
        answer(req, res, reply);
      }
    } catch (error) {
      lastResort(req, res, error);
    }
  };
}

type HandlerState = Pick<RouteContext, 'home' | 'throttle' | 'heartbeatMs' | 'openStream'>;

function dispatch(req: IncomingMessage, res: ServerResponse, state: HandlerState): ReturnType<Route> {
  const target = parseTarget(req.url);
  if ('status' in target) return target;
  const route = ROUTES.find((r) => r.path.length === target.segments.length && r.path.every((p, i) => p.startsWith(':') || p === target.segments[i]));
  if (route === undefined) return fail(404, 'no such route');
  const allowed = allowedMethods(route.methods);
  const method = req.method === 'HEAD' && route.methods.GET !== undefined ? 'GET' : req.method;
  const handler = method === 'GET' || method === 'POST' ? route.methods[method] : undefined;
  if (handler === undefined) {
    const headers = { allow: allowed.join(', ') };
    return req.method === 'OPTIONS' ? ok({ allow: allowed }, headers) : fail(405, `method not allowed (allowed: ${allowed.join(', ')})`, headers);
  }
  const params: Record<string, string> = {};
  route.path.forEach((p, i) => {
    if (p.startsWith(':')) params[p.slice(1)] = target.segments[i] ?? '';
  });
  return handler({ req, res, params, query: new URLSearchParams(target.query), ...state });
}

function allowedMethods(methods: Partial<Record<Method, Route>>): string[] {
  const allowed: string[] = [];
  if (methods.GET !== undefined) allowed.push('GET', 'HEAD');
  if (methods.POST !== undefined) allowed.push('POST');
  allowed.push('OPTIONS');
  return allowed;
}

/**
 * Splits a request target into percent-decoded path segments and the raw
 * query. Refused with 400: no target, one too long, one that is not a path
 * (absolute or authority form), malformed percent-encoding, `.` or `..`
 * segments. An empty segment (`//`, a trailing `/`) matches no route: 404.
 */
export function parseTarget(url: string | undefined): { readonly segments: readonly string[]; readonly query: string } | Reply {
  if (url === undefined || url.length === 0) return fail(400, 'missing request target');
  if (url.length > MAX_TARGET_LENGTH) return fail(400, `request target longer than ${MAX_TARGET_LENGTH} characters`);
  if (!url.startsWith('/')) return fail(400, 'request target must be a path');
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (path === '/') return { segments: [], query };
  const segments: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    if (raw === '') return fail(404, 'no such route');
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return fail(400, 'malformed percent-encoding in path');
    }
    if (segment === '.' || segment === '..') return fail(400, 'dot segments are not allowed in the path');
    segments.push(segment);
  }
  return { segments, query };
}

function answer(req: IncomingMessage, res: ServerResponse, reply: Reply | undefined): void {
  try {
    if (reply !== undefined) writeReply(req, res, reply);
    else if (!res.headersSent && !res.destroyed) writeReply(req, res, fail(500, 'internal error: no answer'));
  } catch (error) {
    lastResort(req, res, error);
  }
}

/** Answers 500 when nothing was sent yet, else cuts the connection: a request is never left hanging. */
function lastResort(req: IncomingMessage, res: ServerResponse, _error: unknown): void {
  try {
    if (!res.headersSent && !res.destroyed) {
      writeReply(req, res, fail(500, 'internal error'));
      return;
    }
    if (!res.writableEnded) res.destroy();
  } catch {
    res.destroy();
  }
}
