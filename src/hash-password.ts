#!/usr/bin/env node
/**
 * `rxcluster-hash-password`: reads one admin password from stdin (its first
 * line, the newline dropped) and prints its `hashAdminPassword` hash, for
 * `api.admins`. The password never appears on the command line.
 *
 *   printf '%s' 'correct horse battery staple' | npx rxcluster-hash-password
 *   scrypt$32768$8$1$…$…
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hashAdminPassword } from './api/password.js';

/** Reads stdin to its end (at most 64 KiB) and hashes its first line. */
export async function hashFromStdin(input: AsyncIterable<Buffer | string> = process.stdin): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.length > 64 * 1024) throw new TypeError('Invalid password: stdin holds more than 64 KiB');
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  return hashAdminPassword(password);
}

function executedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (executedDirectly()) {
  hashFromStdin().then(
    (hash) => process.stdout.write(`${hash}\n`),
    (error: unknown) => {
      process.stderr.write(`rxcluster-hash-password: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
