import type { IncomingMessage } from 'node:http';
import { type Either, left, right } from 'fp-ts/lib/Either.js';
import { fail, markBodyRead, type Reply } from './reply.js';

/** The largest request body the API reads: 64 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a request body as UTF-8 text, at most `limit` bytes. A declared
 * content-length over the limit is refused before a byte is read; a body that
 * grows past it is abandoned at once (the chunks read so far are dropped, the
 * rest is never read). Left is the reply to send: 413, or 400 for a body that
 * is not UTF-8 or a request that broke off.
 *
 * @param req - the request, not yet read
 * @param limit - in bytes, default MAX_BODY_BYTES
 */
export function readBodyText(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Either<Reply, string>> {
  const tooLarge = fail(413, `request body larger than ${limit} bytes`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(/^\d+$/.test(declared) && Number(declared) <= limit)) {
    return Promise.resolve(left(/^\d+$/.test(declared) ? tooLarge : fail(400, 'malformed content-length')));
  }
  if (req.readableEnded || req.destroyed) return Promise.resolve(alreadyRead(req, limit));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: Either<Reply, string>): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      req.off('close', onError);
      // anything after this must not throw on an unheard 'error'
      req.on('error', () => undefined);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        done(left(tooLarge));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      markBodyRead(req);
      try {
        done(right(utf8.decode(Buffer.concat(chunks))));
      } catch {
        done(left(fail(400, 'request body is not valid UTF-8')));
      }
    };
    const onError = (): void => done(left(fail(400, 'request body broke off')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
    req.on('close', onError);
  });
}

/**
 * A body some middleware already read (express's body parsers leave it on
 * `req.body`): taken as it is, within the same limit.
 */
function alreadyRead(req: IncomingMessage, limit: number): Either<Reply, string> {
  const body = (req as IncomingMessage & { body?: unknown }).body;
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (Buffer.isBuffer(body)) text = body.toString('utf8');
  else if (typeof body === 'object' && body !== null) text = JSON.stringify(body);
  if (text === undefined) return left(fail(400, 'request body was already consumed'));
  return Buffer.byteLength(text) > limit ? left(fail(413, `request body larger than ${limit} bytes`)) : right(text);
}

/** Reads a JSON body: Left is 413, or 400 for a body that is not JSON. */
export async function readBodyJson(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Either<Reply, unknown>> {
  const text = await readBodyText(req, limit);
  if (text._tag === 'Left') return text;
  try {
    return right(JSON.parse(text.right) as unknown);
  } catch {
    return left(fail(400, 'request body is not valid JSON'));
  }
}
