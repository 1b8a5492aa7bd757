/**
 * Model files (`schema: bulwark.model/v1`, JSON or YAML): how a maker describes a product, and how
 * the five built-in products are described too (models/*.model.json, shipped in the package and read
 * by this same code). A file is checked against the shipped JSON Schema, then against the rules a
 * schema cannot state (a range's max at least its min, a kind's value type, the privacy class that
 * follows from the sensors). Every problem names its path and rule; nothing is half-loaded.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BulwarkError } from '../errors/index.ts';
import { checkAgainstSchema, type SchemaNode, type SchemaProblem } from './schema-check.ts';
import type { Capability, ModelSpec } from './model-types.ts';
import { baselineDeclarationProblems, type BaselineDeclarationProblem } from './security-baseline.ts';
import { capabilityName } from './capability-words.ts';

/** Stable codes of the model file's errors. */
export type ModelFileErrorCode = 'MODEL_FILE_INVALID' | 'MODEL_FILE_UNREADABLE';

/** A model file that cannot be read or breaks a rule; `problems` lists each path and rule. */
export class ModelFileError extends BulwarkError<ModelFileErrorCode> {
  /** Each problem found, at most 20. */
  readonly problems: readonly SchemaProblem[];
  constructor(code: ModelFileErrorCode, origin: string, problems: readonly SchemaProblem[]) {
    const shown = problems.slice(0, 20);
    const lines = shown.map((p) => `${p.path}: ${p.rule}`).join('; ');
    super(code, `model ${origin}: ${lines}`, { origin, problems: shown });
    this.problems = shown;
  }
}

/**
 * A model whose `securityBaseline` declares a setting weaker than the toolkit's floor (code MODEL_FILE_INVALID, like
 * any broken rule); `settings` names each such setting.
 */
export class SecurityBaselineError extends ModelFileError {
  /** The settings declared too weak, e.g. ['sessionIdleMinutes']. */
  readonly settings: readonly string[];
  constructor(origin: string, problems: readonly BaselineDeclarationProblem[]) {
    super(
      'MODEL_FILE_INVALID',
      origin,
      problems.map((p) => ({ path: `securityBaseline.${p.setting}`, rule: p.rule })),
    );
    this.settings = problems.map((p) => p.setting);
  }
}

/** The schema identifier every model file declares. */
export const MODEL_SCHEMA_ID = 'bulwark.model/v1';
/** Largest model file read, bytes. */
export const MAX_MODEL_FILE_BYTES = 262_144;

/**
 * The root of the code this module belongs to: the nearest folder up (at most three levels) that
 * holds package.json (the package, a checkout or installed: src/models/ or dist/models/ is two
 * levels down) or image.json (a firmware image, whose bundled code sits at its top or in chunks/).
 * The shipped schema and built-in models are found from there in both layouts.
 */
function codeRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (let up = 0; up <= 3; up++, dir = new URL('../', dir)) {
    if (existsSync(new URL('image.json', dir)) || existsSync(new URL('package.json', dir))) return dir;
  }
  return new URL('../../', import.meta.url);
}

const ROOT = codeRoot();
const SCHEMA_URL = new URL('schemas/model.v1.schema.json', ROOT);
const BUILTIN_DIR = new URL('models/', ROOT);
let schema: SchemaNode | undefined;

/** The shipped JSON Schema (read once). */
export function modelSchema(): SchemaNode {
  schema ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaNode;
  return schema;
}

/** The value type each kind of capability takes. */
const KIND_VALUE: Readonly<Record<Capability['kind'], string>> = {
  switch: 'boolean',
  level: 'number',
  lock: 'enum',
  reading: 'number',
  snapshot: 'string',
};

function capabilityProblems(c: Capability, i: number): SchemaProblem[] {
  const at = `capabilities[${i}]`;
  const out: SchemaProblem[] = [];
  const want = KIND_VALUE[c.kind];
  if (c.value.type !== want) out.push({ path: `${at}.value.type`, rule: `a ${c.kind} takes ${want}` });
  if (c.value.type === 'number') {
    if (c.value.max < c.value.min) out.push({ path: `${at}.value.max`, rule: 'must be at least min' });
    else if (c.value.step !== undefined && c.value.step > c.value.max - c.value.min && c.value.max > c.value.min)
      out.push({ path: `${at}.value.step`, rule: 'must be at most max - min' });
  }
  if (c.kind !== 'reading' && c.kind !== 'snapshot' && !c.actions.includes('get'))
    out.push({ path: `${at}.actions`, rule: "must include 'get'" });
  return out;
}

/** Ids the unit answers itself: 'link' (the hub channel's control) and 'people' (the cloud's household removals). */
export const RESERVED_CAPABILITY_IDS: readonly string[] = Object.freeze(['link', 'people']);

/**
 * Two capabilities the owner's pages would call alike ('Power' named, and a 'power' id without a name): their buttons
 * and rows could not be told apart, by eye or by a screen reader.
 */
function repeatedNameProblems(caps: readonly Capability[]): SchemaProblem[] {
  const seen = new Map<string, number>();
  const out: SchemaProblem[] = [];
  caps.forEach((c, i) => {
    const shown = capabilityName(c);
    const key = shown.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else if (caps[first]!.id !== c.id)
      out.push({
        path: `capabilities[${i}].name`,
        rule: `the pages would call it '${shown}', as capabilities[${first}]`,
      });
  });
  return out;
}

/** The rules a JSON Schema cannot state. */
function crossRuleProblems(m: ModelSpec): SchemaProblem[] {
  const out = m.capabilities.flatMap(capabilityProblems);
  const ids = m.capabilities.map((c) => c.id);
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i) out.push({ path: `capabilities[${i}].id`, rule: `repeats '${id}'` });
    if (RESERVED_CAPABILITY_IDS.includes(id))
      out.push({ path: `capabilities[${i}].id`, rule: `'${id}' is reserved (the hub channel and the cloud use it)` });
  });
  out.push(...repeatedNameProblems(m.capabilities));
  const sensing = m.sensors.includes('camera') || m.sensors.includes('microphone');
  if (sensing !== (m.privacyClass === 'sensitive')) {
    out.push({
      path: 'privacyClass',
      rule: sensing
        ? "must be 'sensitive' for a camera or microphone"
        : "is 'sensitive' only with a camera or microphone",
    });
  }
  if ((m.riskClass === 'camera' || m.riskClass === 'microphone') && !m.sensors.includes(m.riskClass))
    out.push({ path: 'riskClass', rule: `'${m.riskClass}' needs a '${m.riskClass}' sensor` });
  if (Number.isNaN(Date.parse(`${m.supportPeriod.endsOn}T00:00:00Z`)))
    out.push({ path: 'supportPeriod.endsOn', rule: 'must be a date' });
  const doc = m.documentation?.declarationOfConformityUrl;
  if (doc !== undefined && !URL.canParse(doc))
    out.push({ path: 'documentation.declarationOfConformityUrl', rule: 'must be an https URL' });
  return out;
}

type YamlParser = { parse: (t: string, o: object) => unknown };

/**
 * The YAML parser, loaded on first use (a device never reads YAML). Node runs this file as an ES
 * module, without a `require` of its own; in a firmware image the bundler turns the literal
 * `require('yaml')` into the bundled module, evaluated only here (see pairing's group.ts).
 */
function loadYaml(): YamlParser {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: the bundler's lazy form
  if (typeof require === 'function') return require('yaml') as YamlParser;
  return createRequire(import.meta.url)('yaml') as YamlParser;
}

/** Parses JSON or YAML text (YAML only when `yaml` is true; its parser loads on first use). */
function parseText(text: string, yaml: boolean, origin: string): unknown {
  try {
    if (!yaml) return JSON.parse(text) as unknown;
    return loadYaml().parse(text, { maxAliasCount: 0, prettyErrors: false });
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 160) : 'unparseable';
    throw new ModelFileError('MODEL_FILE_INVALID', origin, [
      { path: '(document)', rule: `is not valid ${yaml ? 'YAML' : 'JSON'}: ${reason}` },
    ]);
  }
}

/**
 * Checks a parsed document and returns the model it describes (without `$schema` and `schema`).
 * @throws ModelFileError (MODEL_FILE_INVALID) naming every path and rule broken
 */
export function modelFromDocument(doc: unknown, origin = 'document'): ModelSpec {
  const problems = checkAgainstSchema(modelSchema(), doc);
  if (problems.length) throw new ModelFileError('MODEL_FILE_INVALID', origin, problems);
  const { $schema: _s, schema: _id, ...model } = doc as ModelSpec & { $schema?: string; schema: string };
  const cross = crossRuleProblems(model);
  if (cross.length) throw new ModelFileError('MODEL_FILE_INVALID', origin, cross);
  const weak = baselineDeclarationProblems(model.securityBaseline ?? {});
  if (weak.length) throw new SecurityBaselineError(origin, weak);
  return deepFreeze(model);
}

/** Parses model text: JSON, or YAML when `yaml`. @throws ModelFileError */
export function parseModel(text: string, origin = 'text', yaml = false): ModelSpec {
  if (Buffer.byteLength(text) > MAX_MODEL_FILE_BYTES)
    throw new ModelFileError('MODEL_FILE_INVALID', origin, [
      { path: '(document)', rule: `is over ${MAX_MODEL_FILE_BYTES} bytes` },
    ]);
  return modelFromDocument(parseText(text, yaml, origin), origin);
}

/**
 * Reads at most MAX_MODEL_FILE_BYTES + 1 bytes of a regular file, so /dev/zero or a huge file costs nothing.
 * @throws ModelFileError (MODEL_FILE_UNREADABLE) when it cannot be opened or is not a regular file
 */
function readBoundedText(path: string | URL, origin: string): string {
  const unreadable = (why: string): ModelFileError =>
    new ModelFileError('MODEL_FILE_UNREADABLE', origin, [{ path: '(file)', rule: why }]);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw unreadable(`cannot be read (${(err as { code?: string }).code ?? 'EIO'})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw unreadable('is not a regular file');
    const buf = Buffer.alloc(MAX_MODEL_FILE_BYTES + 1);
    let length = 0;
    while (length < buf.length) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return buf.subarray(0, length).toString('utf8');
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw unreadable(`cannot be read (${(err as { code?: string }).code ?? 'EIO'})`);
  } finally {
    closeSync(fd);
  }
}

/** Reads and checks a model file (.json, .yaml or .yml), never more than it may hold. @throws ModelFileError */
export function readModelFile(path: string | URL): ModelSpec {
  const origin = String(path instanceof URL ? path.pathname : path);
  return parseModel(readBoundedText(path, origin), origin, /\.ya?ml$/i.test(origin));
}

/** The built-in model files (models/<id>.model.json in the package), read and checked once. */
let builtins: readonly ModelSpec[] | undefined;
export function builtinModels(): readonly ModelSpec[] {
  builtins ??= readdirSync(BUILTIN_DIR)
    .filter((name) => name.endsWith('.model.json'))
    .sort()
    .map((name) => readModelFile(new URL(name, BUILTIN_DIR)));
  return builtins;
}

/** The canonical text of a model (keys sorted): what its digest is taken over and what a bundle holds. */
export function canonicalModel(model: ModelSpec): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify({ schema: MODEL_SCHEMA_ID, ...(sortKeys(model) as object) });
}

/** 'sha256:' + hex of the canonical model: what the manifest records for each unit. */
export function modelDigest(model: ModelSpec): string {
  return `sha256:${createHash('sha256').update(canonicalModel(model)).digest('hex')}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
