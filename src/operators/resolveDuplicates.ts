import { scan, type OperatorFunction } from 'rxjs';
import { preferConnection } from '../protocol/handshake.js';

/** A connection to one peer came up (authenticated) or went down. */
export type ConnectionEvent<C> = { readonly type: 'up'; readonly conn: C } | { readonly type: 'down'; readonly conn: C };

/** The connection kept for a peer after an event, and the ones to close now. */
export interface ConnectionDecision<C> {
  /** The one connection in use for this peer, if any. */
  readonly active: C | undefined;
  /** Connections that lost to `active` and must be closed (empty most of the time). */
  readonly close: readonly C[];
}

/**
 * Keeps at most one connection per peer: a fold over that peer's connection
 * events, one decision per event.
 *
 * When two connections to the same peer are up at once (both nodes dialed
 * each other), {@link preferConnection} picks the survivor by a rule both
 * nodes compute alike: the one dialed by the node whose name sorts first, or
 * the newer one if the same node dialed both. So each side keeps the same
 * link, closes the other, and `active` never becomes `undefined` on the way:
 * no leave/join flicker.
 *
 * ```
 * events:            -u(X)--u(Y)--d(Y)--d(X)-|     X dialed by a, Y dialed by b
 * resolveDuplicates: -X/[]--X/[Y]-X/[]--_/[]-|     (active/close; _ = undefined)
 * ```
 *
 * - `up` with no active connection: it becomes active, nothing to close.
 * - `up` with an active one: the preferred of the two stays active, the other
 *   is listed in `close`. `up` of the active connection itself changes nothing.
 * - `down` of the active connection: `active` becomes undefined. `down` of any
 *   other connection (typically one listed in `close` earlier) changes
 *   nothing, and still emits, with `close: []`.
 * - No timing is involved; completion and errors pass through at once.
 *
 * @returns an operator from connection events to one {@link ConnectionDecision} per event
 */
export function resolveDuplicates<C extends { readonly dialer: string; readonly seq: number }>(): OperatorFunction<
  ConnectionEvent<C>,
  ConnectionDecision<C>
> {
  return scan<ConnectionEvent<C>, ConnectionDecision<C>>(({ active }, { type, conn }) => {
    if (type === 'down') return { active: conn === active ? undefined : active, close: [] };
    if (active === undefined || active === conn) return { active: conn, close: [] };
    const kept = preferConnection(active, conn);
    return { active: kept, close: [kept === active ? conn : active] };
  }, { active: undefined, close: [] });
}
