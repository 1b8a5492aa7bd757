/**
 * Journal entries as a pure core: the schema, validation of what callers record, the privacy
 * rule of each privacy class, and the JSON-lines form on disk. No files, no clocks.
 */
import { isIP } from 'node:net';
import { JournalEntryError } from './errors.ts';
import { redactSecrets, neutraliseText, truncateText } from './redact.ts';

/** The device's listening surfaces, and 'journal' for the journal's own notices. */
export const JOURNAL_SURFACES = [
  'web',
  'hub',
  'pairing',
  'cloud',
  'button',
  'update',
  'driver',
  'state',
  'journal',
] as const;
/** A listening surface of the device. */
export type JournalSurface = (typeof JOURNAL_SURFACES)[number];

/** How an attempt ended. 'info' is for events that are neither, e.g. a logout. */
export const JOURNAL_RESULTS = ['success', 'failure', 'refused', 'locked-out', 'info'] as const;
/** How an attempt ended. */
export type JournalResult = (typeof JOURNAL_RESULTS)[number];

/**
 * 'standard' keeps full source addresses and the detail text. 'sensitive' (devices with a
 * camera or a microphone) drops the detail and keeps only the network of the source: see
 * {@link coarsenSource}.
 */
export type PrivacyClass = 'standard' | 'sensitive';

/** Size limits of an entry's fields. Characters are UTF-16 units. */
export const JOURNAL_ENTRY_LIMITS = Object.freeze({
  /** Longest identity kept, characters; longer ones are cut and end with '…'. */
  maxIdentityChars: 128,
  /** Longest detail kept, characters; longer ones are cut and end with '…'. */
  maxDetailChars: 200,
  /** Longest identity or detail accepted at all, characters (redaction runs on the whole text first). */
  maxInputChars: 4_096,
  /** Longest event name, characters. */
  maxEventChars: 32,
  /** Longest source, characters. */
  maxSourceChars: 64,
  /** Longest line accepted when loading the file, bytes; every entry this code writes is shorter. */
  maxLineBytes: 2_048,
});

/** One recorded connection attempt, as stored, listed and exported. */
export interface JournalEntry extends JournalRecordInput {
  /** Increases by one with every entry; the cursor for paging ({@link JournalQuery.before}). */
  readonly seq: number;
  /** When it happened, ISO 8601 UTC with milliseconds. */
  readonly at: string;
}

/**
 * What a caller records; the journal adds `seq` and `at`. There is deliberately no field for a
 * password or any other secret, and unknown fields are refused.
 */
export interface JournalRecordInput {
  readonly surface: JournalSurface;
  /**
   * 'address:port' ('[v6]:port' for IPv6: use {@link formatSource} with the socket's remote address
   * and port), 'local', 'unknown', or on a sensitive device a network such as '192.0.2.0/24'.
   */
  readonly source: string;
  /**
   * What was attempted, in kebab case: 'tls-connect', 'login', 'logout', 'setup', 'pairing',
   * 'channel-connect', 'password-change', 'update'.
   */
  readonly event: string;
  /**
   * The identity claimed (user name, hub fingerprint, serial), redacted; never a secret. For a
   * failed login with an unknown user name, pass a fixed word such as '(unknown)': people type
   * their password into the user name box.
   */
  readonly identity?: string;
  readonly result: JournalResult;
  /** A short, redacted explanation (standard devices only). */
  readonly detail?: string;
}

/**
 * Events only the journal writes: its drop notices and its aggregates. A caller may not record
 * them (no one can forge a notice), and their detail, which holds only counts and times, is kept
 * even on a sensitive device, where every other detail is dropped.
 */
export const JOURNAL_MADE_EVENTS: ReadonlySet<string> = new Set([
  'journal-drop',
  'events-aggregated',
  'records-aggregated',
]);

const INPUT_KEYS = new Set(['surface', 'source', 'event', 'identity', 'result', 'detail']);
const STORED_KEYS = new Set(['seq', 'at', ...INPUT_KEYS]);
const EVENT_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const FINGERPRINT_PATTERN = /^sha256:[0-9a-f]{64}$/;
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Expands a valid IPv6 address (no zone) to its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let head = address;
  const tail: number[] = [];
  const lastColon = address.lastIndexOf(':');
  const last = address.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number) as [number, number, number, number];
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    head = address.slice(0, head.endsWith('::' + last) ? lastColon + 1 : lastColon);
  }
  const [left = '', right] = head.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const l = parse(left);
  const r = right === undefined ? [] : parse(right);
  const zeros = 8 - l.length - r.length - tail.length;
  return [...l, ...new Array<number>(Math.max(0, zeros)).fill(0), ...r, ...tail];
}

/** The canonical (RFC 5952) text of eight IPv6 groups. */
function ipv6Text(groups: readonly number[]): string {
  return new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
}

type ParsedAddress =
  { readonly version: 4; readonly text: string } | { readonly version: 6; readonly groups: number[] };

function parseAddress(raw: string): ParsedAddress | undefined {
  const host = raw.includes(':') ? raw.split('%')[0]! : raw;
  const version = isIP(host);
  if (version === 4) return { version: 4, text: host };
  if (version !== 6) return undefined;
  const groups = ipv6Groups(host.toLowerCase());
  if (groups.length !== 8) return undefined;
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 peer of a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return { version: 4, text: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}` };
  }
  return { version: 6, groups };
}

function normaliseSourceOrUndefined(raw: string): string | undefined {
  if (raw === 'local' || raw === 'unknown') return raw;
  if (raw.length > JOURNAL_ENTRY_LIMITS.maxSourceChars) return undefined;
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(raw);
  const v4WithPort = /^([0-9.]+):(\d{1,5})$/.exec(raw);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (v4WithPort) {
    host = v4WithPort[1]!;
    portText = v4WithPort[2];
  } else host = raw;
  const address = parseAddress(host);
  if (!address) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65_535) return undefined;
  if (address.version === 4) return port === undefined ? address.text : `${address.text}:${port}`;
  const text = ipv6Text(address.groups);
  return port === undefined ? text : `[${text}]:${port}`;
}

/**
 * The journal's form of a peer: 'a.b.c.d:port', '[v6]:port', or 'unknown' when the socket has
 * already lost its address. IPv4-mapped IPv6 addresses become plain IPv4.
 *
 * @example formatSource(socket.remoteAddress, socket.remotePort) // '192.0.2.7:53412'
 */
export function formatSource(address: string | undefined, port?: number): string {
  if (address === undefined || address === '') return 'unknown';
  const raw =
    port === undefined ? address : isIP(address.split('%')[0]!) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  return normaliseSourceOrUndefined(raw) ?? 'unknown';
}

/**
 * The privacy rule of a sensitive device: the port is dropped and the address is cut to its
 * network, /24 for IPv4 and /48 for IPv6 (the prefixes web analytics use to anonymise
 * addresses), so the journal still shows when, where from and how each attempt ended, but not
 * which machine of a household or which person behind an ISP made it. The IPv6 loopback stays
 * '::1/128' (it is the device itself). 'local' and 'unknown' are kept.
 */
export function coarsenSource(source: string): string {
  if (source === 'local' || source === 'unknown' || source.includes('/')) return source;
  const normalised = normaliseSourceOrUndefined(source);
  if (normalised === undefined) return 'unknown';
  const bracketed = /^\[([^\]]+)\]/.exec(normalised);
  const host = bracketed ? bracketed[1]! : normalised.replace(/:\d+$/, '');
  const address = parseAddress(host);
  if (!address) return 'unknown';
  if (address.version === 4) return `${address.text.split('.').slice(0, 3).join('.')}.0/24`;
  if (address.groups.slice(0, 7).every((g) => g === 0) && address.groups[7] === 1) return '::1/128';
  return `${ipv6Text([...address.groups.slice(0, 3), 0, 0, 0, 0, 0])}/48`;
}

/**
 * The address of a source without its port, and the key its records are counted under when the
 * journal aggregates a flood: the address for IPv4, the /64 for IPv6 (one host holds a whole /64),
 * the network itself for a coarsened source.
 */
export function aggregationKey(source: string): { readonly address: string; readonly key: string } {
  if (source.includes('/')) return { address: source, key: source };
  const bracketed = /^\[([^\]]+)\]/.exec(source);
  const host = bracketed ? bracketed[1]! : source.replace(/^([0-9.]+):\d+$/, '$1');
  const address = parseAddress(host);
  if (!address) return { address: source, key: source };
  if (address.version === 4) return { address: address.text, key: address.text };
  const prefix = ipv6Text([...address.groups.slice(0, 4), 0, 0, 0, 0]);
  return { address: ipv6Text(address.groups), key: `${prefix}/64` };
}

/** True for a network written by {@link coarsenSource}. */
function isCoarsenedSource(source: string): boolean {
  if (source === '::1/128') return true;
  const m = /^(.+)\/(24|48)$/.exec(source);
  if (!m) return false;
  const address = parseAddress(m[1]!);
  if (!address) return false;
  return coarsenSource(m[1]!) === source && (address.version === 4 ? m[2] === '24' : m[2] === '48');
}

function requireOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new JournalEntryError(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function requireEvent(value: unknown): string {
  if (typeof value !== 'string' || value.length > JOURNAL_ENTRY_LIMITS.maxEventChars || !EVENT_PATTERN.test(value)) {
    throw new JournalEntryError(
      'event',
      `must be kebab-case, at most ${JOURNAL_ENTRY_LIMITS.maxEventChars} characters`,
    );
  }
  return value;
}

function requireText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > JOURNAL_ENTRY_LIMITS.maxInputChars) {
    throw new JournalEntryError(field, `must be a string of at most ${JOURNAL_ENTRY_LIMITS.maxInputChars} characters`);
  }
  return value;
}

/**
 * Redacts, neutralises and cuts an identity; a certificate fingerprint ('sha256:' + 64 hex) is
 * public and kept whole.
 */
export function cleanIdentity(identity: string): string {
  if (FINGERPRINT_PATTERN.test(identity)) return identity;
  return truncateText(neutraliseText(redactSecrets(identity)).trim(), JOURNAL_ENTRY_LIMITS.maxIdentityChars);
}

/**
 * Redacts, neutralises and cuts a detail. Redaction runs on the whole text before the cut, so a
 * cut cannot expose part of a secret.
 */
export function cleanDetail(detail: string): string {
  return truncateText(neutraliseText(redactSecrets(detail)).trim(), JOURNAL_ENTRY_LIMITS.maxDetailChars);
}

/** The fields of an entry without its `seq` and `at`. */
export type JournalEntryFields = Omit<JournalEntry, 'seq' | 'at'>;

/**
 * Validates what a caller records and applies redaction and the privacy class.
 * @throws JournalEntryError naming the field at fault (never its value).
 */
export function prepareEntry(input: unknown, privacyClass: PrivacyClass): JournalEntryFields {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new JournalEntryError('entry', 'must be an object');
  }
  for (const key of Object.keys(input)) {
    if (!INPUT_KEYS.has(key))
      throw new JournalEntryError(key.slice(0, 32), 'is not a journal field (a journal has no place for secrets)');
  }
  const raw = input as Record<string, unknown>;
  const surface = requireOneOf('surface', raw.surface, JOURNAL_SURFACES);
  const result = requireOneOf('result', raw.result, JOURNAL_RESULTS);
  const event = requireEvent(raw.event);
  if (JOURNAL_MADE_EVENTS.has(event) || surface === 'journal')
    throw new JournalEntryError('event', 'is written only by the journal itself');
  if (typeof raw.source !== 'string')
    throw new JournalEntryError('source', "must be 'address:port', 'local' or 'unknown'");
  const normalised = normaliseSourceOrUndefined(raw.source);
  if (normalised === undefined) throw new JournalEntryError('source', "must be 'address:port', 'local' or 'unknown'");
  const source = privacyClass === 'sensitive' ? coarsenSource(normalised) : normalised;
  const identity = raw.identity === undefined ? undefined : cleanIdentity(requireText('identity', raw.identity));
  const detailText = raw.detail === undefined ? undefined : requireText('detail', raw.detail);
  const detail = detailText === undefined || privacyClass === 'sensitive' ? undefined : cleanDetail(detailText);
  return buildFields(surface, source, event, identity, result, detail);
}

function buildFields(
  surface: JournalSurface,
  source: string,
  event: string,
  identity: string | undefined,
  result: JournalResult,
  detail: string | undefined,
): JournalEntryFields {
  return {
    surface,
    source,
    event,
    ...(identity ? { identity } : {}),
    result,
    ...(detail ? { detail } : {}),
  };
}

/**
 * The fields of an entry the journal writes itself (a drop notice, an aggregate): its detail is
 * cleaned like any other but kept on every privacy class.
 */
export function journalMadeEntry(fields: JournalEntryFields, privacyClass: PrivacyClass): JournalEntryFields {
  const source = privacyClass === 'sensitive' ? coarsenSource(fields.source) : fields.source;
  const detail = fields.detail === undefined ? undefined : cleanDetail(fields.detail);
  return buildFields(fields.surface, source, fields.event, undefined, fields.result, detail);
}

/** The line written to the file for an entry (without the newline); keys in a fixed order. */
export function serialiseEntry(entry: JournalEntry): string {
  return JSON.stringify({
    seq: entry.seq,
    at: entry.at,
    surface: entry.surface,
    source: entry.source,
    event: entry.event,
    identity: entry.identity,
    result: entry.result,
    detail: entry.detail,
  });
}

function isCleanStoredText(value: unknown, maxChars: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxChars && neutraliseText(value) === value;
}

/**
 * Parses one line of the journal file into an entry, or undefined when the line is corrupt
 * (torn by a power cut, edited, or from a future format). The privacy class is applied again,
 * so a journal reopened as sensitive never shows what a standard one stored.
 */
export function parseStoredLine(line: string, privacyClass: PrivacyClass): JournalEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!STORED_KEYS.has(key)) return undefined;
  const { seq, at, surface, source, event, identity, result, detail } = raw;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof at !== 'string' || !ISO_PATTERN.test(at)) return undefined;
  const atMs = Date.parse(at);
  if (!Number.isFinite(atMs) || new Date(atMs).toISOString() !== at) return undefined;
  if (!(JOURNAL_SURFACES as readonly unknown[]).includes(surface)) return undefined;
  if (!(JOURNAL_RESULTS as readonly unknown[]).includes(result)) return undefined;
  if (typeof event !== 'string' || event.length > JOURNAL_ENTRY_LIMITS.maxEventChars || !EVENT_PATTERN.test(event))
    return undefined;
  if (typeof source !== 'string') return undefined;
  let storedSource: string | undefined;
  if (isCoarsenedSource(source)) storedSource = source;
  else {
    const normalised = normaliseSourceOrUndefined(source);
    if (normalised !== source) return undefined;
    storedSource = privacyClass === 'sensitive' ? coarsenSource(source) : source;
  }
  if (identity !== undefined && !isCleanStoredText(identity, JOURNAL_ENTRY_LIMITS.maxIdentityChars)) return undefined;
  if (detail !== undefined && !isCleanStoredText(detail, JOURNAL_ENTRY_LIMITS.maxDetailChars)) return undefined;
  return Object.freeze({
    seq,
    at,
    ...buildFields(
      surface as JournalSurface,
      storedSource,
      event,
      identity,
      result as JournalResult,
      privacyClass === 'sensitive' && !JOURNAL_MADE_EVENTS.has(event) ? undefined : detail,
    ),
  });
}

/** The privacy class for a model: 'sensitive' when it has a camera or a microphone. */
export function privacyClassFor(model: { readonly sensors: readonly string[] }): PrivacyClass {
  return model.sensors.includes('camera') || model.sensors.includes('microphone') ? 'sensitive' : 'standard';
}
