/**
 * The hub admin page's HTML, in src/web's shared page shell: login, the device list with its
 * controls and grants, and the password page. Every value is escaped; every form that changes
 * state carries the CSRF token.
 */
import { escapeHtml, formMessages, postButton, renderPage } from '../web/index.ts';
import { actionAccessibleName, actionLabel, capabilityName, valueInWords, type Capability } from '../models/index.ts';
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

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** '2026-12-07T21:51:13.951Z' -> '7 December 2026 at 21:51 UTC' (the hub knows no time zone of its owner's). */
export function readableTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const hm = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} at ${hm} UTC`;
}

/** How a device was paired, in the owner's words. */
export const PAIRED_BY: Readonly<Record<HubDeviceView['mode'], string>> = {
  'push-button': "by pressing the device's button",
  'setup-code': 'with the setup code from its label',
};

/** The hub's access to one capability: what it may do, and the button that takes it away or gives it. */
function accessControl(d: HubDeviceView, c: Capability, csrf: string, allowed: boolean): string {
  const base = `/devices/${encodeURIComponent(d.serial)}`;
  const name = capabilityName(c);
  return allowed
    ? postButton(`${base}/revoke/${encodeURIComponent(c.id)}`, csrf, 'Take away hub access', {
        aria: `Take away hub access: ${name} (${d.serial})`,
      })
    : postButton(`${base}/grant/${encodeURIComponent(c.id)}`, csrf, 'Let the hub use it', {
        aria: `Let the hub use it: ${name} (${d.serial})`,
      });
}

/** Why the hub may not use a capability, when it may not. */
function accessNote(c: Capability, allowed: boolean): string {
  if (allowed) return '';
  const why = c.sensitive
    ? 'The hub may not use this: it is sensitive, so only you can allow it.'
    : 'The hub may not use this.';
  return `<br><span class="muted">${why}</span>`;
}

function capabilityRow(d: HubDeviceView, c: Capability, csrf: string, owner: boolean): string {
  const base = `/devices/${encodeURIComponent(d.serial)}`;
  const allowed = d.access.includes(c.id);
  const actions = allowed
    ? c.actions
        .filter((a) => a !== 'get' && a !== 'set')
        .map((a) =>
          postButton(`${base}/call/${encodeURIComponent(c.id)}/${encodeURIComponent(a)}`, csrf, actionLabel(c, a), {
            aria: `${actionAccessibleName(c, a)} (${d.serial})`,
          }),
        )
        .join(' ')
    : '';
  const access = owner ? accessControl(d, c, csrf, allowed) : '';
  const id = escapeHtml(c.id);
  return (
    `<div class="cap" data-capability="${id}"><div><strong>${escapeHtml(capabilityName(c))}</strong> ` +
    `<span class="muted">${escapeHtml(c.description)}</span><br>` +
    `<span class="value" data-value-of="${id}">${escapeHtml(valueInWords(c, d.state[c.id]))}</span>` +
    `${accessNote(c, allowed)}</div><div>${actions} ${access}</div></div>`
  );
}

/** The link to the device as a sentence. */
function linkText(d: HubDeviceView): string {
  return d.connected
    ? "Connected. The hub and the device each checked the other's key, and all they say to each other is encrypted."
    : 'Not connected right now. The hub keeps trying to reach the device.';
}

/** The key the hub pinned, folded away: the owner compares it only when a device is replaced or moved. */
function deviceKey(d: HubDeviceView): string {
  return (
    '<details><summary>Device key</summary>' +
    '<p class="muted">The hub accepts only this key from the device, so no other device can stand in for it. ' +
    "The device's own page shows the same key.</p>" +
    `<dl class="raw"><dt>Fingerprint</dt><dd>${escapeHtml(d.pin)}</dd></dl></details>`
  );
}

/** What the owner's buttons on a card do, said once. */
const OWNER_NOTE =
  '<p class="muted">The hub, the people you add to it and its automations can work only what you allow here. ' +
  '"Take away hub access" stops them working that control through the hub; the device and its own page are not ' +
  'changed. "Unpair this device" makes the hub forget the device, what it was allowed and its automations, and ' +
  'tells the device to forget the hub.</p>';

function deviceCard(d: HubDeviceView, csrf: string, owner: boolean): string {
  // The device's own model, as it gave it while pairing: a maker's product shows its own controls.
  const id = escapeHtml(d.serial);
  const rows = d.capabilities.map((c) => capabilityRow(d, c, csrf, owner)).join('');
  return (
    `<section class="card" data-serial="${id}" aria-labelledby="d-${id}">` +
    `<h2 id="d-${id}">${escapeHtml(d.modelName)} ${id}</h2>` +
    `<dl><dt>Connection</dt><dd>${escapeHtml(linkText(d))}</dd>` +
    `<dt>Address</dt><dd>${escapeHtml(d.address)}</dd>` +
    `<dt>Paired</dt><dd>${escapeHtml(`${readableTime(d.pairedAt)}, ${PAIRED_BY[d.mode]}`)}</dd></dl>` +
    `${deviceKey(d)}${rows}` +
    (owner
      ? OWNER_NOTE +
        postButton(`/devices/${encodeURIComponent(d.serial)}/unpair`, csrf, 'Unpair this device', {
          aria: `Unpair this device: ${d.modelName} ${d.serial}`,
        })
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
    '<label class="check" for="keep-grants"><input type="checkbox" id="keep-grants" name="keepGrants" ' +
    'aria-describedby="keep-grants-hint"> Keep what the hub was allowed to use</label>' +
    '<p class="muted" id="keep-grants-hint">Only for a device this hub paired with before, such as a lock whose ' +
    'bolt you let the hub use. It keeps that access only if it still has the key the hub remembers; untick it, ' +
    'and you allow each sensitive control again yourself.</p>' +
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
