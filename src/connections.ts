import { EMPTY, map, merge, mergeMap, type Observable } from 'rxjs';
import { dialAll$, type ConfigChange, type DialLoopContext } from './dialer.js';
import { CODES } from './limits.js';
import { session$, type SessionContext, type SessionEvent } from './session/session.js';

/** What the connection pipelines need: how to dial, how to live a session, the configuration. */
export interface ConnectionsContext extends DialLoopContext {
  readonly session: SessionContext;
  /** The peers configured now. */
  configured(): readonly ConfigChange[];
  /** Later configuration changes. */
  readonly config$: Observable<ConfigChange>;
}

/**
 * Every connection of a listening node as one stream of session events:
 * accepted ones, and one dial loop per configured peer, each connection
 * living its own session; plus a log event per connection the transport
 * refused before it was one.
 */
export function connections$(ctx: ConnectionsContext): Observable<SessionEvent> {
  const t = ctx.transport;
  const accepted$ = t.incoming$.pipe(map((conn) => ({ conn, expected: undefined as string | undefined })));
  const dialed$ = dialAll$(() => ctx.configured(), ctx.config$, ctx);
  const sessions$ = merge(accepted$, dialed$).pipe(mergeMap(({ conn, expected }) => session$(conn, expected, ctx.session)));
  const refused$ = t.refused$.pipe(
    map((r): SessionEvent =>
      r.kind === 'tls'
        ? { type: 'log', level: 'warn', message: `refused ${r.remote}: ${r.reason}`, code: CODES.TLS }
        : r.kind === 'overload'
          ? { type: 'log', level: 'warn', message: r.reason, code: CODES.HANDSHAKE_LIMIT }
          : { type: 'log', level: 'debug', message: `refused ${r.remote}: ${r.reason}` },
    ),
  );
  const said$ = (t.log$ ?? EMPTY).pipe(map((e): SessionEvent => ({ type: 'log', ...e })));
  return merge(sessions$, refused$, said$);
}
