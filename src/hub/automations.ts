/**
 * Automations as a pure core: "when sensor X's reading crosses a threshold, run an action on
 * plug Y". A rule fires on a crossing only (the previous reading on one side, the new one on the
 * other), never again while the reading stays past the threshold, and at most once per
 * `minIntervalMs`, so two rules that feed each other cannot spin. Each rule's last reading can
 * be kept (and stored by the hub), so a crossing that happens while the hub restarts still fires.
 */
import type { ChannelValue } from '../channel/index.ts';
import type { AutomationRule } from './store.ts';

/** Whether `rule` fires when its reading goes from `previous` to `next`. */
export function crosses(
  rule: Pick<AutomationRule, 'op' | 'threshold'>,
  previous: ChannelValue | undefined,
  next: ChannelValue,
): boolean {
  if (typeof previous !== 'number' || typeof next !== 'number') return false;
  return rule.op === 'above'
    ? previous <= rule.threshold && next > rule.threshold
    : previous >= rule.threshold && next < rule.threshold;
}

/**
 * The rules to run for a new reading of `serial`'s `capability`; `lastRun` (rule id -> ms) is
 * read and updated for the rate bound. `lastSeen` (rule id -> the last numeric reading the rule
 * saw), when given, is the previous reading of each rule that has one (the link's `previous` is
 * lost with a restart) and is updated with `next`.
 *
 * @example
 * for (const rule of dueRules(store.automations(), serial, 'temperature', prev, value, lastRun, now, 1_000)) run(rule);
 */
export function dueRules(
  rules: readonly AutomationRule[],
  serial: string,
  capability: string,
  previous: ChannelValue | undefined,
  next: ChannelValue,
  lastRun: Map<number, number>,
  now: number,
  minIntervalMs: number,
  lastSeen?: Map<number, number>,
): AutomationRule[] {
  const due: AutomationRule[] = [];
  for (const rule of rules) {
    if (rule.whenSerial !== serial || rule.whenCapability !== capability) continue;
    const before = lastSeen?.get(rule.id) ?? previous;
    if (typeof next === 'number') lastSeen?.set(rule.id, next);
    if (!crosses(rule, before, next)) continue;
    const last = lastRun.get(rule.id);
    if (last !== undefined && now - last < minIntervalMs) continue;
    lastRun.set(rule.id, now);
    due.push(rule);
  }
  return due;
}
