import type { ApiTarget, RequestHandler } from './registry.js';

/**
 * The HTTP API of this process, served for `home` (the manager whose port it
 * is). Placeholder: every request is answered 404 until the routes land.
 */
export function createApiHandler(home: ApiTarget): RequestHandler {
  return (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ success: false, error: `no route (manager ${home.name})`, data: null }));
  };
}
