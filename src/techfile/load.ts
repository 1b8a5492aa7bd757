/**
 * The file edge of the technical file: reads what it is built from (the model, the device profile,
 * the audit report, the SBOMs the release repository published for the version, the facts record),
 * each bounded and checked to be about the same model and version.
 */
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isModelFileRef, modelDigest, resolveModel, type ModelSpec } from '../models/index.ts';
import {
  EXAMPLE_MODELS,
  loadExampleProfile,
  loadProfileWithModel,
  validateProfile,
  type DeviceProfile,
  type ExampleModel,
} from '../policy/index.ts';
import { MAX_PUBLISHED_SBOM_BYTES, publishedSbomFiles, repositoryStatus } from '../release/index.ts';
import { parseAuditEvidence, type AuditEvidence } from './audit-input.ts';
import { codeRoot } from './code-root.ts';
import { TechfileError } from './errors.ts';
import type { SbomInput, TechnicalFileInput } from './technical-file.ts';

/** Bounds on the inputs, in bytes and counts. */
export interface TechfileInputLimits {
  readonly maxAuditReportBytes: number;
  readonly maxFactsBytes: number;
  readonly maxSbomBytes: number;
  /** Most SBOMs taken for one version (a version republished several times). */
  readonly maxSboms: number;
}

/** Default bounds: an audit report with all its evidence stays well under 32 MiB. */
export const DEFAULT_TECHFILE_INPUT_LIMITS: TechfileInputLimits = {
  maxAuditReportBytes: 33_554_432, // bytes
  maxFactsBytes: 262_144, // bytes
  maxSbomBytes: MAX_PUBLISHED_SBOM_BYTES, // bytes
  maxSboms: 16,
};

/** Where the inputs are. */
export interface TechfileSources {
  /** A built-in model id or a model file. */
  readonly model: string;
  readonly version: string;
  /** A JSON audit report, plain or kept with a release (signed). */
  readonly auditReport?: string;
  /** The release repository folder whose SBOMs of the version go into the file. */
  readonly release?: string;
  /** A security facts record (JSON) for the slot in the file. */
  readonly facts?: string;
  /** A device profile; else the audit report's, else the built-in model's example profile. */
  readonly profile?: string;
  readonly limits?: TechfileInputLimits;
  /** Told each step, for a progress line. */
  readonly onProgress?: (step: string) => void;
  /** The time the file is stamped with; default now. */
  readonly now?: () => Date;
}

/** Reads a regular file of at most `max` bytes as UTF-8. */
async function readInput(path: string, max: number, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new TechfileError('TECHFILE_INPUT_UNREADABLE', `${what} ${path} cannot be read (${code})`, { path });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile())
      throw new TechfileError('TECHFILE_INPUT_UNREADABLE', `${what} ${path} is not a regular file`, { path });
    if (info.size > max)
      throw new TechfileError('TECHFILE_INPUT_INVALID', `${what} ${path} is over ${max} bytes`, { path });
    // One byte past the limit shows a file that grew after stat.
    const buf = Buffer.alloc(max + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead > max) throw new TechfileError('TECHFILE_INPUT_INVALID', `${what} ${path} is over ${max} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

function mismatch(message: string): TechfileError {
  return new TechfileError('TECHFILE_INPUT_MISMATCH', message);
}

async function loadAudit(path: string, model: ModelSpec, version: string, max: number): Promise<AuditEvidence> {
  const audit = parseAuditEvidence(await readInput(path, max, 'audit report'), path);
  const { profile, scope } = audit.report;
  if (profile.modelId !== model.id)
    throw mismatch(`audit report ${path} is of model ${profile.modelId}, not ${model.id}`);
  const firmware = scope.firmware?.version;
  if (firmware !== undefined && firmware !== version)
    throw mismatch(`audit report ${path} is of firmware ${firmware}, not ${version}`);
  return audit;
}

/** Whether two profiles state the same facts the decision tree reads (so the same controls are required). */
function sameDecisionFacts(a: DeviceProfile, b: DeviceProfile): boolean {
  const facts = (p: DeviceProfile): string =>
    JSON.stringify([[...p.networkModels].sort(), p.personalData, p.internetExposed, p.financialAssets ?? false]);
  return facts(a) === facts(b);
}

/** The profile: given, else the audit report's, else the built-in model's example. */
async function loadProfile(s: TechfileSources, model: ModelSpec, audit?: AuditEvidence): Promise<DeviceProfile> {
  if (s.profile !== undefined) {
    const loaded = await loadProfileWithModel(resolve(s.profile));
    if (modelDigest(loaded.model) !== modelDigest(model))
      throw mismatch(`profile ${s.profile} names another definition of the model than ${s.model}`);
    if (audit !== undefined && !sameDecisionFacts(loaded.profile, audit.report.profile))
      throw mismatch(`profile ${s.profile} differs from the one the audit report was made with`);
    return loaded.profile;
  }
  if (audit !== undefined) {
    const p = audit.report.profile;
    const raw = {
      model: model.id,
      networkModels: p.networkModels,
      personalData: p.personalData,
      internetExposed: p.internetExposed,
      ...(p.financialAssets === undefined ? {} : { financialAssets: p.financialAssets }),
      ...(p.maker === undefined ? {} : { maker: p.maker }),
      ...(p.securityContact === undefined ? {} : { securityContact: p.securityContact }),
    };
    return validateProfile(raw, () => model);
  }
  if (!isModelFileRef(s.model) && (EXAMPLE_MODELS as readonly string[]).includes(model.id))
    return loadExampleProfile(model.id as ExampleModel);
  throw new TechfileError(
    'TECHFILE_PROFILE_MISSING',
    `model ${s.model} has no example profile: give --profile <file> or an --audit-report to take it from`,
  );
}

async function loadSboms(
  repoDir: string,
  model: ModelSpec,
  version: string,
  l: TechfileInputLimits,
): Promise<SbomInput[]> {
  const published = await publishedSbomFiles(resolve(repoDir), model.id, version);
  if (published.length === 0)
    throw mismatch(`release repository ${repoDir} publishes no image of ${model.id} ${version}`);
  const out: SbomInput[] = [];
  for (const f of published.slice(-l.maxSboms)) {
    const text = await readInput(f.path, l.maxSbomBytes, 'SBOM');
    out.push({ imageSha256: f.imageSha256, repositoryPath: f.targetPath, text });
  }
  return out;
}

/** The support end signed with the model's current image in the release repository, if it carries one. */
async function releaseSupportEnd(repoDir: string, model: string): Promise<string | undefined> {
  return (await repositoryStatus(resolve(repoDir))).images.find((i) => i.model === model)?.supportEndsOn;
}

async function loadFacts(path: string, max: number): Promise<{ text: string }> {
  const text = await readInput(path, max, 'facts record');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new TechfileError('TECHFILE_INPUT_INVALID', `facts record ${path} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TechfileError('TECHFILE_INPUT_INVALID', `facts record ${path} is not a JSON object`);
  return { text };
}

async function toolVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('package.json', codeRoot()), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/**
 * Reads everything a technical file is built from.
 * @throws TechfileError (TECHFILE_INPUT_*, TECHFILE_PROFILE_MISSING); the model's, profile's and release's own errors
 */
export async function loadTechnicalFileInput(s: TechfileSources): Promise<TechnicalFileInput> {
  const limits = s.limits ?? DEFAULT_TECHFILE_INPUT_LIMITS;
  const step = s.onProgress ?? (() => undefined);
  const model = resolveModel(s.model);
  step(`model ${model.id} (${model.name})`);
  const audit =
    s.auditReport === undefined
      ? undefined
      : await loadAudit(s.auditReport, model, s.version, limits.maxAuditReportBytes);
  if (audit !== undefined) step(`audit report of ${audit.report.generatedAt} (${audit.form})`);
  const profile = await loadProfile(s, model, audit);
  const sboms = s.release === undefined ? [] : await loadSboms(s.release, model, s.version, limits);
  const signedSupportEnd = s.release === undefined ? undefined : await releaseSupportEnd(s.release, model.id);
  if (s.release !== undefined) step(`${sboms.length} SBOM(s) of ${model.id} ${s.version} from ${s.release}`);
  const facts = s.facts === undefined ? undefined : await loadFacts(s.facts, limits.maxFactsBytes);
  return {
    model,
    version: s.version,
    profile,
    ...(audit === undefined ? {} : { audit }),
    sboms,
    ...(signedSupportEnd === undefined ? {} : { signedSupportEnd }),
    ...(facts === undefined ? {} : { facts }),
    generatedAt: (s.now?.() ?? new Date()).toISOString(),
    toolVersion: await toolVersion(),
  };
}
