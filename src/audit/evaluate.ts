/**
 * From check results to verdicts: per control, per standard provision, and the exit code. Pure
 * (no I/O), so the rules below are tested on their own.
 *
 * A required control:
 * - fails when any of its checks fails;
 * - passes only when every one of its checks passes (a check that does not concern this target,
 *   "not applicable", is left out, but at least one check must have passed);
 * - is "declared" when none failed or went untested but some rest on the maker's own statement:
 *   what the maker promises is shown apart from what was tested, and counted apart;
 * - is otherwise "not tested": the auditor never turns missing evidence into a pass.
 * A control the profile does not need is "not applicable", with the decision tree's reason.
 *
 * A provision of EN 303 645 (or of PSTI, the CRA, NIST IR 8425, PSA Certified, ioXt) takes the
 * worst verdict of the required controls that meet it (fail, then not tested, then declared, then
 * pass); with none it is not applicable or out of scope, with the written reason from the catalogue.
 */
import {
  CATALOGUE,
  FRAMEWORKS,
  PSTI_REQUIREMENTS,
  frameworkCoverage,
  referencedIds,
  type FrameworkKey,
  etsiCoverageFor,
  type CheckId,
  type Decision,
  type Control,
} from '../policy/index.ts';
import {
  AUDIT_EXIT_CODES,
  type CheckResult,
  type ControlResult,
  type ControlStatus,
  type FrameworkProvisionResult,
  type FrameworkResult,
  type ProvisionResult,
  type ProvisionStatus,
  type StatusCounts,
  type AuditReport,
} from './types.ts';

/** The verdict on one required control from its checks' results (missing results count as not tested). */
export function controlVerdict(
  control: Control,
  results: ReadonlyMap<CheckId, CheckResult>,
): { status: ControlStatus; summary: string } {
  const checks = control.checks.map((c) => ({ id: c.id, status: results.get(c.id)?.status ?? 'not-tested' }));
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) return { status: 'fail', summary: `failed: ${failed.map((c) => c.id).join(', ')}` };
  const relevant = checks.filter((c) => c.status !== 'not-applicable');
  const untested = relevant.filter((c) => c.status === 'not-tested');
  const passed = relevant.filter((c) => c.status === 'pass');
  const declared = relevant.filter((c) => c.status === 'declared');
  const ids = (list: readonly { id: CheckId }[]): string => list.map((c) => c.id).join(', ');
  const tested = passed.length > 0 ? `passed: ${ids(passed)}; ` : '';
  if (untested.length === 0 && declared.length > 0)
    return { status: 'declared', summary: `${tested}declared by the maker, not tested: ${ids(declared)}` };
  if (untested.length === 0 && passed.length > 0) return { status: 'pass', summary: `passed: ${ids(passed)}` };
  if (passed.length + declared.length > 0) {
    const done = [
      ...(passed.length ? [`${ids(passed)} passed`] : []),
      ...(declared.length ? [`${ids(declared)} declared`] : []),
    ];
    return { status: 'not-tested', summary: `partly tested: ${done.join('; ')}; ${ids(untested)} not tested` };
  }
  return {
    status: 'not-tested',
    summary: `not tested: ${relevant.length ? ids(relevant) : 'no check concerns this target'}`,
  };
}

/** Every control of the catalogue with its verdict for this decision. */
export function evaluateControls(decision: Decision, results: ReadonlyMap<CheckId, CheckResult>): ControlResult[] {
  const required = new Map(decision.required.map((r) => [r.control.id, r.because]));
  const notApplicable = new Map(decision.notApplicable.map((n) => [n.control.id, n.because]));
  return CATALOGUE.map((control) => {
    const because = required.get(control.id);
    const base = {
      id: control.id,
      title: control.title,
      statement: control.statement,
      checks: control.checks.map((c) => c.id),
      provisions: control.provisions,
    };
    if (because === undefined) {
      return {
        ...base,
        required: false,
        because: [notApplicable.get(control.id) ?? 'not required by this profile'],
        status: 'not-applicable' as const,
        summary: 'not required by this profile',
      };
    }
    return { ...base, required: true, because, ...controlVerdict(control, results) };
  });
}

const WORST: readonly ProvisionStatus[] = ['fail', 'not-tested', 'declared', 'pass'];

function worst(statuses: readonly ControlStatus[]): ProvisionStatus {
  for (const s of WORST) if (statuses.includes(s as ControlStatus)) return s;
  return 'not-tested';
}

/** Each EN 303 645 V2.1.1 provision's verdict, from the controls that meet it. */
export function evaluateEtsi(decision: Decision, controls: readonly ControlResult[]): AuditReport['etsi'] {
  const byId = new Map(controls.map((c) => [c.id, c]));
  return etsiCoverageFor(decision).map((cov) => {
    const p = cov.provision;
    const base = { id: p.id, status: p.status, text: p.paraphrase };
    if (cov.verdict.kind === 'met') {
      const ids = cov.verdict.controls.map((c) => c.id);
      return {
        ...base,
        verdict: worst(ids.map((id) => byId.get(id)?.status ?? 'not-tested')),
        controls: ids,
        ...(cov.note ? { note: cov.note } : {}),
      };
    }
    return { ...base, verdict: cov.verdict.kind, controls: [], note: cov.verdict.reason };
  });
}

/** Each UK PSTI requirement's verdict, from the controls that name it. */
export function evaluatePsti(controls: readonly ControlResult[]): AuditReport['psti'] {
  return PSTI_REQUIREMENTS.map((r) => {
    const meeting = controls.filter((c) => c.required && c.provisions.psti?.includes(r.id) === true);
    const base: Omit<ProvisionResult, 'verdict' | 'controls'> & { id: typeof r.id } = {
      id: r.id,
      status: 'M',
      text: `${r.title}: ${r.paraphrase}`,
    };
    if (meeting.length === 0)
      return {
        ...base,
        verdict: 'not-applicable' as const,
        controls: [],
        note: 'no required control of this profile meets it',
      };
    return { ...base, verdict: worst(meeting.map((c) => c.status)), controls: meeting.map((c) => c.id) };
  });
}

/** Each provision of the framework `key`: worst verdict of the required controls naming it, else why not. */
export function evaluateFramework(key: FrameworkKey, controls: readonly ControlResult[]): FrameworkProvisionResult[] {
  return frameworkCoverage(key).map((cov) => {
    const p = cov.provision;
    const base = { id: p.id, name: p.name, text: p.paraphrase };
    if (cov.outOfScope !== undefined)
      return { ...base, verdict: 'out-of-scope' as const, controls: [], note: cov.outOfScope };
    const meeting = controls.filter((c) => c.required && referencedIds(c.provisions, key).includes(p.id));
    if (meeting.length === 0)
      return {
        ...base,
        verdict: 'not-applicable' as const,
        controls: [],
        note: 'no required control of this profile meets it',
      };
    return { ...base, verdict: worst(meeting.map((c) => c.status)), controls: meeting.map((c) => c.id) };
  });
}

/** Every framework beside ETSI and PSTI, each provision with its verdict. */
export function evaluateFrameworks(controls: readonly ControlResult[]): AuditReport['frameworks'] {
  const out = {} as Record<FrameworkKey, FrameworkResult>;
  for (const f of FRAMEWORKS)
    out[f.key] = { title: f.title, source: f.source, provisions: evaluateFramework(f.key, controls) };
  return out;
}

/** Counts of the required controls' verdicts (declared apart from passes), and of the controls not needed. */
export function countControls(controls: readonly ControlResult[]): StatusCounts {
  const req = controls.filter((c) => c.required);
  return {
    pass: req.filter((c) => c.status === 'pass').length,
    fail: req.filter((c) => c.status === 'fail').length,
    notTested: req.filter((c) => c.status === 'not-tested').length,
    declared: req.filter((c) => c.status === 'declared').length,
    notApplicable: controls.filter((c) => !c.required).length,
  };
}

/**
 * The exit code of an audit: 0 only when every required control passed or is declared by the maker (a promise no
 * test can reach is not a failure; the report counts it apart); 1 when one failed; 3 when none failed but some were
 * not tested (a release gate must treat both as "do not ship").
 */
export function exitCodeFor(counts: StatusCounts): number {
  if (counts.fail > 0) return AUDIT_EXIT_CODES.failed;
  if (counts.notTested > 0) return AUDIT_EXIT_CODES.incomplete;
  return AUDIT_EXIT_CODES.passed;
}
