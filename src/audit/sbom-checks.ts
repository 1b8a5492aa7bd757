/**
 * build.sbom-complete, white-box: the SBOM of each published image (with --update-repo: the one the
 * release signed beside the image, read after its hash verified), else the SBOM in --bundle or
 * --source, lists every component with what a vulnerability match and a licence review need: each
 * library its name, version, purl, a hash and a licence; each file its SHA-256; the image its own
 * SHA-256. Pure judging (`sbomGaps`), bounded reads at the edge.
 */
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readJsonBounded } from './files.ts';
import { localSbomFiles } from './build-checks.ts';
import { auditedModel } from './device-info.ts';
import { repositoryView } from './update-checks.ts';
import type { Evidence } from './types.ts';

/** Incomplete components named in the evidence, at most. */
const MAX_NAMED = 5;
const HEX = /^[0-9a-f]+$/i;
const SHA256 = /^[0-9a-f]{64}$/i;

type Component = Record<string, unknown> | null;
type Hash = { alg?: unknown; content?: unknown } | null;

/** What a completeness review of one SBOM found. */
export interface SbomGaps {
  readonly libraries: number;
  readonly files: number;
  /** Each incomplete component, e.g. 'pkg:npm/a@1 (no hash, no licence)'. */
  readonly incomplete: readonly string[];
  /** Libraries whose licence is SPDX's NOASSERTION (stated unknown: complete, but worth a look). */
  readonly noAssertion: number;
  /** The image component's hash: matching, missing, another image's, or not asked (an SBOM kept inside its image). */
  readonly image: 'matches' | 'missing' | 'other' | 'not-checked';
}

const hashesOf = (c: Component): Hash[] => (Array.isArray(c?.hashes) ? (c.hashes as Hash[]) : []);
const text = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

function licenceOf(c: Component): 'stated' | 'noassertion' | 'missing' {
  const list = Array.isArray(c?.licenses) ? (c.licenses as Array<Record<string, unknown> | null>) : [];
  const names = list.map((l) => {
    const inner = l?.license as Record<string, unknown> | undefined;
    return [l?.expression, inner?.id, inner?.name].find(text);
  });
  if (!names.some((n) => n !== undefined)) return 'missing';
  return names.every((n) => n === undefined || n === 'NOASSERTION') ? 'noassertion' : 'stated';
}

/** What a library component lacks, in words (empty when complete). */
function libraryGaps(c: Component): string[] {
  const gaps: string[] = [];
  if (!text(c?.name)) gaps.push('no name');
  if (!text(c?.version)) gaps.push('no version');
  if (!text(c?.purl) || !c.purl.startsWith('pkg:')) gaps.push('no purl');
  if (!hashesOf(c).some((h) => text(h?.alg) && text(h?.content) && HEX.test(h.content))) gaps.push('no hash');
  if (licenceOf(c) === 'missing') gaps.push('no licence');
  return gaps;
}

const nameOf = (c: Component): string =>
  text(c?.purl) ? c.purl : `${text(c?.name) ? c.name : '(unnamed)'}${text(c?.version) ? `@${c.version}` : ''}`;

/**
 * Reviews one CycloneDX document; `imageSha256` is the published image's hash its firmware component must carry.
 * Returns the reason when it is no CycloneDX document with components.
 */
export function sbomGaps(doc: unknown, imageSha256?: string): SbomGaps | string {
  const d = doc as { bomFormat?: unknown; components?: unknown; metadata?: { component?: Component } } | null;
  if (d?.bomFormat !== 'CycloneDX' || !Array.isArray(d.components)) return 'not a CycloneDX SBOM with components';
  const incomplete: string[] = [];
  let libraries = 0,
    files = 0,
    noAssertion = 0;
  for (const c of d.components as Component[]) {
    if (c?.type === 'library') {
      libraries++;
      const gaps = libraryGaps(c);
      if (gaps.length) incomplete.push(`${nameOf(c)} (${gaps.join(', ')})`);
      else if (licenceOf(c) === 'noassertion') noAssertion++;
    } else if (c?.type === 'file') {
      files++;
      if (!hashesOf(c).some((h) => h?.alg === 'SHA-256' && text(h.content) && SHA256.test(h.content)))
        incomplete.push(`file ${text(c.name) ? c.name : '(unnamed)'} (no SHA-256)`);
    }
  }
  let image: SbomGaps['image'] = 'not-checked';
  if (imageSha256 !== undefined) {
    const own = hashesOf(d.metadata?.component ?? null).find((h) => h?.alg === 'SHA-256');
    image = !text(own?.content) ? 'missing' : own.content.toLowerCase() === imageSha256 ? 'matches' : 'other';
  }
  return { libraries, files, incomplete, noAssertion, image };
}

/** One SBOM's review as evidence. */
function gapsEvidence(sent: string, gaps: SbomGaps | string): Evidence {
  if (typeof gaps === 'string') return { sent, received: gaps, finding: true };
  const { libraries, files, incomplete, noAssertion, image } = gaps;
  const named = incomplete.slice(0, MAX_NAMED).join('; ');
  const more = incomplete.length > MAX_NAMED ? ` and ${incomplete.length - MAX_NAMED} more` : '';
  const imageText = {
    matches: "; the image component carries the image's SHA-256",
    missing: '; the image component has NO SHA-256',
    other: "; the image component's SHA-256 is ANOTHER image's",
    'not-checked': '',
  }[image];
  return {
    sent,
    received:
      `${libraries} libraries, ${files} files: ` +
      (incomplete.length ? `${incomplete.length} incomplete: ${named}${more}` : 'every one complete') +
      (noAssertion ? ` (${noAssertion} state their licence as NOASSERTION)` : '') +
      imageText,
    finding: incomplete.length > 0 || image === 'missing' || image === 'other' || libraries + files === 0,
  };
}

/** The reviews of the published SBOMs of the audited model's current images, or undefined without --update-repo. */
async function repositoryReviews(ctx: AuditContext): Promise<Evidence[] | undefined> {
  const view = await repositoryView(ctx);
  if (view === undefined) return undefined;
  const { model } = await auditedModel(ctx);
  const out: Evidence[] = [];
  for (const i of view.images.filter((x) => model === undefined || x.model === model.id)) {
    const sent = `the signed SBOM of ${i.path} (${String(i.custom.version)})`;
    if (i.sbom.file === undefined) continue; // build.sbom reports an SBOM that is missing or does not verify
    const { value, reason } = await readJsonBounded(i.sbom.file, ctx.inputs.limits.maxInputFileBytes);
    out.push(gapsEvidence(sent, value === undefined ? (reason ?? 'unreadable') : sbomGaps(value, i.sha256)));
  }
  return out;
}

/** build.sbom-complete: every component of the image's SBOM carries what matching advisories and licences need. */
export async function checkSbomComplete(ctx: AuditContext): Promise<CheckOutcome> {
  let evidence = await repositoryReviews(ctx);
  if (evidence === undefined || evidence.length === 0) {
    const [file] = localSbomFiles(ctx);
    evidence = [];
    if (file !== undefined) {
      const { value, reason } = await readJsonBounded(file, ctx.inputs.limits.maxInputFileBytes);
      evidence.push(gapsEvidence(`read ${file}`, value === undefined ? (reason ?? 'unreadable') : sbomGaps(value)));
    }
  }
  if (evidence.length === 0)
    return notTested(
      'no SBOM to review: give --update-repo (the SBOMs signed beside the published images, their hashes ' +
        'verified), or --bundle or --source holding one (' +
        join('dist', 'sbom.cdx.json') +
        ')',
    );
  return verdict(
    evidence,
    'every library in the SBOM has its name, version, purl, hash and licence, every file its SHA-256',
    (f) => `the SBOM is incomplete: ${f.map((e) => e.received.slice(0, 160)).join('; ')}`,
  );
}
