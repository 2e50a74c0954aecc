import { createHash } from 'node:crypto';

/**
 * The status page: plain HTML, a little CSS and one inline script, no build
 * step. It reads the manager's name from a meta tag, follows
 * `api/v1/cluster/:manager/events` (server-sent events) and updates a table
 * of nodes in place; after a login it shows the admin buttons. Every value
 * from the server reaches the DOM through `textContent` or `setAttribute`,
 * never as markup. URLs are relative, so the page also works where the
 * handler is mounted under a prefix (express's `app.use('/cluster', …)`).
 */

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; margin: 1rem 0; min-width: 40rem; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #ddd; }
td.lag, td.packets { text-align: right; font-variant-numeric: tabular-nums; }
.s-online, .good { color: #11772d; font-weight: 600; }
.s-offline, .s-stopping, .bad { color: #b3261e; font-weight: 600; }
.s-authenticating, .s-leaving { color: #8a5a00; }
.muted { color: #666; }
body:not(.authed) .admin { display: none; }
body.authed #login { display: none; }
form { display: flex; gap: .5rem; align-items: center; }
`;

const SCRIPT = `
(() => {
  'use strict';
  const manager = document.querySelector('meta[name="rxcluster-manager"]').getAttribute('content');
  const byId = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const rows = new Map();
  let token = null;
  byId('manager').textContent = manager;
  document.title = 'rxcluster: ' + manager;

  const addCell = (tr, cls) => {
    const td = document.createElement('td');
    td.className = cls;
    tr.appendChild(td);
    return td;
  };
  const rowFor = (name) => {
    let row = rows.get(name);
    if (row !== undefined) return row;
    const tr = document.createElement('tr');
    tr.setAttribute('data-node', name);
    row = { tr };
    for (const key of ['name', 'addr', 'status', 'lag', 'packets', 'jointime', 'left', 'metadata', 'error']) row[key] = addCell(tr, key);
    const actions = addCell(tr, 'admin');
    row.name.textContent = name;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'reconnect';
    button.textContent = 'reconnect';
    button.addEventListener('click', () => act(name, 'reconnect', button));
    actions.appendChild(button);
    row.button = button;
    rows.set(name, row);
    return row;
  };
  const render = (state) => {
    const quorum = byId('quorum');
    quorum.textContent = state.quorum ? 'true' : 'false';
    quorum.className = state.quorum ? 'good' : 'bad';
    const names = Object.keys(state.nodes).sort();
    for (const [name, row] of rows) {
      if (!names.includes(name)) {
        row.tr.remove();
        rows.delete(name);
      }
    }
    const tbody = byId('nodes');
    names.forEach((name, i) => {
      const node = state.nodes[name];
      const row = rowFor(name);
      row.addr.textContent = String(node.addr);
      row.status.textContent = String(node.status);
      row.status.className = 'status s-' + String(node.status).toLowerCase();
      row.lag.textContent = String(node.lag);
      row.packets.textContent = String(node.packets);
      row.jointime.textContent = node.jointime === null ? '-' : new Date(node.jointime).toLocaleString();
      row.left.textContent = node.leavetime === null || node.leavetime === undefined ? '-' : String(node.leaveReason) + ', ' + new Date(node.leavetime).toLocaleString();
      row.metadata.textContent = node.metadata === undefined || Object.keys(node.metadata).length === 0 ? '-' : JSON.stringify(node.metadata);
      row.error.textContent = String(node.error);
      // a reconnect acts only on a live connection: offered for an Online node alone
      row.button.hidden = node.status !== 'Online';
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    });
    byId('empty').hidden = names.length > 0;
  };
  const setLive = (text, cls) => {
    const live = byId('live');
    live.textContent = text;
    live.className = cls;
  };
  const follow = () => {
    const source = new EventSource('api/v1/cluster/' + enc(manager) + '/events');
    source.addEventListener('open', () => setLive('live', 'good'));
    source.addEventListener('message', (event) => {
      try {
        render(JSON.parse(event.data));
      } catch (error) {
        setLive('bad event: ' + error.message, 'bad');
      }
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) setLive('disconnected (reload to retry)', 'bad');
      else setLive('reconnecting', 'bad');
    });
  };
  const call = async (path, init) => {
    const response = await fetch(path, { credentials: 'same-origin', ...init });
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      envelope = null;
    }
    if (!response.ok || envelope === null || envelope.success !== true) {
      throw new Error((envelope && envelope.error) || response.status + ' ' + response.statusText);
    }
    return envelope.data;
  };
  const act = async (node, action, button) => {
    const status = byId('action-status');
    button.disabled = true;
    status.textContent = action + ' ' + node + ': sending';
    try {
      const headers = token === null ? {} : { authorization: 'Bearer ' + token };
      await call('api/v1/cluster/' + enc(manager) + '/admin/' + enc(node) + '/' + enc(action), { method: 'POST', headers, body: '' });
      status.textContent = action + ' ' + node + ': sent';
    } catch (error) {
      status.textContent = action + ' ' + node + ': failed: ' + error.message;
    } finally {
      button.disabled = false;
    }
  };
  byId('login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const status = byId('login-status');
    const username = byId('username').value;
    const password = byId('password').value;
    status.textContent = 'logging in';
    try {
      const data = await call('api/v1/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password, manager }),
      });
      token = data.token;
      byId('password').value = '';
      byId('who').textContent = 'logged in as ' + data.username;
      status.textContent = '';
      document.body.classList.add('authed');
    } catch (error) {
      status.textContent = 'login failed: ' + error.message;
    }
  });
  follow();
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The Content-Security-Policy of the page: only its own script and style, requests to its own origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Escapes text for an HTML attribute value in double quotes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page for manager `manager`. The name is the one value placed in the
 * markup, escaped, in a meta tag's attribute; the script reads it from there.
 */
export function dashboardHtml(manager: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="rxcluster-manager" content="${escapeHtml(manager)}">
<title>rxcluster</title>
<style>${STYLE}</style>
</head>
<body>
<h1>rxcluster: <span id="manager"></span></h1>
<p>quorum: <span id="quorum" class="muted">unknown</span> · events: <span id="live" class="muted">connecting</span> · <span id="who" class="muted"></span></p>
<table>
<thead><tr><th>node</th><th>address</th><th>status</th><th>lag (ms)</th><th>packets</th><th>joined</th><th>left</th><th>metadata</th><th>error</th><th class="admin">admin</th></tr></thead>
<tbody id="nodes"></tbody>
</table>
<p id="empty" class="muted">no nodes configured or connected</p>
<p id="action-status" class="muted" role="status"></p>
<form id="login" autocomplete="off">
<label>username <input id="username" name="username" required maxlength="128"></label>
<label>password <input id="password" name="password" type="password" required maxlength="1024"></label>
<button id="login-button" type="submit">log in</button>
<span id="login-status" class="muted" role="status"></span>
</form>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
