/**
 * TLS material as files and as log text: the folders holding a node's key,
 * certificate and CA watched for renewals (the CLI reloads them with no
 * restart), and a certificate told in one line.
 */
import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { sanitize } from './log.js';

/** Ms without a change in the watched folders that end a burst of changes (a renewal writes several files). */
export const TLS_RELOAD_QUIET_MS = 300;
/** Ms after a burst's first change by which it ends however busy the folders stay (a log written beside the certificates). */
export const TLS_RELOAD_MAX_WAIT_MS = 3000;

/**
 * One emission after each burst of changes in the folders holding `paths`;
 * a burst ends `quietMs` after its last change, or `maxWaitMs` after its
 * first, whichever comes first: a folder that never falls quiet (another
 * file in it written all the time) still has its renewals read.
 *
 * The folders are watched, not the files: a file replaced by renaming a new
 * one over it (cert-manager, certbot, `mv`) is a new inode, which a watch on
 * the old file never hears of, while a folder hears of both that rename and
 * a file written in place. Every change in a folder counts, whatever its
 * name, so that a swapped symlink is heard too (a Kubernetes secret volume
 * swaps its `..data` link, not the files named in the config): the
 * subscriber compares what it reads with what it has.
 *
 * A watch that fails (the folder removed, no permission) errors the stream
 * with the folder's name. Unsubscribing closes every watch and drops a burst
 * still pending.
 *
 * @param paths - the files, watched through their folders
 * @param quietMs - ms without a change that end a burst; default TLS_RELOAD_QUIET_MS
 * @param scheduler - times the quiet; default asyncScheduler
 * @param maxWaitMs - ms after a burst's first change that end it at the latest; default TLS_RELOAD_MAX_WAIT_MS
 * @returns a cold stream: each subscription watches anew
 */
export function folderChanges$(paths: readonly string[], quietMs = TLS_RELOAD_QUIET_MS, scheduler: SchedulerLike = asyncScheduler, maxWaitMs = TLS_RELOAD_MAX_WAIT_MS): Observable<void> {
  const folders = [...new Set(paths.map((path) => dirname(resolve(path))))];
  const changes$ = new Observable<void>((subscriber) => {
    const watchers: FSWatcher[] = [];
    const failed = (folder: string, error: unknown): void =>
      subscriber.error(new Error(`cannot watch ${folder}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    for (const folder of folders) {
      try {
        // not persistent: a watch alone never keeps the process running
        const watcher = watch(folder, { persistent: false }, () => subscriber.next());
        watcher.on('error', (error) => failed(folder, error));
        watchers.push(watcher);
      } catch (error) {
        failed(folder, error);
        break;
      }
    }
    return () => {
      for (const watcher of watchers) watcher.close();
    };
  });
  return changes$.pipe(burstEnds(quietMs, maxWaitMs, scheduler));
}

/** Like debounceTime(quietMs), but a burst also ends maxWaitMs after its first value. */
export function burstEnds(quietMs: number, maxWaitMs: number, scheduler: SchedulerLike): (source$: Observable<void>) => Observable<void> {
  return (source$) =>
    new Observable<void>((subscriber) => {
      let first: number | undefined;
      let end: Subscription | undefined;
      const fire = (): void => {
        end = undefined;
        first = undefined;
        subscriber.next();
      };
      const sub = source$.subscribe({
        next: () => {
          const now = scheduler.now();
          first ??= now;
          end?.unsubscribe();
          end = scheduler.schedule(fire, Math.max(0, Math.min(now + quietMs, first + maxWaitMs) - now));
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        end?.unsubscribe();
        sub.unsubscribe();
      };
    });
}

/**
 * A certificate in one log line: its subject, SHA-256 fingerprint and
 * expiry, e.g. `certificate CN=node1 (SHA-256 3A:…:9F, valid until
 * 2027-01-01T00:00:00.000Z)`. The first certificate of a chain.
 *
 * @param cert - PEM (or DER) as given to TLS
 */
export function describeCertificate(cert: string | Buffer): string {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return 'a certificate node:crypto cannot read';
  }
  const until = new Date(x509.validTo);
  const expiry = Number.isNaN(until.getTime()) ? x509.validTo : until.toISOString();
  return `certificate ${sanitize(x509.subject.split('\n').join(', '))} (SHA-256 ${x509.fingerprint256}, valid until ${expiry})`;
}
