/**
 * The status page in a real browser: the headless Chromium shipped in the
 * @sparticuz/chromium package (or the one CHROMIUM_PATH names), driven by
 * playwright-core. Three managers in one mesh; the page of one follows the
 * others live over server-sent events, logs in through its form and sends a
 * reconnect that reaches fromClusterApi$.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findChromium } from './support/browser.js';
import { hashAdminPassword } from '../src/index.js';
import { fastOptions, first, joinedAll, shutdownAll, startMesh, type Node, tokenUser } from './support/cluster.js';

/** The admin's password for the login form: never the cluster secret. */
const PASSWORD = 'dashboard-admin-password';

/** A configured node whose name is markup: it must show as text. */
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">';

/*
 * The functions handed to page.evaluate run in the browser; the project's
 * type-check has no DOM library, so they reach the page through these few
 * types, erased at run time, where `globalThis` is the page's window.
 */
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
}
interface PageDocument {
  readonly cookie: string;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
type PageGlobals = { readonly document: PageDocument; readonly __pwned?: unknown };

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
    const shown = await page.evaluate((sel) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent ?? null, selector);
    throw new Error(`the page did not show "${text}" in ${selector} within ${ms} ms (it shows ${JSON.stringify(shown)})`, { cause: error });
  }
}

describe('status page', () => {
  it('follows the mesh live, logs in through its form and sends a reconnect', { timeout: 90_000 }, async (t) => {
    const chromiumFound = await findChromium();
    t.diagnostic(`browser: ${chromiumFound.source}`);
    let nodes: Node[] = [];
    let browser: Browser | undefined;
    try {
      nodes = await startMesh(['alpha', 'beta', 'gamma'], fastOptions({ api: { admins: { alice: hashAdminPassword(PASSWORD) } } }));
      await joinedAll(nodes);
      const [alpha, , gamma] = nodes as [Node, Node, Node];

      browser = await chromium.launch({ executablePath: chromiumFound.executablePath, args: [...chromiumFound.args], env: chromiumFound.env, timeout: 30_000 });
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });

      const response = await page.goto(`http://${alpha.address}/`, { waitUntil: 'domcontentloaded' });
      assert.equal(response?.status(), 200);
      await waitForText(page, '#manager', 'alpha', 5000);
      await waitForStatus(page, 'beta', 'Online', true, 5000);
      await waitForStatus(page, 'gamma', 'Online', true, 5000);
      await waitForText(page, '#quorum', 'true', 5000);
      await waitForText(page, '#live', 'live', 5000);
      assert.equal(await page.locator('tr[data-node="beta"] button.reconnect').isVisible(), false, 'no admin buttons before login');

      // a peer shuts down: its row leaves Online without a reload
      const navigations: string[] = [];
      page.on('framenavigated', (frame) => navigations.push(frame.url()));
      const started = performance.now();
      const stopping = gamma.manager.shutdown();
      await waitForStatus(page, 'gamma', 'Online', false, 1000);
      const elapsed = performance.now() - started;
      await stopping;
      const message = `the page showed gamma as ${String(await statusOf(page, 'gamma'))} ${elapsed.toFixed(0)} ms after its shutdown began`;
      t.diagnostic(message);
      console.log(message);
      assert.ok(elapsed < 1000, message);
      assert.deepEqual(navigations, [], 'no reload');
      assert.equal(await statusOf(page, 'beta'), 'Online');
      assert.equal(await page.locator('#quorum').textContent(), 'true', 'two of three is still a quorum');
      // its row says why and when it left
      await page.waitForFunction(
        (sel) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent?.startsWith('shutdown, ') === true,
        'tr[data-node="gamma"] td.left',
        { timeout: 3000, polling: 10 },
      );

      // log in through the form
      await page.fill('#username', 'alice');
      await page.fill('#password', PASSWORD);
      await page.click('#login-button');
      await waitForText(page, '#who', 'logged in as alice', 5000);
      const session = (await context.cookies()).find((cookie) => cookie.name === 'session');
      assert.ok(session !== undefined, 'the login set the session cookie');
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Strict');
      assert.equal(session.path, '/');
      assert.equal(await tokenUser(alpha.manager, session.value), 'alice');
      assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.cookie), '', 'the page script cannot read the cookie');

      // reconnect the remaining peer with its button
      const button = page.locator('tr[data-node="beta"] button.reconnect');
      assert.equal(await button.isVisible(), true, 'admin buttons after login');
      assert.equal(await page.locator('tr[data-node="gamma"] button.reconnect').isVisible(), false, 'no reconnect offered for a node that is not online');
      const received = first(alpha.manager.fromClusterApi$, (r) => r.action === 'reconnect', 5000, 'the reconnect from the page');
      await button.click();
      assert.deepEqual(await received, { action: 'reconnect', node: 'beta', manager: 'alpha', data: '' });
      await waitForText(page, '#action-status', 'reconnect beta: sent', 5000);
      await waitForStatus(page, 'beta', 'Online', true, 10_000);

      // the cookie alone authorizes an admin POST from the page
      const viaCookie = first(alpha.manager.fromClusterApi$, (r) => r.action === 'cookie-check', 5000, 'the cookie-only request');
      const status = await page.evaluate(async () => (await fetch('api/v1/cluster/alpha/admin/beta/cookie-check', { method: 'POST', body: 'from-cookie' })).status);
      assert.equal(status, 200);
      assert.deepEqual(await viaCookie, { action: 'cookie-check', node: 'beta', manager: 'alpha', data: 'from-cookie' });

      // a node named with markup shows as text; one of three online is no quorum
      alpha.manager.addNode(HOSTILE_NAME, '127.0.0.1:1');
      await waitForStatus(page, HOSTILE_NAME, 'Offline', true, 5000);
      await waitForText(page, '#quorum', 'false', 5000);
      const injected = await page.evaluate(() => {
        const win = globalThis as unknown as PageGlobals;
        return {
          images: win.document.querySelectorAll('img').length,
          pwned: win.__pwned ?? null,
          names: [...win.document.querySelectorAll('#nodes td.name')].map((cell) => cell.textContent),
        };
      });
      assert.deepEqual(injected, { images: 0, pwned: null, names: [HOSTILE_NAME, 'beta', 'gamma'] });

      const dir = await mkdtemp(join(tmpdir(), 'rxcluster-dashboard-'));
      const screenshot = join(dir, 'status-page.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      t.diagnostic(`screenshot: ${screenshot}`);
      console.log(`screenshot: ${screenshot}`);
      assert.deepEqual(problems, [], 'no script errors or CSP violations on the page');
    } finally {
      await browser?.close();
      await shutdownAll(nodes);
    }
  });
});
