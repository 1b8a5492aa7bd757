/**
 * The owner web app (the companion app) as HTML strings: register, log in, claim a device, see
 * and control it, with a chart of its recent telemetry drawn as inline SVG on the server. Every
 * value is escaped; no inline script or style (the CSP forbids both), no external resource;
 * every form that changes state carries the CSRF token.
 */
import type { DeviceRecord, TelemetryRow } from './store.ts';

/** Escapes text for HTML content and attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The stylesheet, served at /static/cloud.css. */
export const CLOUD_CSS = `:root{color-scheme:light;--fg:#1a202c;--muted:#4a5568;--accent:#1f5fa8;--bad:#b42318;--ok:#1e6b3a;--line:#d9dee5}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f6f7f9}
header{background:#10243e;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}
header a,header button{color:#fff}header nav{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
main{max-width:48rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.15rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{width:100%;font:inherit;padding:.55rem;border:1px solid #8a94a6;border-radius:6px}
input:focus,button:focus,a:focus{outline:3px solid #f5b400;outline-offset:2px}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;margin-top:.75rem}
button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
.linklike{background:none;border:none;text-decoration:underline;padding:0;margin:0}
.error{color:var(--bad);font-weight:600}.notice{color:var(--ok);font-weight:600}.muted{color:var(--muted)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
ul.devices{list-style:none;padding:0;margin:0}ul.devices li{border-top:1px solid var(--line);padding:.5rem 0}
.cap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;border-top:1px solid var(--line);padding:.5rem 0}
.cap form{display:inline}.value{font-weight:700}ul.reasons{margin:.25rem 0;padding-left:1.2rem}
svg.chart{width:100%;height:auto;background:#fff}
`;

/** What every page knows. */
export interface AppFrame {
  readonly title: string;
  /** Present when logged in: the navigation and the logout form. */
  readonly csrf?: string;
  readonly email?: string;
}

function layout(frame: AppFrame, body: string): string {
  const nav = frame.csrf
    ? `<nav aria-label="Main"><a href="/app">My devices</a><a href="/app/account">Account</a>` +
      `<form method="post" action="/logout"><input type="hidden" name="csrf" value="${esc(frame.csrf)}"><button class="linklike" type="submit">Log out</button></form></nav>`
    : `<nav aria-label="Main"><a href="/login">Log in</a><a href="/register">Register</a></nav>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${esc(frame.title)} · Bulwark Cloud</title><link rel="stylesheet" href="/static/cloud.css"></head>` +
    `<body><header><strong>Bulwark Cloud</strong>${nav}</header><main>${body}</main></body></html>\n`;
}

function messages(o: { error?: string; notice?: string; reasons?: readonly string[] }): string {
  const reasons = o.reasons?.length ? `<ul class="reasons error">${o.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
  return (o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : '') + reasons + (o.notice ? `<p class="notice" role="status">${esc(o.notice)}</p>` : '');
}

/** Log in. */
export function loginPage(o: { csrf: string; error?: string; notice?: string; email?: string }): string {
  return layout({ title: 'Log in' }, `<h1>Log in</h1><div class="card">${messages(o)}
<form method="post" action="/login"><input type="hidden" name="csrf" value="${esc(o.csrf)}">
<label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="${esc(o.email ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Log in</button></form><p class="muted">No account yet? <a href="/register">Register</a>.</p></div>`);
}

/** Register. */
export function registerPage(o: { csrf: string; error?: string; reasons?: readonly string[]; email?: string }): string {
  return layout({ title: 'Register' }, `<h1>Create an account</h1><div class="card">${messages(o)}
<form method="post" action="/register"><input type="hidden" name="csrf" value="${esc(o.csrf)}">
<label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="${esc(o.email ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="256">
<p class="muted">At least 12 characters and not a common password. A few unrelated words make a good one.</p>
<button type="submit">Create account</button></form></div>`);
}

function stateText(d: DeviceRecord): string {
  return d.online ? 'online' : d.seenAt ? `offline (last seen ${new Date(d.seenAt).toISOString().replace('T', ' ').slice(0, 19)} UTC)` : 'not seen yet';
}

/** My devices, and the claim form. */
export function devicesPage(frame: AppFrame & { csrf: string }, o: { devices: readonly DeviceRecord[]; error?: string; notice?: string; serial?: string }): string {
  const list = o.devices.length
    ? `<ul class="devices">${o.devices.map((d) => `<li><a href="/app/devices/${esc(d.serial)}">${esc(d.serial)}</a> <span class="muted">${esc(d.model)} · ${esc(stateText(d))}</span></li>`).join('')}</ul>`
    : '<p class="muted">No devices yet. Claim one below.</p>';
  return layout(frame, `<h1>My devices</h1>${messages(o)}<section class="card" aria-labelledby="mine-h"><h2 id="mine-h">Devices</h2>${list}</section>
<section class="card" aria-labelledby="claim-h"><h2 id="claim-h">Claim a device</h2>
<p>Press the button on the device first: it opens a 10-minute claim window. Then enter the serial number and the claim code from its label.</p>
<form method="post" action="/app/claim"><input type="hidden" name="csrf" value="${esc(frame.csrf)}">
<label for="serial">Serial number</label><input id="serial" name="serial" required maxlength="32" autocomplete="off" value="${esc(o.serial ?? '')}" placeholder="PLG-XXXXXXXXXX">
<label for="claim-code">Claim code</label><input id="claim-code" name="claimCode" required maxlength="32" autocomplete="off" placeholder="XXXX-XXXX-XXXX-XXXX">
<button type="submit">Claim</button></form></section>`);
}

/** One numeric series of the chart. */
interface Series { readonly name: string; readonly points: Array<[number, number]> }

function numericSeries(rows: readonly TelemetryRow[]): Series[] {
  const byName = new Map<string, Array<[number, number]>>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r.values)) {
      const n = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;
      if (n === undefined) continue;
      let list = byName.get(k);
      if (!list) { if (byName.size >= 4) continue; list = []; byName.set(k, list); }
      list.push([r.receivedAt, n]);
    }
  }
  return [...byName].map(([name, points]) => ({ name, points }));
}

const COLOURS = ['#1f5fa8', '#b42318', '#1e6b3a', '#7a4b00'];

/** The telemetry chart: one line per numeric value, inline SVG with a text alternative. */
export function telemetryChart(rows: readonly TelemetryRow[]): string {
  const series = numericSeries(rows);
  if (series.length === 0) return '<p class="muted" data-chart="empty">No telemetry yet.</p>';
  const W = 640, H = 240, L = 48, R = 12, T = 12, B = 28;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1);
  const sx = (x: number): number => L + (x1 === x0 ? (W - L - R) / 2 : ((x - x0) / (x1 - x0)) * (W - L - R));
  const sy = (y: number): number => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const lines = series.map((s, i) => `<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" data-series="${esc(s.name)}" points="${s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`).join('');
  const legend = series.map((s, i) => `<text x="${L + 8 + i * 130}" y="${T + 12}" font-size="12" fill="${COLOURS[i % COLOURS.length]}">${esc(s.name)}: ${esc(s.points.at(-1)![1])}</text>`).join('');
  const time = (t: number): string => new Date(t).toISOString().slice(11, 19);
  const axes = `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#8a94a6"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#8a94a6"/>` +
    `<text x="${L - 6}" y="${sy(y1) + 4}" font-size="11" text-anchor="end">${esc(Number(y1.toPrecision(4)))}</text>` +
    `<text x="${L - 6}" y="${sy(y0) + 4}" font-size="11" text-anchor="end">${esc(Number(y0.toPrecision(4)))}</text>` +
    `<text x="${L}" y="${H - 8}" font-size="11">${esc(time(x0))}</text><text x="${W - R}" y="${H - 8}" font-size="11" text-anchor="end">${esc(time(x1))} UTC</text>`;
  const summary = series.map((s) => `${s.name}: ${s.points.length} readings, latest ${s.points.at(-1)![1]}`).join('; ');
  return `<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 ${W} ${H}" data-points="${rows.length}">` +
    `<title id="chart-title">Recent telemetry</title><desc id="chart-desc">${esc(summary)}</desc>${axes}${lines}${legend}</svg>`;
}

function valueText(v: unknown): string {
  return v === undefined || v === null ? '—' : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
}

/** One device: state, controls, chart, release. */
export function devicePage(frame: AppFrame & { csrf: string }, o: { device: DeviceRecord; telemetry: readonly TelemetryRow[]; controls: ReadonlyArray<{ capability: string; actions: readonly string[] }>; error?: string; notice?: string }): string {
  const d = o.device;
  const values = new Map((d.state?.capabilities ?? []).map((c) => [c.id, c.value] as const));
  const facts = [['Serial', d.serial], ['Model', d.model], ['Status', stateText(d)], ['Claimed', d.claimedAt ? new Date(d.claimedAt).toISOString().slice(0, 19).replace('T', ' ') + ' UTC' : '—']]
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  const controls = o.controls.map((c) => `<div class="cap" data-capability="${esc(c.capability)}"><div><strong>${esc(c.capability)}</strong><br>` +
    `<span class="value" data-value-of="${esc(c.capability)}">${esc(valueText(values.get(c.capability)))}</span></div><div>` +
    c.actions.map((a) => `<form method="post" action="/app/devices/${esc(d.serial)}/command"><input type="hidden" name="csrf" value="${esc(frame.csrf)}">` +
      `<input type="hidden" name="capability" value="${esc(c.capability)}"><input type="hidden" name="action" value="${esc(a)}">` +
      `<button type="submit" class="secondary" aria-label="${esc(`${c.capability}: ${a}`)}">${esc(a)}</button></form>`).join(' ') + '</div></div>').join('');
  return layout(frame, `<h1>${esc(d.serial)}</h1>${messages(o)}<section class="card" aria-labelledby="dev-h"><h2 id="dev-h">Device</h2><dl>${facts}</dl></section>` +
    `<section class="card" aria-labelledby="ctl-h"><h2 id="ctl-h">Controls</h2>${controls || '<p class="muted">No controls reported yet.</p>'}</section>` +
    `<section class="card" aria-labelledby="tel-h"><h2 id="tel-h">Recent telemetry</h2>${telemetryChart(o.telemetry)}<p><a href="/app/devices/${esc(d.serial)}">Refresh</a></p></section>` +
    `<section class="card" aria-labelledby="rel-h"><h2 id="rel-h">Release</h2><p class="muted">Releasing removes the device and its telemetry from your account.</p>` +
    `<form method="post" action="/app/devices/${esc(d.serial)}/release"><input type="hidden" name="csrf" value="${esc(frame.csrf)}"><button type="submit" class="danger">Release this device</button></form></section>`);
}

/** Account: delete it and all its data. */
export function accountPage(frame: AppFrame & { csrf: string }, o: { email: string; error?: string }): string {
  return layout(frame, `<h1>Account</h1>${messages(o)}<section class="card"><dl><dt>E-mail</dt><dd>${esc(o.email)}</dd></dl></section>
<section class="card" aria-labelledby="del-h"><h2 id="del-h">Delete my account</h2><p>This deletes the account, releases every device and erases their telemetry. It cannot be undone.</p>
<form method="post" action="/app/account/delete"><input type="hidden" name="csrf" value="${esc(frame.csrf)}">
<label for="del-password">Password</label><input id="del-password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit" class="danger">Delete account and data</button></form></section>`);
}

/** A plain error page. */
export function errorPage(status: number, text: string, loggedIn: AppFrame = { title: 'Error' }): string {
  return layout({ ...loggedIn, title: 'Error' }, `<h1>${esc(status)}</h1><div class="card"><p>${esc(text)}</p><p><a href="/app">Back</a></p></div>`);
}
