/**
 * Drafts of the three Article 14 reports from what the maker recorded of a case, and the check
 * of those facts as they arrive (CLI, API, form). A draft lists each item the article asks for,
 * with the value known so far or null, and names the items still missing; a person completes it
 * and submits it on the single reporting platform. Pure: no clock, no I/O.
 */
import { CraError } from './errors.ts';
import type { CraCaseKind, CraCaseRecord, CraFacts, CraReportKind } from './cra-reporting.ts';

/** One item of a draft. */
export interface CraDraftField {
  readonly name: string;
  /** What the article asks for, in our words. */
  readonly label: string;
  /** The value known so far; null: still to be written. */
  readonly value: string | null;
}

/** A report's draft. */
export interface CraDraft {
  readonly report: CraReportKind;
  readonly title: string;
  /** Where the content is laid down. */
  readonly legalBasis: string;
  readonly fields: readonly CraDraftField[];
  /** Names of the fields still null. */
  readonly missing: readonly string[];
}

type Source = (c: CraCaseRecord) => string | null;

const iso = (ms: number): string => new Date(ms).toISOString();
const fact =
  (key: keyof CraFacts): Source =>
  (c) => {
    const v = c.facts[key];
    if (v === undefined) return null;
    if (Array.isArray(v)) return v.length ? v.join(', ') : null;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    return String(v);
  };
const product: Source = (c) =>
  c.facts.product ? `${c.facts.product}${c.facts.versions ? `, versions ${c.facts.versions}` : ''}` : null;
const description: Source = (c) => {
  const { nature, severity, impact } = c.facts;
  return nature && severity && impact ? `${nature}; severity: ${severity}; impact: ${impact}` : null;
};

/** Each report's items: [name, label, source]. */
const ITEMS: Record<CraCaseKind, Record<CraReportKind, ReadonlyArray<readonly [string, string, Source]>>> = {
  vulnerability: {
    'early-warning': [
      ['vulnerability', 'The actively exploited vulnerability', (c) => c.ref],
      ['awareAt', 'When the manufacturer became aware of it', (c) => iso(c.awareAt)],
      ['product', 'The product concerned', product],
      ['memberStates', 'Member States where the product is made available (cross-border reach)', fact('memberStates')],
    ],
    notification: [
      ['product', 'General information about the product concerned', product],
      ['nature', 'The general nature of the exploit and of the vulnerability', fact('nature')],
      ['correctiveMeasures', 'Corrective or mitigating measures taken', fact('correctiveMeasures')],
      ['userMeasures', 'Corrective or mitigating measures users can take', fact('userMeasures')],
      ['sensitivity', 'How sensitive the manufacturer deems the information', fact('sensitivity')],
    ],
    final: [
      ['description', 'Description of the vulnerability with its severity and impact', description],
      ['maliciousActor', 'Information on a malicious actor exploiting it, where available', fact('maliciousActor')],
      ['securityUpdate', 'Details of the security update or other corrective measures', fact('securityUpdate')],
    ],
  },
  incident: {
    'early-warning': [
      ['incident', 'The severe incident', (c) => c.ref],
      ['awareAt', 'When the manufacturer became aware of it', (c) => iso(c.awareAt)],
      ['suspectedMalicious', 'Whether unlawful or malicious acts are suspected', fact('suspectedMalicious')],
      ['memberStates', 'Member States affected (cross-border impact)', fact('memberStates')],
    ],
    notification: [
      ['nature', 'General information on the nature of the incident', fact('nature')],
      ['assessment', 'Initial assessment of the incident', fact('assessment')],
      ['correctiveMeasures', 'Corrective or mitigating measures taken', fact('correctiveMeasures')],
      ['userMeasures', 'Corrective or mitigating measures users can take', fact('userMeasures')],
      ['sensitivity', 'How sensitive the manufacturer deems the information', fact('sensitivity')],
    ],
    final: [
      ['description', 'Detailed description of the incident with its severity and impact', description],
      ['rootCause', 'Type of threat or root cause that likely triggered it', fact('rootCause')],
      ['mitigation', 'Mitigation measures applied and ongoing', fact('correctiveMeasures')],
    ],
  },
};

const TITLES: Record<CraReportKind, string> = {
  'early-warning': 'Early warning',
  notification: 'Notification',
  final: 'Final report',
};
const BASIS: Record<CraCaseKind, Record<CraReportKind, string>> = {
  vulnerability: { 'early-warning': 'Art. 14(2)(a)', notification: 'Art. 14(2)(b)', final: 'Art. 14(2)(c)' },
  incident: { 'early-warning': 'Art. 14(4)(a)', notification: 'Art. 14(4)(b)', final: 'Art. 14(4)(c)' },
};

/** The draft of one report of a case. */
export function draftReport(c: CraCaseRecord, report: CraReportKind): CraDraft {
  const fields = ITEMS[c.kind][report].map(([name, label, source]) => ({ name, label, value: source(c) }));
  return {
    report,
    title: `${TITLES[report]}: ${c.kind === 'vulnerability' ? 'actively exploited vulnerability' : 'severe incident'}`,
    legalBasis: `Regulation (EU) 2024/2847, ${BASIS[c.kind][report]}`,
    fields,
    missing: fields.filter((f) => f.value === null).map((f) => f.name),
  };
}

/** The EU Member States' codes (Greece as EL, as EU documents write it). */
const MEMBER_STATES = new Set(
  'AT BE BG HR CY CZ DK EE FI FR DE EL HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE'.split(' '),
);
/** Longest text fact, characters. */
export const MAX_FACT_CHARS = 4_000;
const TEXT_FACTS = [
  'product',
  'versions',
  'nature',
  'assessment',
  'severity',
  'impact',
  'correctiveMeasures',
  'userMeasures',
  'sensitivity',
  'maliciousActor',
  'securityUpdate',
  'rootCause',
] as const;

function memberStates(v: unknown): string[] {
  const list = Array.isArray(v) ? v : String(v).split(',');
  const codes = list.map((s) => String(s).trim().toUpperCase()).filter(Boolean);
  const bad = codes.find((s) => !MEMBER_STATES.has(s === 'GR' ? 'EL' : s));
  if (bad !== undefined || codes.length > MEMBER_STATES.size)
    throw new CraError('CRA_CASE_INVALID', `memberStates: not an EU Member State code: ${String(bad).slice(0, 8)}`);
  return [...new Set(codes.map((s) => (s === 'GR' ? 'EL' : s)))];
}

function yesNo(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (s === 'yes' || s === 'true') return true;
  if (s === 'no' || s === 'false') return false;
  throw new CraError('CRA_CASE_INVALID', 'suspectedMalicious: must be yes or no');
}

/**
 * The facts in `input` (a request body, CLI options) checked and merged over `base`: bounded
 * texts, Member State codes, yes or no. Absent and empty values leave a fact as it was.
 */
export function mergeCraFacts(base: CraFacts, input: Readonly<Record<string, unknown>>): CraFacts {
  const out: { -readonly [K in keyof CraFacts]: CraFacts[K] } = { ...base };
  for (const key of TEXT_FACTS) {
    const v = input[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' || v.length > MAX_FACT_CHARS)
      throw new CraError('CRA_CASE_INVALID', `${key}: must be text of at most ${MAX_FACT_CHARS} characters`);
    out[key] = v.trim();
  }
  if (input.memberStates !== undefined && input.memberStates !== '')
    out.memberStates = memberStates(input.memberStates);
  if (input.suspectedMalicious !== undefined && input.suspectedMalicious !== '')
    out.suspectedMalicious = yesNo(input.suspectedMalicious);
  return out;
}

/** A time given as an ISO 8601 date-time with its offset (or Z), in ms; refused when malformed or after `now`. */
export function parseAwareTime(value: unknown, name: string, now: number): number {
  const s = typeof value === 'string' ? value.trim() : '';
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(s);
  const at = ok ? Date.parse(s) : NaN;
  if (!Number.isFinite(at)) throw new CraError('CRA_CASE_INVALID', `${name}: give an ISO time with its offset`);
  // A minute's grace for clocks a little apart; a time in the future would start no clock.
  if (at > now + 60_000) throw new CraError('CRA_CASE_INVALID', `${name}: is in the future`);
  return at;
}

/** A case's reference: a vulnerability id or an incident's short title, printable, 1 to 120 characters. */
export function parseCaseRef(value: unknown, name: string): string {
  const s = typeof value === 'string' ? value.trim() : '';
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (s.length === 0 || s.length > 120 || /[\u0000-\u001f\u007f]/.test(s))
    throw new CraError('CRA_CASE_INVALID', `${name}: must be 1 to 120 printable characters`);
  return s;
}

/** A report's name as given ('early-warning', 'notification', 'final'), or a refusal. */
export function parseReportKind(value: unknown): CraReportKind {
  if (value === 'early-warning' || value === 'notification' || value === 'final') return value;
  throw new CraError('CRA_CASE_INVALID', 'report: must be early-warning, notification or final');
}
