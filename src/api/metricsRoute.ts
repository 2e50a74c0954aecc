import { fail, type Reply } from './reply.js';
import type { Route } from './routes.js';

/**
 * `GET /metrics`: the home manager's Prometheus metrics, in the content type
 * of its registry (Prometheus text 0.0.4 unless the registry says
 * OpenMetrics). No token: Prometheus scrapes without one by default, and the
 * series hold counts, not names, addresses or secrets. 404 when the manager
 * runs without the `metrics` option.
 */
export const metricsRoute: Route = async ({ home }): Promise<Reply> => {
  if (home.metrics === undefined) return fail(404, 'metrics are off: construct the manager with the metrics option');
  const { contentType, body } = await home.metrics();
  return { status: 200, headers: { 'content-type': contentType }, body: { raw: body } };
};
