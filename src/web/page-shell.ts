/**
 * The page shell every web surface shares: the document around a page's body (title, header,
 * navigation, the logout form), the notice and error lines, a one-button form, and the routes of
 * the static stylesheet and script. The device's admin page, the hub's and the cloud's app all
 * render through it, so a change to the look or to the CSP-safe structure is made once.
 */
import { APP_CSS, APP_JS } from './assets.ts';
import type { Router } from './http.ts';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A capability's value as a page shows it: '—' when unknown, on/off, a number or text. */
export function displayValue(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'symbol') return String(v);
  return JSON.stringify(v) ?? '';
}

/** What surrounds a page's body. */
export interface PageShell {
  readonly title: string;
  /** The name in the header and the tab title: the device's name, 'Bulwark hub', 'Bulwark Cloud'. */
  readonly product: string;
  /** The navigation links; a logged-in page also gets the logout form. */
  readonly nav: ReadonlyArray<{ readonly href: string; readonly label: string }>;
  /** Present when logged in: the logout form carries this CSRF token. */
  readonly logoutCsrf?: string;
  /** Loads /static/app.js (the live password-strength meter). */
  readonly script?: boolean;
  /** Who is signed in, shown in the header: their name and role. */
  readonly signedIn?: { readonly name: string; readonly role: string };
}

/** The whole HTML document of a page. */
export function renderPage(shell: PageShell, body: string): string {
  const links = shell.nav.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.label)}</a>`).join('');
  const logout =
    shell.logoutCsrf === undefined ? '' : postButton('/logout', shell.logoutCsrf, 'Log out', { className: 'linklike' });
  const who = shell.signedIn
    ? `<span class="muted" id="signed-in">Signed in as ${escapeHtml(shell.signedIn.name)} ` +
      `(${escapeHtml(shell.signedIn.role)})</span>`
    : '';
  const nav = links || logout ? `<nav aria-label="Main">${links}${who}${logout}</nav>` : '';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(shell.title)} · ${escapeHtml(shell.product)}</title>` +
    '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">' +
    '<link rel="stylesheet" href="/static/app.css"></head>' +
    `<body><header><strong>${escapeHtml(shell.product)}</strong>${nav}</header><main>${body}</main>` +
    `${shell.script === true ? '<script src="/static/app.js"></script>' : ''}</body></html>\n`
  );
}

/** The error, reasons and notice lines at the top of a card. */
export function formMessages(o: { error?: string; notice?: string; reasons?: readonly string[] }): string {
  const reasons = o.reasons?.length
    ? `<ul class="reasons error">${o.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>`
    : '';
  return (
    (o.error ? `<p class="error" role="alert">${escapeHtml(o.error)}</p>` : '') +
    reasons +
    (o.notice ? `<p class="notice" role="status">${escapeHtml(o.notice)}</p>` : '')
  );
}

/** A form with one button that posts to `action` with the CSRF token. */
export function postButton(
  action: string,
  csrf: string,
  label: string,
  o: { aria?: string; className?: string } = {},
): string {
  const aria = o.aria ? ` aria-label="${escapeHtml(o.aria)}"` : '';
  return (
    `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    `<button type="submit" class="${escapeHtml(o.className ?? 'secondary')}"${aria}>${escapeHtml(label)}</button>` +
    `</form>`
  );
}

/** The pages' icon: a shield with a tick, in the pages' blue (one small SVG, no binary asset). */
const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<path d="M16 2 4 6v9c0 7.5 5.1 13.3 12 15 6.9-1.7 12-7.5 12-15V6z" fill="#1f5fa8"/>' +
  '<path d="m10 16 4 4 8-8" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" ' +
  'stroke-linejoin="round"/></svg>\n';

/** Adds the public routes of the stylesheet, the script and the icon every page loads. */
export function addStaticRoutes<Ctx>(router: Router<Ctx>): void {
  const cache = { 'cache-control': 'public, max-age=3600' };
  // Browsers ask for /favicon.ico whatever a page links: both answer the same icon, so no page logs a 404.
  for (const path of ['/static/icon.svg', '/favicon.ico'])
    router.add({
      method: 'GET',
      path,
      access: 'public',
      csrf: false,
      handler: () => ({ kind: 'text', body: ICON_SVG, contentType: 'image/svg+xml', headers: cache }),
    });
  router.add({
    method: 'GET',
    path: '/static/app.css',
    access: 'public',
    csrf: false,
    handler: () => ({ kind: 'text', body: APP_CSS, contentType: 'text/css; charset=utf-8', headers: cache }),
  });
  router.add({
    method: 'GET',
    path: '/static/app.js',
    access: 'public',
    csrf: false,
    handler: () => ({ kind: 'text', body: APP_JS, contentType: 'text/javascript; charset=utf-8', headers: cache }),
  });
}
