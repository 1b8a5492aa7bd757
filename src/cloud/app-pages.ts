/**
 * The owner web app (the companion app) as HTML strings in src/web's shared page shell: register,
 * log in, claim a device, see and control it, with a chart of its recent telemetry drawn as
 * inline SVG on the server. Every value is escaped; no inline script or style (the CSP forbids
 * both), no external resource; every form that changes state carries the CSRF token.
 */
import { escapeHtml, formMessages, renderPage } from '../web/index.ts';
import type { DeviceRecord, TelemetryRow } from './store.ts';
import { firmwareText, modelOf } from './owner-devices.ts';
import { roleMayUse, type DeviceRole } from './household.ts';
import {
  actionAccessibleName,
  actionLabel,
  capabilityName,
  valueInWords,
  type CapabilityWordsSource,
  type ModelSpec,
} from '../models/index.ts';

/** What every page knows. */
export interface AppFrame {
  readonly title: string;
  /** Present when logged in: the navigation and the logout form. */
  readonly csrf?: string;
  readonly email?: string;
}

const LOGGED_IN_NAV = [
  { href: '/app', label: 'My devices' },
  { href: '/app/household', label: 'Household' },
  { href: '/app/account', label: 'Account' },
];
const LOGGED_OUT_NAV = [
  { href: '/login', label: 'Log in' },
  { href: '/register', label: 'Register' },
];

/** The whole page around `body`: logged in (a CSRF token in the frame) with the owner's links and logout. */
function layout(frame: AppFrame, body: string): string {
  const shell = frame.csrf
    ? { title: frame.title, product: 'Bulwark Cloud', nav: LOGGED_IN_NAV, logoutCsrf: frame.csrf }
    : { title: frame.title, product: 'Bulwark Cloud', nav: LOGGED_OUT_NAV };
  return renderPage(shell, body);
}

function csrfInput(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

function emailInput(email: string | undefined): string {
  return (
    '<label for="email">E-mail</label><input id="email" name="email" type="email" autocomplete="username" ' +
    `required maxlength="254" value="${escapeHtml(email ?? '')}">`
  );
}

/** Log in. */
export function loginPage(o: { csrf: string; error?: string; notice?: string; email?: string }): string {
  return layout(
    { title: 'Log in' },
    `<h1>Log in</h1><div class="card">${formMessages(o)}\n` +
      `<form method="post" action="/login">${csrfInput(o.csrf)}\n${emailInput(o.email)}\n` +
      '<label for="password">Password</label><input id="password" name="password" type="password" ' +
      'autocomplete="current-password" required maxlength="256">\n' +
      '<button type="submit">Log in</button></form>' +
      '<p class="muted">No account yet? <a href="/register">Register</a>. ' +
      'Forgot your password? <a href="/reset">Reset it</a>.</p></div>',
  );
}

/** Register. */
export function registerPage(o: { csrf: string; error?: string; reasons?: readonly string[]; email?: string }): string {
  return layout(
    { title: 'Register' },
    `<h1>Create an account</h1><div class="card">${formMessages(o)}\n` +
      `<form method="post" action="/register">${csrfInput(o.csrf)}\n${emailInput(o.email)}\n` +
      '<label for="password">Password</label><input id="password" name="password" type="password" ' +
      'autocomplete="new-password" required minlength="12" maxlength="256">\n' +
      '<p class="muted">At least 12 characters and not a common password. ' +
      'A few unrelated words make a good one.</p>\n' +
      '<button type="submit">Create account</button></form></div>',
  );
}

function utcText(at: number): string {
  return `${new Date(at).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** Why a revoked unit no longer works, in the owner's words. */
const REVOKED_WORDS: Readonly<Record<NonNullable<DeviceRecord['revoked']>['reason'], string>> = {
  'key-compromise': 'its secret key may have been exposed',
  clone: 'a copy of it was detected',
  stolen: 'it was reported stolen',
  retired: 'the model has been retired',
  superseded: 'its identity was replaced',
  other: 'of a security problem',
};

function revokedText(r: NonNullable<DeviceRecord['revoked']>): string {
  return (
    `Blocked by the maker on ${utcText(r.at)} because ${REVOKED_WORDS[r.reason]}. ` +
    "It can no longer connect to the cloud; contact the maker's support."
  );
}

/** The device's connection in a few words, for the list. */
function stateText(d: DeviceRecord): string {
  if (d.revoked) return 'blocked by the maker';
  return d.online ? 'online' : d.seenAt ? `offline since ${utcText(d.seenAt)}` : 'not connected yet';
}

/** The device's connection as a sentence, for its page. */
function statusSentence(d: DeviceRecord): string {
  if (d.revoked) return revokedText(d.revoked);
  if (d.online) return 'Online: the device is connected to the cloud.';
  if (d.seenAt) return `Offline: the cloud last heard from the device on ${utcText(d.seenAt)}.`;
  return 'Not connected yet: the device has not reached the cloud since it was claimed.';
}

function deviceList(devices: ReadonlyArray<DeviceRecord & { role?: string }>): string {
  if (devices.length === 0) return '<p class="muted">No devices yet. Claim one below.</p>';
  const items = devices.map(
    (d) =>
      `<li><a href="/app/devices/${escapeHtml(d.serial)}">${escapeHtml(d.serial)}</a> ` +
      `<span class="muted">${escapeHtml(modelOf(d)?.name ?? d.model)} · ${escapeHtml(stateText(d))}` +
      `${d.role ? ` · shared with you as ${escapeHtml(d.role)}` : ''}</span></li>`,
  );
  return `<ul class="devices">${items.join('')}</ul>`;
}

/** My devices, and the claim form. */
export function devicesPage(
  frame: AppFrame & { csrf: string },
  o: { devices: ReadonlyArray<DeviceRecord & { role?: string }>; error?: string; notice?: string; serial?: string },
): string {
  return layout(
    frame,
    `<h1>My devices</h1>${formMessages(o)}` +
      `<section class="card" aria-labelledby="mine-h"><h2` +
      ` id="mine-h">Devices</h2>${deviceList(o.devices)}</section>\n` +
      '<section class="card" aria-labelledby="claim-h"><h2 id="claim-h">Claim a device</h2>\n' +
      '<p>Press the button on the device first: it opens a 10-minute claim window. Then enter the serial number and ' +
      'the claim code from its label.</p>\n' +
      `<form method="post" action="/app/claim">${csrfInput(frame.csrf)}\n` +
      '<label for="serial">Serial number</label><input id="serial" name="serial" required maxlength="32" ' +
      `autocomplete="off" value="${escapeHtml(o.serial ?? '')}" placeholder="PLG-XXXXXXXXXX">\n` +
      '<label for="claim-code">Claim code</label><input id="claim-code" name="claimCode" required maxlength="32" ' +
      'autocomplete="off" placeholder="XXXX-XXXX-XXXX-XXXX">\n' +
      '<button type="submit">Claim</button></form></section>',
  );
}

/** One numeric series of the chart. */
interface Series {
  readonly name: string;
  readonly points: Array<[number, number]>;
}

function numericSeries(rows: readonly TelemetryRow[]): Series[] {
  const byName = new Map<string, Array<[number, number]>>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r.values)) {
      const n = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;
      if (n === undefined) continue;
      let list = byName.get(k);
      if (!list) {
        if (byName.size >= 4) continue;
        list = [];
        byName.set(k, list);
      }
      list.push([r.receivedAt, n]);
    }
  }
  return [...byName].map(([name, points]) => ({ name, points }));
}

const COLOURS = ['#1f5fa8', '#b42318', '#1e6b3a', '#7a4b00'];
const W = 640,
  H = 240,
  L = 48,
  R = 12,
  T = 12,
  B = 28;

/** The chart's scales: from time and value to SVG coordinates. */
interface ChartScale {
  readonly x0: number;
  readonly x1: number;
  readonly y0: number;
  readonly y1: number;
  sx(x: number): number;
  sy(y: number): number;
}

function chartScale(series: readonly Series[]): ChartScale {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs),
    y0 = Math.min(0, ...ys),
    y1 = Math.max(...ys, y0 + 1);
  return {
    x0,
    x1,
    y0,
    y1,
    sx: (x) => L + (x1 === x0 ? (W - L - R) / 2 : ((x - x0) / (x1 - x0)) * (W - L - R)),
    sy: (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B),
  };
}

function chartAxes(s: ChartScale): string {
  const time = (t: number): string => new Date(t).toISOString().slice(11, 19);
  const label = (y: number): string =>
    `<text x="${L - 6}" y="${s.sy(y) + 4}" font-size="11" text-anchor="end">` +
    `${escapeHtml(Number(y.toPrecision(4)))}</text>`;
  return (
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#8a94a6"/>` +
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#8a94a6"/>` +
    label(s.y1) +
    label(s.y0) +
    `<text x="${L}" y="${H - 8}" font-size="11">${escapeHtml(time(s.x0))}</text>` +
    `<text x="${W - R}" y="${H - 8}" font-size="11" text-anchor="end">${escapeHtml(time(s.x1))} UTC</text>`
  );
}

function chartLines(series: readonly Series[], s: ChartScale): string {
  return series
    .map((line, i) => {
      const points = line.points.map(([x, y]) => `${s.sx(x).toFixed(1)},${s.sy(y).toFixed(1)}`).join(' ');
      return (
        `<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" ` +
        `data-series="${escapeHtml(line.name)}" points="${points}"/>`
      );
    })
    .join('');
}

/** A series' name as the model gives it and its newest value in words, with its unit: 'Energy use', '60 W'. */
function seriesWords(line: Series, rows: readonly TelemetryRow[], model: ModelSpec | undefined): [string, string] {
  const c = model?.capabilities.find((x) => x.id === line.name) ?? { id: line.name };
  const newest = rows.findLast((r) => line.name in r.values)?.values[line.name];
  return [capabilityName(c), valueInWords(c, newest)];
}

function chartLegend(series: readonly Series[], rows: readonly TelemetryRow[], model: ModelSpec | undefined): string {
  return series
    .map(
      (line, i) =>
        `<text x="${L + 8 + i * 150}" y="${T + 12}" font-size="12" ` +
        `fill="${COLOURS[i % COLOURS.length]}">${escapeHtml(seriesWords(line, rows, model).join(': '))}</text>`,
    )
    .join('');
}

/**
 * The telemetry chart: one line per numeric value, inline SVG with a text alternative; with the device's model its
 * legend names each value as the model does, with its unit.
 */
export function telemetryChart(rows: readonly TelemetryRow[], model?: ModelSpec): string {
  const series = numericSeries(rows);
  if (series.length === 0) return '<p class="muted" data-chart="empty">No telemetry yet.</p>';
  const scale = chartScale(series);
  const summary = series
    .map((s) => {
      const [name, latest] = seriesWords(s, rows, model);
      return `${name}: ${s.points.length} readings, latest ${latest}`;
    })
    .join('; ');
  return (
    `<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 ${W} ${H}" ` +
    `data-points="${rows.length}"><title id="chart-title">Recent telemetry</title>` +
    `<desc id="chart-desc">${escapeHtml(summary)}</desc>${chartAxes(scale)}${chartLines(series, scale)}` +
    `${chartLegend(series, rows, model)}</svg>`
  );
}

type Controls = ReadonlyArray<{ capability: string; actions: readonly string[] }>;

/** One capability as the cloud knows it: the model's words for it, its last value and the actions offered here. */
interface KnownCapability {
  readonly words: CapabilityWordsSource & { readonly description?: string; readonly sensitive?: boolean };
  readonly value: unknown;
  readonly actions: readonly string[];
}

/** The newest value of each capability: the device's last state, else its newest telemetry reading. */
function lastValues(d: DeviceRecord, telemetry: readonly TelemetryRow[]): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const r of telemetry) for (const [id, v] of Object.entries(r.values)) values.set(id, v);
  for (const c of d.state?.capabilities ?? []) values.set(c.id, c.value);
  return values;
}

/**
 * What the cloud knows of the device's capabilities, in its model's order: every one but a camera's content, and for
 * a guest only those it may use (whether a lock is bolted is as sensitive as bolting it). Without a model: what the
 * device reported, by id.
 */
function knownCapabilities(
  d: DeviceRecord,
  o: { telemetry: readonly TelemetryRow[]; controls: Controls; role?: string },
): KnownCapability[] {
  const model = modelOf(d);
  const values = lastValues(d, o.telemetry);
  // Fails closed: a role this page does not know sees what a guest sees.
  const role: DeviceRole =
    o.role === undefined || o.role === 'owner' || o.role === 'member' ? (o.role ?? 'owner') : 'guest';
  const actionsOf = (id: string): readonly string[] => o.controls.find((c) => c.capability === id)?.actions ?? [];
  const words = model
    ? model.capabilities.filter((c) => c.kind !== 'snapshot' && roleMayUse(role, model, c.id))
    : role === 'guest'
      ? []
      : [...new Set([...o.controls.map((c) => c.capability), ...values.keys()])].map((id) => ({ id }));
  return words.map((w) => ({ words: w, value: values.get(w.id), actions: actionsOf(w.id) }));
}

function actionForm(d: DeviceRecord, c: KnownCapability, a: string, csrf: string): string {
  return (
    `<form method="post" action="/app/devices/${escapeHtml(d.serial)}/command">${csrfInput(csrf)}` +
    `<input type="hidden" name="capability" value="${escapeHtml(c.words.id)}">` +
    `<input type="hidden" name="action" value="${escapeHtml(a)}">` +
    `<button type="submit" class="secondary" aria-label="${escapeHtml(actionAccessibleName(c.words, a))}">` +
    `${escapeHtml(actionLabel(c.words, a))}</button></form>`
  );
}

function capabilityRows(d: DeviceRecord, known: readonly KnownCapability[], csrf: string): string {
  return known
    .map((c) => {
      const id = escapeHtml(c.words.id);
      const about = c.words.description ? ` <span class="muted">${escapeHtml(c.words.description)}</span>` : '';
      const atHome =
        c.words.sensitive === true
          ? '<br><span class="muted">For your safety this is controlled only at home: on your hub or on the ' +
            "device's own page.</span>"
          : '';
      return (
        `<div class="cap" data-capability="${id}"><div><strong>${escapeHtml(capabilityName(c.words))}</strong>` +
        `${about}<br><span class="value" data-value-of="${id}">${escapeHtml(valueInWords(c.words, c.value))}</span>` +
        `${atHome}</div><div>${c.actions.map((a) => actionForm(d, c, a, csrf)).join(' ')}</div></div>`
      );
    })
    .join('');
}

/** When the values were reported: the cloud shows what the device last said, never a guess. */
function reportedText(d: DeviceRecord): string {
  return d.state
    ? `<p class="muted">As the device last reported them, on ${escapeHtml(utcText(d.state.at))}.</p>`
    : '<p class="muted">The device has not reported its values yet.</p>';
}

/**
 * The support end: the model's promise, or a later date the unit reports it learned through a signed
 * update (an extension); and whether it has passed.
 */
function supportText(model: ModelSpec | undefined, d: DeviceRecord): string {
  if (!model) return 'unknown (the model is not known to the cloud)';
  const reported = d.firmware?.running.supportEndsOn;
  const end = reported && reported > model.supportPeriod.endsOn ? reported : model.supportPeriod.endsOn;
  return Date.now() > Date.parse(`${end}T23:59:59Z`) ? `${end} (ended: no more security updates)` : end;
}

function deviceFacts(d: DeviceRecord): string {
  const facts = [
    ['Serial', d.serial],
    ['Model', modelOf(d) ? `${modelOf(d)!.name} (${d.model})` : d.model],
    ['Status', statusSentence(d)],
    ['Firmware', firmwareText(d.firmware)],
    ['Security updates until', supportText(modelOf(d), d)],
    ['Claimed', d.claimedAt ? utcText(d.claimedAt) : '—'],
  ];
  return facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
}

/** One device: state, controls, chart, release. */
export function devicePage(
  frame: AppFrame & { csrf: string },
  o: {
    device: DeviceRecord;
    telemetry: readonly TelemetryRow[];
    controls: Controls;
    error?: string;
    notice?: string;
    /** The caller's role: only the owner sees the release. */
    role?: string;
  },
): string {
  const d = o.device;
  const serial = escapeHtml(d.serial);
  const known = knownCapabilities(d, o);
  const controls = known.length
    ? capabilityRows(d, known, frame.csrf) + reportedText(d)
    : '<p class="muted">Nothing reported yet.</p>';
  return layout(
    frame,
    `<h1>${serial}</h1>${formMessages(o)}` +
      `<section class="card" aria-labelledby="dev-h"><h2 id="dev-h">Device</h2><dl>${deviceFacts(d)}</dl></section>` +
      `<section class="card" aria-labelledby="ctl-h"><h2 id="ctl-h">Controls and readings</h2>${controls}</section>` +
      `<section class="card" aria-labelledby="tel-h"><h2 id="tel-h">Recent` +
      ` telemetry</h2>${telemetryChart(o.telemetry, modelOf(d))}` +
      `<p><a href="/app/devices/${serial}">Refresh</a></p></section>` +
      (o.role !== undefined && o.role !== 'owner'
        ? `<p class="muted">Shared with you as ${escapeHtml(o.role)}.</p>`
        : '<section class="card" aria-labelledby="rel-h"><h2 id="rel-h">Release</h2>' +
          '<p class="muted">Releasing removes the device and its telemetry from your account, and every person you ' +
          'shared it with loses it. It cannot be undone.</p>' +
          `<form method="post" action="/app/devices/${serial}/release">${csrfInput(frame.csrf)}` +
          '<label for="rel-password">Your password, to confirm</label><input id="rel-password" name="password" ' +
          'type="password" autocomplete="current-password" required maxlength="256">' +
          '<button type="submit" class="danger">Release this device</button></form></section>'),
  );
}

function passwordInput(id: string, name: string, label: string, autocomplete: string): string {
  const min = autocomplete === 'new-password' ? ' minlength="12"' : '';
  return (
    `<label for="${id}">${label}</label><input id="${id}" name="${name}" type="password" ` +
    `autocomplete="${autocomplete}" required${min} maxlength="256">`
  );
}

/** The same page for every address: a message is on its way (or not: the page never says). */
export function mailSentPage(o: { title: string; text: string }): string {
  return layout(
    { title: o.title },
    `<h1>${escapeHtml(o.title)}</h1><div class="card"><p>${escapeHtml(o.text)}</p>` +
      '<p><a href="/login">Log in</a></p></div>',
  );
}

/** Confirm an address: one button, so a mail scanner that opens the link confirms nothing. */
export function verifyPage(o: { csrf: string; token: string; error?: string }): string {
  return layout(
    { title: 'Confirm your address' },
    `<h1>Confirm your e-mail address</h1><div class="card">${formMessages(o)}` +
      `<form method="post" action="/verify">${csrfInput(o.csrf)}` +
      `<input type="hidden" name="token" value="${escapeHtml(o.token)}">` +
      '<button type="submit">Confirm my address</button></form></div>',
  );
}

/** Ask for a reset link. */
export function resetRequestPage(o: { csrf: string; error?: string }): string {
  return layout(
    { title: 'Reset your password' },
    `<h1>Reset your password</h1><div class="card">${formMessages(o)}` +
      '<p>Enter the address of your account: a link to choose a new password goes to it.</p>' +
      `<form method="post" action="/reset/request">${csrfInput(o.csrf)}\n${emailInput(undefined)}\n` +
      '<button type="submit">Send me a link</button></form></div>',
  );
}

/** Choose a new password with a reset link. */
export function resetPage(o: { csrf: string; token: string; error?: string; reasons?: readonly string[] }): string {
  return layout(
    { title: 'Choose a new password' },
    `<h1>Choose a new password</h1><div class="card">${formMessages(o)}` +
      `<form method="post" action="/reset">${csrfInput(o.csrf)}` +
      `<input type="hidden" name="token" value="${escapeHtml(o.token)}">\n${emailInput(undefined)}\n` +
      `${passwordInput('new-password', 'password', 'New password', 'new-password')}\n` +
      '<button type="submit">Set the new password</button></form></div>',
  );
}

/** The household: its people with a remove button each, and the invitation form. */
export function householdPage(
  frame: AppFrame & { csrf: string },
  o: {
    people: ReadonlyArray<{
      memberId: string;
      email: string;
      role: string;
      until: number | null;
      localName: string | null;
    }>;
    error?: string;
    notice?: string;
  },
): string {
  const rows = o.people.map(
    (p) =>
      `<li data-member="${escapeHtml(p.email)}">${escapeHtml(p.email)} <span class="muted">${escapeHtml(p.role)}` +
      `${p.until === null ? '' : ` until ${escapeHtml(utcText(p.until))}`}` +
      `${p.localName === null ? '' : `, named ${escapeHtml(p.localName)} on your devices`}</span>` +
      `<form method="post" action="/app/household/remove">${csrfInput(frame.csrf)}` +
      `<input type="hidden" name="memberId" value="${escapeHtml(p.memberId)}">` +
      `<button type="submit" class="danger" aria-label="Remove ${escapeHtml(p.email)}">Remove</button></form></li>`,
  );
  const list = rows.length ? `<ul class="devices">${rows.join('')}</ul>` : '<p class="muted">Nobody yet.</p>';
  return layout(
    frame,
    `<h1>Household</h1>${formMessages(o)}<section class="card" aria-labelledby="ppl-h"><h2 id="ppl-h">People</h2>` +
      `${list}<p class="muted">Removing a person signs them out everywhere at once.</p></section>\n` +
      '<section class="card" aria-labelledby="inv-h"><h2 id="inv-h">Invite a person</h2>' +
      '<p>A member uses your devices but changes nothing about their security; a guest only uses what is not ' +
      'sensitive, until the date you set.</p>' +
      `<form method="post" action="/app/household/invite">${csrfInput(frame.csrf)}\n${emailInput(undefined)}\n` +
      '<label for="role">Role</label><select id="role" name="role"><option value="member">member</option>' +
      '<option value="guest">guest</option></select>\n' +
      '<label for="until">Guest until (optional)</label><input id="until" name="until" type="date">\n' +
      '<label for="name">Their name on your devices\' own pages (optional: removing them here removes that name ' +
      'there too)</label><input id="name" name="name" maxlength="32" autocomplete="off">\n' +
      '<button type="submit">Send the invitation</button></form></section>',
  );
}

/** Accept an invitation while signed in. */
export function acceptInvitationPage(frame: AppFrame & { csrf: string }, o: { token: string }): string {
  return layout(
    frame,
    '<h1>Join a household</h1><div class="card"><p>Accept the invitation with this account?</p>' +
      `<form method="post" action="/app/household/accept">${csrfInput(frame.csrf)}` +
      `<input type="hidden" name="token" value="${escapeHtml(o.token)}">` +
      '<button type="submit">Accept</button></form></div>',
  );
}

/** Account: its address, password change, export, and deletion with all its data. */
export function accountPage(
  frame: AppFrame & { csrf: string },
  o: { email: string; verified?: boolean; error?: string; notice?: string; reasons?: readonly string[] },
): string {
  const status = o.verified === false ? 'not confirmed yet: open the link we mailed you' : 'confirmed';
  return layout(
    frame,
    `<h1>Account</h1>${formMessages(o)}` +
      `<section class="card"><dl><dt>E-mail</dt><dd>${escapeHtml(o.email)}</dd>` +
      `<dt>Address</dt><dd data-verified="${o.verified !== false}">${escapeHtml(status)}</dd></dl></section>\n` +
      '<section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Change my password</h2>' +
      '<p class="muted">Your other sessions end when the password changes.</p>' +
      `<form method="post" action="/app/account/password">${csrfInput(frame.csrf)}\n` +
      `${passwordInput('current', 'current', 'Current password', 'current-password')}\n` +
      `${passwordInput('next', 'password', 'New password', 'new-password')}\n` +
      '<button type="submit">Change password</button></form></section>\n' +
      '<section class="card" aria-labelledby="exp-h"><h2 id="exp-h">My data</h2>' +
      '<p><a href="/app/account/export" download>Download everything the cloud keeps about me (JSON)</a></p>' +
      '</section>\n' +
      '<section class="card" aria-labelledby="del-h"><h2 id="del-h">Delete my account</h2>' +
      '<p>This deletes the account, releases every device and erases their telemetry. It cannot be undone.</p>\n' +
      `<form method="post" action="/app/account/delete">${csrfInput(frame.csrf)}\n` +
      '<label for="del-password">Password</label><input id="del-password" name="password" type="password" ' +
      'autocomplete="current-password" required maxlength="256">\n' +
      '<button type="submit" class="danger">Delete account and data</button></form></section>',
  );
}

/** A plain error page; with a logged-in frame it keeps the owner's navigation. */
export function errorPage(status: number, text: string, loggedIn: AppFrame = { title: 'Error' }): string {
  return layout(
    { ...loggedIn, title: 'Error' },
    `<h1>${escapeHtml(status)}</h1><div class="card"><p>${escapeHtml(text)}</p><p><a href="/app">Back</a></p></div>`,
  );
}
