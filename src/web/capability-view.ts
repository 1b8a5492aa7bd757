/**
 * One capability of the device's model on the dashboard: its name, its value with its unit, and a
 * button per action (a form each, so the page works without scripts), all in the model's words
 * (src/models' capability words, the same as on the hub's and the owner app's pages).
 */
import { actionAccessibleName, actionLabel, capabilityName, valueInWords } from '../models/index.ts';
import { escapeHtml } from './page-shell.ts';

/** A capability with its current value, as shown on the dashboard. */
export interface CapabilityView {
  readonly id: string;
  /** The model's display name ('Energy use'); without it the id is shown readable. */
  readonly name?: string;
  readonly kind: string;
  readonly description: string;
  readonly actions: readonly string[];
  readonly value: unknown;
  readonly unit?: string;
}

/** The form that sets a level: its field is labelled with the name and the unit ('Brightness: new value (%)'). */
function setterForm(c: CapabilityView, id: string, csrfInput: string): string {
  const label = `${capabilityName(c)}: new value${c.unit ? ` (${c.unit})` : ''}`;
  return (
    `<form method="post" action="/api/capabilities/${id}/set">${csrfInput}` +
    `<label for="set-${id}">${escapeHtml(label)}</label>` +
    `<input id="set-${id}" name="value" inputmode="numeric" maxlength="8">` +
    `<button type="submit" class="secondary" aria-label="${escapeHtml(actionAccessibleName(c, 'set'))}">` +
    `${escapeHtml(actionLabel(c, 'set'))}</button></form>`
  );
}

/** What a known state makes pointless: 'on' while on, 'lock' while locked, and 'toggle' beside the one that applies. */
const SAME_STATE: ReadonlyArray<{ value: unknown; drop: string; opposite: string }> = [
  { value: true, drop: 'on', opposite: 'off' },
  { value: false, drop: 'off', opposite: 'on' },
  { value: 'locked', drop: 'lock', opposite: 'unlock' },
  { value: 'unlocked', drop: 'unlock', opposite: 'lock' },
];

/**
 * The buttons a capability offers now: one control per state, as for a setting ("Turn off" while on, not "Turn on"
 * too, nor "Switch over" beside it). An unknown state offers every action.
 */
export function offeredActions(c: CapabilityView): string[] {
  const acts = c.actions.filter((a) => a !== 'get' && a !== 'set');
  const rule = SAME_STATE.find((r) => r.value === c.value && acts.includes(r.drop) && acts.includes(r.opposite));
  return rule ? acts.filter((a) => a !== rule.drop && a !== 'toggle') : acts;
}

/** The dashboard row of one capability, its controls posting with the session's CSRF token. */
export function capabilityRow(c: CapabilityView, csrf: string): string {
  const id = escapeHtml(c.id);
  const csrfInput = `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;
  const buttons = offeredActions(c)
    .map(
      (a) =>
        `<form method="post" action="/api/capabilities/${id}/${escapeHtml(a)}">${csrfInput}` +
        `<button type="submit" class="secondary" aria-label="${escapeHtml(actionAccessibleName(c, a))}">` +
        `${escapeHtml(actionLabel(c, a))}</button></form>`,
    )
    .join(' ');
  const setter = c.actions.includes('set') ? setterForm(c, id, csrfInput) : '';
  return (
    `<div class="cap" data-capability="${id}"><div><strong>${escapeHtml(capabilityName(c))}</strong> ` +
    `<span class="muted">${escapeHtml(c.description)}</span><br>` +
    `<span class="value" data-value-of="${id}">${escapeHtml(valueInWords(c, c.value))}</span></div>` +
    `<div>${buttons}${setter}</div></div>`
  );
}
