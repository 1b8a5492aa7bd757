/**
 * The cloud as a CSAF 2.0 provider: the maker uploads security advisories (`bulwark release
 * advisory` writes them), the cloud serves them where CSAF's directory-based distribution puts
 * them, `/.well-known/csaf/<year>/<file name>.json`, each with its `.sha512`, the directory's
 * `index.txt` and `changes.csv`, and `/.well-known/csaf/provider-metadata.json`.
 *
 * An upload is checked only as far as the provider needs: a JSON object of at most the configured
 * size, `document.category` 'csaf_security_advisory', `document.csaf_version` '2.0', a tracking id
 * and its current release date. The document is kept and served byte for byte as uploaded.
 *
 * @example
 * const done = await publishAdvisory(store, await readFile('advisory.json'), config.csaf, Date.now());
 */
import { createHash } from 'node:crypto';
import { AdvisoryError } from './errors.ts';
import type { CsafProviderConfig } from './security-config.ts';
import type { CsafAdvisoryRecord } from './security-sql.ts';
import type { CloudStore } from './store.ts';

/** The provider's directory, relative to the origin. */
export const CSAF_DIRECTORY = '/.well-known/csaf/';
/** Longest file name stem (before `.json`), so `<stem>.json.sha512` is a path segment the router takes. */
const MAX_STEM_CHARS = 52;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An advisory checked for publication. */
export interface CheckedAdvisory {
  readonly trackingId: string;
  /** `<year>/<file name>.json`. */
  readonly path: string;
  readonly currentReleaseAt: number;
  readonly document: string;
  readonly sha512: string;
}

function invalid(message: string): AdvisoryError {
  return new AdvisoryError('CSAF_ADVISORY_INVALID', message);
}

function dateOf(value: unknown, name: string): number {
  const at = typeof value === 'string' && DATE_TIME.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(at)) throw invalid(`${name} must be a date-time with its offset`);
  return at;
}

/** CSAF's file name of a tracking id: lower case, each run of other characters than [+-a-z0-9] one '_'. */
export function csafFileStem(trackingId: string): string {
  return trackingId.toLowerCase().replace(/[^+\-a-z0-9]+/g, '_');
}

function documentOf(bytes: Buffer, maxBytes: number): Record<string, unknown> {
  if (bytes.length > maxBytes)
    throw new AdvisoryError('CSAF_ADVISORY_TOO_LARGE', `the advisory is over ${maxBytes} bytes`);
  const text = bytes.toString('utf8');
  if (!text.isWellFormed() || text.includes('\uFFFD')) throw invalid('the advisory is not UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('the advisory is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object');
  const doc = (value as Record<string, unknown>).document;
  if (typeof doc !== 'object' || doc === null) throw invalid('no document section');
  return doc as Record<string, unknown>;
}

/** Checks an upload; refuses (typed) anything a CSAF provider must not publish. */
export function checkAdvisory(bytes: Buffer, maxBytes: number): CheckedAdvisory {
  const doc = documentOf(bytes, maxBytes);
  if (doc.category !== 'csaf_security_advisory') throw invalid("document.category must be 'csaf_security_advisory'");
  if (doc.csaf_version !== '2.0') throw invalid("document.csaf_version must be '2.0'");
  const tracking = (typeof doc.tracking === 'object' && doc.tracking !== null ? doc.tracking : {}) as Record<
    string,
    unknown
  >;
  const id = tracking.id;
  if (typeof id !== 'string' || !/^\S(.*\S)?$/.test(id) || id.length > 200)
    throw invalid('document.tracking.id must be text without leading or trailing spaces');
  const currentReleaseAt = dateOf(tracking.current_release_date, 'document.tracking.current_release_date');
  const initial = tracking.initial_release_date;
  const yearFrom = initial === undefined ? currentReleaseAt : dateOf(initial, 'document.tracking.initial_release_date');
  const year = new Date(yearFrom).getUTCFullYear();
  // CSAF's directory layout has a folder per four-digit year.
  if (year < 1000 || year > 9999) throw invalid('the release year must have four digits');
  const stem = csafFileStem(id);
  // A name of separators alone ('_') would make every such advisory clash with the next.
  if (stem.length > MAX_STEM_CHARS || !/^[a-z0-9_-]+$/.test(stem) || !/[a-z0-9]/.test(stem))
    throw invalid(`document.tracking.id must give a file name of at most ${MAX_STEM_CHARS} of [a-z0-9_-]`);
  const document = bytes.toString('utf8');
  const sha512 = createHash('sha512').update(bytes).digest('hex');
  return {
    trackingId: id,
    path: `${year}/${stem}.json`,
    currentReleaseAt,
    document,
    sha512,
  };
}

/** What a publication did. */
export interface PublishOutcome {
  readonly path: string;
  readonly trackingId: string;
  readonly outcome: 'published' | 'replaced' | 'unchanged';
  readonly sha512: string;
}

/**
 * Publishes an advisory: a new one, or a newer release of one already published (same tracking
 * id, a current release date not older). A different advisory whose file name clashes, an older
 * release, or one past the provider's count are refused.
 */
export async function publishAdvisory(
  store: CloudStore,
  bytes: Buffer,
  config: CsafProviderConfig,
  now: number,
): Promise<PublishOutcome> {
  const a = checkAdvisory(bytes, config.maxAdvisoryBytes);
  const held = await store.csafAdvisory(a.path);
  const base = { path: a.path, trackingId: a.trackingId, sha512: a.sha512 };
  if (held) {
    if (held.trackingId !== a.trackingId)
      throw new AdvisoryError('CSAF_ADVISORY_CONFLICT', `${a.path} holds another advisory (${held.trackingId})`);
    if (held.currentReleaseAt > a.currentReleaseAt)
      throw new AdvisoryError('CSAF_ADVISORY_CONFLICT', 'a newer release of this advisory is published');
    if (held.sha512 === a.sha512) return { ...base, outcome: 'unchanged' };
  } else if ((await store.csafAdvisories()).length >= config.maxAdvisories) {
    throw new AdvisoryError('CSAF_ADVISORY_CONFLICT', `the provider holds ${config.maxAdvisories} advisories already`);
  }
  await store.putCsafAdvisory({ ...a, publishedAt: now });
  return { ...base, outcome: held ? 'replaced' : 'published' };
}

/** `index.txt`: every advisory's path, one a line. */
export function indexTxt(advisories: readonly CsafAdvisoryRecord[]): string {
  return advisories
    .map((a) => a.path)
    .sort()
    .map((p) => `${p}\n`)
    .join('');
}

/** `changes.csv`: path and current release date, the most recent first (CSAF 2.0, 7.1.10). */
export function changesCsv(advisories: readonly CsafAdvisoryRecord[]): string {
  return [...advisories]
    .sort((x, y) => y.currentReleaseAt - x.currentReleaseAt || x.path.localeCompare(y.path))
    .map((a) => `"${a.path}","${new Date(a.currentReleaseAt).toISOString()}"\n`)
    .join('');
}

/** The `.sha512` file beside an advisory: the hash and the file name, as sha512sum writes them. */
export function sha512File(a: Pick<CsafAdvisoryRecord, 'path' | 'sha512'>): string {
  return `${a.sha512}  ${a.path.split('/').pop()}\n`;
}

/** The publisher of provider-metadata.json: the configured one, else the newest advisory's. */
export function publisherOf(config: CsafProviderConfig, newest: string | undefined, origin: string): object {
  if (config.publisher) return config.publisher;
  try {
    const p = (JSON.parse(newest ?? '{}') as { document?: { publisher?: Record<string, unknown> } }).document
      ?.publisher;
    if (p && typeof p.name === 'string' && typeof p.namespace === 'string' && typeof p.category === 'string')
      return { category: p.category, name: p.name, namespace: p.namespace };
  } catch {
    // Stored documents parsed once at upload; a failure here falls back below.
  }
  return { category: 'vendor', name: 'the manufacturer', namespace: origin };
}

/** provider-metadata.json for the provider at `origin` ('https://host[:port]'). */
export function providerMetadata(
  config: CsafProviderConfig,
  origin: string,
  advisories: readonly CsafAdvisoryRecord[],
  newestDocument: string | undefined,
): object {
  const lastUpdated = advisories.reduce((m, a) => Math.max(m, a.publishedAt), 0);
  return {
    canonical_url: `${origin}${CSAF_DIRECTORY}provider-metadata.json`,
    distributions: [{ directory_url: `${origin}${CSAF_DIRECTORY}` }],
    last_updated: new Date(lastUpdated).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    list_on_CSAF_aggregators: config.listOnAggregators,
    metadata_version: '2.0',
    mirror_on_CSAF_aggregators: config.mirrorOnAggregators,
    publisher: publisherOf(config, newestDocument, origin),
    role: 'csaf_provider',
  };
}
