import { createRequire } from 'node:module';
import type JsonWebToken from 'jsonwebtoken';

const require = createRequire(import.meta.url);
let loaded: typeof JsonWebToken | undefined;

/**
 * jsonwebtoken, loaded on first use: a node that never issues or checks an
 * API token does not carry it (about 10 MB of resident memory).
 */
export function jwt(): typeof JsonWebToken {
  loaded ??= require('jsonwebtoken') as typeof JsonWebToken;
  return loaded;
}
