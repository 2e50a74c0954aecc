import type { IncomingMessage, ServerResponse } from 'node:http';

/** Every JSON answer of the API: `{ success, error, data }`. */
export interface Envelope<T = unknown> {
  readonly success: boolean;
  /** What went wrong, or null on success. */
  readonly error: string | null;
  readonly data: T | null;
}

/** What a route answers: a status, a body, and any extra headers. */
export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | string[]>>;
  /** A JSON envelope, or a ready-made body with its own content-type header. */
  readonly body: Envelope | { readonly raw: string };
}

/** A successful JSON answer. */
export function ok(data: unknown, headers?: Reply['headers']): Reply {
  return { status: 200, body: { success: true, error: null, data }, ...(headers === undefined ? {} : { headers }) };
}

/** A failed JSON answer with `status` and a short reason. */
export function fail(status: number, error: string, headers?: Reply['headers']): Reply {
  return { status, body: { success: false, error, data: null }, ...(headers === undefined ? {} : { headers }) };
}

/** Headers every answer carries. */
const COMMON_HEADERS = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
});

/**
 * Writes `reply` unless the response is already under way or its socket is
 * gone. A request whose body was never read is answered with
 * `connection: close`, so the server drops the socket instead of draining
 * whatever the client still sends.
 */
export function writeReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const isJson = !('raw' in reply.body);
  const text = isJson ? JSON.stringify(reply.body) : (reply.body as { raw: string }).raw;
  const headers: Record<string, string | string[]> = {
    ...COMMON_HEADERS,
    ...(isJson ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    ...(reply.headers ?? {}),
    'content-length': String(Buffer.byteLength(text)),
  };
  if (hasUnreadBody(req)) headers['connection'] = 'close';
  res.writeHead(reply.status, headers);
  res.end(text);
}

/** Requests whose body was read to its end. */
const consumed = new WeakSet<IncomingMessage>();

/** Marks the body of `req` as read to its end: its socket may be kept alive. */
export function markBodyRead(req: IncomingMessage): void {
  consumed.add(req);
}

function hasUnreadBody(req: IncomingMessage): boolean {
  if (consumed.has(req) || req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
