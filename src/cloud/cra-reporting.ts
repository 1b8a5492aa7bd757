/**
 * The CRA reporting clocks (Regulation (EU) 2024/2847, Article 14), as a pure core: a case opens
 * when the maker becomes aware of an actively exploited vulnerability or of a severe incident,
 * and three reports fall due: an early warning within 24 hours, a notification within 72 hours,
 * and a final report within 14 days after a corrective or mitigating measure is available (a
 * vulnerability) or within one month after the notification was submitted (an incident).
 *
 * The tool drafts each report with the information the article asks for and tracks what a person
 * marked submitted; it never submits anything itself. Every function takes the time (`now`, ms)
 * as an argument: no clock is read here.
 *
 * @example
 * const rows = dueReports(await store.craCases(100), Date.now()); // what is due, soonest first
 */
/** What started the clocks. */
export type CraCaseKind = 'vulnerability' | 'incident';
/** The three reports of Article 14, in order. */
export type CraReportKind = 'early-warning' | 'notification' | 'final';
export const CRA_REPORTS: readonly CraReportKind[] = ['early-warning', 'notification', 'final'];

const HOUR_MS = 3_600_000;
/** Article 14's periods. */
export const CRA_PERIODS = Object.freeze({
  earlyWarningMs: 24 * HOUR_MS,
  notificationMs: 72 * HOUR_MS,
  vulnerabilityFinalMs: 14 * 24 * HOUR_MS,
  /** The incident's final report: one calendar month after the notification (see {@link addOneMonth}). */
  incidentFinalMonths: 1,
});

/** What the maker knows of a case; every field is optional and completed as the case goes on. */
export interface CraFacts {
  /** The product concerned, e.g. 'Bulwark plug'. */
  readonly product?: string;
  /** The affected versions, e.g. '1.2.0 to 1.4.1'. */
  readonly versions?: string;
  /** EU Member States (two-letter codes) where the product is made available or the event has effects. */
  readonly memberStates?: readonly string[];
  /** Incident: whether it is suspected of being caused by unlawful or malicious acts. */
  readonly suspectedMalicious?: boolean;
  /** The general nature of the exploit and the vulnerability, or of the incident. */
  readonly nature?: string;
  /** Incident: the initial assessment. */
  readonly assessment?: string;
  readonly severity?: string;
  readonly impact?: string;
  /** Corrective or mitigating measures the maker took or applies. */
  readonly correctiveMeasures?: string;
  /** Corrective or mitigating measures users can take. */
  readonly userMeasures?: string;
  /** How sensitive the maker deems the information, e.g. 'TLP:AMBER'. */
  readonly sensitivity?: string;
  /** Vulnerability: what is known of a malicious actor that exploited or exploits it. */
  readonly maliciousActor?: string;
  /** Vulnerability: the security update or other corrective measure made available. */
  readonly securityUpdate?: string;
  /** Incident: the type of threat or root cause that likely triggered it. */
  readonly rootCause?: string;
}

/** A case as stored. Times in ms since the epoch. */
export interface CraCaseRecord {
  readonly id: string;
  readonly kind: CraCaseKind;
  /** The vulnerability's id (CVE, GHSA, the maker's own) or the incident's short title. */
  readonly ref: string;
  /** When the maker became aware: the clocks start here. */
  readonly awareAt: number;
  readonly recordedAt: number;
  /** Vulnerability: when a corrective or mitigating measure became available; null: not yet. */
  readonly fixAt: number | null;
  readonly facts: CraFacts;
  /** What a person marked submitted, and when. */
  readonly submitted: Partial<Record<CraReportKind, { readonly at: number; readonly by: string }>>;
}

/** Where one report stands. */
export type CraReportState = 'submitted' | 'overdue' | 'due' | 'waiting';

/** One report of a case with its deadline. */
export interface CraDeadline {
  readonly report: CraReportKind;
  /** The deadline, ms; null while its starting event has not happened (no fix yet). */
  readonly dueAt: number | null;
  /** True when the deadline rests on an assumption (an incident's notification not yet submitted). */
  readonly provisional: boolean;
  /** What the deadline counts from, in words. */
  readonly basis: string;
  readonly state: CraReportState;
  readonly submittedAt: number | null;
}

/** `at` plus one calendar month in UTC; the 31st of January gives the last day of February. */
export function addOneMonth(at: number): number {
  const d = new Date(at);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

function finalDeadline(c: CraCaseRecord): Pick<CraDeadline, 'dueAt' | 'provisional' | 'basis'> {
  if (c.kind === 'vulnerability') {
    if (c.fixAt === null)
      return {
        dueAt: null,
        provisional: false,
        basis: '14 days after a corrective or mitigating measure is available',
      };
    return { dueAt: c.fixAt + CRA_PERIODS.vulnerabilityFinalMs, provisional: false, basis: '14 days after the fix' };
  }
  const sent = c.submitted.notification?.at;
  const from = sent ?? c.awareAt + CRA_PERIODS.notificationMs;
  return {
    dueAt: addOneMonth(from),
    provisional: sent === undefined,
    basis:
      sent === undefined ? 'one month after the notification (if sent on time)' : 'one month after the notification',
  };
}

/** The three deadlines of a case and where each stands at `now`. */
export function deadlinesOf(c: CraCaseRecord, now: number): CraDeadline[] {
  const timed: Array<[CraReportKind, Pick<CraDeadline, 'dueAt' | 'provisional' | 'basis'>]> = [
    ['early-warning', { dueAt: c.awareAt + CRA_PERIODS.earlyWarningMs, provisional: false, basis: '24 hours' }],
    ['notification', { dueAt: c.awareAt + CRA_PERIODS.notificationMs, provisional: false, basis: '72 hours' }],
    ['final', finalDeadline(c)],
  ];
  return timed.map(([report, d]) => {
    const submittedAt = c.submitted[report]?.at ?? null;
    const state: CraReportState =
      submittedAt !== null ? 'submitted' : d.dueAt === null ? 'waiting' : now > d.dueAt ? 'overdue' : 'due';
    return { report, ...d, state, submittedAt };
  });
}

/** One report still to submit, across cases. */
export interface DueReport extends CraDeadline {
  readonly caseId: string;
  readonly kind: CraCaseKind;
  readonly ref: string;
}

/** Every report not yet submitted, overdue first, then by deadline; those waiting for a fix last. */
export function dueReports(cases: readonly CraCaseRecord[], now: number): DueReport[] {
  const rows = cases.flatMap((c) =>
    deadlinesOf(c, now)
      .filter((d) => d.state !== 'submitted')
      .map((d) => ({ ...d, caseId: c.id, kind: c.kind, ref: c.ref })),
  );
  const key = (r: DueReport): number => (r.dueAt === null ? Number.MAX_SAFE_INTEGER : r.dueAt);
  return rows.sort((a, b) => key(a) - key(b) || a.caseId.localeCompare(b.caseId));
}
