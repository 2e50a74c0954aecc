import { EMPTY, map, merge, mergeMap, of, type Observable } from 'rxjs';
import { dialAll$, type ConfigChange, type DialLoopContext } from './dialer.js';
import { CODES } from './limits.js';
import { session$, type SessionContext, type SessionEvent } from './session/session.js';
import type { Connection } from './transport/types.js';

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
  const accepted$ = t.incoming$.pipe(map((conn): Source => ({ conn, expected: undefined })));
  const dialed$ = dialAll$(() => ctx.configured(), ctx.config$, ctx);
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
  // one merge for connections and the transport's own words alike: every frame of every link passes
  // through it, so a second merge around the sessions would cost each of them a step more
  return merge(accepted$, dialed$, refused$, said$).pipe(mergeMap((s) => ('conn' in s ? session$(s.conn, s.expected, ctx.session) : of(s))));
}

/** A connection to live a session on (with the peer it was dialed for), or an event the transport had to tell. */
type Source = { readonly conn: Connection; readonly expected: string | undefined } | SessionEvent;
