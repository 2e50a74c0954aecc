import { createHash } from 'node:crypto';

/**
 * The status page: plain HTML, a little CSS and one inline script, no build
 * step and no library. It reads the manager's name (and whether login is on)
 * from meta tags, follows `api/v1/cluster/:manager/events` (server-sent
 * events) and shows: an overview (quorum, leader, view id, converged), one
 * row per node (a card on a narrow screen) with its status, lag as a small
 * chart over the last five minutes, the leave reason and time, the recent
 * membership events, and who sees whom as each node reports it. A reload
 * asks `…/session` whether the session cookie still holds a login; admin
 * buttons show only then, and only where they can act (reconnect for an
 * Online node). Every value from the server reaches the DOM through
 * `textContent` or `setAttribute`, never as markup. URLs are relative, so
 * the page also works where the handler is mounted under a prefix
 * (express's `app.use('/cluster', …)`).
 */

const STYLE = `
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 1.5rem; color: #222; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p { overflow-wrap: anywhere; }
.overview { display: flex; flex-wrap: wrap; gap: .5rem 2rem; margin: .6rem 0; }
.overview div { display: flex; flex-direction: column; min-width: 0; }
.overview dt { color: #666; font-size: .8rem; }
.overview dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; }
table.nodes { width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th, td.status, td.packets, td.admin, td.jointime { white-space: nowrap; }
td.name { min-width: 6rem; }
td.name, td.addr, td.left, td.metadata, td.error { overflow-wrap: anywhere; }
td.packets { text-align: right; font-variant-numeric: tabular-nums; }
td.lag { white-space: nowrap; }
.lag-now { display: inline-block; min-width: 2.5rem; font-variant-numeric: tabular-nums; }
svg.chart { vertical-align: middle; background: #f6f8fa; border-radius: 3px; }
svg.chart polyline { fill: none; stroke: #1f5fa8; stroke-width: 1.5; }
svg.chart.offline polyline { stroke: #999; }
.chart-max { color: #666; font-size: .75rem; margin-left: .3rem; }
.s-online, .good, .yes { color: #11772d; font-weight: 600; }
.s-offline, .s-stopping, .bad, .no { color: #b3261e; font-weight: 600; }
.s-authenticating, .s-leaving, .s-suspect { color: #8a5a00; font-weight: 600; }
.muted, .unknown { color: #666; }
.session #who:not(:empty) { margin-left: 1rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table.matrix th, table.matrix td { text-align: center; border: 1px solid #ddd; padding: .2rem .5rem; }
table.matrix th { max-width: 9rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 600; }
table.matrix td.self { background: #f3f3f3; color: #999; }
table.matrix tr.stale td, table.matrix tr.stale th { opacity: .45; }
ol.events { list-style: none; padding: 0; margin: 0; max-height: 22rem; overflow-y: auto; }
ol.events li { padding: .2rem 0; border-bottom: 1px solid #eee; overflow-wrap: anywhere; }
ol.events time { color: #666; font-variant-numeric: tabular-nums; margin-right: .5rem; }
ol.events .type { font-weight: 600; margin-right: .4rem; }
.e-join { color: #11772d; } .e-leave { color: #b3261e; } .e-suspect { color: #8a5a00; }
body:not(.authed) .admin { display: none; }
body.authed #login { display: none; }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-top: 1.2rem; }
input { max-width: 100%; }
@media (max-width: 720px) {
  body { margin: .6rem; }
  table.nodes thead { display: none; }
  table.nodes, table.nodes tbody, table.nodes tr { display: block; }
  table.nodes tr { border: 1px solid #ddd; border-radius: 6px; margin: 0 0 .6rem; padding: .3rem .6rem; }
  table.nodes td { display: flex; gap: .6rem; border: 0; padding: .15rem 0; text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 0; }
  table.nodes td::before { content: attr(data-label); flex: 0 0 5.5rem; color: #666; }
  table.nodes td.name { font-weight: 600; }
  .overview { gap: .4rem 1.2rem; }
}
`;

const SCRIPT = `
(() => {
  'use strict';
  const meta = (name) => document.querySelector('meta[name="' + name + '"]').getAttribute('content');
  const manager = meta('rxcluster-manager');
  const loginOn = meta('rxcluster-login') === 'on';
  const byId = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const base = 'api/v1/cluster/' + enc(manager);
  const SVG = 'http://www.w3.org/2000/svg';
  const DASH = '-';
  // lag chart: one sample a second per node, the last five minutes
  const WINDOW_MS = 5 * 60 * 1000;
  const SAMPLE_MS = 1000;
  const MIN_SPAN_MS = 10 * 1000;
  const CHART_W = 120;
  const CHART_H = 28;
  const rows = new Map();
  const lags = new Map();
  let nodes = {};
  let token = null;
  byId('manager').textContent = manager;
  document.title = 'rxcluster: ' + manager;

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const when = (iso) => (iso === null || iso === undefined ? DASH : new Date(iso).toLocaleString());
  const isLive = (status) => status === 'Online' || status === 'Suspect';
  const setText = (id, text, cls) => {
    const e = byId(id);
    e.textContent = text;
    e.className = cls || '';
  };

  const LABELS = { name: 'node', addr: 'address', status: 'status', lag: 'lag (ms)', packets: 'packets', jointime: 'joined', left: 'left', metadata: 'metadata', error: 'error', admin: 'admin' };
  const rowFor = (name) => {
    let row = rows.get(name);
    if (row !== undefined) return row;
    const tr = el('tr');
    tr.setAttribute('data-node', name);
    row = { tr };
    for (const key of Object.keys(LABELS)) {
      const td = el('td', key);
      td.setAttribute('data-label', LABELS[key]);
      tr.appendChild(td);
      row[key] = td;
    }
    row.name.textContent = name;
    row.lagNow = el('span', 'lag-now');
    row.chart = document.createElementNS(SVG, 'svg');
    row.chart.setAttribute('class', 'chart');
    row.chart.setAttribute('width', String(CHART_W));
    row.chart.setAttribute('height', String(CHART_H));
    row.chart.setAttribute('viewBox', '0 0 ' + CHART_W + ' ' + CHART_H);
    row.chart.setAttribute('role', 'img');
    row.chartMax = el('span', 'chart-max');
    row.lag.append(row.lagNow, row.chart, row.chartMax);
    const button = el('button', 'reconnect', 'reconnect');
    button.type = 'button';
    button.addEventListener('click', () => act(name, 'reconnect', button));
    row.admin.appendChild(button);
    row.button = button;
    rows.set(name, row);
    return row;
  };

  const sample = (now) => {
    for (const name of Object.keys(nodes)) {
      const node = nodes[name];
      let list = lags.get(name);
      if (list === undefined) lags.set(name, (list = []));
      const value = isLive(node.status) && typeof node.lag === 'number' ? node.lag : null;
      // a gap once a node is not live: no line through the time it was away
      if (value !== null || (list.length > 0 && list[list.length - 1].v !== null)) list.push({ t: now, v: value });
      while (list.length > 0 && list[0].t < now - WINDOW_MS) list.shift();
    }
    for (const name of [...lags.keys()]) if (!(name in nodes)) lags.delete(name);
  };
  const drawChart = (name, now) => {
    const row = rows.get(name);
    if (row === undefined) return;
    const list = lags.get(name) || [];
    const live = isLive(nodes[name].status);
    let max = 1;
    for (const s of list) if (s.v !== null && s.v > max) max = s.v;
    while (row.chart.firstChild) row.chart.removeChild(row.chart.firstChild);
    // the x axis spans the samples held (at least MIN_SPAN_MS, at most the window): a fresh page has a line at once
    const oldest = list.length > 0 ? list[0].t : now;
    const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - oldest));
    const x = (t) => (((t - (now - span)) / span) * CHART_W).toFixed(1);
    // headroom above the highest sample, so a flat line does not run along the top edge
    const y = (v) => (CHART_H - 2 - (v / (max * 1.25)) * (CHART_H - 4)).toFixed(1);
    let points = [];
    const flush = () => {
      if (points.length === 0) return;
      // a single sample still shows: a short flat line
      if (points.length === 1) points.unshift((Number(points[0].split(',')[0]) - 2).toFixed(1) + ',' + points[0].split(',')[1]);
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', points.join(' '));
      row.chart.appendChild(line);
      points = [];
    };
    for (const s of list) {
      if (s.v === null) flush();
      else points.push(x(s.t) + ',' + y(s.v));
    }
    flush();
    const count = list.filter((s) => s.v !== null).length;
    row.chart.setAttribute('class', live ? 'chart' : 'chart offline');
    row.chart.setAttribute('data-samples', String(count));
    const label = count === 0 ? 'no lag measured in the last 5 minutes' : 'lag over the last 5 minutes, at most ' + max + ' ms';
    row.chart.setAttribute('aria-label', label);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = label;
    row.chart.appendChild(title);
    row.chartMax.textContent = count === 0 ? '' : 'max ' + max;
  };
  const drawCharts = () => {
    const now = Date.now();
    sample(now);
    for (const name of Object.keys(nodes)) drawChart(name, now);
  };

  const renderOverview = (state) => {
    setText('quorum', state.quorum ? 'yes' : 'no', state.quorum ? 'good' : 'bad');
    if (state.leader === undefined) setText('leader', DASH, 'muted');
    else if (state.leader === null) setText('leader', 'none', 'bad');
    else setText('leader', state.leader);
    if (state.view === undefined) {
      setText('view-id', DASH, 'muted');
      setText('converged', DASH, 'muted');
      setText('view-members', DASH, 'muted');
    } else {
      setText('view-id', state.view.id);
      setText('converged', state.view.converged ? 'yes' : 'no', state.view.converged ? 'good' : 'bad');
      setText('view-members', String(state.view.members.length));
      byId('view-members').title = state.view.members.join(', ');
    }
    const names = Object.keys(state.nodes);
    setText('online', names.filter((n) => state.nodes[n].status === 'Online').length + ' of ' + names.length + ' peers');
  };

  const renderNodes = (state) => {
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
      const status = String(node.status);
      const live = isLive(status);
      row.addr.textContent = String(node.addr);
      row.status.textContent = status;
      row.status.className = 'status s-' + status.toLowerCase();
      // no stale figures for a node that is not there: its lag and join time show a dash
      row.lagNow.textContent = live ? String(node.lag) : DASH;
      row.packets.textContent = String(node.packets);
      row.jointime.textContent = live ? when(node.jointime) : DASH;
      // the leave of a node that is away now; a live node's past leaves are in the events list
      if (live || node.leavetime === null || node.leavetime === undefined) row.left.textContent = DASH;
      else {
        const time = el('time', '', when(node.leavetime));
        time.dateTime = String(node.leavetime);
        const left = el('span');
        left.append(el('span', 'reason', node.leaveReason === null || node.leaveReason === undefined ? 'unknown' : String(node.leaveReason)), ', ', time);
        row.left.replaceChildren(left);
      }
      row.metadata.textContent = node.metadata === undefined || node.metadata === null || Object.keys(node.metadata).length === 0 ? DASH : JSON.stringify(node.metadata);
      row.error.textContent = node.error === '' ? DASH : String(node.error);
      // a reconnect acts only on a live connection: offered for an Online node alone
      row.button.hidden = status !== 'Online';
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    });
    byId('empty').hidden = names.length > 0;
  };

  let connectivityShown = null;
  const renderConnectivity = (reports, view) => {
    const away = Object.keys(nodes).filter((n) => !isLive(nodes[n].status));
    const json = JSON.stringify(reports === undefined ? null : [reports, view ? view.members : [], away]);
    if (json === connectivityShown) return;
    connectivityShown = json;
    const table = byId('connectivity');
    while (table.firstChild) table.removeChild(table.firstChild);
    byId('connectivity-none').hidden = reports !== undefined;
    if (reports === undefined) return;
    const seen = new Map(reports.map((r) => [r.node, r.sees]));
    const all = new Set([...(view ? view.members : []), ...reports.map((r) => r.node)]);
    for (const r of reports) for (const n of r.sees) all.add(n);
    const names = [...all].sort();
    const head = el('tr');
    head.appendChild(el('th', 'corner', 'sees'));
    for (const n of names) {
      const th = el('th', '', n);
      th.scope = 'col';
      th.title = n;
      head.appendChild(th);
    }
    const thead = el('thead');
    thead.appendChild(head);
    const tbody = el('tbody');
    for (const from of names) {
      const tr = el('tr');
      tr.setAttribute('data-from', from);
      const th = el('th', '', from);
      th.scope = 'row';
      th.title = from;
      tr.appendChild(th);
      const sees = seen.get(from);
      // the last report of a node that is away now: shown, but marked as old
      const away = from !== manager && sees !== undefined && nodes[from] !== undefined && !isLive(nodes[from].status);
      if (away) {
        tr.className = 'stale';
        th.title = from + ' is ' + nodes[from].status + ': its last report';
      }
      for (const to of names) {
        const yes = sees !== undefined && sees.includes(to);
        // the diagonal is no link: a node need not list itself
        const td = from === to ? el('td', 'self', 'self') : el('td', sees === undefined ? 'unknown' : yes ? 'yes' : 'no', sees === undefined ? '?' : yes ? 'yes' : 'no');
        td.setAttribute('data-from', from);
        td.setAttribute('data-to', to);
        if (from !== to) td.title = sees === undefined ? 'no report from ' + from : from + (yes ? ' sees ' : ' does not see ') + to;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    table.append(thead, tbody);
  };

  const renderEvents = (events) => {
    const list = byId('events');
    while (list.firstChild) list.removeChild(list.firstChild);
    byId('events-none').hidden = events.length > 0;
    for (const e of [...events].reverse()) {
      const li = el('li', 'e-' + String(e.type));
      li.setAttribute('data-type', String(e.type));
      li.setAttribute('data-node', String(e.node));
      const time = el('time', '', new Date(e.time).toLocaleTimeString());
      time.dateTime = String(e.time);
      time.title = new Date(e.time).toLocaleString();
      li.append(time, el('span', 'type', String(e.type)), el('span', 'node', String(e.node)));
      if (e.reason !== undefined) li.append(' (', el('span', 'reason', String(e.reason)), ')');
      list.appendChild(li);
    }
  };

  let first = true;
  const render = (state) => {
    nodes = state.nodes;
    renderOverview(state);
    renderNodes(state);
    renderConnectivity(state.connectivity, state.view);
    if (first) {
      first = false;
      drawCharts();
    }
  };

  const setLive = (text, cls) => setText('live', text, cls);
  const follow = () => {
    const source = new EventSource(base + '/events');
    source.addEventListener('open', () => setLive('live', 'good'));
    source.addEventListener('message', (event) => {
      try {
        render(JSON.parse(event.data));
      } catch (error) {
        setLive('bad event: ' + error.message, 'bad');
      }
    });
    source.addEventListener('events', (event) => {
      try {
        renderEvents(JSON.parse(event.data).events);
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
      await call(base + '/admin/' + enc(node) + '/' + enc(action), { method: 'POST', headers, body: '' });
      status.textContent = action + ' ' + node + ': sent';
    } catch (error) {
      status.textContent = action + ' ' + node + ': failed: ' + error.message;
    } finally {
      button.disabled = false;
    }
  };
  const loggedIn = (username) => {
    byId('who').textContent = 'logged in as ' + username;
    document.body.classList.add('authed');
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
      status.textContent = '';
      loggedIn(data.username);
    } catch (error) {
      status.textContent = 'login failed: ' + error.message;
    }
  });
  byId('logout').addEventListener('click', async () => {
    token = null;
    document.body.classList.remove('authed');
    byId('who').textContent = '';
    try {
      await call('api/v1/logout', { method: 'POST', body: '' });
    } catch (error) {
      byId('login-status').textContent = 'log out failed: ' + error.message;
    }
  });
  if (loginOn) {
    // a reload keeps the login while the session cookie holds a valid token
    call(base + '/session').then((data) => loggedIn(data.username), () => undefined);
  } else {
    byId('login').hidden = true;
    byId('login-off').hidden = false;
  }
  setInterval(drawCharts, SAMPLE_MS);
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
 *
 * @param manager - the manager it shows
 * @param loginEnabled - whether the login route is on (`api.admins`); without it no login form is offered
 */
export function dashboardHtml(manager: string, loginEnabled: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="rxcluster-manager" content="${escapeHtml(manager)}">
<meta name="rxcluster-login" content="${loginEnabled ? 'on' : 'off'}">
<title>rxcluster</title>
<style>${STYLE}</style>
</head>
<body>
<h1>rxcluster: <span id="manager"></span></h1>
<p class="session">events: <span id="live" class="muted">connecting</span> <span id="who" class="muted"></span> <button id="logout" class="admin" type="button">log out</button></p>
<dl class="overview" id="overview">
<div><dt>quorum</dt><dd id="quorum" class="muted">-</dd></div>
<div><dt>leader</dt><dd id="leader" class="muted">-</dd></div>
<div><dt>view</dt><dd id="view-id" class="muted">-</dd></div>
<div><dt>converged</dt><dd id="converged" class="muted">-</dd></div>
<div><dt>view members</dt><dd id="view-members" class="muted">-</dd></div>
<div><dt>online</dt><dd id="online" class="muted">-</dd></div>
</dl>
<h2>nodes</h2>
<div class="scroll">
<table class="nodes">
<thead><tr><th>node</th><th>address</th><th>status</th><th>lag (ms), last 5 min</th><th>packets</th><th>joined</th><th>left (why, when)</th><th>metadata</th><th>error</th><th class="admin">admin</th></tr></thead>
<tbody id="nodes"></tbody>
</table>
</div>
<p id="empty" class="muted">no nodes configured or connected</p>
<p id="action-status" class="muted" role="status"></p>
<h2>connectivity</h2>
<p class="muted">each row: who that node reports it sees</p>
<p id="connectivity-none" class="muted">-</p>
<div class="scroll"><table class="matrix" id="connectivity"></table></div>
<h2>recent membership events</h2>
<p id="events-none" class="muted">-</p>
<ol class="events" id="events"></ol>
<form id="login" autocomplete="off">
<label>username <input id="username" name="username" required maxlength="128"></label>
<label>password <input id="password" name="password" type="password" required maxlength="1024"></label>
<button id="login-button" type="submit">log in</button>
<span id="login-status" class="muted" role="status"></span>
</form>
<p id="login-off" class="muted" hidden>admin login is off: no admin is configured (api.admins)</p>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
