/**
 * The settings of the cloud's security contact points (part of the owner API's one config):
 * `/.well-known/security.txt` (RFC 9116), the coordinated-disclosure intake and the CSAF
 * provider. Safe defaults: the contact is the intake page itself, Expires at most a year ahead,
 * a few reports per source address an hour. Validated at start; a bad value names its key.
 */
import { CloudConfigError } from './errors.ts';

/** What `/.well-known/security.txt` says. */
export interface SecurityTxtConfig {
  /**
   * Contact URIs (`https:`, `mailto:` or `tel:`), in order of preference; empty (the default): the
   * intake page `https://<host>/security/report`.
   */
  readonly contact: readonly string[];
  /** The disclosure policy's URL; null (the default): the cloud's own `/security/policy` page. */
  readonly policy: string | null;
  /** Language tags a report may be written in (RFC 5646), e.g. ['en', 'de']. */
  readonly preferredLanguages: readonly string[];
  /** Expires is this many days after the file is served; RFC 9116 advises less than a year (1 to 365). */
  readonly expiresInDays: number;
}

/** Bounds of the disclosure intake. Character counts are of the decoded text. */
export interface IntakeConfig {
  /** Reports one source address (IPv6: its /64) may send per window. */
  readonly reportsPerSource: number;
  /** The window, ms: a source that used its reports waits this long after its last one. */
  readonly sourceWindowMs: number;
  readonly maxSummaryChars: number;
  readonly maxDetailsChars: number;
  readonly maxProductChars: number;
  readonly maxVersionChars: number;
  readonly maxContactChars: number;
  /** Most reports a maker's page or answer lists, newest first. */
  readonly maxListed: number;
}

/** The CSAF provider's settings. */
export interface CsafProviderConfig {
  /** Largest advisory accepted, bytes. */
  readonly maxAdvisoryBytes: number;
  /** Most advisories the provider keeps (index.txt lists them all). */
  readonly maxAdvisories: number;
  /** Whether aggregators may list and mirror these advisories (provider-metadata.json). */
  readonly listOnAggregators: boolean;
  readonly mirrorOnAggregators: boolean;
  /**
   * The publisher named in provider-metadata.json; null (the default): the newest advisory's
   * `document.publisher`.
   */
  readonly publisher: { readonly category: string; readonly name: string; readonly namespace: string } | null;
}

/** All of it. */
export interface SecurityConfig {
  readonly securityTxt: SecurityTxtConfig;
  readonly intake: IntakeConfig;
  readonly csaf: CsafProviderConfig;
}

/** The secure default. */
export const defaultSecurityConfig: Readonly<SecurityConfig> = Object.freeze({
  securityTxt: Object.freeze({ contact: [], policy: null, preferredLanguages: ['en'], expiresInDays: 180 }),
  intake: Object.freeze({
    reportsPerSource: 5,
    sourceWindowMs: 3_600_000,
    maxSummaryChars: 200,
    maxDetailsChars: 8_000,
    maxProductChars: 100,
    maxVersionChars: 64,
    maxContactChars: 254,
    maxListed: 200,
  }),
  csaf: Object.freeze({
    maxAdvisoryBytes: 1_048_576,
    maxAdvisories: 10_000,
    listOnAggregators: true,
    mirrorOnAggregators: true,
    publisher: null,
  }),
});

/** The request body limits the owner app needs for the intake's largest report, form-encoded. */
export const INTAKE_BODY_LIMITS = Object.freeze({ maxBodyBytes: 98_304, maxFieldBytes: 32_768 });

/** Longest details a report may have: 4 bytes of UTF-8 a character, 9 once form-encoded, fit the limits above. */
export const MAX_DETAILS_CHARS = 8_000;

const CONTACT_URI = /^(https:\/\/[^\s<>"]{1,2000}|mailto:[^\s@<>"]{1,64}@[^\s<>"]{1,255}|tel:\+?[0-9 ()-]{3,32})$/;
const HTTPS_URL = /^https:\/\/[^\s<>"]{1,2000}$/;
const LANGUAGE_TAG = /^[a-z]{2,3}(-[a-z0-9]{2,8}){0,3}$/i;
const PUBLISHER_CATEGORIES = new Set(['coordinator', 'discoverer', 'other', 'translator', 'user', 'vendor']);

function int(key: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
}

function validateSecurityTxt(t: SecurityTxtConfig): void {
  if (!Array.isArray(t.contact) || t.contact.length > 8 || t.contact.some((c) => !CONTACT_URI.test(String(c))))
    throw new CloudConfigError('security.securityTxt.contact', 'must be at most 8 https:, mailto: or tel: URIs');
  if (t.policy !== null && !HTTPS_URL.test(String(t.policy)))
    throw new CloudConfigError('security.securityTxt.policy', 'must be null or an https: URL');
  const langs = t.preferredLanguages;
  if (
    !Array.isArray(langs) ||
    langs.length === 0 ||
    langs.length > 8 ||
    langs.some((l) => !LANGUAGE_TAG.test(String(l)))
  )
    throw new CloudConfigError('security.securityTxt.preferredLanguages', 'must be 1 to 8 language tags');
  int('security.securityTxt.expiresInDays', t.expiresInDays, 1, 365);
}

function validateIntake(i: IntakeConfig): void {
  int('security.intake.reportsPerSource', i.reportsPerSource, 1, 100);
  int('security.intake.sourceWindowMs', i.sourceWindowMs, 60_000, 86_400_000);
  int('security.intake.maxSummaryChars', i.maxSummaryChars, 20, 1_000);
  int('security.intake.maxDetailsChars', i.maxDetailsChars, 100, MAX_DETAILS_CHARS);
  int('security.intake.maxProductChars', i.maxProductChars, 10, 256);
  int('security.intake.maxVersionChars', i.maxVersionChars, 5, 128);
  int('security.intake.maxContactChars', i.maxContactChars, 20, 512);
  int('security.intake.maxListed', i.maxListed, 10, 1_000);
}

function validateCsaf(c: CsafProviderConfig): void {
  int('security.csaf.maxAdvisoryBytes', c.maxAdvisoryBytes, 4_096, 16_777_216);
  int('security.csaf.maxAdvisories', c.maxAdvisories, 1, 100_000);
  if (typeof c.listOnAggregators !== 'boolean' || typeof c.mirrorOnAggregators !== 'boolean')
    throw new CloudConfigError('security.csaf.listOnAggregators', 'must be true or false');
  const p = c.publisher;
  if (p === null) return;
  const ok =
    typeof p === 'object' &&
    PUBLISHER_CATEGORIES.has(p.category) &&
    typeof p.name === 'string' &&
    p.name.length > 0 &&
    p.name.length <= 200 &&
    HTTPS_URL.test(String(p.namespace));
  if (!ok)
    throw new CloudConfigError('security.csaf.publisher', 'must be null or {category, name, namespace (https: URL)}');
}

/** Validates a (partial) config against the defaults; refuses a value that is malformed or unsafe. */
export function validateSecurityConfig(config: DeepPartial<SecurityConfig> = {}): SecurityConfig {
  const c: SecurityConfig = {
    securityTxt: { ...defaultSecurityConfig.securityTxt, ...config.securityTxt },
    intake: { ...defaultSecurityConfig.intake, ...config.intake },
    csaf: { ...defaultSecurityConfig.csaf, ...config.csaf },
  };
  validateSecurityTxt(c.securityTxt);
  validateIntake(c.intake);
  validateCsaf(c.csaf);
  return c;
}

/** A config with every part optional, one level down. */
export type DeepPartial<T> = { readonly [K in keyof T]?: Partial<T[K]> };
