/**
 * Checks a technical file on disk: index.json against schemas/techfile.v1.schema.json (with the
 * project's schema checker, src/models), then what a schema cannot state: every file it lists is there
 * with its size and SHA-256, each page and record is there once, every CRA Annex I Part I item is linked
 * to a passing control or carries a reason, and every Annex II point is present with its information.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAgainstSchema, type SchemaNode, type SchemaProblem } from '../models/index.ts';
import { CRA_ANNEX2_ITEM_IDS, CRA_REQUIREMENTS } from '../policy/index.ts';
import { codeRoot } from './code-root.ts';
import { TechfileError } from './errors.ts';
import { TECHFILE_PATHS, type FileRole, type TechnicalFileIndex } from './index-file.ts';

/** Bounds on what validation reads, in bytes. */
export interface TechfileReadLimits {
  readonly maxIndexBytes: number;
  readonly maxFileBytes: number;
}

/** Default bounds: an index is a few tens of KiB; the largest file is an SBOM or an audit report. */
export const DEFAULT_TECHFILE_READ_LIMITS: TechfileReadLimits = {
  maxIndexBytes: 4_194_304, // bytes
  maxFileBytes: 67_108_864, // bytes
};

/** The outcome of a validation: valid exactly when there is no problem. */
export interface TechfileValidation {
  readonly valid: boolean;
  readonly problems: readonly SchemaProblem[];
}

let schema: SchemaNode | undefined;

/** The shipped JSON Schema of index.json (read once). */
export function techfileSchema(): SchemaNode {
  schema ??= JSON.parse(readFileSync(new URL('schemas/techfile.v1.schema.json', codeRoot()), 'utf8')) as SchemaNode;
  return schema;
}

/** Reads a regular file of at most `max` bytes, or returns why it cannot. */
async function readBounded(path: string, max: number): Promise<Buffer | string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'EIO'})`;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return 'is not a regular file';
    if (info.size > max) return `is over ${max} bytes`;
    const buf = Buffer.alloc(info.size + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return bytesRead > info.size ? 'grew while it was read' : buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const ONCE: readonly FileRole[] = [
  'index-page',
  'risk-register',
  'risk-register-page',
  'annex-i-page',
  'user-information',
  'user-information-page',
  'declaration',
  'declaration-page',
  'security-policy',
];

/** The rules of the index a schema cannot state, except the files' contents. */
function indexProblems(index: TechnicalFileIndex): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const roles = index.files.map((f) => f.role);
  for (const role of ONCE) {
    const n = roles.filter((r) => r === role).length;
    if (n !== 1) out.push({ path: 'files', rule: `must list one ${role}, not ${n}` });
  }
  const paths = index.files.map((f) => f.path);
  if (new Set(paths).size !== paths.length) out.push({ path: 'files', rule: 'must not list a path twice' });
  if (index.audit.included !== roles.includes('audit-report'))
    out.push({ path: 'audit.included', rule: 'must match whether an audit-report file is listed' });
  if (index.facts.included !== roles.includes('facts'))
    out.push({ path: 'facts.included', rule: 'must match whether a facts file is listed' });
  const partI = Object.keys(CRA_REQUIREMENTS).filter((id) => id.startsWith('I.'));
  const listed = index.annex1.map((r) => r.id);
  for (const id of partI) {
    const rows = index.annex1.filter((r) => r.id === id);
    if (rows.length !== 1) out.push({ path: 'annex1', rule: `must hold ${id} once, not ${rows.length} times` });
    const row = rows[0];
    if (row?.status === 'linked' && row.controls.length === 0)
      out.push({ path: `annex1[${listed.indexOf(id)}]`, rule: `${id} is linked to no passing control` });
    if (row?.status === 'not-applicable' && !row.reason)
      out.push({ path: `annex1[${listed.indexOf(id)}]`, rule: `${id} is not applicable without a reason` });
  }
  for (const id of CRA_ANNEX2_ITEM_IDS) {
    const n = index.annex2.filter((p) => p.id === id).length;
    if (n !== 1) out.push({ path: 'annex2', rule: `must hold point ${id} once, not ${n} times` });
  }
  return out;
}

/** Each listed file against its size and hash; `../` cannot occur (the schema's path pattern refuses it). */
async function fileProblems(dir: string, index: TechnicalFileIndex, max: number): Promise<SchemaProblem[]> {
  const out: SchemaProblem[] = [];
  for (const [i, f] of index.files.entries()) {
    const got = await readBounded(join(dir, f.path), max);
    if (typeof got === 'string') out.push({ path: `files[${i}]`, rule: `${f.path} ${got}` });
    else if (got.length !== f.bytes || createHash('sha256').update(got).digest('hex') !== f.sha256)
      out.push({ path: `files[${i}]`, rule: `${f.path} does not match its size and SHA-256` });
  }
  return out;
}

/** The user information file holds every Annex II point, each with at least one entry. */
async function userInformationProblems(dir: string, max: number): Promise<SchemaProblem[]> {
  const got = await readBounded(join(dir, TECHFILE_PATHS.userInformation), max);
  if (typeof got === 'string') return [{ path: TECHFILE_PATHS.userInformation, rule: got }];
  let points: unknown;
  try {
    points = (JSON.parse(got.toString('utf8')) as { points?: unknown }).points;
  } catch {
    return [{ path: TECHFILE_PATHS.userInformation, rule: 'is not JSON' }];
  }
  const list = Array.isArray(points) ? (points as { id?: unknown; entries?: unknown }[]) : [];
  return CRA_ANNEX2_ITEM_IDS.filter((id) => {
    const point = list.find((p) => p?.id === id);
    return !Array.isArray(point?.entries) || point.entries.length === 0;
  }).map((id) => ({ path: TECHFILE_PATHS.userInformation, rule: `point ${id} has no information` }));
}

/**
 * Checks the technical file in `dir`.
 * @example const { valid, problems } = await validateTechnicalFile('techfile/plug-1.2.0');
 */
export async function validateTechnicalFile(
  dir: string,
  limits: TechfileReadLimits = DEFAULT_TECHFILE_READ_LIMITS,
): Promise<TechfileValidation> {
  const got = await readBounded(join(dir, TECHFILE_PATHS.index), limits.maxIndexBytes);
  if (typeof got === 'string') return { valid: false, problems: [{ path: TECHFILE_PATHS.index, rule: got }] };
  let value: unknown;
  try {
    value = JSON.parse(got.toString('utf8')) as unknown;
  } catch {
    return { valid: false, problems: [{ path: TECHFILE_PATHS.index, rule: 'is not JSON' }] };
  }
  const shape = checkAgainstSchema(techfileSchema(), value);
  if (shape.length > 0) return { valid: false, problems: shape };
  const index = value as TechnicalFileIndex;
  const problems = [
    ...indexProblems(index),
    ...(await fileProblems(dir, index, limits.maxFileBytes)),
    ...(await userInformationProblems(dir, limits.maxFileBytes)),
  ];
  return { valid: problems.length === 0, problems };
}

/** {@link validateTechnicalFile}, throwing TechfileError 'TECHFILE_INVALID' with the first problems. */
export async function assertTechnicalFile(dir: string, limits?: TechfileReadLimits): Promise<void> {
  const { problems } = await validateTechnicalFile(dir, limits);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 10);
  throw new TechfileError('TECHFILE_INVALID', `${dir}: ${shown.map((p) => `${p.path}: ${p.rule}`).join('; ')}`, {
    problems: shown,
  });
}
