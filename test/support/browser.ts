/**
 * The Chromium the browser tests drive with playwright-core. By default the
 * headless build shipped inside the `@sparticuz/chromium` npm package (so
 * `npm install` is all a machine needs), unpacked once into the temp folder
 * with the few shared libraries it needs beside it; `CHROMIUM_PATH` names
 * another executable instead (e.g. the chromium of a Linux distribution, or a Chrome on macOS).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sparticuz, { inflate } from '@sparticuz/chromium';

/** What `chromium.launch()` needs. */
export interface BrowserLaunch {
  readonly executablePath: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where it came from, for messages. */
  readonly source: string;
}

/** Flags for a desktop Chromium run headless in a test. */
const SYSTEM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * Finds (and, the first time, unpacks) the browser.
 *
 * @param env - the environment; only CHROMIUM_PATH is read
 * @returns the executable, its flags and the environment to start it in
 * @throws Error saying which path is missing, when CHROMIUM_PATH names nothing
 */
export async function findChromium(env: Readonly<Record<string, string | undefined>> = process.env): Promise<BrowserLaunch> {
  const fromEnv = env['CHROMIUM_PATH'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv}: no such file (unset it to use the Chromium from @sparticuz/chromium)`);
    return { executablePath: fromEnv, args: SYSTEM_ARGS, env: {}, source: `CHROMIUM_PATH=${fromEnv}` };
  }
  const binDir = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..', 'bin');
  const executablePath = await sparticuz.executablePath(binDir);
  // the package unpacks the NSS and expat libraries only on Amazon Linux; a
  // bare Debian or Ubuntu lacks them too, so unpack them always and point the
  // browser (and only the browser) at them
  const libDir = join(await inflate(join(binDir, 'al2023.tar.br')), 'lib');
  const libraryPath = [libDir, ...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter((p) => p !== '')].join(':');
  return {
    executablePath,
    args: sparticuz.args,
    env: { ...process.env, LD_LIBRARY_PATH: libraryPath, FONTCONFIG_PATH: process.env['FONTCONFIG_PATH'] ?? join(tmpdir(), 'fonts') },
    source: '@sparticuz/chromium',
  };
}
