/**
 * The admin pages as HTML strings. Every value is escaped; no page has inline script or style,
 * and every form that changes state carries the CSRF token.
 */

import { escapeHtml, formMessages, renderPage } from './page-shell.ts';

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

/** A page's error and notice lines. */
export function message(error?: string, notice?: string): string {
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
