/**
 * The hub admin page's HTML, in src/web's shared page shell: login, the device list with its
 * controls and grants, and the password page. Every value is escaped; every form that changes
 * state carries the CSRF token.
 */
import { escapeHtml, formMessages, postButton, renderPage } from '../web/index.ts';
import type { Capability } from '../models/index.ts';
import type { ChannelValue } from '../channel/index.ts';
import type { HubDeviceView } from './hub.ts';

/** The file the first password is written to, once. */
export const HUB_INITIAL_PASSWORD_FILE = 'initial-admin-password';

/** Who is signed in, as the pages show them. */
export interface HubSignedIn {
  readonly name: string;
  readonly role: 'owner' | 'member' | 'guest';
}

/** The whole page around `body`; `csrf` when logged in (navigation and logout), `user`: who is signed in. */
export function hubPage(title: string, body: string, csrf?: string, user?: HubSignedIn): string {
  const owner = (user?.role ?? 'owner') === 'owner';
  const nav =
    csrf === undefined
      ? []
      : [
          { href: '/', label: 'Devices' },
          { href: '/password', label: 'Password' },
          ...(owner ? [{ href: '/people', label: 'People' }] : []),
        ];
  const signedIn = csrf !== undefined && user ? { signedIn: user } : {};
  return renderPage(
    { title, product: 'Bulwark hub', nav, ...(csrf === undefined ? {} : { logoutCsrf: csrf }), ...signedIn },
    body,
  );
}

/** A capability value as the owner reads it. */
export function shownValue(v: ChannelValue | undefined): string {
  return v === undefined || v === null ? '—' : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
}

function capabilityRow(d: HubDeviceView, c: Capability, csrf: string, owner: boolean): string {
  const base = `/devices/${encodeURIComponent(d.serial)}`;
  const allowed = d.access.includes(c.id);
  const actions = allowed
    ? c.actions
        .filter((a) => a !== 'get' && a !== 'set')
        .map((a) => postButton(`${base}/call/${c.id}/${a}`, csrf, a, { aria: `${d.serial} ${c.id}: ${a}` }))
        .join(' ')
    : '';
  const access = !owner
    ? ''
    : allowed
      ? postButton(`${base}/revoke/${c.id}`, csrf, 'revoke', { aria: `revoke ${c.id} on ${d.serial}` })
      : postButton(`${base}/grant/${c.id}`, csrf, c.sensitive ? 'grant (sensitive)' : 'grant', {
          aria: `grant ${c.id} on ${d.serial}`,
        });
  const unit = c.unit && d.state[c.id] !== undefined ? ' ' + escapeHtml(c.unit) : '';
  return (
    `<div class="cap" data-capability="${escapeHtml(c.id)}"><div><strong>${escapeHtml(c.id)}</strong> ` +
    `<span class="muted">${escapeHtml(c.description)}</span><br>` +
    `<span class="value">${escapeHtml(shownValue(d.state[c.id]))}${unit}</span>` +
    `${allowed ? '' : ' <span class="muted">(not granted)</span>'}</div><div>${actions} ${access}</div></div>`
  );
}

function deviceCard(d: HubDeviceView, csrf: string, owner: boolean): string {
  // The device's own model, as it gave it while pairing: a maker's product shows its own controls.
  const id = escapeHtml(d.serial);
  const rows = d.capabilities.map((c) => capabilityRow(d, c, csrf, owner)).join('');
  const link = d.connected ? 'connected (mutual TLS 1.3, key pinned)' : 'not connected (reconnecting)';
  return (
    `<section class="card" data-serial="${id}" aria-labelledby="d-${id}">` +
    `<h2 id="d-${id}">${escapeHtml(d.modelName)} ${id}</h2>` +
    `<dl><dt>Address</dt><dd>${escapeHtml(d.address)}</dd><dt>Link</dt><dd>${link}</dd>` +
    `<dt>Paired</dt><dd>${escapeHtml(d.pairedAt)} by ${escapeHtml(d.mode)}</dd>` +
    `<dt>Device key</dt><dd>${escapeHtml(d.pin)}</dd></dl>${rows}` +
    (owner
      ? postButton(`/devices/${encodeURIComponent(d.serial)}/unpair`, csrf, 'Unpair', { aria: `unpair ${d.serial}` })
      : '') +
    '</section>'
  );
}

/** The login form; `csrf` is the pre-session form token. */
export function hubLoginPage(csrf: string, error?: string): string {
  return hubPage(
    'Log in',
    `<h1>Log in</h1><div class="card">${formMessages({ ...(error ? { error } : {}) })}` +
      '<form method="post" action="/login">' +
      `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
      '<label for="username">Name</label><input id="username" name="username" autocomplete="username" required ' +
      'maxlength="32" value="admin">' +
      '<label for="password">Password</label><input id="password" name="password" type="password" ' +
      'autocomplete="current-password" required maxlength="256" autofocus>' +
      `<p class="muted">First time? The password is in the file ${escapeHtml(HUB_INITIAL_PASSWORD_FILE)} in the ` +
      'hub\'s state folder.</p><button type="submit">Log in</button></form></div>',
  );
}

/** The paired devices and the pairing form. */
export function hubDashboard(
  devices: readonly HubDeviceView[],
  csrf: string,
  o: { error?: string; notice?: string; user?: HubSignedIn } = {},
): string {
  const owner = (o.user?.role ?? 'owner') === 'owner';
  const pairing =
    '<section class="card" aria-labelledby="pair-h"><h2 id="pair-h">Pair a device</h2>' +
    '<p class="muted">Press the device\'s button (or open its pairing window on its admin page) first. With the ' +
    'setup code from its label the pairing is safe against anyone on the network; without one only devices that ' +
    'allow push-button pairing accept.</p>' +
    `<form method="post" action="/devices/pair"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    '<label for="address">Device address (host:port)</label>' +
    '<input id="address" name="address" required maxlength="270" placeholder="192.0.2.10:5541">' +
    '<label for="setup-code">Setup code (optional)</label><input id="setup-code" name="setupCode" ' +
    'inputmode="numeric" autocomplete="off" maxlength="20" placeholder="1234-5678-9012">' +
    '<label><input type="checkbox" name="keepGrants"> Pairing a device again: keep its grants (a lock\'s bolt). ' +
    'Only a device showing the key this hub pinned for it keeps them; without the tick they are dropped.</label>' +
    '<button type="submit">Pair</button></form></section>';
  return hubPage(
    'Devices',
    `<h1>Devices</h1>${formMessages(o)}` +
      (owner ? pairing : '') +
      (devices.length ? devices.map((d) => deviceCard(d, csrf, owner)).join('') : '<p>No paired devices yet.</p>'),
    csrf,
    o.user,
  );
}

/** The change-password form. */
export function hubPasswordPage(
  csrf: string,
  o: { error?: string; reasons?: readonly string[]; user?: HubSignedIn } = {},
): string {
  return hubPage(
    'Password',
    `<h1>Change the hub's password</h1><div class="card">${formMessages(o)}` +
      `<form method="post" action="/password"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
      '<label for="current">Current password</label><input id="current" name="currentPassword" type="password" ' +
      'autocomplete="current-password" required maxlength="256">' +
      '<label for="new">New password</label><input id="new" name="newPassword" type="password" ' +
      'autocomplete="new-password" required minlength="12" maxlength="128">' +
      '<label for="confirm">New password again</label><input id="confirm" name="confirmPassword" type="password" ' +
      'autocomplete="new-password" required minlength="12" maxlength="128">' +
      '<p class="muted">At least 12 characters and hard to guess; a passphrase of several words works well. Every ' +
      `session ends, and the file ${escapeHtml(HUB_INITIAL_PASSWORD_FILE)} is deleted.</p>` +
      '<button type="submit">Change password</button></form></div>',
    csrf,
    o.user,
  );
}

/** An error page. */
export function hubErrorPage(status: number, message: string): string {
  return hubPage(
    'Error',
    `<h1>${escapeHtml(status)}</h1><div class="card"><p class="error">${escapeHtml(message)}</p>` +
      '<p><a href="/">Back</a></p></div>',
  );
}
