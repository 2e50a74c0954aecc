import type { Registry, RegistryContentType } from 'prom-client';

/** A prom-client Registry of either exposition format (Prometheus text or OpenMetrics). */
export type AnyRegistry = Registry<RegistryContentType>;

/** The default prefix of every series name. */
export const DEFAULT_METRICS_PREFIX = 'rxcluster_';

/** The `metrics` constructor option: Prometheus metrics of this manager, served at `GET /metrics`. */
export interface MetricsOptions {
  /**
   * The prom-client Registry to register in. Default: a new Registry for this
   * manager (never prom-client's global `register` unless you pass it). Two
   * managers sharing a registry need distinct prefixes.
   */
  readonly registry?: AnyRegistry;
  /** Prepended to every series name; a valid start of a Prometheus metric name. Default `rxcluster_`. */
  readonly prefix?: string;
}

/** MetricsOptions with the default prefix applied; the registry stays optional (made per manager). */
export interface ResolvedMetricsOptions {
  readonly registry?: AnyRegistry;
  readonly prefix: string;
}

/** A Prometheus metric name may start with this (empty allowed). */
const PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/**
 * Validates the `metrics` option and applies its defaults.
 *
 * @param value - the option as given; undefined means metrics are off
 * @returns undefined when off, else the resolved options
 * @throws TypeError naming the offending field
 */
export function resolveMetricsOptions(value: unknown): ResolvedMetricsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new TypeError('Invalid metrics: expected an object such as {} or { registry, prefix }');
  const { registry, prefix } = value as { registry?: unknown; prefix?: unknown };
  if (registry !== undefined && !isRegistry(registry)) throw new TypeError('Invalid metrics.registry: expected a prom-client Registry');
  if (prefix !== undefined && (typeof prefix !== 'string' || !PREFIX.test(prefix))) {
    throw new TypeError('Invalid metrics.prefix: expected letters, digits, _ or : (not starting with a digit)');
  }
  const resolved = { prefix: (prefix as string | undefined) ?? DEFAULT_METRICS_PREFIX };
  return registry === undefined ? resolved : { ...resolved, registry: registry as AnyRegistry };
}

function isRegistry(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<Record<'registerMetric' | 'removeSingleMetric' | 'metrics', unknown>>;
  return typeof r.registerMetric === 'function' && typeof r.removeSingleMetric === 'function' && typeof r.metrics === 'function';
}
