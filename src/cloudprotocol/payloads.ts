/**
 * The device-cloud payloads: their bounds, their shapes, strict parsers for every one, and the
 * sequence ranges that sync requests and receipts carry. Both ends parse here, so the cloud never
 * trusts a payload it has not parsed and the device never runs a command it has not.
 */
import { InvalidInputError } from '../errors/index.ts';

/** Bounds on every payload. */
export const PAYLOAD_LIMITS = Object.freeze({
  /** Largest payload either side accepts, bytes. */
  maxPayloadBytes: 4_096,
  /** Most named values in one telemetry message. */
  maxTelemetryValues: 16,
  /** Most capabilities in one state message. */
  maxStateEntries: 32,
  /** Most ranges in a sync request or a receipt. */
  maxRanges: 256,
  /** Longest string value, characters. */
  maxStringValue: 64,
  /** Largest sequence number (2^53 - 1: a JSON number that stays exact). */
  maxSeq: Number.MAX_SAFE_INTEGER,
  /** Most update outcomes in one firmware report (the newest; the device keeps no more). */
  maxFirmwareOutcomes: 8,
  /** Longest outcome detail (why an image was rolled back or refused), characters. */
  maxOutcomeDetail: 200,
  /** Longest certificate signing request or certificate (PEM), characters. */
  maxPemChars: 3_000,
});

/** A telemetry or state value. */
export type ScalarValue = number | boolean | string | null;

/** `devices/<serial>/telemetry`: a reading, numbered by the device's outbox. */
export interface TelemetryMessage {
  readonly seq: number;
  /** When the device took it, ms since the epoch (the device's clock). */
  readonly at: number;
  readonly values: Readonly<Record<string, ScalarValue>>;
}

/** `devices/<serial>/state`: every capability's current value. */
export interface StateMessage {
  readonly at: number;
  readonly capabilities: ReadonlyArray<{ readonly id: string; readonly value: ScalarValue }>;
}

/** `devices/<serial>/claim`: the claim window was opened by the button, or a factory reset released the claim. */
export interface ClaimMessage {
  readonly seq: number;
  readonly event: 'window-open' | 'release';
  readonly at: number;
}

/**
 * `devices/<serial>/claim-window`: the cloud opened the claim window a device's `window-open` (`seq`) asked
 * for, from `openedAt` to `until` (the cloud's clock, ms): the device tells its owner how long they have.
 */
export interface ClaimWindowMessage {
  readonly seq: number;
  readonly openedAt: number;
  readonly until: number;
}

/** `devices/<serial>/sync`: which of these sequence numbers has the cloud stored? */
export interface SyncMessage {
  readonly ranges: ReadonlyArray<readonly [number, number]>;
}

/** `devices/<serial>/receipts`: these sequence numbers (of those asked) are stored. */
export interface ReceiptMessage {
  readonly stored: ReadonlyArray<readonly [number, number]>;
}

/** `devices/<serial>/presence`: online (published on connect) or offline (the will). */
export interface PresenceMessage {
  readonly online: boolean;
}

/** `devices/<serial>/commands`: run `action` on `capability`; refused after `expiresAt`. */
export interface CommandMessage {
  readonly id: string;
  readonly capability: string;
  readonly action: string;
  readonly value?: ScalarValue;
  /** ms since the epoch; a command that arrives later is not run. */
  readonly expiresAt: number;
}

/**
 * The command of a household removal: the person of `value`'s name goes from the unit's own page (the owner removed
 * them from the household in the cloud). The only command that is not a model's capability; models cannot use its id.
 */
export const PERSON_REMOVAL = Object.freeze({
  capability: 'people',
  action: 'remove',
  /** A person's name as the pages store it (src/auth's isUserName states the same rule; this folder imports none). */
  name: /^[a-z0-9][a-z0-9._-]{0,31}$/,
});

/** Why a unit asks for an operational certificate. */
export const ENROL_REASONS = ['first', 'renewal', 'forced'] as const;

/**
 * `devices/<serial>/enrol`: a certificate signing request (PKCS#10, PEM, for a key the unit just
 * made; subject CN = its serial). `id` pairs the answer with the request.
 */
export interface EnrolMessage {
  readonly id: string;
  readonly csr: string;
  readonly reason: (typeof ENROL_REASONS)[number];
}

/**
 * `devices/<serial>/certificate`, from the cloud: the operational certificate issued for request
 * `id` (PEM), or why none was (`error`), or a request to renew now (`renew`: the maker rotated
 * the issuing CA or forced a fleet renewal; a unit whose certificate was issued before `before`
 * asks again).
 */
export type CertificateMessage =
  | { readonly id: string; readonly certificate: string }
  | { readonly id: string; readonly error: { readonly code: string; readonly message: string } }
  | { readonly renew: true; readonly before: number };

/** `devices/<serial>/replies`: the outcome of command `id`. */
export interface ReplyMessage {
  readonly id: string;
  readonly ok: boolean;
  readonly value?: ScalarValue;
  readonly error?: { readonly code: string; readonly message: string };
}

/** What became of an update on the device: the updater's decisions the cloud keeps. */
export const UPDATE_OUTCOMES = [
  'found',
  'downloaded',
  'installed',
  'healthy',
  'rolled-back',
  'refused',
  'failed',
] as const;

/** One update outcome ('healthy': the image committed itself after its trial boot). */
export type UpdateOutcomeKind = (typeof UPDATE_OUTCOMES)[number];

/** One outcome as the device reports it; `n` rises with every new outcome on this device. */
export interface FirmwareOutcome {
  readonly n: number;
  /** When it happened, ms since the epoch (the device's clock). */
  readonly at: number;
  readonly outcome: UpdateOutcomeKind;
  /** The image it concerns (for 'rolled-back': the image abandoned). */
  readonly version?: string;
  /** The error code of a refusal or failure. */
  readonly code?: string;
  /** Why, in words: the rollback's reason, the refusal's message. */
  readonly detail?: string;
}

/** The image a device runs: its version, security version, slot and the SHA-256 of its signed archive. */
export interface RunningFirmware {
  readonly version: string;
  readonly securityVersion: number;
  readonly slot: 'a' | 'b' | 'factory';
  /** Absent for a factory image that came with the package (no archive). */
  readonly sha256?: string;
  /** The last day of security updates the unit knows (its bundle's, or a later one signed since), YYYY-MM-DD. */
  readonly supportEndsOn?: string;
}

/** `devices/<serial>/firmware`: the running image and the newest update outcomes, oldest first. */
export interface FirmwareMessage {
  readonly at: number;
  readonly running: RunningFirmware;
  readonly outcomes: readonly FirmwareOutcome[];
}

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const VERSION = /^[0-9A-Za-z.+-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const COMMAND_ID = /^[A-Za-z0-9_-]{8,64}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function bad(what: string): never {
  throw new InvalidInputError(`bad ${what}`, { field: what });
}

function object(value: unknown, keys: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('message');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!keys.includes(k) && !optional.includes(k)) bad(`field ${k.slice(0, 32)}`);
  for (const k of keys) if (!Object.hasOwn(v, k)) bad(`field ${k}`);
  return v;
}

function int(value: unknown, what: string, min = 0, max = PAYLOAD_LIMITS.maxSeq): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) bad(what);
  return value;
}

function scalar(value: unknown, what: string): ScalarValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= PAYLOAD_LIMITS.maxStringValue && value.isWellFormed()) return value;
  return bad(what);
}

function ranges(value: unknown, what: string): Array<[number, number]> {
  if (!Array.isArray(value) || value.length > PAYLOAD_LIMITS.maxRanges) bad(what);
  return (value as unknown[]).map((r) => {
    if (!Array.isArray(r) || r.length !== 2) bad(what);
    const a = int(r[0], what),
      b = int(r[1], what);
    if (a > b) bad(what);
    return [a, b] as [number, number];
  });
}

/** Parses a payload's bytes as JSON within {@link PAYLOAD_LIMITS}. */
export function parseJsonPayload(payload: Uint8Array): unknown {
  if (payload.length > PAYLOAD_LIMITS.maxPayloadBytes) bad('payload size');
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return bad('JSON');
  }
}

/** Encodes a message as a payload. */
export function encodePayload(message: object): Buffer {
  const bytes = Buffer.from(JSON.stringify(message), 'utf8');
  if (bytes.length > PAYLOAD_LIMITS.maxPayloadBytes)
    throw new InvalidInputError('message too large', { bytes: bytes.length });
  return bytes;
}

/** Validates a telemetry message. */
export function parseTelemetry(value: unknown): TelemetryMessage {
  const v = object(value, ['seq', 'at', 'values']);
  const values = v.values;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) bad('values');
  const entries = Object.entries(values as Record<string, unknown>);
  if (entries.length > PAYLOAD_LIMITS.maxTelemetryValues) bad('values');
  const out: Record<string, ScalarValue> = {};
  for (const [k, x] of entries) {
    if (!NAME.test(k)) bad('value name');
    out[k] = scalar(x, 'value');
  }
  return { seq: int(v.seq, 'seq', 1), at: int(v.at, 'at'), values: out };
}

/** Validates a state message. */
export function parseState(value: unknown): StateMessage {
  const v = object(value, ['at', 'capabilities']);
  const caps = v.capabilities;
  if (!Array.isArray(caps) || caps.length > PAYLOAD_LIMITS.maxStateEntries) bad('capabilities');
  return {
    at: int(v.at, 'at'),
    capabilities: (caps as unknown[]).map((c) => {
      const e = object(c, ['id', 'value']);
      if (typeof e.id !== 'string' || !NAME.test(e.id)) bad('capability id');
      return { id: e.id, value: scalar(e.value, 'capability value') };
    }),
  };
}

/** Validates a claim message. */
export function parseClaim(value: unknown): ClaimMessage {
  const v = object(value, ['seq', 'event', 'at']);
  if (v.event !== 'window-open' && v.event !== 'release') bad('event');
  return { seq: int(v.seq, 'seq', 1), event: v.event, at: int(v.at, 'at') };
}

/** Validates a claim window's answer: it closes after it opens. */
export function parseClaimWindow(value: unknown): ClaimWindowMessage {
  const v = object(value, ['seq', 'openedAt', 'until']);
  const openedAt = int(v.openedAt, 'openedAt');
  const until = int(v.until, 'until');
  if (until < openedAt) bad('until');
  return { seq: int(v.seq, 'seq', 1), openedAt, until };
}

/** Validates a sync request. */
export function parseSync(value: unknown): SyncMessage {
  const v = object(value, ['ranges']);
  return { ranges: ranges(v.ranges, 'ranges') };
}

/** Validates a receipt. */
export function parseReceipt(value: unknown): ReceiptMessage {
  const v = object(value, ['stored']);
  return { stored: ranges(v.stored, 'stored') };
}

/** Validates a presence message. */
export function parsePresence(value: unknown): PresenceMessage {
  const v = object(value, ['online']);
  if (typeof v.online !== 'boolean') bad('online');
  return { online: v.online };
}

/** Validates a command. */
export function parseCommand(value: unknown): CommandMessage {
  const v = object(value, ['id', 'capability', 'action', 'expiresAt'], ['value']);
  if (typeof v.id !== 'string' || !COMMAND_ID.test(v.id)) bad('id');
  if (typeof v.capability !== 'string' || !NAME.test(v.capability)) bad('capability');
  if (typeof v.action !== 'string' || !NAME.test(v.action)) bad('action');
  return {
    id: v.id,
    capability: v.capability,
    action: v.action,
    expiresAt: int(v.expiresAt, 'expiresAt'),
    ...(Object.hasOwn(v, 'value') ? { value: scalar(v.value, 'value') } : {}),
  };
}

/** Validates a reply. */
export function parseReply(value: unknown): ReplyMessage {
  const v = object(value, ['id', 'ok'], ['value', 'error']);
  if (typeof v.id !== 'string' || !COMMAND_ID.test(v.id)) bad('id');
  if (typeof v.ok !== 'boolean') bad('ok');
  let error: ReplyMessage['error'];
  if (Object.hasOwn(v, 'error')) {
    const e = object(v.error, ['code', 'message']);
    if (typeof e.code !== 'string' || !CODE.test(e.code)) bad('error code');
    if (typeof e.message !== 'string' || e.message.length > 200) bad('error message');
    error = { code: e.code, message: e.message };
  }
  return {
    id: v.id,
    ok: v.ok,
    ...(Object.hasOwn(v, 'value') ? { value: scalar(v.value, 'value') } : {}),
    ...(error ? { error } : {}),
  };
}

function text(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.length > max || !value.isWellFormed() || /\p{Cc}/u.test(value)) bad(what);
  return value;
}

function pattern(value: unknown, what: string, re: RegExp): string {
  if (typeof value !== 'string' || !re.test(value)) bad(what);
  return value;
}

function calendarDate(value: unknown, what: string): string {
  const t = pattern(value, what, /^\d{4}-\d{2}-\d{2}$/);
  const ms = Date.parse(`${t}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(t) ? t : bad(what);
}

function runningFirmware(value: unknown): RunningFirmware {
  const v = object(value, ['version', 'securityVersion', 'slot'], ['sha256', 'supportEndsOn']);
  if (v.slot !== 'a' && v.slot !== 'b' && v.slot !== 'factory') bad('slot');
  return {
    version: pattern(v.version, 'version', VERSION),
    securityVersion: int(v.securityVersion, 'securityVersion'),
    slot: v.slot,
    ...(Object.hasOwn(v, 'sha256') ? { sha256: pattern(v.sha256, 'sha256', SHA256) } : {}),
    ...(Object.hasOwn(v, 'supportEndsOn') ? { supportEndsOn: calendarDate(v.supportEndsOn, 'supportEndsOn') } : {}),
  };
}

function firmwareOutcome(value: unknown): FirmwareOutcome {
  const v = object(value, ['n', 'at', 'outcome'], ['version', 'code', 'detail']);
  if (!(UPDATE_OUTCOMES as readonly unknown[]).includes(v.outcome)) bad('outcome');
  return {
    n: int(v.n, 'n', 1),
    at: int(v.at, 'at'),
    outcome: v.outcome as UpdateOutcomeKind,
    ...(Object.hasOwn(v, 'version') ? { version: pattern(v.version, 'version', VERSION) } : {}),
    ...(Object.hasOwn(v, 'code') ? { code: pattern(v.code, 'code', CODE) } : {}),
    ...(Object.hasOwn(v, 'detail') ? { detail: text(v.detail, 'detail', PAYLOAD_LIMITS.maxOutcomeDetail) } : {}),
  };
}

/** Validates a firmware report: the running image and at most {@link PAYLOAD_LIMITS}.maxFirmwareOutcomes outcomes. */
export function parseFirmware(value: unknown): FirmwareMessage {
  const v = object(value, ['at', 'running', 'outcomes']);
  const list = v.outcomes;
  if (!Array.isArray(list) || list.length > PAYLOAD_LIMITS.maxFirmwareOutcomes) bad('outcomes');
  const outcomes = (list as unknown[]).map(firmwareOutcome);
  if (new Set(outcomes.map((o) => o.n)).size !== outcomes.length) bad('outcomes');
  return { at: int(v.at, 'at'), running: runningFirmware(v.running), outcomes };
}

function pem(value: unknown, what: string, label: string): string {
  const t = typeof value === 'string' ? value : bad(what);
  const re = new RegExp(`^-----BEGIN ${label}-----\\r?\\n[A-Za-z0-9+/=\\r\\n]+-----END ${label}-----\\r?\\n?$`);
  if (t.length > PAYLOAD_LIMITS.maxPemChars || !re.test(t)) bad(what);
  return t;
}

/** Validates an enrolment request (the CSR's contents are checked by whoever signs it). */
export function parseEnrol(value: unknown): EnrolMessage {
  const v = object(value, ['id', 'csr', 'reason']);
  if (typeof v.id !== 'string' || !COMMAND_ID.test(v.id)) bad('id');
  if (!(ENROL_REASONS as readonly unknown[]).includes(v.reason)) bad('reason');
  return { id: v.id, csr: pem(v.csr, 'csr', 'CERTIFICATE REQUEST'), reason: v.reason as EnrolMessage['reason'] };
}

/** Validates the cloud's answer on the certificate topic. */
export function parseCertificateMessage(value: unknown): CertificateMessage {
  const v = object(value, [], ['id', 'certificate', 'error', 'renew', 'before']);
  if (Object.hasOwn(v, 'renew')) {
    if (v.renew !== true || Object.keys(v).length !== 2) bad('renew');
    return { renew: true, before: int(v.before, 'before') };
  }
  if (typeof v.id !== 'string' || !COMMAND_ID.test(v.id)) bad('id');
  if (Object.hasOwn(v, 'certificate') === Object.hasOwn(v, 'error') || Object.keys(v).length !== 2) bad('answer');
  if (Object.hasOwn(v, 'certificate'))
    return { id: v.id, certificate: pem(v.certificate, 'certificate', 'CERTIFICATE') };
  const e = object(v.error, ['code', 'message']);
  if (typeof e.code !== 'string' || !CODE.test(e.code)) bad('error code');
  return { id: v.id, error: { code: e.code, message: text(e.message, 'error message', 200) } };
}

// ---- sequence ranges -----------------------------------------------------------------------

/** Sorted, merged ranges covering `seqs` (at most `max` ranges: the rest is left out). */
export function toRanges(seqs: Iterable<number>, max: number = PAYLOAD_LIMITS.maxRanges): Array<[number, number]> {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else {
      if (out.length >= max) break;
      out.push([s, s]);
    }
  }
  return out;
}

/** True when `seq` lies in one of `ranges`. */
export function inRanges(seq: number, list: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [a, b] of list) if (seq >= a && seq <= b) return true;
  return false;
}
