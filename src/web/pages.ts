/**
 * The admin pages as HTML strings. Every value is escaped; no page has inline script or style,
 * and every form that changes state carries the CSRF token.
 */

import { escapeHtml, formMessages, renderPage } from './page-shell.ts';
import { journalConcern, journalSentence, type JournalRow } from './journal-words.ts';
import { capabilityRow, type CapabilityView } from './capability-view.ts';

export type { JournalRow } from './journal-words.ts';
export type { CapabilityView } from './capability-view.ts';

export { escapeHtml };

/** Facts shown in the page header. */
export interface PageFrame {
  readonly title: string;
  readonly deviceName: string;
  /** Present when logged in: shows the navigation and a logout button. */
  readonly csrf?: string;
  /** Who is signed in (shown in the header; the navigation offers what their role may open). */
  readonly user?: { readonly name: string; readonly role: 'owner' | 'member' | 'guest' };
}

/** The navigation links of a signed-in page, by role (the server refuses the rest anyway). */
function navFor(role: 'owner' | 'member' | 'guest'): Array<{ href: string; label: string }> {
  const all = [
    { href: '/', label: 'Dashboard', role: 'guest' },
    { href: '/password', label: 'Password', role: 'guest' },
    { href: '/people', label: 'People', role: 'owner' },
    { href: '/journal', label: 'Connection journal', role: 'owner' },
    { href: '/software', label: 'Software', role: 'member' },
  ];
  const rank = { guest: 0, member: 1, owner: 2 } as const;
  return all.filter((l) => rank[role] >= rank[l.role as keyof typeof rank]).map(({ href, label }) => ({ href, label }));
}

/** The page around every body: the shared shell with the device's navigation. */
export function layout(frame: PageFrame, body: string): string {
  const nav = frame.csrf === undefined ? [] : navFor(frame.user?.role ?? 'owner');
  return renderPage(
    {
      title: frame.title,
      product: frame.deviceName,
      nav,
      script: true,
      ...(frame.csrf === undefined ? {} : { logoutCsrf: frame.csrf }),
      ...(frame.csrf !== undefined && frame.user ? { signedIn: frame.user } : {}),
    },
    body,
  );
}

function message(error?: string, notice?: string): string {
  return formMessages({ ...(error ? { error } : {}), ...(notice ? { notice } : {}) });
}

/** The login form. */
export function loginPage(
  frame: PageFrame,
  o: { csrf: string; error?: string; notice?: string; username?: string },
): string {
  return layout(
    frame,
    `<h1>Log in</h1><div class="card">${message(o.error, o.notice)}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required\
 maxlength="64" value="${escapeHtml(o.username ?? 'admin')}">
<label for="password">Password</label><input id="password" name="password" type="password"\
 autocomplete="current-password" required maxlength="256" autofocus>
<p class="muted">First time? The password is printed on the label on the device.</p>
<button type="submit">Log in</button></form></div>`,
  );
}

function strengthFields(): string {
  return (
    `<label for="new-password">New password</label><input id="new-password" name="newPassword"` +
    ` type="password" autocomplete="new-password" required minlength="12" maxlength="256"` +
    ` aria-describedby="strength-text">
<meter id="strength-meter" min="0" max="4" low="2" high="3" optimum="4" value="0" aria-label="Password strength">\
</meter>
<div id="strength-text" aria-live="polite"></div>
<p class="muted">At least 12 characters; not a common password; nothing printed on the device. A few unrelated\
 words make a good one.</p>
<label for="confirm-password">Repeat the new password</label><input id="confirm-password" name="confirmPassword"\
 type="password" autocomplete="new-password" required maxlength="256">`
  );
}

/** First-use setup: proves possession with the setup code and sets the owner's password. */
export function setupPage(frame: PageFrame, o: { csrf: string; error?: string; reasons?: readonly string[] }): string {
  const reasons = o.reasons?.length
    ? `<ul class="reasons error">${o.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
    : '';
  return layout(
    frame,
    `<h1>Set up your device</h1><div class="card">${message(o.error)}${reasons}
<p>Enter the setup code from the label on the device, then choose the owner password.</p>
<form method="post" action="/setup" data-strength-url="/setup/strength">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">
<label for="setup-code">Setup code</label><input id="setup-code" name="setupCode" inputmode="numeric"\
 autocomplete="off" required maxlength="20" placeholder="1234-5678-9012">
${strengthFields()}
<button type="submit">Set password</button></form></div>`,
  );
}

/** Where a fact or an owner's action sits on the dashboard; default 'about'. */
export type DashboardCard = 'hubs' | 'updates' | 'about' | 'reset';

/** A fact on the dashboard: its label, its value in words, and its card. */
export type DashboardFact = readonly [label: string, value: string, card?: DashboardCard];

/** An owner's action as the dashboard offers it. */
export interface DashboardAction {
  readonly id: string;
  readonly label: string;
  readonly confirm?: string;
  readonly card?: DashboardCard;
}

/** The cards of facts and actions, in the order the dashboard shows them, after the controls. */
const CARDS: ReadonlyArray<{ card: DashboardCard; title: string; lead?: string }> = [
  { card: 'hubs', title: 'Hubs' },
  { card: 'updates', title: 'Updates' },
  { card: 'about', title: 'About this device' },
  {
    card: 'reset',
    title: 'Start again',
    lead: 'For when you give the device away or want to set it up afresh. Holding its button does the same.',
  },
];

function actionControl(a: DashboardAction, csrf: string): string {
  if (a.confirm) return `<a class="button danger" href="/confirm/${escapeHtml(a.id)}">${escapeHtml(a.label)}</a>`;
  return (
    `<form method="post" action="/api/actions/${escapeHtml(a.id)}"><input type="hidden" name="csrf"` +
    ` value="${escapeHtml(csrf)}"><button type="submit" class="secondary">${escapeHtml(a.label)}</button></form>`
  );
}

/** One card: its facts as a list, then its actions; nothing when it has neither. */
function dashboardCard(
  c: (typeof CARDS)[number],
  facts: readonly DashboardFact[],
  actions: readonly DashboardAction[],
  csrf: string,
): string {
  const mine = facts.filter((f) => (f[2] ?? 'about') === c.card);
  const acts = actions.filter((a) => (a.card ?? 'about') === c.card);
  if (mine.length === 0 && acts.length === 0) return '';
  const list = mine.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  const lead = c.lead ? `<p class="muted">${escapeHtml(c.lead)}</p>` : '';
  return (
    `<section class="card" aria-labelledby="${c.card}-h"><h2 id="${c.card}-h">${escapeHtml(c.title)}</h2>${lead}` +
    `${list ? `<dl>${list}</dl>` : ''}${acts.map((a) => actionControl(a, csrf)).join(' ')}</section>`
  );
}

/**
 * The dashboard: the model's controls first (what the owner comes for), then a card per subject (the
 * hubs, the updates, the settings, the device itself) with its facts and the owner's actions on it.
 */
export function dashboardPage(
  frame: PageFrame & { csrf: string },
  o: {
    facts: readonly DashboardFact[];
    capabilities: readonly CapabilityView[];
    actions?: readonly DashboardAction[];
    /** The owner's monitoring choice, shown as one toggle; absent: no such control. */
    monitoring?: boolean;
    /** The last day of security updates, when it has passed: the page says so first. */
    supportEnded?: string;
    notice?: string;
    error?: string;
  },
): string {
  const actions = o.actions ?? [];
  const controls = o.capabilities.length
    ? `<section class="card" aria-labelledby="caps-h"><h2 id="caps-h">Controls</h2>` +
      `${o.capabilities.map((c) => capabilityRow(c, frame.csrf)).join('')}</section>`
    : '';
  const cards = CARDS.map((c) => dashboardCard(c, o.facts, actions, frame.csrf));
  const monitoring = o.monitoring === undefined ? '' : monitoringControl(o.monitoring, frame.csrf);
  // Settings sit after the updates, before the facts about the device.
  cards.splice(2, 0, monitoring);
  return layout(
    frame,
    `<h1>Dashboard</h1>${message(o.error, o.notice)}${supportEndedNotice(o.supportEnded)}${controls}${cards.join('')}`,
  );
}

/** The page that confirms an action that cannot be undone from the page: what it does, then the password again. */
export function confirmActionPage(
  frame: PageFrame & { csrf: string },
  o: { id: string; label: string; confirm: string; error?: string },
): string {
  return layout(
    frame,
    `<h1>${escapeHtml(o.label)}</h1><div class="card">${message(o.error, undefined)}<p>${escapeHtml(o.confirm)}</p>` +
      `<form method="post" action="/api/actions/${escapeHtml(o.id)}"><input type="hidden" name="csrf"` +
      ` value="${escapeHtml(frame.csrf)}"><label for="confirm-password">Your password, to confirm</label>` +
      '<input id="confirm-password" name="password" type="password" autocomplete="current-password" required' +
      ` maxlength="256"><button type="submit" class="danger">${escapeHtml(o.label)}</button> ` +
      '<a href="/">Cancel</a></form></div>',
  );
}

/** The end-of-support notice: what it means for the owner, in words. */
function supportEndedNotice(endsOn: string | undefined): string {
  if (endsOn === undefined) return '';
  return (
    `<section class="card warning" role="alert" id="support-ended"><h2>Security updates have ended</h2>` +
    `<p>The maker stopped security updates for this device after ${escapeHtml(endsOn)}. It keeps working, but ` +
    'flaws found from now on will not be fixed: keep it off networks you do not trust, or replace it.</p></section>'
  );
}

/**
 * The monitoring setting: one toggle button that shows the current state (aria-pressed) and posts
 * the other one, with the CSRF token; what is kept either way is said beside it.
 */
function monitoringControl(on: boolean, csrf: string): string {
  return (
    `<section class="card" aria-labelledby="monitoring-h"><h2 id="monitoring-h">Settings</h2>` +
    `<form method="post" action="/settings/monitoring"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    `<input type="hidden" name="monitoring" value="${on ? 'off' : 'on'}">` +
    `<button type="submit" class="secondary" id="monitoring" aria-pressed="${on}">` +
    `Connection monitoring: ${on ? 'on' : 'off'}</button></form>` +
    `<p class="muted">${on ? 'On: every connection to this device is journalled. ' : ''}` +
    'Either way, failed logins, lockouts and your own actions are kept, so lockout protects you.</p></section>'
  );
}

/** The change-password form. */
export function passwordPage(
  frame: PageFrame & { csrf: string },
  o: { error?: string; reasons?: readonly string[] },
): string {
  const reasons = o.reasons?.length
    ? `<ul class="reasons error">${o.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
    : '';
  return layout(
    frame,
    `<h1>Change password</h1><div class="card">${message(o.error)}${reasons}
<form method="post" action="/password" data-strength-url="/api/password-strength">
<input type="hidden" name="csrf" value="${escapeHtml(frame.csrf)}">
<label for="current-password">Current password</label><input id="current-password" name="currentPassword"\
 type="password" autocomplete="current-password" required maxlength="256">
${strengthFields()}
<p class="muted">Changing the password logs out every session, this one included.</p>
<button type="submit">Change password</button></form></div>`,
  );
}

/** What a page asks of the journal: the newest `limit` entries, of one tier or of both. */
export interface JournalListOptions {
  readonly limit: number;
  readonly tier?: 'security' | 'connection';
}

/** The records one journal page shows: a tier, one page of its newest records matching a filter. */
export interface JournalView {
  readonly tier: 'security' | 'connection';
  readonly rows: readonly JournalRow[];
  readonly page: number;
  readonly pages: number;
  readonly filter: string;
  /** The newest notice that the journal dropped records, if any. */
  readonly dropped?: string;
}

/** The raw record, one click away from its sentence (a details element: no script). */
function rawRecord(r: JournalRow): string {
  const fields: Array<[string, string | undefined]> = [
    ['surface', r.surface],
    ['event', r.event],
    ['result', r.result],
    ['source', r.source],
    ['identity', r.identity],
    ['detail', r.detail],
  ];
  const dl = fields
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v!)}</dd>`)
    .join('');
  return `<details><summary>Record</summary><dl class="raw">${dl}</dl></details>`;
}

function journalTable(caption: string, rows: readonly JournalRow[]): string {
  const body = rows
    .map((r) => {
      // The day never breaks inside itself: on a phone the time goes under it, two lines and never three.
      const [day = '', time = ''] = r.at.replace(/:\d\d(\.\d+)?Z$/, '').split('T');
      const notice = r.event === 'journal-drop' ? ' class="notice"' : '';
      const bad = journalConcern(r);
      return (
        `<tr${notice}><td class="when"><time datetime="${escapeHtml(r.at)}"><span class="day">${escapeHtml(day)}` +
        `</span> ${escapeHtml(time)}</time></td>` +
        `<td${bad ? ' class="bad"' : ''}>${escapeHtml(journalSentence(r))}</td><td>${rawRecord(r)}</td></tr>`
      );
    })
    .join('');
  const empty = rows.length ? '' : '<p class="muted">Nothing here.</p>';
  return (
    `<div class="card table-wrap"><table><caption>${escapeHtml(caption)}</caption><thead><tr>` +
    `<th scope="col">Time (UTC)</th><th scope="col">What happened</th><th scope="col">Detail</th></tr></thead>` +
    `<tbody>${body}</tbody></table>${empty}</div>`
  );
}

/** The journal's address for a tier, page and filter. */
function journalHref(tier: string, page: number, filter: string): string {
  const q = new URLSearchParams({ tier, ...(page > 1 ? { page: String(page) } : {}), ...(filter ? { filter } : {}) });
  return `/journal?${q.toString()}`;
}

/**
 * The journal: security events (logins, lockouts, pairing, owner actions) apart from connection
 * records, so a flood of connections never hides them; each record as a sentence with the raw record
 * beside it, a page at a time, with a filter; a drop notice is repeated at the top. No script.
 */
export function journalPage(frame: PageFrame & { csrf: string }, v: JournalView): string {
  const dropNote = v.dropped
    ? `<div class="card"><p class="error">The journal let older entries go to stay within its size (newest ` +
      `notice: ${escapeHtml(v.dropped)}).</p></div>`
    : '';
  const tab = (tier: 'security' | 'connection', label: string): string =>
    v.tier === tier
      ? `<strong aria-current="page">${label}</strong>`
      : `<a href="${escapeHtml(journalHref(tier, 1, v.filter))}">${label}</a>`;
  const filter =
    `<form method="get" action="/journal" class="filter"><input type="hidden" name="tier" value="${v.tier}">` +
    `<label for="filter">Show only records mentioning</label><input id="filter" name="filter" maxlength="64"` +
    ` value="${escapeHtml(v.filter)}"><button type="submit" class="secondary">Filter</button></form>`;
  const newer = v.page > 1 ? `<a href="${escapeHtml(journalHref(v.tier, v.page - 1, v.filter))}">Newer</a>` : '';
  const older = v.page < v.pages ? `<a href="${escapeHtml(journalHref(v.tier, v.page + 1, v.filter))}">Older</a>` : '';
  const paging =
    `<nav aria-label="Journal pages" class="paging">${newer} ` +
    `<span>Page ${v.page} of ${v.pages}</span> ${older}</nav>`;
  const caption = v.tier === 'security' ? 'Security events' : 'Connections';
  return layout(
    frame,
    `<h1>Connection journal</h1><p class="muted">Every connection and login attempt, newest first. Passwords and` +
      ` codes are never recorded. A flood from one address is summarised per minute.</p>` +
      dropNote +
      `<nav aria-label="Journal parts" class="tabs">${tab('security', 'Security events')} ` +
      `${tab('connection', 'Connections')}</nav>${filter}` +
      journalTable(caption, v.rows) +
      paging,
  );
}

/** The running software as the software page shows it (src/update's RunningSoftware). */
export type SoftwareView =
  | {
      readonly kind: 'image';
      readonly image: { readonly model: string; readonly version: string; readonly node?: string };
      readonly components: ReadonlyArray<{ readonly name: string; readonly version: string }>;
      readonly truncated: boolean;
      readonly problem?: string;
    }
  | { readonly kind: 'factory' };

/**
 * The form that uploads an update file (the script in assets.ts posts it with fetch() and shows the
 * answer; a plain form post cannot send the raw file, so without the script it says so).
 */
export function updateFileForm(csrf: string, maxBytes: number): string {
  const mib = (maxBytes / 1_048_576).toFixed(maxBytes % 1_048_576 === 0 ? 0 : 1);
  return (
    `<div class="card"><h2>Install an update from a file</h2><p class="muted">For a unit without internet: ` +
    `the file the maker publishes for offline installation (at most ${escapeHtml(mib)} MiB). The unit checks ` +
    `its signatures exactly as for an online update, installs it and restarts.</p>` +
    `<noscript><p class="error">Installing from a file needs JavaScript in this browser.</p></noscript>` +
    `<form id="update-file-form" method="post" action="/update/file" data-max-bytes="${escapeHtml(maxBytes)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    `<label for="update-file">Update file</label><input id="update-file" name="file" type="file" required>` +
    `<button type="submit">Install</button></form><div id="update-file-result" role="status"></div></div>`
  );
}

/** The software page: the running image and the components its SBOM lists, so the owner can check advisories. */
export function softwarePage(
  frame: PageFrame & { csrf: string },
  view: SoftwareView,
  firmware: string,
  fromFile?: { readonly maxBytes: number },
): string {
  const upload = fromFile ? updateFileForm(frame.csrf, fromFile.maxBytes) : '';
  if (view.kind === 'factory')
    return layout(
      frame,
      `<h1>Software</h1><div class="card"><p>Firmware ${escapeHtml(firmware)}: the factory image, the software ` +
        `installed when the unit was made. Its components are listed in the maker's SBOM for this version; an ` +
        `update installs an image that carries its own list, shown here.</p></div>${upload}`,
    );
  const rows = view.components
    .map((c) => `<tr><td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.version)}</td></tr>`)
    .join('');
  const notes = [
    view.problem ? `<p class="error">The image's component list: ${escapeHtml(view.problem)}.</p>` : '',
    view.truncated ? '<p class="muted">The list is longer than shown.</p>' : '',
  ].join('');
  return layout(
    frame,
    `<h1>Software</h1><p class="muted">Firmware ${escapeHtml(view.image.version)} for ${escapeHtml(view.image.model)}` +
      `${view.image.node ? `, on Node.js ${escapeHtml(view.image.node)}` : ''}. These are the components the ` +
      `image holds, from the SBOM inside it (${view.components.length}).</p>${notes}` +
      `${upload}<div class="card table-wrap"><table><thead><tr><th scope="col">Component</th>` +
      `<th scope="col">Version</th></tr></thead><tbody>${rows}</tbody></table></div>`,
  );
}

/** A plain error page. */
export function errorPage(frame: PageFrame, status: number, text: string): string {
  return layout(
    frame,
    `<h1>${escapeHtml(status)}</h1><div class="card"><p class="error">${escapeHtml(text)}</p><p><a` +
      ` href="/">Back</a></p></div>`,
  );
}
