/**
 * The maker's VEX statements and the CycloneDX 1.5 VEX document made of them. A statement says
 * what one vulnerability means for the releases it matches: not affected (with one of
 * CycloneDX's standard justifications, refused without), affected, fixed, or under investigation.
 * Pure.
 */
import { createHash } from 'node:crypto';
import { VULN_ID } from './advisory.ts';
import { VulnError } from './errors.ts';
import type { SbomPackage } from './match.ts';

/** The statuses a maker states, in the words of the CLI (and of CSAF's product status). */
export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
/** One status. */
export type VexStatus = (typeof VEX_STATUSES)[number];

/** CycloneDX 1.5's impact analysis justifications: the reasons a product is not affected. */
export const VEX_JUSTIFICATIONS = [
  'code_not_present',
  'code_not_reachable',
  'requires_configuration',
  'requires_dependency',
  'requires_environment',
  'protected_by_compiler',
  'protected_at_runtime',
  'protected_at_perimeter',
  'protected_by_mitigating_control',
] as const;
/** One justification. */
export type VexJustification = (typeof VEX_JUSTIFICATIONS)[number];

/** CycloneDX's analysis state for each status. */
export const CYCLONEDX_STATE: Readonly<Record<VexStatus, string>> = {
  not_affected: 'not_affected',
  affected: 'exploitable',
  fixed: 'resolved',
  under_investigation: 'in_triage',
};

/** A release a statement is about. */
export interface StatedRelease {
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
  readonly sbomSerial?: string;
  /** The affected package in it (absent for a release that fixes it). */
  readonly package?: SbomPackage;
}

/** One statement of the maker about one vulnerability. */
export interface VexStatement {
  readonly vuln: string;
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly status: VexStatus;
  readonly justification?: VexJustification;
  readonly detail?: string;
  /** When it was stated (ISO 8601). */
  readonly at: string;
  /** The releases the advisory matches. */
  readonly releases: readonly StatedRelease[];
  /** Newer releases of the same models that the advisory does not match. */
  readonly fixedIn: readonly StatedRelease[];
}

/** The longest detail a statement keeps, in characters. */
export const MAX_VEX_DETAIL = 4_000;

/** True when `text` holds a control character other than tab and line feed. */
function hasControlCharacter(text: string): boolean {
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

/**
 * Checks what a maker states: a known status, a standard justification (required for
 * not_affected, refused otherwise), a bounded detail.
 * @throws VulnError 'VULN_STATEMENT_INVALID'
 */
export function checkStatement(o: { vuln: string; status: string; justification?: string; detail?: string }): {
  status: VexStatus;
  justification?: VexJustification;
  detail?: string;
} {
  const refuse = (why: string): VulnError => new VulnError('VULN_STATEMENT_INVALID', why, { vuln: o.vuln });
  if (!VULN_ID.test(o.vuln)) throw refuse('a vulnerability id of letters, digits and ._:-');
  const status = VEX_STATUSES.find((s) => s === o.status);
  if (!status) throw refuse(`the status must be one of ${VEX_STATUSES.join(', ')}`);
  const justification = VEX_JUSTIFICATIONS.find((j) => j === o.justification);
  if (o.justification !== undefined && !justification)
    throw refuse(`the justification must be one of CycloneDX's: ${VEX_JUSTIFICATIONS.join(', ')}`);
  if (status === 'not_affected' && !justification)
    throw refuse(`"not affected" needs one of CycloneDX's justifications: ${VEX_JUSTIFICATIONS.join(', ')}`);
  if (status !== 'not_affected' && justification) throw refuse('a justification explains "not affected" only');
  if (o.detail !== undefined && (o.detail.length > MAX_VEX_DETAIL || hasControlCharacter(o.detail)))
    throw refuse(`the detail is plain text of at most ${MAX_VEX_DETAIL} characters`);
  return { status, ...(justification ? { justification } : {}), ...(o.detail ? { detail: o.detail } : {}) };
}

/** The BOM-Link to a release's firmware component in its published SBOM. */
export function releaseRef(r: StatedRelease): string {
  const uuid = r.sbomSerial?.replace(/^urn:uuid:/, '');
  return uuid ? `urn:cdx:${uuid}/1#image` : `${r.model}-firmware@${r.version}`;
}

/** The CycloneDX vulnerability entry of one statement. */
function vulnerabilityOf(s: VexStatement): Record<string, unknown> {
  const versions = (rs: readonly StatedRelease[], status: string): Array<Record<string, unknown>> =>
    rs.map((r) => ({ ref: releaseRef(r), versions: [{ version: r.version, status }] }));
  const response = s.status === 'fixed' || (s.status === 'affected' && s.fixedIn.length > 0) ? ['update'] : [];
  const affects = [
    ...versions(
      s.releases,
      s.status === 'not_affected' ? 'unaffected' : s.status === 'under_investigation' ? 'unknown' : 'affected',
    ),
    ...versions(s.fixedIn, 'unaffected'),
  ];
  return {
    'bom-ref': `vuln:${s.vuln}`,
    id: s.vuln,
    ...(s.aliases.length ? { references: s.aliases.map((id) => ({ id, source: { name: sourceOf(id) } })) } : {}),
    description: s.summary,
    analysis: {
      state: CYCLONEDX_STATE[s.status],
      ...(s.justification ? { justification: s.justification } : {}),
      ...(response.length ? { response } : {}),
      ...(s.detail ? { detail: s.detail } : {}),
      firstIssued: s.at,
      lastUpdated: s.at,
    },
    affects,
    properties: s.releases.flatMap((r) => (r.package ? [{ name: 'bulwark:component', value: r.package.purl }] : [])),
  };
}

function sourceOf(id: string): string {
  return id.startsWith('CVE-') ? 'NVD' : id.startsWith('GHSA-') ? 'GitHub' : 'OSV';
}

/**
 * The CycloneDX 1.5 VEX document of `statements` (the latest per vulnerability): deterministic,
 * its serial number derived from the content.
 * @example buildVexDocument({ statements, subject: 'plug', tool: { name: 'bulwark', version: '1.0.0' } })
 */
export function buildVexDocument(o: {
  statements: readonly VexStatement[];
  /** What the document covers (a model id). */
  subject: string;
  tool: { name: string; version: string };
  version?: number;
}): Record<string, unknown> {
  const vulnerabilities = [...o.statements].sort((a, b) => (a.vuln < b.vuln ? -1 : 1)).map(vulnerabilityOf);
  const last = o.statements
    .map((s) => s.at)
    .sort()
    .at(-1);
  const digest = createHash('sha256')
    .update(JSON.stringify([o.subject, vulnerabilities]))
    .digest('hex');
  const hex = (from: number, to: number): string => digest.slice(from, to);
  const uuid = `${hex(0, 8)}-${hex(8, 12)}-5${hex(13, 16)}-a${hex(17, 20)}-${hex(20, 32)}`;
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuid}`,
    version: o.version ?? 1,
    metadata: {
      ...(last ? { timestamp: last } : {}),
      tools: { components: [{ type: 'application', name: o.tool.name, version: o.tool.version }] },
      component: { type: 'firmware', 'bom-ref': 'subject', name: `${o.subject}-firmware` },
    },
    vulnerabilities,
  };
}
