/**
 * Automations as a pure core: "when sensor X's reading crosses a threshold, run an action on
 * plug Y". A rule fires on a crossing only (the previous reading on one side, the new one on the
 * other), never again while the reading stays past the threshold, and at most once per
 * `minIntervalMs`, so two rules that feed each other cannot spin.
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
 * read and updated for the rate bound.
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
): AutomationRule[] {
  const due: AutomationRule[] = [];
  for (const rule of rules) {
    if (rule.whenSerial !== serial || rule.whenCapability !== capability || !crosses(rule, previous, next)) continue;
    const last = lastRun.get(rule.id);
    if (last !== undefined && now - last < minIntervalMs) continue;
    lastRun.set(rule.id, now);
    due.push(rule);
  }
  return due;
}
