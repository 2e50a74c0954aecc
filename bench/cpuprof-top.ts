/**
 * Summarises a V8 .cpuprofile written by `BENCH_CPU_PROF=rx-B npm run bench`:
 * top functions by self time, self time by package / file, and rxcluster's
 * own functions (src/) by self and by inclusive time.
 *
 *   npx tsx bench/cpuprof-top.ts <file.cpuprofile> [top=25] [regexp: also list inclusive time of matching functions]
 *
 * tsx compiles each file to one line, so profile positions are columns of
 * that line; they are mapped back to src lines through the source maps in
 * tsx's cache when it is found (best effort: the newest cached build of the
 * file).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: tsx bench/cpuprof-top.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const root = process.cwd();

/** Source maps of tsx-compiled files, newest cached build per source. */
const maps = new Map<string, { map: SourceMap; mtime: number }>();
for (const dir of [join(tmpdir(), `tsx-${userInfo().uid}`)]) {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    continue;
  }
  for (const entry of entries) {
    try {
      const path = join(dir, entry);
      const cached = JSON.parse(readFileSync(path, 'utf8')) as { map?: { sources?: string[] } };
      const source = cached.map?.sources?.[0];
      if (source === undefined || !source.startsWith(`${root}/src/`)) continue;
      const mtime = statSync(path).mtimeMs;
      const known = maps.get(source);
      if (known === undefined || known.mtime < mtime) maps.set(source, { map: new SourceMap(cached.map as never), mtime });
    } catch {
      // not a cache entry we understand
    }
  }
}

function location(frame: CallFrame): string {
  const path = frame.url.replace(/^file:\/\//, '');
  if (path === '') return '(native)';
  const rel = path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
  const sm = maps.get(path);
  if (sm !== undefined) {
    const entry = sm.map.findEntry(frame.lineNumber, frame.columnNumber) as { originalLine?: number };
    if (entry.originalLine !== undefined) return `${rel}:${entry.originalLine + 1}`;
  }
  return `${rel}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`;
}

function group(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1] ?? url;
  if (url.startsWith(`${root}/`)) return url.slice(root.length + 1);
  if (url.startsWith('node:')) return 'node core';
  return `(${frame.functionName || 'native'})`;
}

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}
const keyOf = new Map<number, string>();
for (const node of profile.nodes) keyOf.set(node.id, `${node.callFrame.functionName || '(anonymous)'}  ${location(node.callFrame)}`);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const groups = new Map<string, number>();
const srcKeys = new Set<string>();
let total = 0;
let idle = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  const node = byId.get(id);
  if (node === undefined) return;
  total += us;
  if (node.callFrame.functionName === '(idle)') idle += us;
  const key = keyOf.get(id) ?? '?';
  self.set(key, (self.get(key) ?? 0) + us);
  const g = group(node.callFrame);
  groups.set(g, (groups.get(g) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const k = keyOf.get(at) ?? '?';
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    if (byId.get(at)?.callFrame.url.includes(`${root}/src/`)) srcKeys.add(k);
  }
});

const busy = total - idle;
const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const print = (title: string, entries: Iterable<[string, number]>): void => {
  console.log(`\n${title}`);
  for (const [key, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)} ${pct(us)}  ${key}`);
};
console.log(`sampled ${ms(total)}, idle ${ms(idle)}, busy ${ms(busy)} (percentages are of busy time)`);
print(`top ${top} functions by self time:`, [...self].filter(([k]) => !k.startsWith('(idle)')));
print('self time by package / file:', [...groups].filter(([k]) => k !== '((idle))'));
print('rxcluster src/ functions by self time:', [...self].filter(([k]) => srcKeys.has(k)));
print('rxcluster src/ functions by inclusive time:', [...inclusive].filter(([k]) => srcKeys.has(k)));
const grep = process.argv[4];
if (grep !== undefined) print(`inclusive time of functions matching /${grep}/:`, [...inclusive].filter(([k]) => new RegExp(grep).test(k)));
