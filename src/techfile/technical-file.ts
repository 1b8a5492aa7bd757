/**
 * Builds a whole technical file in memory: every page and record, the audit report and SBOMs as given,
 * the facts record in its slot, and the index over all of them. Pure (hashing aside); writing is
 * write.ts's. The build stops with a TechfileError naming the item when an Annex II point has no
 * information or an Annex I Part I item has neither a passing control nor a reason.
 */
import { createHash } from 'node:crypto';
import { renderAuditHtml } from '../audit/index.ts';
import { modelDigest, type ModelSpec } from '../models/index.ts';
import {
  CATALOGUE,
  buildAssetInventory,
  decide,
  renderPolicy,
  toHtml,
  type Control,
  type Decision,
  type DeviceProfile,
} from '../policy/index.ts';
import { buildAnnex1Table, type Annex1Row } from './annex1.ts';
import type { AuditEvidence } from './audit-input.ts';
import { buildDeclaration, type DeclarationDraft } from './declaration.ts';
import { TechfileError } from './errors.ts';
import {
  TECHFILE_PATHS as P,
  TECHFILE_SCHEMA_ID,
  indexPage,
  type FileRole,
  type IndexedFile,
  type TechnicalFileIndex,
} from './index-file.ts';
import { annex1Page, declarationPage, riskRegisterPage, userInformationPage } from './pages.ts';
import { buildRiskRegister, type RiskRegister } from './risk-register.ts';
import { buildUserInformation, type SbomReference, type UserInformation } from './user-information.ts';
import { controlVerdicts } from './verdicts.ts';

/** An SBOM of a published image, as read from the release repository. */
export interface SbomInput {
  readonly imageSha256: string;
  /** Its path under the repository's targets/ folder. */
  readonly repositoryPath: string;
  readonly text: string;
}

/** Everything a technical file is built from. */
export interface TechnicalFileInput {
  readonly model: ModelSpec;
  readonly version: string;
  readonly profile: DeviceProfile;
  readonly audit?: AuditEvidence;
  readonly sboms: readonly SbomInput[];
  /** The support end signed with the release's current image (`supportEndsOn`), when a release was given. */
  readonly signedSupportEnd?: string;
  /** The security facts record (issue 23 part 2), copied into its slot as given. */
  readonly facts?: { readonly text: string };
  /** The control catalogue; the default is Bulwark's. */
  readonly catalogue?: readonly Control[];
  readonly generatedAt: string;
  readonly toolVersion: string;
}

/** A built technical file: its index and every file by its path (index.json and index.html included). */
export interface TechnicalFile {
  readonly index: TechnicalFileIndex;
  readonly files: ReadonlyMap<string, string>;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/** The audit report as a page; a report whose shape the renderer cannot read is refused, naming the reason. */
function auditPage(audit: AuditEvidence): string {
  try {
    return renderAuditHtml(audit.report);
  } catch (err) {
    const why = err instanceof Error ? err.message.slice(0, 160) : 'unreadable';
    throw new TechfileError('TECHFILE_INPUT_INVALID', `audit report: cannot be shown as a page (${why})`);
  }
}

function auditNote(audit: AuditEvidence | undefined): TechnicalFileIndex['audit'] {
  if (audit === undefined) return { included: false, note: 'none given' };
  const r = audit.report;
  const firmware = r.scope.firmware?.version;
  const signed = audit.form === 'dsse' ? 'kept with the release, signed (the release gate verifies it)' : 'as written';
  const note =
    `${r.summary.passed ? 'passed' : 'not passed'} on ${r.generatedAt} (${r.summary.pass} pass, ` +
    `${r.summary.fail} fail, ${r.summary.notTested} not tested), ${signed}`;
  return {
    included: true,
    form: audit.form,
    generatedAt: r.generatedAt,
    ...(firmware === undefined ? {} : { firmwareVersion: firmware }),
    passed: r.summary.passed,
    note,
  };
}

/** The parts of a technical file, before they are written as files. */
interface Parts {
  readonly input: TechnicalFileInput;
  readonly decision: Decision;
  readonly sboms: readonly (SbomInput & { readonly path: string })[];
  readonly info: UserInformation;
  readonly annex1: readonly Annex1Row[];
  readonly register: RiskRegister;
  readonly declaration: DeclarationDraft;
}

/** Every part, in the order a gap is reported: Annex II first, then Annex I. */
function buildParts(input: TechnicalFileInput): Parts {
  const { model, version, profile, audit } = input;
  const catalogue = input.catalogue ?? CATALOGUE;
  const decision = decide(profile, catalogue);
  const verdicts = controlVerdicts(decision, audit?.report);
  const sboms = input.sboms.map((s) => ({
    ...s,
    path: `${P.sbomDir}/${model.id}-${version}-${s.imageSha256.slice(0, 16)}.cdx.json`,
  }));
  const refs = sboms.map(({ imageSha256, repositoryPath, path }): SbomReference => ({
    imageSha256,
    repositoryPath,
    path,
  }));
  const auditRef = audit && { generatedAt: audit.report.generatedAt, sha256: sha256(audit.text) };
  return {
    input,
    decision,
    sboms,
    info: buildUserInformation({
      model,
      version,
      profile,
      decision,
      sboms: refs,
      ...(input.signedSupportEnd === undefined ? {} : { signedSupportEnd: input.signedSupportEnd }),
    }),
    annex1: buildAnnex1Table(verdicts, catalogue),
    register: buildRiskRegister(buildAssetInventory({ profile, model }), verdicts, version),
    declaration: buildDeclaration({
      model,
      version,
      profile,
      ...(auditRef && { audit: auditRef }),
      sbomCount: sboms.length,
    }),
  };
}

type Content = readonly [role: FileRole, path: string, text: string];

/** Every file but the index, with its role and text. */
function contentOf(parts: Parts): Content[] {
  const { model, version, profile, audit, facts } = parts.input;
  const { register, annex1, info, declaration } = parts;
  return [
    ['risk-register', P.riskRegister, json(register)],
    ['risk-register-page', P.riskRegisterPage, toHtml(riskRegisterPage(register, model.name))],
    ['annex-i-page', P.annex1Page, toHtml(annex1Page(annex1, model.name, version))],
    ['user-information', P.userInformation, json(info)],
    ['user-information-page', P.userInformationPage, toHtml(userInformationPage(info))],
    ['declaration', P.declaration, json(declaration)],
    ['declaration-page', P.declarationPage, toHtml(declarationPage(declaration))],
    ['security-policy', P.securityPolicy, renderPolicy(profile, parts.decision, { format: 'html', model })],
    ...(audit === undefined
      ? []
      : ([
          ['audit-report', P.auditReport, audit.text],
          ['audit-report-page', P.auditReportPage, auditPage(audit)],
        ] as const)),
    ...parts.sboms.map((s): Content => ['sbom', s.path, s.text]),
    ...(facts === undefined ? [] : ([['facts', P.facts, facts.text]] as const)),
  ];
}

/** The index without its file list. */
function indexHead(parts: Parts): Omit<TechnicalFileIndex, 'files'> {
  const { model, version, profile, audit, facts } = parts.input;
  const { register, info } = parts;
  return {
    schema: TECHFILE_SCHEMA_ID,
    generatedAt: parts.input.generatedAt,
    tool: { name: 'bulwark', version: parts.input.toolVersion },
    product: {
      modelId: model.id,
      name: model.name,
      version,
      modelDigest: modelDigest(model),
      ...(profile.maker === undefined ? {} : { maker: profile.maker }),
    },
    annex1: parts.annex1,
    annex2: info.points.map((pt) => ({ id: pt.id, name: pt.name, entries: pt.entries.length })),
    riskRegister: { entries: register.entries.length, ...register.counts },
    audit: auditNote(audit),
    sboms: parts.sboms.map(({ path, imageSha256, repositoryPath }) => ({ path, imageSha256, repositoryPath })),
    facts:
      facts === undefined
        ? {
            included: false,
            note: 'no security facts record given: bulwark policy facts writes one; add it with --facts',
          }
        : { included: true, path: P.facts, note: 'the security facts record, as given' },
  };
}

const listed = ([role, path, text]: Content): IndexedFile => ({
  role,
  path,
  sha256: sha256(text),
  bytes: Buffer.byteLength(text, 'utf8'),
});

/**
 * Builds the technical file of `input.model` at `input.version`.
 * @throws TechfileError 'TECHFILE_ANNEX2_MISSING' or 'TECHFILE_ANNEX1_UNLINKED' naming the items
 * @example const { files } = buildTechnicalFile(await loadTechnicalFileInput({ model: 'plug', version: '1.2.0' }));
 */
export function buildTechnicalFile(input: TechnicalFileInput): TechnicalFile {
  const parts = buildParts(input);
  const content = contentOf(parts);
  const head = indexHead(parts);
  const listedContent = content.map(listed);
  const page = toHtml(indexPage(head, listedContent));
  const index: TechnicalFileIndex = { ...head, files: [listed(['index-page', P.indexPage, page]), ...listedContent] };
  const files = new Map<string, string>(content.map(([, path, text]) => [path, text]));
  files.set(P.indexPage, page);
  files.set(P.index, json(index));
  return { index, files };
}
