import { defaultIfEmpty, firstValueFrom, forkJoin, race, timer, type BehaviorSubject, type SchedulerLike, type Subscription } from 'rxjs';
import type { ManagerApi } from './api/adapter.js';
import { CLOSE_GRACE } from './limits.js';
import type { Lifecycle } from './listen.js';
import type { LogLevel } from './log.js';
import type { LiveMembership } from './membership/live.js';
import type { ClusterMetrics } from './metrics/index.js';
import type { Outbox } from './outbox.js';
import type { Settings } from './settings.js';
import type { Transport } from './transport/types.js';

/** What a shutdown ends. */
export interface ShutdownContext {
  readonly members: LiveMembership;
  readonly outbox: Outbox;
  readonly transport: Transport;
  readonly api: ManagerApi;
  readonly metrics: ClusterMetrics | undefined;
  /** The manager's one subscription: its connection pipelines. */
  readonly subscription: Subscription;
  readonly scheduler: SchedulerLike;
  readonly settings$: BehaviorSubject<Settings>;
  log(level: LogLevel, message: string): void;
  /** Completed in this order once stopped: the manager's public streams, the log last. */
  readonly streams: readonly { complete(): void }[];
}

/**
 * Stops a manager (the seed's Shutdown). A listening one tells every peer it
 * leaves and gives the close handshakes a moment, bounded by connectTimeout
 * and CLOSE_GRACE, so the leave notices are delivered before the sockets go
 * and peers see an orderly leave. Then the pipelines end, the metrics, the
 * registry entry, the transport and the API's own server close, and every
 * stream completes.
 */
export async function stop(life: Lifecycle, ctx: ShutdownContext): Promise<void> {
  const wasListening = life.phase === 'listening';
  life.phase = 'stopping';
  if (wasListening) {
    ctx.log('info', 'shutting down');
    ctx.members.input({ type: 'stop' });
    const links = ctx.members.links();
    for (const link of links) ctx.outbox.leave(link);
    if (links.length > 0) {
      const allClosed$ = forkJoin(links.map((link) => link.closed$.pipe(defaultIfEmpty(undefined))));
      await firstValueFrom(race(allClosed$, timer(Math.min(ctx.settings$.value.connectTimeout, CLOSE_GRACE), ctx.scheduler)), { defaultValue: undefined });
    }
  }
  ctx.subscription.unsubscribe();
  ctx.metrics?.close();
  ctx.api.unregister();
  await ctx.transport.close();
  await ctx.api.close();
  life.phase = 'stopped';
  ctx.log('info', 'stopped');
  for (const stream of ctx.streams) stream.complete();
}
