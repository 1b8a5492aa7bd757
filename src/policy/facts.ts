/**
 * The security facts record (`bulwark.facts/v1`): one JSON document per model and version with
 * the facts a security label's QR code leads to (the US Cyber Trust Mark's registry entry, the
 * CRA's Annex II user information): product, maker, support end date, automatic updates and how
 * to turn them off, the initial password and how to change it, secure setup, the SBOM and where
 * the release repository publishes it, the vulnerability contact and disclosure policy (as the
 * cloud's security.txt states them), the declaration of conformity, and the record's own URL.
 * schemas/facts.v1.schema.json is the shipped schema; {@link parseFactsRecord} runs it and the
 * rules it cannot state. Pure: the model, profile and release facts come in as values.
 *
 * @example
 *   const record = buildFactsRecord({ model: getModel('plug'), version: '1.1.0', profile,
 *     baseUrl: 'https://cloud.example.com', conformityUrl: 'https://example.com/doc/plug.pdf',
 *     automaticUpdates: true, release: { model: 'plug', version: '1.1.0', sbom: 'plug/image.cdx.json' } });
 *   record.url; // 'https://cloud.example.com/facts/plug/1.1.0.json'
 */
import { existsSync, readFileSync } from 'node:fs';
import { checkAgainstSchema, type ModelSpec, type SchemaNode } from '../models/index.ts';
import { FactsRecordError } from './errors.ts';
import type { DeviceProfile } from './profile.ts';
import { SETUP_GUIDANCE } from './render.ts';

/** The schema identifier every facts record declares. */
export const FACTS_SCHEMA_ID = 'bulwark.facts/v1';
/** Largest facts record parsed, bytes (a real one is about 2 KiB). */
export const MAX_FACTS_RECORD_BYTES = 65_536;
/** Where the cloud serves records, relative to its origin: `/facts/<model>/<version>.json`. */
export const FACTS_PATH_PREFIX = '/facts/';

/** One model and version's security facts. */
export interface FactsRecord {
  readonly schema: typeof FACTS_SCHEMA_ID;
  /** Where the record is served: the URL its label's QR code carries. */
  readonly url: string;
  readonly product: { readonly model: string; readonly name: string; readonly version: string };
  readonly maker: { readonly name: string; readonly contact: string };
  /** Security updates until the end of this day (UTC), YYYY-MM-DD. */
  readonly support: { readonly endsOn: string };
  readonly automaticUpdates: { readonly default: 'on' | 'off'; readonly howToTurnOff: string };
  /** 'sticker': a password unique to the unit is printed on it; 'setup': the owner sets one at first use. */
  readonly password: { readonly initial: 'sticker' | 'setup'; readonly howToChange: string };
  readonly secureSetup: readonly string[];
  readonly sbom:
    { readonly available: true; readonly format: 'CycloneDX'; readonly target: string } | { readonly available: false };
  /** As the cloud's security.txt: its Contact fields and its Policy. */
  readonly vulnerabilityReporting: { readonly contact: readonly string[]; readonly policy: string };
  readonly declarationOfConformity: { readonly url: string };
}

/** What the release repository says of a model's current image (its signed target custom data). */
export interface FactsReleaseImage {
  readonly model: string;
  readonly version: string;
  /** The SBOM's target path; absent: the image names none. */
  readonly sbom?: string;
  /** The support end date signed with the image (YYYY-MM-DD); absent in older releases. */
  readonly supportEndsOn?: string;
}

/** What {@link buildFactsRecord} is built from. */
export interface FactsInput {
  readonly model: ModelSpec;
  readonly version: string;
  /** The product's profile: its maker, security contact and network models. */
  readonly profile: Pick<DeviceProfile, 'modelId' | 'maker' | 'securityContact' | 'networkModels'>;
  /** The cloud's public HTTPS origin, `https://host[:port]`: the record is served at `<baseUrl>/facts/...`. */
  readonly baseUrl: string;
  /** Where the EU declaration of conformity is published (https). */
  readonly conformityUrl: string;
  /** Whether a unit ships with automatic updates on (its updater's configured default). */
  readonly automaticUpdates: boolean;
  /** The release repository's current image of the model; absent: the model's support date, no SBOM stated. */
  readonly release?: FactsReleaseImage;
  /** security.txt's Contact fields; default: the profile's securityContact, else the cloud's report page. */
  readonly securityContacts?: readonly string[];
  /** security.txt's Policy; default: the cloud's policy page. */
  readonly policyUrl?: string;
  /** The maker's contact; default: the first security contact. */
  readonly makerContact?: string;
}

/**
 * The nearest folder up holding package.json (a checkout or the installed package; src/policy/ or
 * dist/policy/ is two levels down): the shipped schema is found from there in both layouts.
 */
function codeRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (let up = 0; up <= 3; up++, dir = new URL('../', dir)) {
    if (existsSync(new URL('package.json', dir))) return dir;
  }
  return new URL('../../', import.meta.url);
}

let schema: SchemaNode | undefined;

/** The shipped JSON Schema of facts records (read once). */
export function factsSchema(): SchemaNode {
  schema ??= JSON.parse(readFileSync(new URL('schemas/facts.v1.schema.json', codeRoot()), 'utf8')) as SchemaNode;
  return schema;
}

/** The path a record is served at, relative to the cloud's origin: `/facts/<model>/<version>.json`. */
export function factsRecordPath(model: string, version: string): string {
  return `${FACTS_PATH_PREFIX}${model}/${version}.json`;
}

const invalid = (field: string, message: string): FactsRecordError =>
  new FactsRecordError('FACTS_RECORD_INVALID', field, message);

/** A calendar date, YYYY-MM-DD, that exists. */
function isCalendarDate(value: string): boolean {
  const t = Date.parse(`${value}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
}

/** An https origin without path, query, fragment or credentials; returned without a trailing slash. */
function httpsOrigin(text: string, field: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || url.username || url.password || url.pathname !== '/' || url.search || url.hash)
    throw invalid(field, 'must be an https origin, https://host[:port], with no path, query or credentials');
  return url.origin;
}

/**
 * Validates a record against the shipped schema and the rules beside it.
 * @throws FactsRecordError 'FACTS_RECORD_INVALID' naming the first field at fault
 */
export function validateFactsRecord(value: unknown): FactsRecord {
  const problems = checkAgainstSchema(factsSchema(), value);
  if (problems.length > 0) {
    const [first] = problems;
    // The checker names the whole document '(document)'; the record's errors call it '$' throughout.
    throw invalid(first!.path === '(document)' ? '$' : first!.path, first!.rule);
  }
  const r = value as FactsRecord;
  if (!isCalendarDate(r.support.endsOn)) throw invalid('support.endsOn', 'must be a date that exists');
  const sbom = r.sbom as { available: boolean; format?: string; target?: string };
  if (sbom.available && sbom.format === undefined)
    throw invalid('sbom.format', 'is required when the SBOM is available');
  if (sbom.available && sbom.target === undefined)
    throw invalid('sbom.target', 'is required when the SBOM is available');
  if (!sbom.available && (sbom.format !== undefined || sbom.target !== undefined))
    throw invalid('sbom.available', 'is false, yet the record names a format or target');
  const path = factsRecordPath(r.product.model, r.product.version);
  let url: URL | undefined;
  try {
    url = new URL(r.url);
  } catch {
    url = undefined;
  }
  if (url?.pathname !== path || url.search !== '' || url.hash !== '')
    throw invalid('url', `must be the record's own place, <origin>${path}`);
  return r;
}

/**
 * Parses a record's text (JSON, at most {@link MAX_FACTS_RECORD_BYTES} bytes) and validates it.
 * @throws FactsRecordError 'FACTS_RECORD_INVALID' naming the field at fault ('$' for the whole text)
 * @example const record = parseFactsRecord(await readFile('plug-1.1.0.facts.json', 'utf8'));
 */
export function parseFactsRecord(text: string): FactsRecord {
  if (Buffer.byteLength(text, 'utf8') > MAX_FACTS_RECORD_BYTES)
    throw invalid('$', `the record is over ${MAX_FACTS_RECORD_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('$', 'the record is not JSON');
  }
  return validateFactsRecord(value);
}

/** The record as served and published: two-space JSON with a final newline. */
export function serializeFactsRecord(record: FactsRecord): string {
  return JSON.stringify(record, null, 2) + '\n';
}

/** How the owner turns automatic updates off (or on), on the unit's admin page. */
function updateText(on: boolean): string {
  return on
    ? 'Log in to the device\'s admin page and choose "Turn automatic updates off" (or "Postpone automatic ' +
        'updates" to hold them back for a while); updates then wait until you install them from the same page.'
    : 'They are off as shipped: updates wait until you install them from the device\'s admin page ("Check for ' +
        'updates now"). To have them installed automatically, choose "Turn automatic updates on" there.';
}

/** How the owner changes the password, for a model whose first password is on the sticker or set at setup. */
function passwordText(mode: ModelSpec['initialPasswordMode']): string {
  const change = 'To change it, log in to the device\'s admin page, open "Password" and give the current one.';
  return mode === 'sticker'
    ? 'Each unit has its own password, printed on its sticker; no two units share one. Replace it at first ' +
        `login with a long password you use nowhere else. ${change}`
    : 'There is no default password: at first use the admin page asks you to set one, with the setup code ' +
        `printed on the sticker. ${change}`;
}

/** The release facts, held to the record's model and version. @throws FactsRecordError 'FACTS_RELEASE_MISMATCH' */
function releaseFacts(i: FactsInput): { endsOn: string; sbom: FactsRecord['sbom'] } {
  const r = i.release;
  if (r === undefined) return { endsOn: i.model.supportPeriod.endsOn, sbom: { available: false } };
  if (r.model !== i.model.id)
    throw new FactsRecordError('FACTS_RELEASE_MISMATCH', 'product.model', `the release image is of ${r.model}`);
  if (r.version !== i.version)
    throw new FactsRecordError(
      'FACTS_RELEASE_MISMATCH',
      'product.version',
      `the release repository's current ${r.model} image is ${r.version}, not ${i.version}: a record describes ` +
        'the version the repository publishes',
    );
  return {
    endsOn: r.supportEndsOn ?? i.model.supportPeriod.endsOn,
    sbom: r.sbom === undefined ? { available: false } : { available: true, format: 'CycloneDX', target: r.sbom },
  };
}

/**
 * Builds the record of one model and version from the model, the profile's facts and (when given)
 * the release repository's current image, and validates it.
 * @throws FactsRecordError 'FACTS_RECORD_INVALID' naming the field; 'FACTS_RELEASE_MISMATCH'
 */
export function buildFactsRecord(i: FactsInput): FactsRecord {
  const base = httpsOrigin(i.baseUrl, 'url');
  if (i.profile.modelId !== i.model.id)
    throw invalid('product.model', `the profile is of ${i.profile.modelId}, the model is ${i.model.id}`);
  if (i.profile.maker === undefined) throw invalid('maker.name', 'the profile names no maker (key maker)');
  const { endsOn, sbom } = releaseFacts(i);
  const contact = i.securityContacts ?? [i.profile.securityContact ?? `${base}/security/report`];
  const record: FactsRecord = {
    schema: FACTS_SCHEMA_ID,
    url: `${base}${factsRecordPath(i.model.id, i.version)}`,
    product: { model: i.model.id, name: i.model.name, version: i.version },
    maker: { name: i.profile.maker, contact: i.makerContact ?? contact[0] ?? '' },
    support: { endsOn },
    automaticUpdates: { default: i.automaticUpdates ? 'on' : 'off', howToTurnOff: updateText(i.automaticUpdates) },
    password: { initial: i.model.initialPasswordMode, howToChange: passwordText(i.model.initialPasswordMode) },
    secureSetup: i.profile.networkModels.flatMap((m) => [SETUP_GUIDANCE[m].setup, SETUP_GUIDANCE[m].check]),
    sbom,
    vulnerabilityReporting: { contact: [...contact], policy: i.policyUrl ?? `${base}/security/policy` },
    declarationOfConformity: { url: i.conformityUrl },
  };
  return validateFactsRecord(JSON.parse(JSON.stringify(record)));
}
