/**
 * The People pages of the device's and the hub's admin pages (each wraps these bodies in its own
 * shell): the list with its forms (add, change role, clear a login back-off, remove) and the
 * removal's confirmation, which asks for the owner's password again. Plain forms: no script
 * needed. Every value is escaped; every form carries the CSRF token.
 */
import type { PersonListing } from '../auth/index.ts';
import { escapeHtml, formMessages } from './page-shell.ts';

/** One person as the People page lists them (src/auth's listing). */
export type PersonView = PersonListing;

function csrfInput(csrf: string): string {
  return `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
}

function roleSelect(id: string, selected: string): string {
  const options = ['owner', 'member', 'guest']
    .map((r) => `<option value="${r}"${r === selected ? ' selected' : ''}>${r}</option>`)
    .join('');
  return `<select id="${escapeHtml(id)}" name="role">${options}</select>`;
}

function personRow(p: PersonView, csrf: string): string {
  const name = escapeHtml(p.name);
  const base = `/people/${encodeURIComponent(p.name)}`;
  const until = p.expiresAt ? ` until ${escapeHtml(p.expiresAt.slice(0, 10))}` : '';
  const controls = p.first
    ? '<span class="muted">first owner (the label’s account)</span>'
    : `<form method="post" action="${escapeHtml(base)}/role">${csrfInput(csrf)}` +
      `<label for="role-${name}">Role of ${name}</label>${roleSelect(`role-${name}`, p.role)}` +
      `<label for="until-${name}">Guest until (optional)</label>` +
      `<input id="until-${name}" name="expiresOn" type="date">` +
      `<button type="submit" class="secondary">Change role</button></form>` +
      `<a href="${escapeHtml(base)}/remove">Remove ${name}…</a>`;
  const unlock =
    `<form method="post" action="/settings/lockout">${csrfInput(csrf)}<input type="hidden" name="name"` +
    ` value="${name}"><button type="submit" class="secondary" aria-label="Clear login back-off of ${name}">` +
    `Clear login back-off</button></form>`;
  const role = `${escapeHtml(p.role)}${until}`;
  return `<tr data-person="${name}"><td>${name}</td><td>${role}</td><td>${controls}${unlock}</td></tr>`;
}

/** The People page's body: everyone who can sign in, and the form that adds someone. */
export function peopleBody(
  csrf: string,
  people: readonly PersonView[],
  o: { error?: string; notice?: string; reasons?: readonly string[] } = {},
): string {
  const rows = people.map((p) => personRow(p, csrf)).join('');
  return (
    `<h1>People</h1>${formMessages(o)}<p class="muted">An owner can do everything, people included. A member uses` +
    ' the device but changes nothing about its security. A guest uses only controls that are not sensitive (never' +
    ' a lock’s bolt), until the end date if you give one. Each person has their own password.</p>' +
    `<div class="card table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">Role</th>` +
    `<th scope="col">Change</th></tr></thead><tbody>${rows}</tbody></table></div>` +
    `<section class="card" aria-labelledby="add-h"><h2 id="add-h">Add someone</h2>` +
    `<form method="post" action="/people">${csrfInput(csrf)}` +
    `<label for="new-name">Name</label><input id="new-name" name="name" required maxlength="32"` +
    ` pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,31}" autocomplete="off">` +
    `<label for="new-role">Role</label>${roleSelect('new-role', 'member')}` +
    `<label for="new-until">Guest until (optional)</label><input id="new-until" name="expiresOn" type="date">` +
    `<label for="new-password">Their first password</label><input id="new-password" name="password"` +
    ` type="password" autocomplete="new-password" required minlength="12" maxlength="256">` +
    `<p class="muted">Same rules as yours: at least 12 characters, not common. Tell it to them in person; they` +
    ` can change it on their Password page.</p><button type="submit">Add</button></form></section>`
  );
}

/** The removal's confirmation: the owner's password again, so an unattended session cannot remove anyone. */
export function removePersonBody(csrf: string, name: string, error?: string): string {
  const n = escapeHtml(name);
  return (
    `<h1>Remove ${n}</h1><div class="card">${formMessages(error ? { error } : {})}` +
    `<p>${n} will be signed out everywhere at once, and their trusted browsers forgotten.</p>` +
    `<form method="post" action="/people/${escapeHtml(encodeURIComponent(name))}/remove">${csrfInput(csrf)}` +
    `<label for="confirm-password">Your password, to confirm</label><input id="confirm-password"` +
    ` name="password" type="password" autocomplete="current-password" required maxlength="256">` +
    `<button type="submit">Remove ${n}</button> <a href="/people">Cancel</a></form></div>`
  );
}
