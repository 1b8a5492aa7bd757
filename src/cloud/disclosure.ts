/**
 * The coordinated-disclosure intake: a report (summary, details, affected product and version, an
 * optional contact) is checked field by field, charged to its source address, stored, and answered
 * with a random tracking id. The limit is per source (an IPv6 source by its /64), kept in the
 * store so every instance shares it: one source flooding the intake uses up its own budget only,
 * never another reporter's. Every attempt is journalled with its outcome and the tracking id or
 * the refusal's code; the report's text never reaches the journal or the log.
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors/index.ts';
import { sourceKeyFor } from '../auth/index.ts';
import type { SurfaceEvent, WebRequest } from '../web/index.ts';
import { RateLimitedError } from './errors.ts';
import type { IntakeConfig } from './security-config.ts';
import type { DisclosureReportRecord } from './security-sql.ts';
import type { CloudStore } from './store.ts';

/** The fields of a report as the intake takes them. */
export type DisclosureFields = Omit<DisclosureReportRecord, 'id' | 'receivedAt'>;

/** Control characters other than tab, line feed and carriage return (C0, DEL, C1). */
// eslint-disable-next-line no-control-regex -- control characters are what is refused
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

function text(body: Readonly<Record<string, unknown>>, name: string, max: number, required: boolean): string {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new InvalidInputError(`field ${name} is missing`, { field: name });
    return '';
  }
  if (typeof v !== 'string' || v.length > max)
    throw new InvalidInputError(`field ${name} must be text of at most ${max} characters`, { field: name });
  if (CONTROL.test(v)) throw new InvalidInputError(`field ${name} holds control characters`, { field: name });
  return v.trim();
}

/** Checks a report's fields against the intake's bounds; a typed 400 names the first bad field. */
export function parseDisclosureReport(body: Readonly<Record<string, unknown>>, c: IntakeConfig): DisclosureFields {
  const summary = text(body, 'summary', c.maxSummaryChars, true);
  const details = text(body, 'details', c.maxDetailsChars, true);
  const product = text(body, 'product', c.maxProductChars, true);
  const version = text(body, 'version', c.maxVersionChars, false);
  const contact = text(body, 'contact', c.maxContactChars, false);
  if (!summary || !details || !product) throw new InvalidInputError('summary, details and product are needed');
  return { summary, details, product, version, contact: contact || null };
}

/** A new tracking id: 96 random bits, e.g. 'DR-3xk9Q2b7LmWc4Tz1'. */
export function newTrackingId(): string {
  return `DR-${randomBytes(12).toString('base64url')}`;
}

/**
 * Admits a report from its source: refuses (429) a source that has had its reports accepted in the
 * window, counted from its last accepted one. Refused and malformed attempts are not counted, so an
 * abuser sharing a reporter's address cannot keep that reporter out beyond one window.
 */
export async function admitReport(store: CloudStore, source: string, c: IntakeConfig, now: number): Promise<void> {
  const key = sourceKey(source);
  const seen = (await store.attempts([key])).get(key);
  if (seen && now - seen.lastFailureAt >= c.sourceWindowMs) await store.clearAttempts(key);
  else if (seen && seen.failures >= c.reportsPerSource)
    throw new RateLimitedError(Math.ceil(c.sourceWindowMs / 1000), 'disclose:src');
}

/** Charges a well-formed report to its source, refusing it when parallel ones used the budget first. */
async function chargeReport(store: CloudStore, source: string, c: IntakeConfig, now: number): Promise<void> {
  const key = sourceKey(source);
  await store.recordFailure([key], now);
  const after = (await store.attempts([key])).get(key);
  if (after && after.failures > c.reportsPerSource)
    throw new RateLimitedError(Math.ceil(c.sourceWindowMs / 1000), 'disclose:src');
}

const sourceKey = (source: string): string => `disclose:src:${sourceKeyFor(source)}`;

/** What the intake needs around it. */
export interface IntakeContext {
  readonly store: CloudStore;
  readonly config: IntakeConfig;
  /** Journals an event about the request. */
  readonly record: (req: WebRequest, event: SurfaceEvent) => void;
  readonly now?: () => number;
}

/** Takes one report: admitted, checked, charged, stored, journalled. Resolves with the stored record. */
export async function receiveReport(ctx: IntakeContext, req: WebRequest): Promise<DisclosureReportRecord> {
  const now = (ctx.now ?? Date.now)();
  const event = (result: SurfaceEvent['result'], detail: string): void =>
    ctx.record(req, { event: 'disclosure-report', result, detail });
  try {
    await admitReport(ctx.store, req.sourceAddress, ctx.config, now);
    const fields = parseDisclosureReport(req.body, ctx.config);
    await chargeReport(ctx.store, req.sourceAddress, ctx.config, now);
    const report: DisclosureReportRecord = { id: newTrackingId(), receivedAt: now, ...fields };
    await ctx.store.addDisclosureReport(report);
    event('success', `tracking ${report.id}`);
    return report;
  } catch (err) {
    const code = err instanceof RateLimitedError ? 'RATE_LIMITED' : ((err as { code?: string }).code ?? 'INTERNAL');
    event(err instanceof RateLimitedError ? 'locked-out' : 'refused', code);
    throw err;
  }
}
