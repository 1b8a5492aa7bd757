/**
 * One capability of the device's model on the dashboard: its name, its value with its unit, and a
 * button per action (a form each, so the page works without scripts).
 */
import { displayValue, escapeHtml } from './page-shell.ts';

/** A capability with its current value, as shown on the dashboard. */
export interface CapabilityView {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly actions: readonly string[];
  readonly value: unknown;
  readonly unit?: string;
}

/** The dashboard row of one capability, its controls posting with the session's CSRF token. */
export function capabilityRow(c: CapabilityView, csrf: string): string {
  const value = displayValue(c.value);
  const id = escapeHtml(c.id);
  const csrfInput = `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
  const buttons = c.actions
    .filter((a) => a !== 'get' && a !== 'set')
    .map(
      (a) =>
        `<form method="post" action="/api/capabilities/${id}/${escapeHtml(a)}">${csrfInput}` +
        `<button type="submit" class="secondary" aria-label="${escapeHtml(`${c.id}: ${a}`)}">` +
        `${escapeHtml(a)}</button></form>`,
    )
    .join(' ');
  const setter = c.actions.includes('set')
    ? `<form method="post" action="/api/capabilities/${id}/set">${csrfInput}` +
      `<label for="set-${id}">Set ${id}</label>` +
      `<input id="set-${id}" name="value" inputmode="numeric" maxlength="8">` +
      `<button type="submit" class="secondary">Set</button></form>`
    : '';
  const unit = c.unit && value !== '—' ? ' ' + escapeHtml(c.unit) : '';
  return (
    `<div class="cap" data-capability="${id}"><div><strong>${id}</strong> ` +
    `<span class="muted">${escapeHtml(c.description)}</span><br>` +
    `<span class="value" data-value-of="${id}">${escapeHtml(value)}${unit}</span></div>` +
    `<div>${buttons}${setter}</div></div>`
  );
}
