/**
 * The audit report a technical file is built on, read from the text the maker gives: a report as
 * `bulwark audit --json` writes it, or a report kept with a release (a DSSE envelope over an in-toto
 * statement whose predicate is the report). Pure. The envelope's signature is the release gate's to
 * verify (build.audit-report, against the key the update repository publishes); here the report is
 * checked for the shape the technical file reads, and the text is kept as given.
 */
import { AUDIT_REPORT_FORMAT, type AuditReport } from '../audit/index.ts';
import { TechfileError } from './errors.ts';

/** An audit report given to the technical file. */
export interface AuditEvidence {
  readonly report: AuditReport;
  /** 'plain': as `bulwark audit --json` writes it; 'dsse': a kept report, signed with the factory's audit key. */
  readonly form: 'plain' | 'dsse';
  /** The text as given, copied into the file unchanged. */
  readonly text: string;
}

// 'declared' (the maker's own statement, not tested) came later; a report from before it simply has none.
const CONTROL_STATUSES: ReadonlySet<unknown> = new Set(['pass', 'fail', 'not-applicable', 'not-tested', 'declared']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(origin: string, why: string): TechfileError {
  return new TechfileError('TECHFILE_INPUT_INVALID', `audit report ${origin}: ${why}`, { origin });
}

/** The report inside a DSSE envelope, or undefined when `value` is not one. */
function predicateOf(value: Record<string, unknown>, origin: string): unknown {
  if (typeof value.payloadType !== 'string' || typeof value.payload !== 'string' || !Array.isArray(value.signatures))
    return undefined;
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(value.payload, 'base64').toString('utf8')) as unknown;
  } catch {
    throw invalid(origin, 'an envelope whose payload is not JSON');
  }
  if (!isObject(statement) || !('predicate' in statement)) throw invalid(origin, 'an envelope with no predicate');
  return statement.predicate;
}

/** The first way `r` is not a report the technical file can read, or undefined. */
function shapeProblem(r: Record<string, unknown>): string | undefined {
  if (r.format !== AUDIT_REPORT_FORMAT) return `format must be ${AUDIT_REPORT_FORMAT}`;
  if (typeof r.generatedAt !== 'string') return 'generatedAt must be a string';
  if (!isObject(r.profile) || typeof r.profile.modelId !== 'string') return 'profile.modelId must be a string';
  if (!isObject(r.scope) || !isObject(r.summary)) return 'scope and summary must be objects';
  if (!Array.isArray(r.controls) || !Array.isArray(r.checks)) return 'controls and checks must be lists';
  const badControl = r.controls.findIndex(
    (c: unknown) =>
      !isObject(c) ||
      typeof c.id !== 'string' ||
      typeof c.required !== 'boolean' ||
      !CONTROL_STATUSES.has(c.status) ||
      typeof c.summary !== 'string' ||
      !Array.isArray(c.checks),
  );
  if (badControl >= 0) return `controls[${badControl}] must have an id, required, a status, a summary and checks`;
  const badCheck = r.checks.findIndex(
    (c: unknown) =>
      !isObject(c) || typeof c.id !== 'string' || typeof c.status !== 'string' || !Array.isArray(c.evidence),
  );
  if (badCheck >= 0) return `checks[${badCheck}] must have an id, a status and evidence`;
  return undefined;
}

/**
 * Reads an audit report (plain or kept) from `text`.
 * @throws TechfileError 'TECHFILE_INPUT_INVALID' naming what is wrong
 */
export function parseAuditEvidence(text: string, origin = 'text'): AuditEvidence {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw invalid(origin, 'is not JSON');
  }
  if (!isObject(value)) throw invalid(origin, 'is not a JSON object');
  const predicate = predicateOf(value, origin);
  const report = predicate ?? value;
  if (!isObject(report)) throw invalid(origin, 'the envelope holds no report');
  const problem = shapeProblem(report);
  if (problem !== undefined) throw invalid(origin, problem);
  return { report: report as unknown as AuditReport, form: predicate === undefined ? 'plain' : 'dsse', text };
}
