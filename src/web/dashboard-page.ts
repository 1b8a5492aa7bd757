/**
 * The device's dashboard, loaded with its first view rather than at start (the plug's idle memory): the model's
 * controls first, then a card per subject with its facts and the owner's actions on it.
 */
import { escapeHtml } from './page-shell.ts';
import { capabilityRow, type CapabilityView } from './capability-view.ts';
import { layout, message, type PageFrame } from './pages.ts';

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
