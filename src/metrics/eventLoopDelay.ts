import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** How often the event loop is sampled, in ms (a timer of this period; unref'd by Node). */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** The quantiles the summary exposes. */
export const EVENT_LOOP_QUANTILES = [0.5, 0.9, 0.99] as const;

/** One series line as prom-client's registry prints it. */
interface SeriesValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}

/**
 * The event-loop delay as a Prometheus summary, fed by Node's own sampler
 * (`perf_hooks.monitorEventLoopDelay`, an HDR histogram in ns): how late a
 * timer of {@link EVENT_LOOP_RESOLUTION_MS} fired, minus that period.
 *
 * A summary rather than a p99 gauge: Node computes the quantiles, which is
 * what the summary type carries (`{quantile="0.99"}`), and its `_sum` and
 * `_count` give the mean delay over any range, `rate(_sum) / rate(_count)`,
 * which also aggregates across instances (a quantile does not; the delay is
 * a per-process fact anyway).
 *
 * The quantiles cover the samples since the previous scrape: Node's
 * histogram is reset at each scrape, as prom-client's own
 * `nodejs_eventloop_lag_*` gauges do. A scrape less than a sampling period
 * after the previous one repeats its quantiles (none before the first
 * sample; never NaN, which prom-client would print as `Nan`). `_sum` and
 * `_count` are cumulative.
 *
 * A prom-client collector object (`name`, `help`, `type`, `get()`,
 * `reset()`), registered as a metric.
 */
export class EventLoopDelaySummary {
  readonly type = 'summary';
  readonly aggregator = 'omit';
  readonly help = 'Event-loop delay beyond the 10 ms sampling period, in seconds: quantiles since the previous scrape; sum and count since start.';
  readonly #histogram: IntervalHistogram;
  #sum = 0;
  #count = 0;
  /** The quantiles of the latest window that had samples. */
  #quantiles: readonly SeriesValue[] = [];

  constructor(readonly name: string) {
    this.#histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.#histogram.enable();
  }

  /** The series now; takes the window's samples into the totals and starts a new window. */
  get(): { name: string; help: string; type: string; aggregator: string; values: SeriesValue[] } {
    const h = this.#histogram;
    const count = h.count;
    if (count > 0) {
      this.#quantiles = EVENT_LOOP_QUANTILES.map((quantile) => ({ labels: { quantile }, value: delaySeconds(h.percentile(quantile * 100)) }));
      this.#count += count;
      this.#sum += delaySeconds(h.mean) * count;
    }
    h.reset();
    const values = [...this.#quantiles];
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.#sum }, { metricName: `${this.name}_count`, labels: {}, value: this.#count });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** `registry.resetMetrics()`: the totals and the window start over. */
  reset(): void {
    this.#sum = 0;
    this.#count = 0;
    this.#quantiles = [];
    this.#histogram.reset();
  }

  /** Stops sampling; safe to call twice. */
  close(): void {
    this.#histogram.disable();
  }
}

/** A sampled period in ns, as seconds of delay beyond the sampling period (never negative: a timer may fire early). */
function delaySeconds(ns: number): number {
  return Math.max(0, ns / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000);
}
