/**
 * The status page in a real browser: the headless Chromium shipped in the
 * @sparticuz/chromium package (or the one CHROMIUM_PATH names), driven by
 * playwright-core. Three managers in one mesh over real sockets; the page of
 * one follows the others live over server-sent events and is checked against
 * the managers' own streams: the overview (quorum, leader, view id,
 * converged), a leave's reason and time, the lag chart, the recent events,
 * the connectivity matrix; then the login (kept across a reload, dropped by
 * log out), the admin buttons only where they act, a phone-width layout with
 * no sideways scrolling, and a node named with markup. Screenshots (desktop
 * and phone) go to a temp folder whose paths the test prints.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BehaviorSubject, firstValueFrom, Subject, type Observable } from 'rxjs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findChromium } from './support/browser.js';
import { hashAdminPassword, type Manager } from '../src/index.js';
import { ManagerApi, type ApiManagerView } from '../src/api/adapter.js';
import type { ApiClusterNode } from '../src/membership/snapshot.js';
import type { MembershipEventLike } from '../src/api/overview.js';
import { fastOptions, first, joinedAll, shutdownAll, startMesh, startNode, type Node, tokenUser } from './support/cluster.js';

/** The admin's password for the login form: never the cluster secret. */
const PASSWORD = 'dashboard-admin-password';

/** A configured node whose name is markup: it must show as text. */
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">';

/** The phone width the page must fit without sideways scrolling, in CSS px. */
const PHONE_WIDTH = 375;

/*
 * The functions handed to page.evaluate run in the browser; the project's
 * type-check has no DOM library, so they reach the page through these few
 * types, erased at run time, where `globalThis` is the page's window.
 */
interface PageElement {
  readonly textContent: string | null;
  readonly hidden: boolean;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
interface PageDocument {
  readonly cookie: string;
  readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
type PageGlobals = { readonly document: PageDocument; readonly __pwned?: unknown; getComputedStyle(e: PageElement): { readonly display: string } };

/** The streams of a manager the page shows, where the manager has them. */
const streamsOf = (manager: Manager): ApiManagerView => manager as unknown as ApiManagerView;

/** The value a replayed stream holds now. */
const now = <T>(source$: Observable<T>): Promise<T> => firstValueFrom(source$);

/** The text of the first element matching `selector`, or null. */
function textOf(page: Page, selector: string): Promise<string | null> {
  return page.evaluate((sel) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? null, selector);
}

/** The status text of `node`'s row, or null when there is no such row. */
function statusOf(page: Page, node: string): Promise<string | null> {
  return page.evaluate((name) => {
    const document = (globalThis as unknown as PageGlobals).document;
    for (const row of document.querySelectorAll('#nodes tr')) {
      if (row.getAttribute('data-node') === name) return row.querySelector('td.status')?.textContent ?? null;
    }
    return null;
  }, node);
}

/** Waits until `node`'s row shows a status for which `wanted` (as `=== status` or `!== status`) holds. */
async function waitForStatus(page: Page, node: string, status: string, equal: boolean, ms: number): Promise<void> {
  try {
    await page.waitForFunction(
      ([name, wanted, eq]) => {
        const document = (globalThis as unknown as PageGlobals).document;
        for (const row of document.querySelectorAll('#nodes tr')) {
          if (row.getAttribute('data-node') !== name) continue;
          const text = row.querySelector('td.status')?.textContent;
          return eq ? text === wanted : text !== undefined && text !== wanted;
        }
        return false;
      },
      [node, status, equal] as const,
      { timeout: ms, polling: 10 },
    );
  } catch (error) {
    throw new Error(`the page did not show ${node} ${equal ? '' : 'not '}${status} within ${ms} ms (it shows ${String(await statusOf(page, node))})`, { cause: error });
  }
}

async function waitForText(page: Page, selector: string, text: string, ms: number): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, wanted]) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent === wanted,
      [selector, text] as const,
      { timeout: ms, polling: 10 },
    );
  } catch (error) {
    throw new Error(`the page did not show "${text}" in ${selector} within ${ms} ms (it shows ${JSON.stringify(await textOf(page, selector))})`, { cause: error });
  }
}

/**
 * Polls until `read` (what the page shows) equals `expected` (read afresh
 * each time from the manager), for up to `ms`; asserts the last pair.
 */
async function eventuallyEqual<T>(read: () => Promise<T>, expected: () => Promise<T>, ms: number, message: string): Promise<void> {
  const deadline = performance.now() + ms;
  let shown = await read();
  let wanted = await expected();
  while (JSON.stringify(shown) !== JSON.stringify(wanted) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    shown = await read();
    wanted = await expected();
  }
  assert.deepEqual(shown, wanted, message);
}

/** The overview as the page shows it. */
function overviewShown(page: Page): Promise<{ quorum: string | null; leader: string | null; view: string | null; converged: string | null }> {
  // no named functions inside: the test runner's transform would wrap them in a helper the page lacks
  return page.evaluate(() => {
    const document = (globalThis as unknown as PageGlobals).document;
    const [quorum, leader, view, converged] = ['quorum', 'leader', 'view-id', 'converged'].map((id) => document.querySelector(`#${id}`)?.textContent ?? null);
    return { quorum: quorum ?? null, leader: leader ?? null, view: view ?? null, converged: converged ?? null };
  });
}

/** The overview the page should show, from the manager's own streams (a dash where it has none). */
async function overviewWanted(manager: Manager): Promise<{ quorum: string | null; leader: string | null; view: string | null; converged: string | null }> {
  const s = streamsOf(manager);
  const quorum = await now(manager.quorum$);
  const leader = s.leader$ === undefined ? '-' : ((await now(s.leader$)) ?? 'none');
  const view = s.view$ === undefined ? undefined : await now(s.view$);
  return { quorum: quorum ? 'yes' : 'no', leader, view: view?.id ?? '-', converged: view === undefined ? '-' : view.converged ? 'yes' : 'no' };
}

/** The connectivity matrix as the page shows it: reporter → the names marked seen; null without a matrix. */
function matrixShown(page: Page): Promise<Record<string, string[]> | null> {
  return page.evaluate(() => {
    const document = (globalThis as unknown as PageGlobals).document;
    const cells = [...document.querySelectorAll('#connectivity td[data-from]')];
    if (cells.length === 0) return null;
    const out: Record<string, string[]> = {};
    for (const cell of cells) {
      const from = cell.getAttribute('data-from') ?? '';
      out[from] ??= [];
      if (cell.textContent === 'yes') out[from].push(cell.getAttribute('data-to') ?? '');
    }
    for (const key of Object.keys(out)) out[key]?.sort();
    return out;
  });
}

/** The matrix the page should show, from the manager's reachability$ (null where it has none). */
async function matrixWanted(manager: Manager): Promise<Record<string, string[]> | null> {
  const reachability$ = streamsOf(manager).reachability$;
  if (reachability$ === undefined) return null;
  const reports = await now(reachability$);
  const out: Record<string, string[]> = {};
  const all = new Set<string>();
  for (const [from, sees] of reports) {
    all.add(from);
    for (const to of sees) all.add(to);
  }
  const view$ = streamsOf(manager).view$;
  if (view$ !== undefined) for (const member of (await now(view$)).members) all.add(member);
  // the diagonal shows 'self', never a link
  for (const from of all) out[from] = [...(reports.get(from) ?? [])].filter((to) => to !== from).sort();
  return out;
}

/** Points drawn in `node`'s lag chart, and how many samples it holds. */
function chartOf(page: Page, node: string): Promise<{ points: string[]; samples: number; lagNow: string | null }> {
  return page.evaluate((name) => {
    const document = (globalThis as unknown as PageGlobals).document;
    for (const row of document.querySelectorAll('#nodes tr')) {
      if (row.getAttribute('data-node') !== name) continue;
      const points = [...row.querySelectorAll('td.lag svg.chart polyline')].flatMap((line) => (line.getAttribute('points') ?? '').split(' ').filter((p) => p !== ''));
      return { points, samples: Number(row.querySelector('td.lag svg.chart')?.getAttribute('data-samples') ?? '0'), lagNow: row.querySelector('td.lag .lag-now')?.textContent ?? null };
    }
    return { points: [], samples: 0, lagNow: null };
  }, node);
}

/** Whether `selector` is displayed: present, not hidden, and laid out. */
function visible(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).first().isVisible();
}

async function launch(): Promise<{ browser: Browser; source: string }> {
  const found = await findChromium();
  const browser = await chromium.launch({ executablePath: found.executablePath, args: [...found.args], env: found.env, timeout: 30_000 });
  return { browser, source: found.source };
}

/** A page that records script errors and CSP violations into `problems`. */
async function watchedPage(context: BrowserContext, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // a page without a login asks …/session and is answered 403: the browser logs that, and it is expected
    const sessionCheck = message.location().url.endsWith('/session') && message.text().includes('403');
    if (message.type() === 'error' && !sessionCheck) problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  return page;
}

describe('status page', () => {
  it('shows the overview, leaves, lag, events and connectivity live; keeps its login; fits a phone', { timeout: 60_000 }, async (t) => {
    let nodes: Node[] = [];
    let lone: Node | undefined;
    let browser: Browser | undefined;
    try {
      nodes = await startMesh(['alpha', 'beta', 'gamma'], fastOptions({ api: { admins: { alice: hashAdminPassword(PASSWORD) } } }));
      await joinedAll(nodes);
      const [alpha, , gamma] = nodes as [Node, Node, Node];
      const launched = await launch();
      browser = launched.browser;
      t.diagnostic(`browser: ${launched.source}`);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const page = await watchedPage(context, problems);
      const dir = await mkdtemp(join(tmpdir(), 'rxcluster-dashboard-'));

      const response = await page.goto(`http://${alpha.address}/`, { waitUntil: 'domcontentloaded' });
      assert.equal(response?.status(), 200);
      await waitForText(page, '#manager', 'alpha', 5000);
      await waitForStatus(page, 'beta', 'Online', true, 5000);
      await waitForStatus(page, 'gamma', 'Online', true, 5000);
      await waitForText(page, '#live', 'live', 5000);

      await t.test('the overview shows quorum, leader, view id and converged as the manager streams them', async () => {
        await eventuallyEqual(() => overviewShown(page), () => overviewWanted(alpha.manager), 5000, 'overview on the page against alpha\'s quorum$, leader$ and view$');
        const s = streamsOf(alpha.manager);
        assert.ok(s.view$ !== undefined && s.leader$ !== undefined && s.reachability$ !== undefined, 'the manager has view$, leader$ and reachability$');
        const shown = await overviewShown(page);
        assert.equal(shown.quorum, 'yes', 'three of three online is a quorum');
        assert.match(shown.view ?? '', /^[0-9a-f]{4,}$/, 'a view id, not a dash');
        assert.equal(shown.converged, 'yes', 'three nodes that all see each other converge');
        assert.equal(await textOf(page, '#view-members'), '3');
        t.diagnostic(`overview: ${JSON.stringify(shown)}`);
      });

      await t.test('the connectivity matrix shows who sees whom as the manager has it reported', async () => {
        await eventuallyEqual(() => matrixShown(page), () => matrixWanted(alpha.manager), 5000, 'matrix on the page against alpha\'s reachability$');
        assert.deepEqual((await matrixShown(page))?.['alpha'], ['beta', 'gamma'], 'alpha sees both peers');
      });

      await t.test('the lag chart draws a line of samples for an online node', async () => {
        // one sample a second: three seconds of pings (every 200 ms) make three or more
        await page.waitForFunction(
          () => Number((globalThis as unknown as PageGlobals).document.querySelector('tr[data-node="beta"] td.lag svg.chart')?.getAttribute('data-samples') ?? '0') >= 3,
          undefined,
          { timeout: 6000, polling: 50 },
        );
        const chart = await chartOf(page, 'beta');
        assert.ok(chart.points.length >= 3, `beta's chart has at least 3 points (${chart.points.join(' ')})`);
        const xs = chart.points.map((p) => Number(p.split(',')[0]));
        assert.ok(xs.every((x, i) => i === 0 || x > (xs[i - 1] ?? 0)), `points advance in time (${xs.join(' ')})`);
        assert.ok(xs.every((x) => x >= 0 && x <= 120), 'points lie inside the chart');
        const lag = (await now(alpha.manager.members$)).get('beta')?.lag;
        assert.match(chart.lagNow ?? '', /^\d+(\.\d+)?$/, `beta's current lag is a number (alpha's members$ says ${String(lag)})`);
      });

      // a peer shuts down: its row leaves Online without a reload
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => navigations.push(frame.url()));
      const started = performance.now();
      const stopping = gamma.manager.shutdown();
      await waitForStatus(page, 'gamma', 'Online', false, 1000);
      const elapsed = performance.now() - started;
      await stopping;
      t.diagnostic(`the page showed gamma as ${String(await statusOf(page, 'gamma'))} ${elapsed.toFixed(0)} ms after its shutdown began`);
      assert.deepEqual(navigations, [], 'no reload');

      await t.test('a node that left shows its leave reason and time, and no stale lag or join time', async () => {
        const gone = await first(alpha.manager.members$, (m) => m.get('gamma')?.leavetime !== null && m.get('gamma')?.status === 'Offline', 5000, 'gamma offline on alpha');
        const wanted = gone.get('gamma');
        assert.ok(wanted?.leavetime !== null && wanted?.leavetime !== undefined);
        await waitForStatus(page, 'gamma', 'Offline', true, 5000);
        await page.waitForFunction(
          (iso) => (globalThis as unknown as PageGlobals).document.querySelector('tr[data-node="gamma"] td.left time')?.getAttribute('datetime') === iso,
          wanted.leavetime.toISOString(),
          { timeout: 3000, polling: 10 },
        );
        assert.equal(await textOf(page, 'tr[data-node="gamma"] td.left .reason'), wanted.leaveReason, 'the reason alpha\'s members$ gives');
        assert.equal(wanted.leaveReason, 'shutdown');
        assert.equal(await textOf(page, 'tr[data-node="gamma"] td.jointime'), '-', 'no join time for an offline node');
        const before = await chartOf(page, 'gamma');
        assert.equal(before.lagNow, '-', 'no lag figure for an offline node');
        const beta = (await chartOf(page, 'beta')).samples;
        await page.waitForFunction((n) => Number((globalThis as unknown as PageGlobals).document.querySelector('tr[data-node="beta"] td.lag svg.chart')?.getAttribute('data-samples') ?? '0') > n, beta + 1, { timeout: 5000, polling: 50 });
        assert.equal((await chartOf(page, 'gamma')).samples, before.samples, 'gamma\'s chart gains no samples while beta\'s does');
      });

      await t.test('the recent events list shows the joins and the leave with its reason', async () => {
        await page.waitForSelector('#events li[data-type="leave"][data-node="gamma"]', { timeout: 5000 });
        assert.equal(await textOf(page, '#events li[data-type="leave"][data-node="gamma"] .reason'), 'shutdown');
        for (const peer of ['beta', 'gamma']) assert.equal(await page.locator(`#events li[data-type="join"][data-node="${peer}"]`).count() >= 1, true, `${peer}'s join listed`);
        const order = await page.evaluate(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('#events li')].map((li) => li.getAttribute('data-type')));
        assert.equal(order[0], 'leave', `newest first (${order.join(', ')})`);
      });

      await t.test('the overview and the matrix follow the leave', async () => {
        await eventuallyEqual(() => overviewShown(page), () => overviewWanted(alpha.manager), 5000, 'overview after gamma left');
        await eventuallyEqual(() => matrixShown(page), () => matrixWanted(alpha.manager), 5000, 'matrix after gamma left');
        assert.deepEqual((await matrixShown(page))?.['alpha'], ['beta'], 'alpha no longer sees gamma');
        assert.equal(await textOf(page, '#view-members'), '2', 'the view lost gamma');
      });

      await t.test('admin buttons appear only after a login, and only for an Online node', async () => {
        assert.equal(await visible(page, 'tr[data-node="beta"] button.reconnect'), false, 'no admin buttons before login');
        assert.equal(await visible(page, '#login'), true, 'the login form is offered');
        await page.fill('#username', 'alice');
        await page.fill('#password', PASSWORD);
        await page.click('#login-button');
        await waitForText(page, '#who', 'logged in as alice', 5000);
        const session = (await context.cookies()).find((cookie) => cookie.name === 'session');
        assert.ok(session !== undefined, 'the login set the session cookie');
        assert.equal(session.httpOnly, true);
        assert.equal(session.sameSite, 'Strict');
        assert.equal(await tokenUser(alpha.manager, session.value), 'alice');
        assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie), '', 'the page script cannot read the cookie');
        assert.equal(await visible(page, 'tr[data-node="beta"] button.reconnect'), true, 'reconnect offered for Online beta');
        assert.equal(await visible(page, 'tr[data-node="gamma"] button.reconnect'), false, 'no reconnect for Offline gamma');
      });

      await t.test('a reload with the session cookie keeps the login and its buttons', async () => {
        await page.reload({ waitUntil: 'domcontentloaded' });
        await waitForStatus(page, 'beta', 'Online', true, 5000);
        await waitForText(page, '#who', 'logged in as alice', 5000);
        assert.equal(await visible(page, 'tr[data-node="beta"] button.reconnect'), true, 'reconnect offered after the reload');
        assert.equal(await visible(page, '#login'), false, 'no login form while logged in');
        assert.equal(await visible(page, 'tr[data-node="gamma"] button.reconnect'), false, 'still none for Offline gamma');
        // the reloaded page has no bearer token: its button acts through the cookie
        const received = first(alpha.manager.fromClusterApi$, (r) => r.action === 'reconnect', 5000, 'the reconnect from the reloaded page');
        await page.click('tr[data-node="beta"] button.reconnect');
        assert.deepEqual(await received, { action: 'reconnect', node: 'beta', manager: 'alpha', data: '' });
        await waitForText(page, '#action-status', 'reconnect beta: sent', 5000);
        await waitForStatus(page, 'beta', 'Online', true, 10_000);
      });

      // a few seconds of samples since the reload, so the screenshots show a line
      await page.waitForFunction(() => Number((globalThis as unknown as PageGlobals).document.querySelector('tr[data-node="beta"] td.lag svg.chart')?.getAttribute('data-samples') ?? '0') >= 5, undefined, { timeout: 8000, polling: 100 });
      const desktop = join(dir, 'status-page-desktop.png');
      await page.screenshot({ path: desktop, fullPage: true });
      t.diagnostic(`screenshot (desktop): ${desktop}`);

      await t.test(`at ${PHONE_WIDTH} px wide the page needs no sideways scrolling and shows nodes as cards`, async () => {
        await page.setViewportSize({ width: PHONE_WIDTH, height: 800 });
        await page.waitForFunction((w) => (globalThis as unknown as PageGlobals).document.documentElement.clientWidth === w, PHONE_WIDTH);
        const widths = await page.evaluate(() => {
          const root = (globalThis as unknown as PageGlobals).document.documentElement;
          return { scroll: root.scrollWidth, client: root.clientWidth };
        });
        assert.ok(widths.scroll <= PHONE_WIDTH, `document scrollWidth ${widths.scroll} <= ${PHONE_WIDTH}`);
        const header = await page.evaluate(() => {
          const win = globalThis as unknown as PageGlobals;
          const thead = win.document.querySelector('table.nodes thead');
          return thead === null ? null : win.getComputedStyle(thead).display;
        });
        assert.equal(header, 'none', 'the table header gives way to labelled cards');
        const phone = join(dir, 'status-page-phone.png');
        await page.screenshot({ path: phone, fullPage: true });
        t.diagnostic(`screenshot (phone): ${phone}`);
        await page.setViewportSize({ width: 1280, height: 900 });
      });

      await t.test('log out drops the cookie: a reload shows no admin buttons', async () => {
        await page.click('#logout');
        await page.waitForFunction(async () => (await fetch('api/v1/cluster/alpha/session')).status === 403, undefined, { timeout: 5000, polling: 100 });
        await page.reload({ waitUntil: 'domcontentloaded' });
        await waitForStatus(page, 'beta', 'Online', true, 5000);
        await page.waitForTimeout(300);
        assert.equal(await visible(page, 'tr[data-node="beta"] button.reconnect'), false);
        assert.equal((await context.cookies()).some((c) => c.name === 'session'), false, 'no session cookie left');
      });

      await t.test('a node named with markup shows as text everywhere', async () => {
        alpha.manager.addNode(HOSTILE_NAME, '127.0.0.1:1');
        await waitForStatus(page, HOSTILE_NAME, 'Offline', true, 5000);
        await waitForText(page, '#quorum', 'no', 5000);
        const injected = await page.evaluate(() => {
          const win = globalThis as unknown as PageGlobals;
          return {
            images: win.document.querySelectorAll('img').length,
            pwned: win.__pwned ?? null,
            names: [...win.document.querySelectorAll('#nodes td.name')].map((cell) => cell.textContent),
          };
        });
        assert.deepEqual(injected, { images: 0, pwned: null, names: [HOSTILE_NAME, 'beta', 'gamma'] });
      });

      await t.test('with no admin configured the page offers no login', async () => {
        lone = await startNode('solo', fastOptions());
        const solo = await watchedPage(context, problems);
        await solo.goto(`http://${lone.address}/`, { waitUntil: 'domcontentloaded' });
        await waitForText(solo, '#live', 'live', 5000);
        assert.equal(await visible(solo, '#login'), false, 'no login form');
        assert.equal(await visible(solo, '#login-off'), true, 'says why');
        await solo.close();
      });

      assert.deepEqual(problems, [], 'no script errors or CSP violations on the pages');
    } finally {
      await browser?.close();
      await shutdownAll(lone === undefined ? nodes : [...nodes, lone]);
    }
  });

  it('shows a split view, no leader, a partial matrix and a suspect from a manager\'s streams', { timeout: 30_000 }, async (t) => {
    // a stand-in manager whose streams the test sets: the states a healthy mesh of real managers never shows
    const node = (name: string, status: string, lag: number): ApiClusterNode => ({
      name, addr: `10.0.0.${name.length}:9000`, status: status as ApiClusterNode['status'], error: '', jointime: new Date(), leavetime: null,
      lag, packets: 0, configured: true, leaveReason: null, metadata: {},
    });
    const membership$ = new Subject<MembershipEventLike>();
    const stub: ApiManagerView = {
      name: 'north',
      members$: new BehaviorSubject<ReadonlyMap<string, ApiClusterNode>>(new Map([['east', node('east', 'Online', 3)], ['west', node('west', 'Suspect', 40)]])),
      quorum$: new BehaviorSubject(true),
      view$: new BehaviorSubject({ id: '5ca1ab1e', members: ['east', 'north', 'west'], converged: false }),
      leader$: new BehaviorSubject<string | null>(null),
      reachability$: new BehaviorSubject<ReadonlyMap<string, readonly string[]>>(new Map([['north', ['north', 'east', 'west']], ['east', ['east', 'north']]])),
      membership$,
    };
    const api = new ManagerApi(stub, { enabled: true, signingKey: 'x'.repeat(32), tokenDuration: 3600, admins: {}, listen: '127.0.0.1:0' }, { log: () => undefined, reconnect: () => undefined });
    let browser: Browser | undefined;
    try {
      const address = await api.listen();
      assert.ok(address !== null);
      api.register();
      membership$.next({ type: 'join', node: 'west', time: new Date() });
      membership$.next({ type: 'suspect', node: 'west', time: new Date() });
      browser = (await launch()).browser;
      const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
      const problems: string[] = [];
      const page = await watchedPage(context, problems);
      await page.goto(`http://${address}/`, { waitUntil: 'domcontentloaded' });
      await waitForStatus(page, 'west', 'Suspect', true, 5000);
      assert.deepEqual(await overviewShown(page), { quorum: 'yes', leader: 'none', view: '5ca1ab1e', converged: 'no' });
      assert.deepEqual(await matrixShown(page), { east: ['north'], north: ['east', 'west'], west: [] });
      assert.equal(await textOf(page, '#connectivity td[data-from="east"][data-to="east"]'), 'self');
      assert.equal(await textOf(page, '#connectivity td[data-from="east"][data-to="west"]'), 'no', 'east does not see west');
      assert.equal(await textOf(page, '#connectivity td[data-from="west"][data-to="east"]'), '?', 'no report from west');
      assert.equal(await page.locator('#events li[data-type="suspect"][data-node="west"]').count(), 1, 'the suspicion is listed');
      assert.equal(await textOf(page, 'tr[data-node="west"] td.lag .lag-now'), '40', 'a suspect node still shows its lag');
      // a change on a stream reaches the open page
      (stub.leader$ as BehaviorSubject<string | null>).next('east');
      await waitForText(page, '#leader', 'east', 5000);
      const shot = join(await mkdtemp(join(tmpdir(), 'rxcluster-dashboard-')), 'status-page-split.png');
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot (split view): ${shot}`);
      assert.deepEqual(problems, [], 'no script errors or CSP violations on the page');
    } finally {
      await browser?.close();
      api.unregister();
      await api.close();
    }
  });
});
