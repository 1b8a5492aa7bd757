/**
 * Each control's standing for the technical file: whether the product's profile requires it (the
 * decision tree) and what the audit report found (its status and checks). A required control the
 * report does not mention, or every control when no report is given, is "not tested": missing
 * evidence never reads as a pass. Pure.
 */
import type { AuditReport, ControlStatus } from '../audit/index.ts';
import type { Decision } from '../policy/index.ts';

/** What the audit found for one check of a control. */
export interface CheckEvidence {
  readonly id: string;
  readonly status: string;
  readonly summary: string;
}

/** One control's standing. */
export interface ControlVerdict {
  readonly id: string;
  readonly title: string;
  readonly required: boolean;
  readonly status: ControlStatus;
  /** How the status follows from the checks, or why no check ran. */
  readonly summary: string;
  /** Why the profile requires it, or why it does not apply. */
  readonly because: readonly string[];
  readonly checks: readonly CheckEvidence[];
}

/** Every control's verdict, by control id. */
export type ControlVerdicts = ReadonlyMap<string, ControlVerdict>;

/** The verdicts for `decision`, with the statuses of `report` when one is given. */
export function controlVerdicts(decision: Decision, report?: AuditReport): ControlVerdicts {
  const out = new Map<string, ControlVerdict>();
  const missing = report === undefined ? 'no audit report given' : 'not in the audit report';
  for (const { control, because } of decision.required) {
    const checks = control.checks.map((c) => ({ id: c.id, status: 'not-tested', summary: missing }));
    out.set(control.id, {
      id: control.id,
      title: control.title,
      required: true,
      status: 'not-tested',
      summary: missing,
      because,
      checks,
    });
  }
  for (const { control, because } of decision.notApplicable) {
    out.set(control.id, {
      id: control.id,
      title: control.title,
      required: false,
      status: 'not-applicable',
      summary: because,
      because: [because],
      checks: [],
    });
  }
  if (report === undefined) return out;
  const checks = new Map(report.checks.map((c) => [c.id as string, c]));
  for (const c of report.controls) {
    out.set(c.id, {
      id: c.id,
      title: c.title,
      required: c.required,
      status: c.status,
      summary: c.summary,
      because: c.because,
      checks: c.checks.map((id) => {
        const found = checks.get(id);
        return { id, status: found?.status ?? 'not-tested', summary: found?.summary ?? 'not in the audit report' };
      }),
    });
  }
  return out;
}
