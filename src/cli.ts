#!/usr/bin/env node
/**
 * `rxcluster`: runs one cluster node from flags or a JSON config file.
 *
 *   RXCLUSTER_SECRET=… rxcluster --name node1 --listen 0.0.0.0:9654 --peer node2=10.0.0.2:9654
 *
 * Prints every event as one JSON object per line on stdout (log entries as
 * readable lines on stderr, unless --log-stdout), sends each stdin line to the
 * cluster, and shuts down cleanly on SIGTERM and SIGINT, and when npm, which
 * started it through a shell, goes away. A bad
 * configuration gets one line on stderr and exit code 2, before anything
 * starts. See `rxcluster --help`.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { asapScheduler, EMPTY, map, skip, switchMap, take, timer, type Subscription } from 'rxjs';
import { formatAddress, parseAddress } from './address.js';
import { LogEntry, type LogLevel } from './log.js';
import { Manager, type TlsOptions } from './manager.js';
import { NodeName } from './protocol/frames.js';
import { DEFAULT_SETTINGS, mergeSettings, type Settings } from './settings.js';
import { describeCertificate, folderChanges$ } from './tlsFiles.js';

/** The environment variable the shared secret is read from. */
export const SECRET_ENV = 'RXCLUSTER_SECRET';

/** Everything a node needs, validated. */
export interface CliConfig {
  readonly name: string;
  /** `host:port` to listen on; port 0 picks a free one. */
  readonly listen: string;
  /** Peer name → `host:port`. */
  readonly peers: Readonly<Record<string, string>>;
  readonly settings: Settings;
  /** PEM contents (not paths), when the node serves and dials over TLS. */
  readonly tls: TlsOptions | undefined;
  /** Where `tls` was read from: watched while the node runs, and read again when they change. */
  readonly tlsFiles: TlsFiles | undefined;
  readonly secret: string;
  /** Log entries below this level are not printed. */
  readonly logLevel: LogLevel;
  /** Log entries as `{"type":"log",…}` lines on stdout among the events, instead of text lines on stderr. */
  readonly logStdout: boolean;
  /** Print the agreed view and the leader (`view` and `leader` lines) at each change. */
  readonly views: boolean;
}

/** What `parseConfig` decided: run, print the help, or refuse with one line. */
export type ParseResult =
  | { readonly kind: 'run'; readonly config: CliConfig }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly message: string };

/** Reads a whole file as UTF-8 text; throws when it cannot. */
export type ReadFile = (path: string) => string;

/** A file read as UTF-8 text: how the CLI reads its config and its TLS files. */
const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

/** Paths of a node's TLS files (as given, or resolved against the config file's folder). */
export interface TlsFiles {
  readonly key: string;
  readonly cert: string;
  readonly ca?: string;
}

/** What the TLS files hold: the material `updateTls` takes. */
type TlsMaterial = Pick<TlsOptions, 'key' | 'cert' | 'ca'>;

export const HELP = `Usage: rxcluster [options]

Runs one rxcluster node. Prints its events as JSON lines on stdout; sends each
stdin line to the cluster (as JSON if it parses, else as a string); a line
"@node2 message" goes to node2 only. SIGTERM or SIGINT shuts it down cleanly.

Options:
  --name NAME              this node's name (unique in the cluster)
  --listen HOST:PORT       address to listen on (port 0 picks a free one)
  --peer NAME=HOST:PORT    a peer (repeatable)
  --config FILE.json       the same fields as JSON: name, listen, peers {name: addr},
                           settings {name: ms}, tls {key, cert, ca, requestCert},
                           secretFile, logLevel; flags override it; paths in it are
                           relative to the file
  --setting NAME=MS        a timing setting in ms (repeatable): pingInterval, joinDelay,
                           readTimeout, connectInterval, connectTimeout, maxConnectInterval;
                           readTimeout alone also scales the pingInterval and joinDelay
                           defaults below it (same proportions as 5000 and 500 of 11000)
  --secret-file FILE       file holding the shared secret (one trailing newline ignored)
  --tls-key FILE           PEM private key: serve and dial over TLS (needs --tls-cert)
  --tls-cert FILE          PEM certificate of this node
  --tls-ca FILE            PEM CA that peers' certificates must chain to
  --tls-request-cert       mutual TLS: require a client certificate from peers
                           (the key, certificate and CA files are watched: replaced
                           while the node runs, they are loaded with no restart)
  --log-level LEVEL        debug, info (default), warn or error
  --log-stdout             log entries as {"type":"log",...} JSON lines on stdout among
                           the events (default: readable lines on stderr)
  --views                  also print the agreed view and the leader at each change
  --help                   this text

The shared secret comes from the ${SECRET_ENV} environment variable or from a
secret file, never from a flag: the command line is visible to every user.

Output lines on stdout, one JSON object each: listening (with the quorum at
start), join, leave (with reason), suspect and alive (a peer silent for
readTimeout, and spoken again), quorum (each change, after the join or leave
that caused it), with --views view (id, members, converged) and leader (each
change, after quorum), message, stopped. Log entries go to stderr (see --log-stdout).
Started through npx or an npm script, the node also stops cleanly when npm is
signalled (npm passes the signal to a shell, not to the node: the node stops
when that shell, its parent, goes away).
Exit codes: 0 after a clean shutdown, 1 when the node cannot start, 2 for a bad configuration.
`;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The flags, for `node:util` parseArgs; the single-valued ones may be given once. */
const OPTIONS = {
  name: { type: 'string' },
  listen: { type: 'string' },
  peer: { type: 'string', multiple: true },
  config: { type: 'string' },
  setting: { type: 'string', multiple: true },
  'secret-file': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-request-cert': { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-stdout': { type: 'boolean' },
  views: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

const LogLevelCodec = t.keyof({ debug: null, info: null, warn: null, error: null }, 'one of debug, info, warn, error');

const TlsFileCodec = t.exact(
  t.intersection([t.type({ key: t.string, cert: t.string }), t.partial({ ca: t.string, requestCert: t.boolean })]),
  'an object { key, cert, ca?, requestCert? }',
);

const configFileProps = {
  name: t.string,
  listen: t.string,
  peers: t.record(t.string, t.string, 'an object { "name": "host:port" }'),
  settings: t.record(t.string, t.unknown, 'an object { "setting": milliseconds }'),
  tls: TlsFileCodec,
  secretFile: t.string,
  logLevel: LogLevelCodec,
};

/** The JSON config file: every field optional, unknown fields refused. */
export const ConfigFileCodec = t.partial(configFileProps, 'config');
type ConfigFile = t.TypeOf<typeof ConfigFileCodec>;

/** A configuration problem: its message is the line printed after `rxcluster: `. */
class ConfigError extends Error {}

/**
 * Turns command-line arguments, the environment and files into a validated
 * configuration. Pure but for `readFile`: it starts nothing, prints nothing.
 *
 * @param argv - the arguments after the script (`process.argv.slice(2)`)
 * @param env - the environment (`process.env`); only RXCLUSTER_SECRET is read
 * @param readFile - reads the config, secret and TLS files
 * @returns what to do: run with a config, print the help, or one error message
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: ReadFile,
): ParseResult {
  try {
    const flags = parseFlags(argv);
    if (flags.switches.has('--help')) return { kind: 'help', text: HELP };
    return { kind: 'run', config: buildConfig(flags, env, readFile) };
  } catch (error) {
    if (error instanceof ConfigError) return { kind: 'error', message: error.message };
    throw error;
  }
}

interface Flags {
  /** Single-valued flags by name with their dashes (`--name`). */
  readonly values: Map<string, string>;
  readonly lists: Map<string, string[]>;
  readonly switches: Set<string>;
}

function parseFlags(argv: readonly string[]): Flags {
  // before anything else, so that no other complaint comes first and the value is never echoed
  if (argv.some((arg) => arg === '--secret' || arg.startsWith('--secret='))) {
    throw new ConfigError(
      `--secret is refused: a secret on the command line is visible to every user of this machine (ps, /proc) and stays in shell history; set ${SECRET_ENV} or use --secret-file`,
    );
  }
  let tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>;
  try {
    ({ tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false, tokens: true }));
  } catch (error) {
    throw new ConfigError(parseArgsProblem(error as Error & { code?: string }));
  }
  const flags: Flags = { values: new Map(), lists: new Map(), switches: new Set() };
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const flag = `--${token.name}`;
    const option: { type: string; multiple?: boolean } = OPTIONS[token.name as keyof typeof OPTIONS];
    if (option.type === 'boolean') {
      flags.switches.add(flag);
    } else if (option.multiple === true) {
      flags.lists.set(flag, [...(flags.lists.get(flag) ?? []), token.value ?? '']);
    } else {
      if (flags.values.has(flag)) throw new ConfigError(`${flag} given twice`);
      flags.values.set(flag, token.value ?? '');
    }
  }
  return flags;
}

/** parseArgs' complaint in this tool's words, one line. */
function parseArgsProblem(error: Error & { code?: string }): string {
  const option = /'(?:-\w, )?(--?[\w-]+)/.exec(error.message)?.[1] ?? 'an option';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option} (see --help)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${/'(.*)'/.exec(error.message)?.[1] ?? ''}" (see --help)`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return error.message.includes('does not take an argument') ? `${option} takes no value` : `${option} needs a value`;
    default:
      return `${error.message.split('\n')[0] ?? ''} (see --help)`;
  }
}

function buildConfig(flags: Flags, env: Readonly<Record<string, string | undefined>>, readFile: ReadFile): CliConfig {
  const configPath = flags.values.get('--config');
  const file = configPath === undefined ? {} : readConfigFile(configPath, readFile);
  // paths in the config file are relative to it; paths in flags to the working directory
  const fromFile = (path: string): string => (configPath === undefined || isAbsolute(path) ? path : resolve(dirname(configPath), path));
  const missing = (flag: string, field: string, what: string): ConfigError =>
    new ConfigError(`no ${what}: give ${flag}${configPath === undefined ? '' : ` or "${field}" in ${configPath}`}`);

  const name = flags.values.get('--name') ?? file.name;
  if (name === undefined) throw missing('--name', 'name', 'node name');
  if (isLeft(NodeName.decode(name))) throw new ConfigError(`invalid node name "${name}": expected 1 to 128 characters without control characters`);

  const listenText = flags.values.get('--listen') ?? file.listen;
  if (listenText === undefined) throw missing('--listen host:port', 'listen', 'listen address');
  const listen = address(listenText, true, 'listen address');

  const peers: Record<string, string> = {};
  for (const [peer, addr] of Object.entries(file.peers ?? {})) peers[peer] = checkPeer(name, peer, addr);
  const flagPeers = new Set<string>();
  for (const spec of flags.lists.get('--peer') ?? []) {
    const at = spec.lastIndexOf('=');
    if (at <= 0) throw new ConfigError(`--peer ${spec}: expected NAME=HOST:PORT`);
    const peer = spec.slice(0, at);
    if (flagPeers.has(peer)) throw new ConfigError(`--peer ${peer} given twice`);
    flagPeers.add(peer);
    peers[peer] = checkPeer(name, peer, spec.slice(at + 1));
  }

  const settingsUpdate: Record<string, unknown> = { ...(file.settings ?? {}) };
  for (const spec of flags.lists.get('--setting') ?? []) {
    const match = /^([A-Za-z]+)=(\d{1,15})$/.exec(spec);
    if (match === null) throw new ConfigError(`--setting ${spec}: expected NAME=MS, a whole number of milliseconds`);
    settingsUpdate[match[1] ?? ''] = Number(match[2]);
  }
  let settings: Settings;
  try {
    settings = mergeSettings(DEFAULT_SETTINGS, fitDefaults(settingsUpdate));
  } catch (error) {
    throw new ConfigError(`${lowerFirst((error as Error).message)}${settingsHint((error as Error).message, settingsUpdate)}`);
  }

  const levelText = flags.values.get('--log-level') ?? file.logLevel;
  if (levelText !== undefined && !LOG_LEVELS.includes(levelText as LogLevel)) {
    throw new ConfigError(`invalid log level "${levelText}": expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const logLevel = (levelText ?? 'info') as LogLevel;

  const { tls, tlsFiles } = tlsOptions(flags, file, fromFile, readFile);

  const secretFlag = flags.values.get('--secret-file');
  const secretPath = secretFlag ?? (file.secretFile === undefined ? undefined : fromFile(file.secretFile));
  const secret = readSecret(env[SECRET_ENV], secretPath, readFile);

  return { name, listen, peers, settings, tls, tlsFiles, secret, logLevel, logStdout: flags.switches.has('--log-stdout'), views: flags.switches.has('--views') };
}

/**
 * Scales the defaults that must stay below another setting, when only that
 * other one is given: a lone `readTimeout` brings `pingInterval` and
 * `joinDelay` down in the defaults' proportions (5000 and 500 of 11000), a
 * lone `maxConnectInterval` caps `connectInterval`. A default is never raised,
 * and a value given explicitly is never changed.
 *
 * @param update - the settings given (config file and flags), by name
 * @returns `update` plus the scaled defaults
 */
export function fitDefaults(update: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const fitted: Record<string, unknown> = { ...update };
  const readTimeout = update['readTimeout'];
  if (typeof readTimeout === 'number' && Number.isSafeInteger(readTimeout) && readTimeout > 1) {
    for (const field of ['pingInterval', 'joinDelay'] as const) {
      if (field in update) continue;
      const scaled = Math.floor((readTimeout * DEFAULT_SETTINGS[field]) / DEFAULT_SETTINGS.readTimeout);
      fitted[field] = Math.max(1, Math.min(DEFAULT_SETTINGS[field], scaled));
    }
  }
  const cap = update['maxConnectInterval'];
  if (typeof cap === 'number' && Number.isSafeInteger(cap) && cap > 0 && !('connectInterval' in update)) {
    fitted['connectInterval'] = Math.min(DEFAULT_SETTINGS.connectInterval, cap);
  }
  return fitted;
}

/** For a rule between two settings that the given ones break: which flag to add or change. */
function settingsHint(message: string, given: Readonly<Record<string, unknown>>): string {
  const rule = /(\w+) \((\d+)\) must (be shorter than|not exceed) (\w+) \((\d+)\)/.exec(message);
  if (rule === null) return '';
  const [, low = '', lowValue = '', relation = '', high = ''] = rule;
  if (low in given && !(high in given)) {
    const least = relation === 'be shorter than' ? Number(lowValue) + 1 : Number(lowValue);
    return `: add --setting ${high}=MS with MS of at least ${least}`;
  }
  return `: lower ${low} or raise ${high}`;
}

function readConfigFile(path: string, readFile: ReadFile): ConfigFile {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`config file ${path}: expected a JSON object`);
  if (Object.hasOwn(json, 'secret')) {
    throw new ConfigError(`config file ${path}: a "secret" field is refused: config files are often shared; use "secretFile" or ${SECRET_ENV}`);
  }
  for (const key of Object.keys(json)) {
    if (!Object.hasOwn(configFileProps, key)) {
      throw new ConfigError(`config file ${path}: unknown field "${key}" (expected ${Object.keys(configFileProps).join(', ')})`);
    }
  }
  const decoded = ConfigFileCodec.decode(json);
  if (isLeft(decoded)) throw new ConfigError(`config file ${path}: ${fieldErrors(decoded.left)}`);
  if (decoded.right.tls !== undefined) {
    for (const key of Object.keys((json as { tls: object }).tls)) {
      if (!['key', 'cert', 'ca', 'requestCert'].includes(key)) throw new ConfigError(`config file ${path}: unknown field "tls.${key}" (expected key, cert, ca, requestCert)`);
    }
  }
  return decoded.right;
}

/** io-ts errors as `tls.key: expected string`, the path down to the wrong field. */
function fieldErrors(errors: t.Errors): string {
  const lines = new Set<string>();
  for (const error of errors) {
    const path: string[] = [];
    error.context.forEach((entry, i) => {
      const parent = error.context[i - 1];
      // an intersection's members are numbered: not a field of the file
      if (parent === undefined || entry.key === '' || isIntersection(parent.type)) return;
      path.push(entry.key);
    });
    const last = error.context[error.context.length - 1];
    lines.add(`${path.join('.')}: expected ${last?.type.name ?? 'something else'}`);
  }
  return [...lines].join('; ');
}

function isIntersection(codec: unknown): boolean {
  const { _tag, type } = codec as { _tag?: string; type?: unknown };
  return _tag === 'IntersectionType' || (_tag === 'ExactType' && isIntersection(type));
}

function address(text: string, allowZero: boolean, what: string): string {
  try {
    return formatAddress(parseAddress(text, allowZero));
  } catch {
    throw new ConfigError(`invalid ${what} "${text}": expected host:port with a port from ${allowZero ? 0 : 1} to 65535`);
  }
}

function checkPeer(self: string, peer: string, addr: string): string {
  if (isLeft(NodeName.decode(peer))) throw new ConfigError(`invalid peer name "${peer}": expected 1 to 128 characters without control characters`);
  if (peer === self) throw new ConfigError(`peer "${peer}" is this node's own name`);
  return address(addr, false, `address for peer ${peer}`);
}

function tlsOptions(
  flags: Flags,
  file: ConfigFile,
  fromFile: (path: string) => string,
  readFile: ReadFile,
): { tls: TlsOptions | undefined; tlsFiles: TlsFiles | undefined } {
  const keyPath = flags.values.get('--tls-key') ?? (file.tls === undefined ? undefined : fromFile(file.tls.key));
  const certPath = flags.values.get('--tls-cert') ?? (file.tls === undefined ? undefined : fromFile(file.tls.cert));
  const caPath = flags.values.get('--tls-ca') ?? (file.tls?.ca === undefined ? undefined : fromFile(file.tls.ca));
  const requestCert = flags.switches.has('--tls-request-cert') || file.tls?.requestCert === true;
  if (keyPath === undefined && certPath === undefined) {
    if (caPath !== undefined || requestCert) throw new ConfigError('--tls-ca and --tls-request-cert need --tls-key and --tls-cert');
    return { tls: undefined, tlsFiles: undefined };
  }
  if (keyPath === undefined) throw new ConfigError('--tls-cert needs --tls-key');
  if (certPath === undefined) throw new ConfigError('--tls-key needs --tls-cert');
  const tlsFiles = { key: keyPath, cert: certPath, ...(caPath === undefined ? {} : { ca: caPath }) };
  return { tls: { ...readTlsFiles(tlsFiles, readFile), requestCert }, tlsFiles };
}

/** Reads the key, certificate and CA files, each checked to be PEM of its kind; throws a ConfigError saying which is not. */
function readTlsFiles(files: TlsFiles, readFile: ReadFile): TlsMaterial {
  const key = pem(files.key, 'TLS key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key', readFile);
  const cert = pem(files.cert, 'TLS certificate', /-----BEGIN CERTIFICATE-----/, 'a PEM certificate', readFile);
  const ca = files.ca === undefined ? undefined : pem(files.ca, 'TLS CA', /-----BEGIN CERTIFICATE-----/, 'a PEM certificate', readFile);
  return { key, cert, ...(ca === undefined ? {} : { ca }) };
}

/** Ms a reload of the TLS files that failed waits for a further change before it is logged: the rest of a renewal, written a moment later. */
export const TLS_RELOAD_GRACE_MS = 2000;

/**
 * Reads the TLS files again after each burst of changes in their folders
 * and, when what they hold differs from what is served, swaps it in with
 * `updateTls`, with no leave (the manager logs the new certificate). Material
 * that does not load (a file unreadable or not PEM, a key that does not match
 * the certificate) changes nothing and is logged as a warning naming the
 * certificate still served, unless a further change comes within
 * TLS_RELOAD_GRACE_MS: all files are read together each time, so a renewal
 * written file by file is taken whole, never half.
 *
 * @returns the watch; unsubscribing closes it
 */
function reloadTlsOnChange(manager: Manager, files: TlsFiles, served: TlsMaterial, warn: (message: string) => void): Subscription {
  let current = served;
  /** Loads the files when they changed; returns why not, when they do not load. */
  const reload = (): string | undefined => {
    try {
      const next = readTlsFiles(files, readUtf8);
      if (next.key === current.key && next.cert === current.cert && next.ca === current.ca) return undefined;
      manager.updateTls(next);
      current = next;
      return undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // OpenSSL's words for it: error:05800074:x509 certificate routines::key values mismatch
      const why = message.includes('key values mismatch') ? `the key in ${files.key} does not match the certificate in ${files.cert}` : message;
      return `TLS files not reloaded: ${why}; still serving ${describeCertificate(current.cert)}`;
    }
  };
  const paths = [files.key, files.cert, ...(files.ca === undefined ? [] : [files.ca])];
  return folderChanges$(paths)
    .pipe(
      // a new burst of changes drops the warning of the last one, still held
      switchMap(() => {
        const problem = reload();
        return problem === undefined ? EMPTY : timer(TLS_RELOAD_GRACE_MS).pipe(map(() => problem));
      }),
    )
    .subscribe({ next: warn, error: (error: Error) => warn(`TLS files no longer watched: ${error.message}`) });
}

function pem(path: string, what: string, marker: RegExp, expected: string, readFile: ReadFile): string {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read ${what} file ${path}: ${(error as Error).message}`);
  }
  if (!marker.test(text)) throw new ConfigError(`${what} file ${path} is not ${expected}`);
  return text;
}

function readSecret(fromEnv: string | undefined, path: string | undefined, readFile: ReadFile): string {
  if (fromEnv !== undefined && path !== undefined) {
    throw new ConfigError(`both ${SECRET_ENV} and a secret file are given: use only one`);
  }
  if (fromEnv !== undefined) {
    if (fromEnv === '') throw new ConfigError(`${SECRET_ENV} is set but empty`);
    return fromEnv;
  }
  if (path === undefined) {
    throw new ConfigError(`no secret: set ${SECRET_ENV} or give --secret-file (never on the command line)`);
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read secret file ${path}: ${(error as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError(`secret file ${path} is empty`);
  return secret;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** One line of stdin as the message to send: JSON if it parses, else the text. */
export function lineMessage(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Runs a node until SIGTERM or SIGINT. Sets process.exitCode; never calls process.exit on the normal path. */
async function run(config: CliConfig): Promise<void> {
  let stdoutOpen = true;
  const out = (line: Record<string, unknown>): void => {
    if (stdoutOpen) process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const manager = new Manager(config.name, config.secret, { settings: config.settings });
  const minLevel = LOG_LEVELS.indexOf(config.logLevel);
  const printLog = (entry: LogEntry): void => {
    if (LOG_LEVELS.indexOf(entry.level) < minLevel) return;
    if (!config.logStdout) {
      process.stderr.write(`${String(entry)}\n`);
      return;
    }
    out({
      type: 'log',
      level: entry.level,
      message: entry.message,
      ...(entry.node === undefined ? {} : { node: entry.node }),
      ...(entry.code === undefined ? {} : { code: entry.code }),
      time: entry.time.toISOString(),
    });
  };
  manager.log$.subscribe(printLog);
  // quorum, the agreed view and the leader: each change is printed a turn later,
  // after the join or leave that caused it, and in that order when one event
  // changes several; changes still pending when a join or leave comes are older
  // than it (the manager announces a membership change before the state it
  // brings), and are printed first
  const changes = new Map<'quorum' | 'view' | 'leader', Record<string, unknown>[]>([['quorum', []], ['view', []], ['leader', []]]);
  const flushChanges = (): void => {
    for (const lines of changes.values()) for (const l of lines.splice(0)) out(l);
  };
  let flushing = false;
  const later = (kind: 'quorum' | 'view' | 'leader', line: Record<string, unknown>): void => {
    changes.get(kind)?.push(line);
    if (flushing) return;
    flushing = true;
    asapScheduler.schedule(() => {
      flushing = false;
      flushChanges();
    });
  };
  manager.membership$.subscribe((event) => {
    flushChanges();
    const time = event.time.toISOString();
    switch (event.type) {
      case 'join':
      case 'suspect':
      case 'alive':
        return out({ type: event.type, node: event.node, time });
      case 'leave':
        return out({ type: 'leave', node: event.node, reason: event.reason, time });
      case 'update':
        return out({ type: 'update', node: event.node, metadata: event.metadata, time });
    }
  });
  manager.fromCluster$.subscribe((packet) => out({ type: 'message', from: packet.name, data: packet.message(), time: packet.time.toISOString() }));
  for (const [peer, addr] of Object.entries(config.peers)) manager.addNode(peer, addr);

  let stopping = false;
  let reader: Interface | undefined = undefined;
  let tlsWatch: Subscription | undefined = undefined;
  let listening: Promise<string> | undefined = undefined;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    tlsWatch?.unsubscribe();
    reader?.close();
    if (reader !== undefined) process.stdin.destroy();
    // a listen still in flight settles first: Manager.shutdown() during listen()
    // would leave the freshly bound server open, and the process with it
    const settled = listening?.then(
      () => undefined,
      () => undefined,
    );
    Promise.resolve(settled).then(() => manager.shutdown()).then(
      () => {
        out({ type: 'stopped' });
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        // everything is closed: the event loop drains and the process exits 0;
        // should some handle stay open, do not hang forever
        setTimeout(() => {
          process.stderr.write('rxcluster: still busy 5 s after shutdown; exiting\n');
          process.exit(1);
        }, 5000).unref();
      },
      (error: unknown) => {
        process.stderr.write(`rxcluster: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      stop();
      return;
    }
    process.stderr.write(`rxcluster: ${signal} again during shutdown; exiting now\n`);
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.stdout.on('error', () => {
    // the reader of our output is gone (EPIPE): nobody can see us any more
    stdoutOpen = false;
    stop();
  });

  let bound: string;
  listening = config.tls === undefined ? manager.listen(config.listen) : manager.listenTls(config.listen, config.tls);
  try {
    bound = await listening;
  } catch (error) {
    const alreadyStopping = stopping;
    stopping = true;
    await manager.shutdown();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (alreadyStopping) return;
    process.stderr.write(`rxcluster: ${(error as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  if (stopping) return;
  // quorum$ replays the current value at once: it goes in the listening line;
  // each change is printed a turn later, after the join or leave line of the
  // same membership change, whichever order the manager emits them in
  let quorumAtStart: boolean | undefined;
  manager.quorum$.pipe(take(1)).subscribe((quorum) => (quorumAtStart = quorum));
  out({ type: 'listening', address: bound, ...(quorumAtStart === undefined ? {} : { quorum: quorumAtStart }) });
  manager.quorum$.pipe(skip(1)).subscribe((quorum) => later('quorum', { type: 'quorum', quorum }));
  if (config.views) {
    manager.view$.pipe(skip(1)).subscribe((view) => later('view', { type: 'view', id: view.id, members: view.members, converged: view.converged, time: new Date().toISOString() }));
    manager.leader$.pipe(skip(1)).subscribe((leader) => later('leader', { type: 'leader', leader, time: new Date().toISOString() }));
  }
  if (startedByNpm()) watchParent(stop);
  if (config.tls !== undefined && config.tlsFiles !== undefined) {
    tlsWatch = reloadTlsOnChange(manager, config.tlsFiles, config.tls, (message) => printLog(new LogEntry(new Date(), 'warn', message)));
  }

  reader = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
  reader.on('line', (text) => {
    if (stopping || text.trim() === '') return;
    const to = /^@(\S+) (.*)$/s.exec(text);
    if (to !== null) {
      manager.toNode$.next({ node: to[1] ?? '', message: lineMessage(to[2] ?? '') });
    } else if (text.startsWith('@')) {
      printLog(new LogEntry(new Date(), 'warn', 'a private message is "@node message"; line not sent'));
    } else {
      manager.toCluster$.next(lineMessage(text));
    }
  });
  // stdin ending (a closed pipe, /dev/null) leaves the node running
}

/** npm (npx, `npm exec`, an npm script) runs a bin through a shell and says so in the environment. */
function startedByNpm(): boolean {
  return process.env['npm_command'] !== undefined || process.env['npm_lifecycle_event'] !== undefined;
}

/** How often the parent process is checked, ms. */
const PARENT_CHECK_MS = 200;

/**
 * Stops the node when its parent goes away. npm, signalled, passes the signal
 * to the `sh -c` it started the bin in, which dies without passing it on: the
 * node would run on, orphaned, and its peers would see no leave. Only used
 * when npm started the node; a node started from a shell with `&` and
 * outliving that shell is left alone.
 */
function watchParent(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, PARENT_CHECK_MS);
  timer.unref();
}

/** Entry point: parse, then run or refuse. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const parsed = parseConfig(argv, process.env, readUtf8);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`rxcluster: ${parsed.message}\n`);
    process.exitCode = 2;
    return;
  }
  await run(parsed.config);
}

function executedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // npm's bin link is a symlink to this file
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (executedDirectly()) {
  main().catch((error: unknown) => {
    process.stderr.write(`rxcluster: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
