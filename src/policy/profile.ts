/**
 * Device profiles: the few facts about a product that decide which controls it needs. A profile
 * names its product model (src/models) and states only what the model does not carry: the model
 * gives the name, sensors, actuators and support period; the profile adds the network models,
 * personal data, internet exposure, maker and security contact. A profile is YAML written by a
 * person; parsing is strict (unknown keys, wrong types, unknown vocabulary and facts the model
 * already states are errors naming the key) and bounded (size, aliases, lengths). Pure: the caller
 * passes the function that finds the model.
 *
 * @example
 *   const profile = parseProfile('model: plug\nnetworkModels: [listening]\n...', resolveModel);
 */
import { parseDocument } from 'yaml';
import { ACTUATORS, SENSORS } from '../models/index.ts';
import type { Actuator, ModelSpec, Sensor } from '../models/index.ts';
import { ProfileError } from './errors.ts';

export { ACTUATORS, SENSORS };
export type { Actuator, Sensor };

/** The brief's three network security models. */
export const NETWORK_MODELS = ['listening', 'hub', 'cloud'] as const;
/** One of the brief's network security models. */
export type NetworkModel = (typeof NETWORK_MODELS)[number];

/**
 * Finds the model a profile's `model` names: a built-in id (`plug`) or a model file path, which
 * the caller resolves (loadProfileFile: relative to the profile's folder). Throws when there is none.
 */
export type ModelResolver = (ref: string) => ModelSpec;

/** A validated device profile, with the facts its model carries filled in. */
export interface DeviceProfile {
  /** Product model name (the model's `name`), shown in the policy. */
  readonly model: string;
  /** Id of the product model the profile names (the model's `id`). */
  readonly modelId: string;
  /** Network models the product uses (at least one). */
  readonly networkModels: readonly NetworkModel[];
  /** Sensing capabilities, from the model (may be empty). */
  readonly sensors: readonly Sensor[];
  /** Physical actuators, from the model (may be empty); a `lock` riskClass adds `lock`. */
  readonly actuators: readonly Actuator[];
  /** Whether the product keeps personal data (device, hub or cloud). */
  readonly personalData: boolean;
  /** Whether the device's own service is meant to be reachable from the internet. */
  readonly internetExposed: boolean;
  /** Whether the product handles money or virtual currency (EN 18031-3); false when not stated. */
  readonly financialAssets?: boolean;
  /** Last day security updates are promised, ISO date (YYYY-MM-DD): the model's supportPeriod.endsOn. */
  readonly supportPeriodEnd: string;
  /** Manufacturer name, shown in the policy. */
  readonly maker?: string;
  /** Where to report vulnerabilities: a mailto:, https: or tel: URI. */
  readonly securityContact?: string;
}

/** Bounds on profile input; every value has its unit. */
export interface ProfileLimits {
  /** Largest accepted profile text, in UTF-8 bytes. */
  readonly maxProfileBytes: number;
  /** Longest `maker`, in characters. */
  readonly maxNameChars: number;
  /** Longest `model` reference (a model id or a model file path), in characters. */
  readonly maxModelRefChars: number;
  /** Longest `securityContact`, in characters. */
  readonly maxContactChars: number;
}

/** Default bounds: a real profile is a few hundred bytes. */
export const DEFAULT_PROFILE_LIMITS: ProfileLimits = {
  maxProfileBytes: 16_384, // bytes
  maxNameChars: 80, // characters
  maxModelRefChars: 1_024, // characters
  maxContactChars: 256, // characters
};

const REQUIRED_KEYS = ['model', 'networkModels', 'personalData', 'internetExposed'] as const;
const OPTIONAL_KEYS = ['maker', 'securityContact', 'financialAssets'] as const;
const KNOWN_KEYS: ReadonlySet<string> = new Set<string>([...REQUIRED_KEYS, ...OPTIONAL_KEYS]);
/** Keys a profile once stated that its model now carries, and where in the model they are. */
const STATED_BY_MODEL: Readonly<Record<string, string>> = {
  sensors: 'sensors',
  actuators: 'actuators (and riskClass)',
  supportPeriodEnd: 'supportPeriod.endsOn',
};
const CONTACT_SCHEMES: ReadonlySet<string> = new Set(['mailto:', 'https:', 'tel:']);

/**
 * Parses and validates a device profile from YAML text; `resolveModel` finds the model it names.
 * Throws ProfileError (code PROFILE_*) naming the key at fault; never anything else.
 */
export function parseProfile(
  text: string,
  resolveModel: ModelResolver,
  limits: ProfileLimits = DEFAULT_PROFILE_LIMITS,
): DeviceProfile {
  if (typeof text !== 'string') throw new ProfileError('PROFILE_INVALID', '$', 'profile must be text');
  // Measure bytes before parsing, so an oversized input costs nothing more than this count.
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxProfileBytes) {
    throw new ProfileError(
      'PROFILE_TOO_LARGE',
      '$',
      `profile is ${bytes} bytes; the limit is ${limits.maxProfileBytes}`,
    );
  }
  return validateProfile(parseYaml(text), resolveModel, limits);
}

function parseYaml(text: string): unknown {
  let doc;
  try {
    // YAML 1.2 core schema: dates stay strings, `yes`/`no` stay strings, no custom types.
    doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true, prettyErrors: false, strict: true });
  } catch (err) {
    throw new ProfileError('PROFILE_SYNTAX', '$', `not valid YAML (${errorText(err)})`);
  }
  const first = doc.errors[0];
  if (first !== undefined)
    throw new ProfileError('PROFILE_SYNTAX', '$', `not valid YAML: ${shorten(first.message, 160)}`);
  try {
    // A profile never needs anchors or aliases; refusing them all rules out alias bombs.
    return doc.toJS({ maxAliasCount: 0 }) as unknown;
  } catch (err) {
    if (err instanceof ReferenceError)
      throw new ProfileError('PROFILE_INVALID', '$', 'YAML aliases are not allowed in a profile');
    throw new ProfileError('PROFILE_SYNTAX', '$', `not valid YAML (${errorText(err)})`);
  }
}

/** Validates an already-parsed value as a profile (useful for JSON input); same errors as parseProfile. */
export function validateProfile(
  value: unknown,
  resolveModel: ModelResolver,
  limits: ProfileLimits = DEFAULT_PROFILE_LIMITS,
): DeviceProfile {
  if (!isPlainObject(value)) {
    throw new ProfileError('PROFILE_INVALID', '$', `a profile is a mapping of keys to values, not ${describe(value)}`);
  }
  checkKeys(value);
  const model = modelOf(value, resolveModel, limits.maxModelRefChars);
  const profile: {
    -readonly [K in keyof DeviceProfile]: DeviceProfile[K];
  } = {
    ...model,
    networkModels: vocabularyList(value, 'networkModels', NETWORK_MODELS),
    personalData: flag(value, 'personalData'),
    internetExposed: flag(value, 'internetExposed'),
  };
  if (profile.networkModels.length === 0) {
    throw new ProfileError(
      'PROFILE_INVALID',
      'networkModels',
      `at least one of ${NETWORK_MODELS.join(', ')} is required`,
    );
  }
  if (Object.hasOwn(value, 'financialAssets')) profile.financialAssets = flag(value, 'financialAssets');
  if (Object.hasOwn(value, 'maker')) profile.maker = name(value, 'maker', limits.maxNameChars);
  if (Object.hasOwn(value, 'securityContact'))
    profile.securityContact = contact(value, 'securityContact', limits.maxContactChars);
  return profile;
}

/** Refuses a fact the model carries, an unknown key and a missing one, in that order. */
function checkKeys(value: Record<string, unknown>): void {
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(STATED_BY_MODEL, key)) {
      throw new ProfileError(
        'PROFILE_STATED_BY_MODEL',
        key,
        `stated by the model file (its ${STATED_BY_MODEL[key]}); state it once: remove ${key} from the profile`,
      );
    }
    if (!KNOWN_KEYS.has(key)) {
      throw new ProfileError(
        'PROFILE_UNKNOWN_KEY',
        keyName(key),
        `unknown key; allowed keys are ${[...KNOWN_KEYS].join(', ')}`,
      );
    }
  }
  for (const key of REQUIRED_KEYS) {
    if (!Object.hasOwn(value, key)) throw new ProfileError('PROFILE_MISSING_KEY', key, 'required key is missing');
  }
}

/** What the profile takes from the model it names. */
type ModelFacts = Pick<DeviceProfile, 'model' | 'modelId' | 'sensors' | 'actuators' | 'supportPeriodEnd'>;

/** Resolves `model` and takes the model's facts, in the policy's vocabulary order. */
function modelOf(obj: Record<string, unknown>, resolveModel: ModelResolver, maxChars: number): ModelFacts {
  const ref = name(obj, 'model', maxChars);
  let spec: ModelSpec;
  try {
    spec = resolveModel(ref);
  } catch (err) {
    throw new ProfileError('PROFILE_INVALID', 'model', `names no usable model: ${errorText(err)}`);
  }
  const sensors = new Set<string>(spec.sensors);
  const actuators = new Set<string>(spec.actuators);
  // The risk class is the model's word for its tier: a maker's lock is audited as a lock.
  if (spec.riskClass === 'lock') actuators.add('lock');
  else if (spec.riskClass === 'camera' || spec.riskClass === 'microphone') sensors.add(spec.riskClass);
  // Control characters would corrupt the rendered policy and terminal output.
  if (/\p{Cc}/u.test(spec.name))
    throw new ProfileError('PROFILE_INVALID', 'model', `the model '${spec.id}' has control characters in its name`);
  const unknown = [...sensors].find((s) => !(SENSORS as readonly string[]).includes(s));
  const unknownActuator = [...actuators].find((a) => !(ACTUATORS as readonly string[]).includes(a));
  if (unknown !== undefined || unknownActuator !== undefined) {
    const word = JSON.stringify(unknown ?? unknownActuator);
    throw new ProfileError('PROFILE_INVALID', 'model', `the model '${spec.id}' uses ${word}, not a policy word`);
  }
  return {
    model: spec.name,
    modelId: spec.id,
    sensors: SENSORS.filter((s) => sensors.has(s)),
    actuators: ACTUATORS.filter((a) => actuators.has(a)),
    supportPeriodEnd: isoDate({ model: spec.supportPeriod.endsOn }, 'model'),
  };
}

function name(obj: Record<string, unknown>, key: string, maxChars: number): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new ProfileError('PROFILE_INVALID', key, `expected text, got ${describe(v)}`);
  const trimmed = v.trim();
  if (trimmed.length === 0) throw new ProfileError('PROFILE_INVALID', key, 'must not be empty');
  if (trimmed.length > maxChars) throw new ProfileError('PROFILE_INVALID', key, `longer than ${maxChars} characters`);
  // Control characters would corrupt the rendered policy and terminal output.
  if (/\p{Cc}/u.test(trimmed)) throw new ProfileError('PROFILE_INVALID', key, 'must not contain control characters');
  return trimmed;
}

function flag(obj: Record<string, unknown>, key: string): boolean {
  const v = obj[key];
  if (typeof v !== 'boolean')
    throw new ProfileError('PROFILE_INVALID', key, `expected true or false, got ${describe(v)}`);
  return v;
}

function vocabularyList<T extends string>(obj: Record<string, unknown>, key: string, allowed: readonly T[]): T[] {
  const v = obj[key];
  if (!Array.isArray(v))
    throw new ProfileError('PROFILE_INVALID', key, `expected a list (possibly empty), got ${describe(v)}`);
  // Every item must be distinct and from `allowed`, so the list can never be longer than it.
  if (v.length > allowed.length)
    throw new ProfileError('PROFILE_INVALID', key, `at most ${allowed.length} distinct items are possible`);
  const seen = new Set<T>();
  v.forEach((item: unknown, i) => {
    const itemKey = `${key}[${i}]`;
    if (typeof item !== 'string' || !(allowed as readonly string[]).includes(item)) {
      throw new ProfileError('PROFILE_INVALID', itemKey, `${describe(item)} is not one of ${allowed.join(', ')}`);
    }
    const known = item as T;
    if (seen.has(known)) throw new ProfileError('PROFILE_INVALID', itemKey, `${JSON.stringify(item)} is listed twice`);
    seen.add(known);
  });
  return [...seen];
}

function isoDate(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    throw new ProfileError('PROFILE_INVALID', key, `expected a date as YYYY-MM-DD, got ${describe(v)}`);
  }
  // Round-tripping through Date catches impossible days such as 2030-02-30.
  const parsed = new Date(`${v}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== v) {
    throw new ProfileError('PROFILE_INVALID', key, `${v} is not a calendar date`);
  }
  return v;
}

function contact(obj: Record<string, unknown>, key: string, maxChars: number): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new ProfileError('PROFILE_INVALID', key, `expected a URI, got ${describe(v)}`);
  const trimmed = v.trim();
  if (trimmed.length > maxChars) throw new ProfileError('PROFILE_INVALID', key, `longer than ${maxChars} characters`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new ProfileError(
      'PROFILE_INVALID',
      key,
      'expected a URI such as mailto:security@example.com or https://example.com/security',
    );
  }
  // The same schemes security.txt (RFC 9116) allows for Contact; anything else could be javascript: in HTML.
  if (!CONTACT_SCHEMES.has(url.protocol)) {
    throw new ProfileError(
      'PROFILE_INVALID',
      key,
      `scheme ${url.protocol} is not allowed; use mailto:, https: or tel:`,
    );
  }
  if (url.protocol !== 'tel:' && url.pathname === '' && url.hostname === '') {
    throw new ProfileError('PROFILE_INVALID', key, 'the URI has no address');
  }
  return trimmed;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(shorten(v, 40));
  if (typeof v === 'object') return 'a mapping';
  const text = typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v;
  return `${typeof v} ${shorten(text, 40)}`;
}

/** A key as it should appear in an error: quoted when it is empty or has odd characters. */
function keyName(key: string): string {
  return /^[\p{L}\p{N}_$.-]+$/u.test(key) ? shorten(key, 40) : JSON.stringify(shorten(key, 40));
}

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

function errorText(err: unknown): string {
  return shorten(err instanceof Error ? err.message : String(err), 160);
}
