import { MAX_METADATA_BYTES } from './limits.js';

/** A node's metadata: a JSON object of tags and roles. */
export type Metadata = Readonly<Record<string, unknown>>;

/**
 * Checks a node's metadata: a plain JSON object whose JSON form is at most
 * MAX_METADATA_BYTES (4 KiB).
 *
 * @param value - the metadata
 * @param where - the option or method that got it, for the error
 * @returns a frozen copy
 * @throws TypeError naming `where` when it is not a JSON object or too big
 */
export function checkMetadata(value: unknown, where: string): Metadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw new TypeError(`Invalid ${where}: expected a JSON object`);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`Invalid ${where}: ${(error as Error).message}`, { cause: error });
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_METADATA_BYTES) throw new TypeError(`Invalid ${where}: ${bytes} bytes of JSON, over ${MAX_METADATA_BYTES}`);
  return Object.freeze(JSON.parse(json) as Record<string, unknown>);
}
