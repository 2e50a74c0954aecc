/**
 * The `rxcluster` node runner: `parseConfig` on its own (flags, config file,
 * secret sources, every kind of bad input), then real CLI processes that
 * join, pass stdin lines as messages, stop on SIGTERM and refuse bad config.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { HELP, lineMessage, parseConfig, type CliConfig, type ParseResult, type ReadFile } from '../src/cli.js';
import { DEFAULT_SETTINGS, mergeSettings } from '../src/settings.js';
import { sleep } from './support/cluster.js';
import { createPki } from './support/certs.js';
import { clusterView, freePorts, launchCli, meshJoined, startCliCluster, startCli, FAST, type CliLine } from './support/cli-node.js';
import { within } from './support/raw.js';
import { scope } from './support/scope.js';

const ENV = { RXCLUSTER_SECRET: 'from-env' };
const KEY = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n';

/** A readFile over an in-memory folder; a missing file fails as fs does. */
function files(contents: Record<string, string>): ReadFile {
  return (path) => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return text;
  };
}
const noFiles = files({});

function config(result: ParseResult): CliConfig {
  assert.equal(result.kind, 'run', `expected a config, got ${JSON.stringify(result)}`);
  return (result as Extract<ParseResult, { kind: 'run' }>).config;
}

/** The error message, checked to be one line. */
function problem(result: ParseResult): string {
  assert.equal(result.kind, 'error', `expected an error, got ${JSON.stringify(result)}`);
  const { message } = result as Extract<ParseResult, { kind: 'error' }>;
  assert.ok(message.length > 0 && !message.includes('\n'), `one non-empty line: ${JSON.stringify(message)}`);
  return message;
}

const BASE = ['--name', 'a', '--listen', '127.0.0.1:0'];

describe('parseConfig', () => {
  it('reads flags, in both "--flag value" and "--flag=value" forms', () => {
    const c = config(
      parseConfig(
        ['--name', 'node1', '--listen=0.0.0.0:9654', '--peer', 'node2=10.0.0.2:9654', '--peer=node3=[::1]:9655',
          '--setting', 'readTimeout=6000', '--setting=joinDelay=200', '--log-level', 'debug', '--views'],
        ENV,
        noFiles,
      ),
    );
    assert.deepEqual(c, {
      name: 'node1',
      listen: '0.0.0.0:9654',
      peers: { node2: '10.0.0.2:9654', node3: '[::1]:9655' },
      // a lone readTimeout scales the pingInterval default below it: 6000 × 5000 / 11000
      settings: mergeSettings(DEFAULT_SETTINGS, { readTimeout: 6000, joinDelay: 200, pingInterval: 2727 }),
      tls: undefined,
      tlsFiles: undefined,
      secret: 'from-env',
      logLevel: 'debug',
      logStdout: false,
      views: true,
    });
  });

  it('defaults: no peers, default settings, log level info', () => {
    const c = config(parseConfig(BASE, ENV, noFiles));
    assert.deepEqual(c.peers, {});
    assert.deepEqual(c.settings, DEFAULT_SETTINGS);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.tls, undefined);
  });

  it('reads a config file; its paths are relative to it; flags override it', () => {
    const dir = '/etc/rxcluster';
    const read = files({
      [`${dir}/node.json`]: JSON.stringify({
        name: 'file-name',
        listen: '127.0.0.1:7000',
        peers: { b: '127.0.0.1:7001', c: '127.0.0.1:7002' },
        settings: { readTimeout: 4000, pingInterval: 1000 },
        tls: { key: 'node.key', cert: '/abs/node.crt', ca: 'ca.crt', requestCert: true },
        secretFile: 'secret.txt',
        logLevel: 'warn',
      }),
      [`${dir}/node.key`]: KEY,
      ['/abs/node.crt']: CERT,
      [`${dir}/ca.crt`]: CERT,
      [`${dir}/secret.txt`]: 'from-file\n',
    });
    const fromFile = config(parseConfig(['--config', `${dir}/node.json`], {}, read));
    assert.deepEqual(fromFile, {
      name: 'file-name',
      listen: '127.0.0.1:7000',
      peers: { b: '127.0.0.1:7001', c: '127.0.0.1:7002' },
      settings: mergeSettings(DEFAULT_SETTINGS, { readTimeout: 4000, pingInterval: 1000, joinDelay: 181 }),
      tls: { key: KEY, cert: CERT, ca: CERT, requestCert: true },
      // the paths are kept, resolved, to be watched
      tlsFiles: { key: `${dir}/node.key`, cert: '/abs/node.crt', ca: `${dir}/ca.crt` },
      secret: 'from-file',
      logLevel: 'warn',
      logStdout: false,
      views: false,
    });

    const overridden = config(
      parseConfig(
        ['--config', `${dir}/node.json`, '--name', 'flag-name', '--peer', 'c=127.0.0.1:8002', '--peer', 'd=127.0.0.1:8003',
          '--setting', 'pingInterval=500', '--log-level', 'error'],
        {},
        read,
      ),
    );
    assert.equal(overridden.name, 'flag-name');
    assert.equal(overridden.listen, '127.0.0.1:7000');
    assert.deepEqual(overridden.peers, { b: '127.0.0.1:7001', c: '127.0.0.1:8002', d: '127.0.0.1:8003' });
    assert.deepEqual(overridden.settings, mergeSettings(DEFAULT_SETTINGS, { readTimeout: 4000, pingInterval: 500, joinDelay: 181 }));
    assert.equal(overridden.logLevel, 'error');

    // a relative config path: its folder is relative to the working directory
    const relative = config(parseConfig(['--config', 'conf/n.json'], ENV, files({ 'conf/n.json': '{"name":"r","listen":"127.0.0.1:0","tls":{"key":"k.pem","cert":"c.pem"}}', [resolve('conf/k.pem')]: KEY, [resolve('conf/c.pem')]: CERT })));
    assert.deepEqual(relative.tls, { key: KEY, cert: CERT, requestCert: false });
    assert.deepEqual(relative.tlsFiles, { key: resolve('conf/k.pem'), cert: resolve('conf/c.pem') });
  });

  it('takes the secret from RXCLUSTER_SECRET or a secret file, and only from one', () => {
    assert.equal(config(parseConfig(BASE, { RXCLUSTER_SECRET: 's3cret', OTHER: 'x' }, noFiles)).secret, 's3cret');
    const read = files({ '/run/secret': 'line one\r\n', '/run/two-lines': 'a\nb\n\n', '/run/empty': '\n' });
    assert.equal(config(parseConfig([...BASE, '--secret-file', '/run/secret'], {}, read)).secret, 'line one', 'one trailing newline is dropped');
    assert.equal(config(parseConfig([...BASE, '--secret-file', '/run/two-lines'], {}, read)).secret, 'a\nb\n', 'only one newline is dropped');

    assert.match(problem(parseConfig(BASE, {}, noFiles)), /^no secret: set RXCLUSTER_SECRET or give --secret-file/);
    assert.match(problem(parseConfig([...BASE, '--secret-file', '/run/secret'], ENV, read)), /both RXCLUSTER_SECRET and a secret file/);
    assert.match(problem(parseConfig(BASE, { RXCLUSTER_SECRET: '' }, noFiles)), /RXCLUSTER_SECRET is set but empty/);
    assert.match(problem(parseConfig([...BASE, '--secret-file', '/run/empty'], {}, read)), /secret file \/run\/empty is empty/);
    assert.match(problem(parseConfig([...BASE, '--secret-file', '/run/missing'], {}, read)), /cannot read secret file \/run\/missing: ENOENT/);
  });

  it('refuses a secret on the command line, saying why', () => {
    for (const argv of [[...BASE, '--secret', 'hunter2'], [...BASE, '--secret=hunter2'], ['--secret', 'x', '--bogus']]) {
      const message = problem(parseConfig(argv, ENV, noFiles));
      assert.match(message, /^--secret is refused: a secret on the command line is visible to every user/);
      assert.match(message, /RXCLUSTER_SECRET/);
      assert.match(message, /--secret-file/);
      assert.ok(!message.includes('hunter2'), 'the secret is not echoed');
    }
    assert.match(problem(parseConfig(['--config', 'c.json'], ENV, files({ 'c.json': '{"name":"a","secret":"hunter2"}' }))), /"secret" field is refused/);
  });

  it('refuses bad addresses', () => {
    assert.match(problem(parseConfig(['--name', 'a', '--listen', 'nowhere'], ENV, noFiles)), /^invalid listen address "nowhere": expected host:port with a port from 0 to 65535$/);
    assert.match(problem(parseConfig(['--name', 'a', '--listen', '127.0.0.1:65536'], ENV, noFiles)), /invalid listen address "127.0.0.1:65536"/);
    assert.match(problem(parseConfig([...BASE, '--peer', 'b=127.0.0.1:0'], ENV, noFiles)), /^invalid address for peer b "127.0.0.1:0": expected host:port with a port from 1 to 65535$/);
    assert.match(problem(parseConfig([...BASE, '--peer', 'b127.0.0.1:9000'], ENV, noFiles)), /^--peer b127.0.0.1:9000: expected NAME=HOST:PORT$/);
    assert.match(problem(parseConfig([...BASE, '--peer', 'a=127.0.0.1:9000'], ENV, noFiles)), /^peer "a" is this node's own name$/);
    assert.match(problem(parseConfig([...BASE, '--peer', 'b=127.0.0.1:1', '--peer', 'b=127.0.0.1:2'], ENV, noFiles)), /^--peer b given twice$/);
  });

  it('refuses bad settings, naming the setting', () => {
    assert.match(problem(parseConfig([...BASE, '--setting', 'readTimeout=soon'], ENV, noFiles)), /^--setting readTimeout=soon: expected NAME=MS, a whole number of milliseconds$/);
    assert.match(problem(parseConfig([...BASE, '--setting', 'readTimeout=-5'], ENV, noFiles)), /^--setting readTimeout=-5: expected NAME=MS/);
    assert.match(problem(parseConfig([...BASE, '--setting', 'readTimeout=0'], ENV, noFiles)), /^invalid settings: readTimeout must be a positive whole number of milliseconds \(got 0\)$/);
    assert.match(problem(parseConfig([...BASE, '--setting', 'pingIntervall=100'], ENV, noFiles)), /^invalid settings: unknown field "pingIntervall"$/);
    assert.equal(problem(parseConfig([...BASE, '--setting', 'pingInterval=12000'], ENV, noFiles)), 'invalid settings: pingInterval (12000) must be shorter than readTimeout (11000): add --setting readTimeout=MS with MS of at least 12001');
    assert.equal(problem(parseConfig([...BASE, '--setting', 'connectInterval=40000'], ENV, noFiles)), 'invalid settings: connectInterval (40000) must not exceed maxConnectInterval (30000): add --setting maxConnectInterval=MS with MS of at least 40000');
    assert.equal(problem(parseConfig([...BASE, '--setting', 'readTimeout=3000', '--setting', 'joinDelay=3000'], ENV, noFiles)), 'invalid settings: joinDelay (3000) must be shorter than readTimeout (3000): lower joinDelay or raise readTimeout');
    const read = files({ 'c.json': '{"name":"a","listen":"127.0.0.1:0","settings":{"readTimeout":"11s"}}' });
    assert.match(problem(parseConfig(['--config', 'c.json'], ENV, read)), /^invalid settings: .*readTimeout/);
  });

  it('refuses unknown flags, stray arguments, missing values and repeated single flags', () => {
    assert.equal(problem(parseConfig([...BASE, '--bogus'], ENV, noFiles)), 'unknown option --bogus (see --help)');
    assert.equal(problem(parseConfig([...BASE, '-v'], ENV, noFiles)), 'unknown option -v (see --help)');
    assert.equal(problem(parseConfig([...BASE, 'extra'], ENV, noFiles)), 'unexpected argument "extra" (see --help)');
    assert.equal(problem(parseConfig(['--name'], ENV, noFiles)), '--name needs a value');
    assert.equal(problem(parseConfig(['--name', '--listen', '127.0.0.1:0'], ENV, noFiles)), '--name needs a value');
    assert.equal(problem(parseConfig([...BASE, '--name', 'b'], ENV, noFiles)), '--name given twice');
    assert.equal(problem(parseConfig([...BASE, '--help=yes'], ENV, noFiles)), '--help takes no value');
    assert.equal(problem(parseConfig([...BASE, '--log-level', 'loud'], ENV, noFiles)), 'invalid log level "loud": expected one of debug, info, warn, error');
  });

  it('says what is missing', () => {
    assert.equal(problem(parseConfig(['--listen', '127.0.0.1:0'], ENV, noFiles)), 'no node name: give --name');
    assert.equal(problem(parseConfig(['--name', 'a'], ENV, noFiles)), 'no listen address: give --listen host:port');
    const read = files({ 'c.json': '{"listen":"127.0.0.1:0"}' });
    assert.equal(problem(parseConfig(['--config', 'c.json'], ENV, read)), 'no node name: give --name or "name" in c.json');
    assert.match(problem(parseConfig(['--name', '', '--listen', '127.0.0.1:0'], ENV, noFiles)), /^invalid node name "": expected 1 to 128 characters/);
  });

  it('refuses a bad config file with the field at fault', () => {
    const read = files({
      'bad.json': '{"name": "a",',
      'list.json': '[]',
      'typo.json': '{"name":"a","listen":"127.0.0.1:0","peer":{}}',
      'types.json': '{"name":5,"listen":"127.0.0.1:0","peers":{"b":9000},"tls":{"key":"k"}}',
    });
    assert.match(problem(parseConfig(['--config', 'bad.json'], ENV, read)), /^config file bad.json is not valid JSON: /);
    assert.equal(problem(parseConfig(['--config', 'list.json'], ENV, read)), 'config file list.json: expected a JSON object');
    assert.match(problem(parseConfig(['--config', 'typo.json'], ENV, read)), /^config file typo.json: unknown field "peer" \(expected name, listen, peers, /);
    assert.equal(
      problem(parseConfig(['--config', 'types.json'], ENV, read)),
      'config file types.json: name: expected string; peers.b: expected string; tls.cert: expected string',
    );
    assert.match(problem(parseConfig(['--config', 'nope.json'], ENV, read)), /^cannot read config file nope.json: ENOENT/);
  });

  it('checks TLS files: key and certificate together, each a PEM file of the right kind', () => {
    const read = files({ 'k.pem': KEY, 'c.pem': CERT, 'ca.pem': CERT });
    const c = config(parseConfig([...BASE, '--tls-key', 'k.pem', '--tls-cert', 'c.pem', '--tls-ca', 'ca.pem', '--tls-request-cert'], ENV, read));
    assert.deepEqual(c.tls, { key: KEY, cert: CERT, ca: CERT, requestCert: true });
    assert.deepEqual(c.tlsFiles, { key: 'k.pem', cert: 'c.pem', ca: 'ca.pem' });
    assert.equal(problem(parseConfig([...BASE, '--tls-key', 'k.pem'], ENV, read)), '--tls-key needs --tls-cert');
    assert.equal(problem(parseConfig([...BASE, '--tls-cert', 'c.pem'], ENV, read)), '--tls-cert needs --tls-key');
    assert.equal(problem(parseConfig([...BASE, '--tls-request-cert'], ENV, read)), '--tls-ca and --tls-request-cert need --tls-key and --tls-cert');
    assert.equal(problem(parseConfig([...BASE, '--tls-key', 'c.pem', '--tls-cert', 'c.pem'], ENV, read)), 'TLS key file c.pem is not a PEM private key');
    assert.equal(problem(parseConfig([...BASE, '--tls-key', 'k.pem', '--tls-cert', 'k.pem'], ENV, read)), 'TLS certificate file k.pem is not a PEM certificate');
    assert.match(problem(parseConfig([...BASE, '--tls-key', 'k.pem', '--tls-cert', 'gone.pem'], ENV, read)), /^cannot read TLS certificate file gone.pem: ENOENT/);
  });

  it('scales the defaults below a lone readTimeout (or maxConnectInterval), never an explicit value', () => {
    const settingsOf = (...specs: string[]): Record<string, number> => ({ ...config(parseConfig([...BASE, ...specs.flatMap((spec) => ['--setting', spec])], ENV, noFiles)).settings });
    assert.deepEqual(settingsOf('readTimeout=5000'), { ...DEFAULT_SETTINGS, readTimeout: 5000, pingInterval: 2272, joinDelay: 227 });
    assert.deepEqual(settingsOf('readTimeout=400'), { ...DEFAULT_SETTINGS, readTimeout: 400, pingInterval: 181, joinDelay: 18 });
    assert.deepEqual(settingsOf('readTimeout=60000'), { ...DEFAULT_SETTINGS, readTimeout: 60000 }, 'a default is never raised');
    assert.deepEqual(settingsOf('readTimeout=5000', 'pingInterval=4000'), { ...DEFAULT_SETTINGS, readTimeout: 5000, pingInterval: 4000, joinDelay: 227 });
    assert.deepEqual(settingsOf('maxConnectInterval=1000'), { ...DEFAULT_SETTINGS, maxConnectInterval: 1000, connectInterval: 1000 });
    const read = files({ 'c.json': '{"name":"a","listen":"127.0.0.1:0","settings":{"readTimeout":2200}}' });
    assert.deepEqual({ ...config(parseConfig(['--config', 'c.json'], ENV, read)).settings }, { ...DEFAULT_SETTINGS, readTimeout: 2200, pingInterval: 1000, joinDelay: 100 });
  });

  it('answers --help with the usage, whatever else is given', () => {
    assert.deepEqual(parseConfig(['--help'], {}, noFiles), { kind: 'help', text: HELP });
    assert.deepEqual(parseConfig([...BASE, '-h'], {}, noFiles), { kind: 'help', text: HELP });
    assert.match(HELP, /--secret-file FILE/);
  });

  it('turns a stdin line into JSON when it parses, else into a string', () => {
    assert.deepEqual(lineMessage('{"a":[1,2]}'), { a: [1, 2] });
    assert.equal(lineMessage('42'), 42);
    assert.equal(lineMessage('"quoted"'), 'quoted');
    assert.equal(lineMessage('hello world'), 'hello world');
    assert.equal(lineMessage('{broken'), '{broken');
  });
});

const isMessage = (from: string) => (line: CliLine): boolean => line.type === 'message' && line.from === from;

describe('rxcluster processes', () => {
  it('two nodes join each other, print join lines, and pass stdin lines as messages', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const [a, b] = await startCliCluster(['a', 'b'], defer, { settings: FAST });
    assert.ok(a !== undefined && b !== undefined);
    await meshJoined([a, b], 8000);
    for (const [node, peer] of [[a, b], [b, a]] as const) {
      const join = node.lines.find(({ line }) => line.type === 'join')?.line;
      assert.equal(join?.type === 'join' && join.node, peer.name);
      assert.ok(join?.type === 'join' && !Number.isNaN(Date.parse(join.time)), 'a join line has an ISO time');
      const listening = node.lines.find(({ line }) => line.type === 'listening')?.line;
      assert.ok(listening?.type === 'listening' && listening.quorum === true, `${node.name} had quorum from the start (one peer): ${JSON.stringify(listening)}`);
      assert.ok(!node.lines.some(({ line }) => line.type === 'quorum'), `${node.name} printed no quorum change`);
    }

    a.send('{"order":1,"item":"tea"}');
    a.send('plain words, not JSON');
    a.send('');
    a.send('7');
    const got = await Promise.all([
      b.wait((line) => isMessage('a')(line) && line.type === 'message' && typeof line.data === 'object', 5000, 'b to print the JSON message'),
      b.wait((line) => isMessage('a')(line) && line.type === 'message' && line.data === 7, 5000, 'b to print the number'),
    ]);
    assert.deepEqual(got[0].line.type === 'message' && got[0].line.data, { order: 1, item: 'tea' });
    const messages = b.lines.flatMap(({ line }) => (line.type === 'message' ? [line] : []));
    assert.deepEqual(messages.map((m) => [m.from, m.data]), [['a', { order: 1, item: 'tea' }], ['a', 'plain words, not JSON'], ['a', 7]], 'in order; the empty line was not sent');
    assert.ok(!a.lines.some(({ line }) => line.type === 'message'), 'a broadcast never reaches its sender');

    const view = await clusterView(b);
    assert.deepEqual(Object.keys(view.nodes), ['a']);
    assert.equal(view.nodes['a']?.status, 'Online');
  });

  it('sends a "@name message" line to that node only', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const nodes = await startCliCluster(['a', 'b', 'c'], defer, { settings: FAST });
    const [a, b, c] = nodes;
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    await meshJoined(nodes, 8000);

    a.send('@c {"just":"for c"}');
    a.send('@c not json either');
    const privately = await c.wait((line) => isMessage('a')(line) && line.type === 'message' && line.data === 'not json either', 5000, 'c to get both private lines');
    assert.ok(privately.at > 0);
    // one connection per peer keeps order: if b's first message from a is the marker, b never got the private ones
    a.send('"marker"');
    await b.wait(isMessage('a'), 5000, 'b to get the marker');
    await c.wait((line) => isMessage('a')(line) && line.type === 'message' && line.data === 'marker', 5000, 'c to get the marker');
    const toB = b.lines.flatMap(({ line }) => (line.type === 'message' ? [line.data] : []));
    const toC = c.lines.flatMap(({ line }) => (line.type === 'message' ? [line.data] : []));
    assert.deepEqual(toB, ['marker']);
    assert.deepEqual(toC, [{ just: 'for c' }, 'not json either', 'marker']);

    a.send('@nobody hello');
    a.send('@c');
    const unknown = await a.wait((line) => line.type === 'log' && line.code === 'RXC_ERR_SEND', 5000, 'a to log a message for an unknown node');
    assert.ok(unknown.line.type === 'log' && unknown.line.level === 'warn' && unknown.line.node === 'nobody');
    await a.wait((line) => line.type === 'log' && line.message.startsWith('a private message is "@node message"'), 5000, 'a to warn about a bare "@c"');
  });

  it('on SIGTERM the peer prints a leave with reason "shutdown" at once, and the stopped node exits 0', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const [a, b] = await startCliCluster(['a', 'b'], defer, { settings: FAST });
    assert.ok(a !== undefined && b !== undefined);
    await meshJoined([a, b], 8000);

    const termAt = performance.now();
    b.child.kill('SIGTERM');
    const leave = await a.wait((line) => line.type === 'leave' && line.node === 'b', 3000, 'a to print the leave of b');
    const after = leave.at - termAt;
    t.diagnostic(`a printed the leave of b ${after.toFixed(1)} ms after SIGTERM`);
    assert.ok(leave.line.type === 'leave' && leave.line.reason === 'shutdown', `reason: ${JSON.stringify(leave.line)}`);
    assert.ok(after < 1000, `leave printed ${after.toFixed(0)} ms after SIGTERM`);

    const exit = await within(b.exited, 5000, 'b to exit by itself');
    t.diagnostic(`b exited ${(performance.now() - termAt).toFixed(1)} ms after SIGTERM`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(b.lines.at(-1)?.line.type, 'stopped', 'stopped is its last line');
    assert.equal(b.stderr(), '');
    assert.ok(!a.lines.some(({ line }) => line.type === 'log' && line.code === 'RXC_ERR_READ_TIMEOUT'), 'no read timeout was needed');
  });

  it('prints only events on stdout by default, in order: join before the quorum it brings, leave before the quorum it takes', { timeout: 30_000 }, async (t) => {
    const defer = scope(t);
    const [portA = 0, portB = 0, portC = 0] = await freePorts(3);
    // a counts on b and c; c never comes: b's join makes the quorum, b's leave breaks it
    const a = await startCli('a', { listen: `127.0.0.1:${portA}`, peers: { b: `127.0.0.1:${portB}`, c: `127.0.0.1:${portC}` }, settings: FAST, logStdout: false, extraArgs: ['--views'] });
    defer(() => a.stop());
    const b = await startCli('b', { listen: `127.0.0.1:${portB}`, peers: { a: `127.0.0.1:${portA}` }, settings: FAST, logStdout: false });
    defer(() => b.stop());
    await a.wait((line) => line.type === 'quorum' && line.quorum, 8000, 'a to print quorum true');
    b.child.kill('SIGTERM');
    await a.wait((line) => line.type === 'quorum' && !line.quorum, 5000, 'a to print quorum false');
    a.child.kill('SIGTERM');
    assert.deepEqual(await within(a.exited, 5000, 'a to exit'), { code: 0, signal: null });
    await sleep(50);

    const shown = a.lines.map(({ line }) => ('time' in line ? { ...line, time: 'T' } : line));
    // view and leader lines are checked on their own below: the view's `converged` may take one more line
    assert.deepEqual(shown.filter((l) => l.type !== 'view' && l.type !== 'leader'), [
      { type: 'listening', address: `127.0.0.1:${portA}`, quorum: false },
      { type: 'join', node: 'b', time: 'T' },
      { type: 'quorum', quorum: true },
      { type: 'leave', node: 'b', reason: 'shutdown', time: 'T' },
      { type: 'quorum', quorum: false },
      { type: 'stopped' },
    ]);
    const kinds = shown.map((l) => (l.type === 'view' ? `view ${JSON.stringify(l.members)}` : l.type === 'leader' ? `leader ${String(l.leader)}` : l.type));
    const joinAt = kinds.indexOf('join');
    const leaveAt = kinds.indexOf('leave');
    assert.deepEqual(kinds.slice(joinAt + 1, joinAt + 4), ['quorum', 'view ["a","b"]', 'leader a'], `after the join: quorum, then the view with b, then a leads: ${kinds.join(', ')}`);
    assert.deepEqual(kinds.slice(leaveAt + 1, leaveAt + 4), ['quorum', 'view ["a"]', 'leader null'], `after the leave: quorum, the view without b, no leader: ${kinds.join(', ')}`);
    const stderr = a.stderr();
    assert.match(stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO listening on 127\.0\.0\.1:\d+$/m, 'log entries are readable lines on stderr');
    assert.match(stderr, /^\S+ INFO \[b\] node b joined$/m);
    assert.match(stderr, /^\S+ INFO \[b\] node b left \(shutdown\)$/m);
  });

  it('keeps running when stdin ends, and stops on SIGINT too', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const a = await startCli('a', { settings: FAST });
    defer(() => a.stop());
    a.child.stdin?.end();
    await sleep(300);
    assert.equal(a.hasExited(), false, 'stdin ending does not stop the node');
    a.child.kill('SIGINT');
    assert.deepEqual(await within(a.exited, 5000, 'a to exit after SIGINT'), { code: 0, signal: null });
    assert.deepEqual(a.lines.map(({ line }) => line.type).filter((type) => type !== 'log'), ['listening', 'stopped']);
    const listening = a.lines.find(({ line }) => line.type === 'listening')?.line;
    assert.equal(listening?.type === 'listening' && listening.quorum, true, 'no peers: quorum, said in the listening line');
  });

  it('a bad config exits 2 with exactly one line on stderr, before starting anything', { timeout: 60_000 }, async (t) => {
    const defer = scope(t);
    const cases: { args: string[]; env?: Record<string, string>; expect: RegExp }[] = [
      { args: ['--name', 'a', '--listen', 'nowhere'], expect: /^rxcluster: invalid listen address "nowhere"/ },
      { args: ['--name', 'a', '--listen', '127.0.0.1:0', '--secret', 'hunter2'], expect: /^rxcluster: --secret is refused: / },
      { args: ['--name', 'a', '--listen', '127.0.0.1:0'], env: {}, expect: /^rxcluster: no secret: / },
      { args: ['--name', 'a', '--listen', '127.0.0.1:0', '--setting', 'readTimeout=0'], expect: /^rxcluster: invalid settings: readTimeout must be a positive whole number of milliseconds \(got 0\)$/ },
      { args: ['--config', '/nonexistent/rxcluster.json'], expect: /^rxcluster: cannot read config file \/nonexistent\/rxcluster.json: ENOENT/ },
    ];
    const runs = cases.map((c) => {
      const proc = c.env === undefined ? launchCli(c.args) : launchCli(c.args, c.env);
      defer(() => proc.stop());
      return { ...c, proc };
    });
    for (const { args, expect, proc } of runs) {
      const exit = await within(proc.exited, 30_000, `the CLI to exit for ${args.join(' ')}`);
      await sleep(50); // let the pipes deliver the last bytes
      assert.deepEqual(exit, { code: 2, signal: null }, `exit for ${args.join(' ')}`);
      const lines = proc.stderr().split('\n').filter((line) => line !== '');
      assert.equal(lines.length, 1, `one stderr line for ${args.join(' ')}: ${proc.stderr()}`);
      assert.match(lines[0] ?? '', expect);
      assert.ok(proc.stderr().endsWith('\n'));
      assert.deepEqual(proc.lines, [], 'nothing on stdout');
      assert.ok(!proc.stderr().includes('hunter2'));
    }
  });

  it('a busy port exits 1 with one stderr line naming it, after the log', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', () => done()));
    defer(() => new Promise<void>((done) => blocker.close(() => done())));
    const bound = blocker.address();
    assert.ok(bound !== null && typeof bound === 'object');
    const proc = launchCli(['--name', 'a', '--listen', `127.0.0.1:${bound.port}`]);
    defer(() => proc.stop());
    assert.deepEqual(await within(proc.exited, 10_000, 'the CLI to exit'), { code: 1, signal: null });
    await sleep(50);
    // log entries (readable, on stderr) may come first; the last line says why, and only it starts with "rxcluster:"
    const lines = proc.stderr().split('\n').filter((line) => line !== '');
    assert.match(lines.at(-1) ?? '', /^rxcluster: .*EADDRINUSE/, proc.stderr());
    assert.equal(lines.filter((line) => line.startsWith('rxcluster:')).length, 1, proc.stderr());
    assert.deepEqual(proc.lines, [], 'nothing on stdout');
  });

  it('--help prints the usage and exits 0', { timeout: 20_000 }, async (t) => {
    const defer = scope(t);
    const proc = launchCli(['--help'], {});
    defer(() => proc.stop());
    assert.deepEqual(await within(proc.exited, 10_000, 'the CLI to exit'), { code: 0, signal: null });
    await sleep(50);
    assert.equal(proc.stderr(), '');
    assert.equal(proc.lines.map(({ line }) => (line.type === 'text' ? line.text : JSON.stringify(line))).join('\n'), HELP.trimEnd());
  });

  it('two nodes over mutual TLS from --tls-* files join and pass messages', { timeout: 40_000 }, async (t) => {
    const defer = scope(t);
    const pki = createPki();
    defer(() => pki.dispose());
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'rxcluster-cli-tls-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'ca.crt'), pki.ca.cert);
    const tlsArgs = (name: string): string[] => {
      const pem = pki.issue(name);
      writeFileSync(join(dir, `${name}.key`), pem.key);
      writeFileSync(join(dir, `${name}.crt`), pem.cert);
      return ['--tls-key', join(dir, `${name}.key`), '--tls-cert', join(dir, `${name}.crt`), '--tls-ca', join(dir, 'ca.crt'), '--tls-request-cert'];
    };
    const args = new Map(['a', 'b'].map((name) => [name, tlsArgs(name)]));
    const [a, b] = await startCliCluster(['a', 'b'], defer, { settings: FAST, extraArgsFor: (name) => args.get(name) ?? [] });
    assert.ok(a !== undefined && b !== undefined);
    await meshJoined([a, b], 10_000);
    await assert.rejects(clusterView(a), 'the port speaks TLS only: plain HTTP gets no answer');
    b.send('"over tls"');
    await a.wait((line) => line.type === 'message' && line.from === 'b' && line.data === 'over tls', 5000, 'a to get the message over TLS');
  });
});
