// The pairing exchange as a pure core: messages, their strict schemas, the device's pairing
// window and the two sides' state machines. No sockets, timers or files: the caller passes
// `now` and carries the messages (src/pairing/transport.ts carries them over the channel).
//
// The exchange runs inside a TLS 1.3 connection in which each side showed its own
// self-signed key. Messages are the string values of channel requests (hub -> device,
// capability 'pairing', action = message type) and of their answers (device -> hub).
//
//   setup code                                   push button
//   hub -> hello {mode: setup-code}               hub -> hello {mode: push-button}
//   dev <- params {serial, model, salt, iter,     dev <- fingerprints {serial, model, hub, device,
//                  modelBytes}                                    modelBytes}
//   hub -> model {i}     (for each part i)        hub -> model {i}     (for each part i)
//   dev <- model {i, d}                           dev <- model {i, d}
//   hub -> share {x}                              hub -> fingerprints {hub, device}
//   dev <- share {y, cv}                          dev <- paired {}
//   hub -> confirm {cp}
//   dev <- paired {mac}
//
// The device gives the hub its model document (the canonical bulwark.model/v1 JSON from its
// bundle, at most 64 KiB) in parts of PAIRING_MODEL_PART_BYTES, because a channel value holds
// 256 characters. The parts travel inside the TLS connection whose keys the exchange then
// confirms, so a hub that pairs knows the document came from the device it pinned. The hub
// judges the document (`acceptModel`) before the step that decides: a model it refuses (another
// id, or push button for a lock) ends the exchange before the device spends an attempt or pins
// the hub. `modelBytes` is optional so a device without a model document still pairs (the hub
// then falls back to the model id).
//
// In setup-code mode the SPAKE2+ transcript names both TLS keys as each side sees them
// (idProver = the hub's SPKI SHA-256, idVerifier = the device's), so a TLS-terminating proxy,
// which must show each side a key of its own, makes the confirmations fail on both sides. The
// device answers 'paired' with a MAC under the shared key over both pins, so the hub knows the
// device pinned exactly its key. The device counts an attempt as failed from the moment it
// answers a share: a hub that learns from the device's confirmation that its guess was wrong
// and hangs up has still spent one of the window's attempts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, integerSettings } from '../errors/index.ts';
import { PairingError } from './errors.ts';
import {
  DEFAULT_SPAKE2PLUS_CONTEXT,
  SPAKE2PLUS_MAC_BYTES,
  SPAKE2PLUS_SHARE_BYTES,
  finishProver,
  finishVerifier,
  respondVerifier,
  startProver,
  type Spake2PlusProverState,
  type Spake2PlusVerifierState,
} from './spake2plus.ts';
import { deriveSetupCodeSecrets, normaliseSetupCode, pairingVerifierLimits, type PairingVerifier } from './verifier.ts';
import { curve, pointToBytes } from './group.ts';

/** The channel capability name the exchange's requests use. */
export const PAIRING_CAPABILITY = 'pairing';

/** How a hub pairs: by the device's setup code (SPAKE2+) or, for models that allow it, by push button. */
export type PairingMode = 'setup-code' | 'push-button';
export const PAIRING_MODES: readonly PairingMode[] = Object.freeze(['setup-code', 'push-button']);

/** Why the device refused a step; each is also the code of the hub's {@link PairingRefusedError}. */
export const PAIRING_REFUSAL_CODES = Object.freeze([
  'PAIRING_WINDOW_CLOSED', // no window open (or it expired, or another hub paired in it)
  'PAIRING_TOO_MANY_ATTEMPTS', // the window closed after its failure limit; a new one must be opened
  'PAIRING_PUSH_BUTTON_REFUSED', // this model pairs by setup code only (lock, camera, microphone)
  'PAIRING_CONFIRMATION_FAILED', // the hub's confirmation did not match: wrong code or tampered exchange
  'PAIRING_FINGERPRINT_MISMATCH', // push button: the keys each side saw differ (a proxy in between)
  'PAIRING_HUB_LIMIT', // the device already holds as many hubs as it keeps
  'PAIRING_BUSY', // too many pairing exchanges at once
  'PAIRING_BAD_MESSAGE', // malformed or out-of-order message
  'PAIRING_TIMEOUT', // the exchange took longer than allowed
] as const);
export type PairingRefusalCode = (typeof PAIRING_REFUSAL_CODES)[number];

/** The device refused the exchange (window closed, too many attempts, push button refused...). */
export class PairingRefusedError extends PairingError {
  constructor(code: PairingRefusalCode, message: string = REFUSAL_TEXT[code]) {
    super(code, message);
  }
}

const REFUSAL_TEXT: Record<PairingRefusalCode, string> = {
  PAIRING_WINDOW_CLOSED: 'the device has no pairing window open: press its button or open one on its admin page',
  PAIRING_TOO_MANY_ATTEMPTS: 'the pairing window closed after too many failed attempts: open a new one on the device',
  PAIRING_PUSH_BUTTON_REFUSED: 'this device pairs only by setup code (its risk class forbids push-button pairing)',
  PAIRING_CONFIRMATION_FAILED: 'key confirmation failed: wrong setup code, or someone is between hub and device',
  PAIRING_FINGERPRINT_MISMATCH: 'the keys hub and device saw differ: someone is between them',
  PAIRING_HUB_LIMIT: 'the device is paired with as many hubs as it keeps: unpair one first',
  PAIRING_BUSY: 'the device is busy with other pairing attempts: try again shortly',
  PAIRING_BAD_MESSAGE: 'malformed or out-of-order pairing message',
  PAIRING_TIMEOUT: 'the pairing exchange took too long',
};

/** Limits of pairing; times in ms. */
export interface PairingConfig {
  /** A window closes this long after it opened, ms. */
  readonly windowMs: number;
  /** Failed attempts that close a window; the next attempt is refused. */
  readonly maxFailures: number;
  /** One exchange (connection) must finish within this, ms. */
  readonly exchangeTimeoutMs: number;
  /** Pairing connections (unpaired peers) served at once. */
  readonly maxExchanges: number;
  /** Hubs a device keeps. */
  readonly maxHubs: number;
  /** The most PBKDF2 iterations a hub computes for a device's setup code (Matter's maximum). */
  readonly maxIterations: number;
}

/** The secure default: a 5-minute window, 20 failures. */
export const defaultPairingConfig: Readonly<PairingConfig> = Object.freeze({
  windowMs: 300_000,
  maxFailures: 20,
  exchangeTimeoutMs: 10_000,
  maxExchanges: 4,
  maxHubs: 8,
  maxIterations: 100_000,
});

const requireInt = integerSettings('PAIRING_CONFIG_INVALID');

/** Validates a partial config against the defaults, naming the key at fault. */
export function validatePairingConfig(config: Partial<PairingConfig> = {}): PairingConfig {
  for (const key of Object.keys(config)) {
    if (!Object.hasOwn(defaultPairingConfig, key))
      throw new ConfigError('PAIRING_CONFIG_INVALID', key, 'is not a pairing setting');
  }
  const c = { ...defaultPairingConfig, ...config };
  return Object.freeze({
    // Longer than 10 minutes is not a "short window"; shorter than a second is unusable.
    windowMs: requireInt('windowMs', c.windowMs, 1_000, 600_000),
    maxFailures: requireInt('maxFailures', c.maxFailures, 1, 100),
    exchangeTimeoutMs: requireInt('exchangeTimeoutMs', c.exchangeTimeoutMs, 100, 60_000),
    maxExchanges: requireInt('maxExchanges', c.maxExchanges, 1, 64),
    maxHubs: requireInt('maxHubs', c.maxHubs, 1, 64),
    maxIterations: requireInt(
      'maxIterations',
      c.maxIterations,
      pairingVerifierLimits.minIterations,
      pairingVerifierLimits.maxIterations,
    ),
  });
}

// ---- messages ---------------------------------------------------------------------------

/** Bytes of a key pin (SHA-256 of a SubjectPublicKeyInfo). */
export const PAIRING_PIN_BYTES = 32;
const MAX_MESSAGE_CHARS = 256; // a channel string value's limit
/** Largest model document a device may give while pairing, bytes; a hub refuses a larger one. */
export const MAX_PAIRING_MODEL_BYTES = 65_536;
/** Bytes of the model document in one 'model' answer: its base64 and the fields fit a channel value. */
export const PAIRING_MODEL_PART_BYTES = 150;
/** Parts of the largest model document. */
const MAX_MODEL_PARTS = Math.ceil(MAX_PAIRING_MODEL_BYTES / PAIRING_MODEL_PART_BYTES);
const SERIAL = /^[A-Z]{3}-[A-Z2-9]{10}$/;
const MODEL = /^[a-z][a-z0-9-]{0,31}$/;

/** A message from hub to device; `t` is also the request's action. */
export type HubPairingMessage =
  | { readonly t: 'hello'; readonly mode: PairingMode }
  | { readonly t: 'share'; readonly x: Uint8Array }
  | { readonly t: 'confirm'; readonly cp: Uint8Array }
  | { readonly t: 'fingerprints'; readonly hub: Uint8Array; readonly device: Uint8Array }
  | { readonly t: 'model'; readonly i: number };

/** A message from device to hub: the answer to one hub message. */
export type DevicePairingMessage =
  | {
      readonly t: 'params';
      readonly serial: string;
      readonly model: string;
      readonly salt: Uint8Array;
      readonly iterations: number;
      /** Bytes of the model document the device will give, part by part. */
      readonly modelBytes?: number;
    }
  | {
      readonly t: 'fingerprints';
      readonly serial: string;
      readonly model: string;
      readonly hub: Uint8Array;
      readonly device: Uint8Array;
      readonly modelBytes?: number;
    }
  | { readonly t: 'model'; readonly i: number; readonly d: Uint8Array }
  | { readonly t: 'share'; readonly y: Uint8Array; readonly cv: Uint8Array }
  | { readonly t: 'paired'; readonly mac?: Uint8Array }
  | { readonly t: 'refused'; readonly code: PairingRefusalCode };

const HUB_ACTIONS: ReadonlySet<string> = new Set(['hello', 'share', 'confirm', 'fingerprints', 'model']);
const REFUSAL_CODES: ReadonlySet<string> = new Set(PAIRING_REFUSAL_CODES);

function badMessage(reason: string): PairingError {
  return new PairingError('PAIRING_BAD_MESSAGE', `pairing message refused: ${reason}`);
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

// Canonical base64 of an exact length: one encoding per value.
function bytesField(v: unknown, field: string, length: number): Uint8Array {
  if (typeof v !== 'string' || v.length !== 4 * Math.ceil(length / 3) || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
    throw badMessage(`${field} must be base64 of ${length} bytes`);
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length !== length || bytes.toString('base64') !== v)
    throw badMessage(`${field} must be canonical base64 of ${length} bytes`);
  return new Uint8Array(bytes);
}

function saltField(v: unknown): Uint8Array {
  const { minSaltBytes, maxSaltBytes } = pairingVerifierLimits;
  if (
    typeof v !== 'string' ||
    v.length > 4 * Math.ceil(maxSaltBytes / 3) ||
    v.length % 4 !== 0 ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(v)
  )
    throw badMessage('salt must be base64');
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length < minSaltBytes || bytes.length > maxSaltBytes || bytes.toString('base64') !== v)
    throw badMessage(`salt must be canonical base64 of ${minSaltBytes} to ${maxSaltBytes} bytes`);
  return new Uint8Array(bytes);
}

function integerField(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw badMessage(`${field} must be an integer from ${min} to ${max}`);
  return v;
}

/** The optional `modelBytes` of params and fingerprints: a document over the bound is refused here. */
function modelBytesOf(f: Record<string, unknown>): { modelBytes?: number } {
  if (!('modelBytes' in f)) return {};
  return { modelBytes: integerField(f.modelBytes, 'modelBytes', 1, MAX_PAIRING_MODEL_BYTES) };
}

// One part of the model document: canonical base64 of 1 to PAIRING_MODEL_PART_BYTES bytes.
function partField(v: unknown): Uint8Array {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4 * Math.ceil(PAIRING_MODEL_PART_BYTES / 3))
    throw badMessage('d must be base64 of a model part');
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length === 0 || bytes.length > PAIRING_MODEL_PART_BYTES || bytes.toString('base64') !== v)
    throw badMessage(`d must be canonical base64 of 1 to ${PAIRING_MODEL_PART_BYTES} bytes`);
  return new Uint8Array(bytes);
}

function stringField(v: unknown, field: string, pattern: RegExp): string {
  if (typeof v !== 'string' || !pattern.test(v)) throw badMessage(`${field} is malformed`);
  return v;
}

/** Parses the JSON text of a message into its own-data fields, with exactly `keys` (plus 'v' and 't'). */
function fieldsOf(
  text: unknown,
  t: string,
  keys: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (typeof text !== 'string' || text.length > MAX_MESSAGE_CHARS || text[0] !== '{')
    throw badMessage('not a pairing message');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badMessage('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badMessage('not an object');
  const obj = value as Record<string, unknown>;
  const allowed = new Set(['v', 't', ...keys, ...optional]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) throw badMessage('unexpected field');
  for (const k of ['v', 't', ...keys]) if (!Object.hasOwn(obj, k)) throw badMessage(`missing field ${k}`);
  if (obj.v !== 1) throw badMessage('unknown version');
  if (obj.t !== t) throw badMessage('wrong message type');
  return obj;
}

function messageType(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length > MAX_MESSAGE_CHARS) return undefined;
  const m = /^\{"v":1,"t":"([a-z]{1,16})"/.exec(text);
  return m?.[1];
}

/** Encodes a hub message as the request's action and string value. */
export function encodeHubMessage(m: HubPairingMessage): { action: string; value: string } {
  let body: Record<string, unknown>;
  switch (m.t) {
    case 'hello':
      body = { mode: m.mode };
      break;
    case 'share':
      body = { x: b64(m.x) };
      break;
    case 'confirm':
      body = { cp: b64(m.cp) };
      break;
    case 'fingerprints':
      body = { hub: b64(m.hub), device: b64(m.device) };
      break;
    case 'model':
      body = { i: m.i };
      break;
  }
  return { action: m.t, value: JSON.stringify({ v: 1, t: m.t, ...body }) };
}

/** Parses a hub message from a request's action and value. Throws PairingError 'PAIRING_BAD_MESSAGE'. */
export function parseHubMessage(action: unknown, value: unknown): HubPairingMessage {
  if (typeof action !== 'string' || !HUB_ACTIONS.has(action)) throw badMessage('unknown action');
  switch (action) {
    case 'hello': {
      const f = fieldsOf(value, 'hello', ['mode']);
      if (f.mode !== 'setup-code' && f.mode !== 'push-button') throw badMessage('unknown mode');
      return { t: 'hello', mode: f.mode };
    }
    case 'share': {
      const f = fieldsOf(value, 'share', ['x']);
      return { t: 'share', x: bytesField(f.x, 'x', SPAKE2PLUS_SHARE_BYTES) };
    }
    case 'confirm': {
      const f = fieldsOf(value, 'confirm', ['cp']);
      return { t: 'confirm', cp: bytesField(f.cp, 'cp', SPAKE2PLUS_MAC_BYTES) };
    }
    case 'model': {
      const f = fieldsOf(value, 'model', ['i']);
      return { t: 'model', i: integerField(f.i, 'i', 0, MAX_MODEL_PARTS - 1) };
    }
    default: {
      const f = fieldsOf(value, 'fingerprints', ['hub', 'device']);
      return {
        t: 'fingerprints',
        hub: bytesField(f.hub, 'hub', PAIRING_PIN_BYTES),
        device: bytesField(f.device, 'device', PAIRING_PIN_BYTES),
      };
    }
  }
}

function modelBytesBody(modelBytes: number | undefined): { modelBytes?: number } {
  return modelBytes === undefined ? {} : { modelBytes };
}

/** Encodes a device message as the response's string value. */
export function encodeDeviceMessage(m: DevicePairingMessage): string {
  let body: Record<string, unknown>;
  switch (m.t) {
    case 'params':
      body = {
        serial: m.serial,
        model: m.model,
        salt: b64(m.salt),
        iterations: m.iterations,
        ...modelBytesBody(m.modelBytes),
      };
      break;
    case 'fingerprints':
      body = {
        serial: m.serial,
        model: m.model,
        hub: b64(m.hub),
        device: b64(m.device),
        ...modelBytesBody(m.modelBytes),
      };
      break;
    case 'model':
      body = { i: m.i, d: b64(m.d) };
      break;
    case 'share':
      body = { y: b64(m.y), cv: b64(m.cv) };
      break;
    case 'paired':
      body = m.mac ? { mac: b64(m.mac) } : {};
      break;
    case 'refused':
      body = { code: m.code };
      break;
  }
  return JSON.stringify({ v: 1, t: m.t, ...body });
}

/** Parses a device message (a response value). Throws PairingError 'PAIRING_BAD_MESSAGE'. */
export function parseDeviceMessage(value: unknown): DevicePairingMessage {
  switch (messageType(value)) {
    case 'params': {
      const f = fieldsOf(value, 'params', ['serial', 'model', 'salt', 'iterations'], ['modelBytes']);
      const { minIterations, maxIterations } = pairingVerifierLimits;
      if (
        typeof f.iterations !== 'number' ||
        !Number.isSafeInteger(f.iterations) ||
        f.iterations < minIterations ||
        f.iterations > maxIterations
      ) {
        throw badMessage('iterations out of range');
      }
      return {
        t: 'params',
        serial: stringField(f.serial, 'serial', SERIAL),
        model: stringField(f.model, 'model', MODEL),
        salt: saltField(f.salt),
        iterations: f.iterations,
        ...modelBytesOf(f),
      };
    }
    case 'fingerprints': {
      const f = fieldsOf(value, 'fingerprints', ['serial', 'model', 'hub', 'device'], ['modelBytes']);
      return {
        t: 'fingerprints',
        serial: stringField(f.serial, 'serial', SERIAL),
        model: stringField(f.model, 'model', MODEL),
        hub: bytesField(f.hub, 'hub', PAIRING_PIN_BYTES),
        device: bytesField(f.device, 'device', PAIRING_PIN_BYTES),
        ...modelBytesOf(f),
      };
    }
    case 'model': {
      const f = fieldsOf(value, 'model', ['i', 'd']);
      return { t: 'model', i: integerField(f.i, 'i', 0, MAX_MODEL_PARTS - 1), d: partField(f.d) };
    }
    case 'share': {
      const f = fieldsOf(value, 'share', ['y', 'cv']);
      return {
        t: 'share',
        y: bytesField(f.y, 'y', SPAKE2PLUS_SHARE_BYTES),
        cv: bytesField(f.cv, 'cv', SPAKE2PLUS_MAC_BYTES),
      };
    }
    case 'paired': {
      const f = fieldsOf(value, 'paired', [], ['mac']);
      return 'mac' in f ? { t: 'paired', mac: bytesField(f.mac, 'mac', SPAKE2PLUS_MAC_BYTES) } : { t: 'paired' };
    }
    case 'refused': {
      const f = fieldsOf(value, 'refused', ['code']);
      if (typeof f.code !== 'string' || !REFUSAL_CODES.has(f.code)) throw badMessage('unknown refusal code');
      return { t: 'refused', code: f.code as PairingRefusalCode };
    }
    default:
      throw badMessage('unknown message type');
  }
}

/** The SPAKE2+ context: the protocol, its version and the mode, so no transcript serves another use. */
export const PAIRING_CONTEXT = `${DEFAULT_SPAKE2PLUS_CONTEXT} setup-code`;

/**
 * The MAC the device sends with 'paired': under the shared key, over both pins, so the hub knows
 * which key the device pinned.
 */
export function pairedMac(sharedKey: Uint8Array, hubPin: Uint8Array, devicePin: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac('sha256', sharedKey).update('bulwark-pairing/1 paired').update(hubPin).update(devicePin).digest(),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---- the device's pairing window ----------------------------------------------------------

/** Why the window is shut. */
export type PairingWindowClosedReason = 'never-opened' | 'expired' | 'paired' | 'too-many-failures' | 'closed';

/** A snapshot of the window. */
export interface PairingWindowStatus {
  readonly open: boolean;
  /** When it closes (ms, on the caller's clock), while open. */
  readonly closesAt?: number;
  /** Attempts that did not succeed in this window (those under way included). */
  readonly failures: number;
  /** Why it is shut, when shut. */
  readonly reason?: PairingWindowClosedReason;
  /** What opened it last ('button', 'owner'). */
  readonly openedBy?: string;
}

/**
 * The device's pairing window: opened by a physical act, shut by time, by a success or by
 * `maxFailures` failed attempts. Pure: every call takes `now`.
 *
 * @example
 * const window = new PairingWindow(config);
 * window.open(performance.now(), 'button');
 * const refusal = window.beginAttempt(performance.now()); // undefined: go on; else refuse with it
 */
export class PairingWindow {
  readonly config: PairingConfig;
  #open = false;
  #closesAt = 0;
  #failures = 0;
  #reason: PairingWindowClosedReason = 'never-opened';
  #openedBy: string | undefined;

  constructor(config?: Partial<PairingConfig>) {
    this.config = validatePairingConfig(config);
  }

  /** Opens (or re-opens, with a fresh count) the window for `windowMs`. */
  open(now: number, openedBy: string): PairingWindowStatus {
    this.#open = true;
    this.#closesAt = now + this.config.windowMs;
    this.#failures = 0;
    this.#openedBy = openedBy;
    return this.status(now);
  }

  /** Shuts the window (`reason` is kept for the status). */
  close(reason: PairingWindowClosedReason = 'closed'): void {
    if (!this.#open) return;
    this.#open = false;
    this.#reason = reason;
  }

  /** The window now; an expired window is shut here. */
  status(now: number): PairingWindowStatus {
    if (this.#open && now >= this.#closesAt) this.close('expired');
    return this.#open
      ? {
          open: true,
          closesAt: this.#closesAt,
          failures: this.#failures,
          ...(this.#openedBy ? { openedBy: this.#openedBy } : {}),
        }
      : {
          open: false,
          failures: this.#failures,
          reason: this.#reason,
          ...(this.#openedBy ? { openedBy: this.#openedBy } : {}),
        };
  }

  /** The refusal for a step now, or undefined when the window admits it. */
  admit(now: number): PairingRefusalCode | undefined {
    const s = this.status(now);
    if (s.open) return undefined;
    return s.reason === 'too-many-failures' ? 'PAIRING_TOO_MANY_ATTEMPTS' : 'PAIRING_WINDOW_CLOSED';
  }

  /**
   * Starts an attempt that tests a secret: counts it as failed until {@link succeed} says
   * otherwise, so an attempt abandoned half-way still counts. Returns a refusal instead when
   * the window is shut or its attempts are spent.
   */
  beginAttempt(now: number): PairingRefusalCode | undefined {
    const refusal = this.admit(now);
    if (refusal) return refusal;
    this.#failures++;
    if (this.#failures >= this.config.maxFailures) {
      // This attempt is the last one the window allows; it goes on, the next is refused.
      this.#open = false;
      this.#reason = 'too-many-failures';
    }
    return undefined;
  }

  /** The attempt begun last succeeded: it is not a failure, and the window shuts. */
  succeed(): void {
    this.#failures = Math.max(0, this.#failures - 1);
    this.#open = false;
    this.#reason = 'paired';
  }
}

// ---- the device side of one exchange -----------------------------------------------------

/** What the device knows for an exchange. */
export interface DevicePairingContext {
  readonly serial: string;
  readonly model: string;
  /** The model document (canonical bulwark.model/v1 JSON, UTF-8) the hub is given part by part. */
  readonly modelDocument?: Uint8Array;
  readonly allowsPushButton: boolean;
  /** The setup-code verifier (w0, L) and its PBKDF2 parameters. */
  readonly verifier: PairingVerifier & { readonly salt: Uint8Array; readonly iterations: number };
  /** The device's own key pin, and the peer's as this TLS connection showed it. */
  readonly ownPin: Uint8Array;
  readonly peerPin: Uint8Array;
  readonly window: PairingWindow;
  /** Hubs already paired (for the `maxHubs` limit). */
  readonly hubCount: () => number;
}

/** What happened in a step, for the journal and the caller's state. */
export type DevicePairingOutcome =
  | { readonly kind: 'paired'; readonly mode: PairingMode; readonly hubPin: Uint8Array }
  | { readonly kind: 'failed'; readonly code: PairingRefusalCode; readonly mode?: PairingMode }
  | { readonly kind: 'refused'; readonly code: PairingRefusalCode; readonly mode?: PairingMode };

/** The device's answer to one step: the string to answer with, and whether the exchange is over. */
export interface DevicePairingStep {
  readonly reply: string;
  readonly done: boolean;
  readonly outcome?: DevicePairingOutcome;
}

type DeviceExchangeState =
  | { readonly s: 'start' }
  | { readonly s: 'await-share' }
  | { readonly s: 'await-confirm'; readonly spake: Spake2PlusVerifierState }
  | { readonly s: 'await-fingerprints' }
  | { readonly s: 'done' };

/**
 * The device's side of one pairing exchange (one connection from an unpaired peer).
 *
 * @example
 * const exchange = new DevicePairingExchange(context);
 * conn.onRequest(({ action, value }) => { const step = exchange.step(action, value, now()); ...; return step.reply; });
 */
export class DevicePairingExchange {
  readonly #ctx: DevicePairingContext;
  #state: DeviceExchangeState = { s: 'start' };
  #mode: PairingMode | undefined;
  /** The next part of the model document the hub may ask for: parts go once each, in order. */
  #nextPart = 0;

  constructor(ctx: DevicePairingContext) {
    this.#ctx = ctx;
  }

  /** Whether the exchange has ended (a success, a failure or a refusal). */
  get done(): boolean {
    return this.#state.s === 'done';
  }

  /**
   * The connection ended mid-exchange. When an attempt was under way (the device had answered
   * a share, so the hub could check its guess) it stays a failure, returned for the journal.
   */
  abandon(): DevicePairingOutcome | undefined {
    const pending = this.#state.s === 'await-confirm';
    this.#state = { s: 'done' };
    return pending ? { kind: 'failed', code: 'PAIRING_CONFIRMATION_FAILED', mode: 'setup-code' } : undefined;
  }

  #end(reply: DevicePairingMessage, outcome?: DevicePairingOutcome): DevicePairingStep {
    this.#state = { s: 'done' };
    return { reply: encodeDeviceMessage(reply), done: true, ...(outcome ? { outcome } : {}) };
  }

  #refuse(code: PairingRefusalCode, counted = false): DevicePairingStep {
    const mode = this.#mode ? { mode: this.#mode } : {};
    return this.#end(
      { t: 'refused', code },
      counted ? { kind: 'failed', code, ...mode } : { kind: 'refused', code, ...mode },
    );
  }

  /** Takes the hub's next request (action and value) and answers it. Never throws. */
  step(action: unknown, value: unknown, now: number): DevicePairingStep {
    const state = this.#state;
    if (state.s === 'done')
      return { reply: encodeDeviceMessage({ t: 'refused', code: 'PAIRING_BAD_MESSAGE' }), done: true };
    let message: HubPairingMessage;
    try {
      message = parseHubMessage(action, value);
    } catch {
      // A malformed message after a share was answered ends an attempt that stays counted.
      return this.#refuse('PAIRING_BAD_MESSAGE', state.s === 'await-confirm');
    }
    if (message.t === 'model' && (state.s === 'await-share' || state.s === 'await-fingerprints'))
      return this.#onModel(message.i);
    switch (state.s) {
      case 'start':
        return this.#onHello(message, now);
      case 'await-share':
        return this.#onShare(message, now);
      case 'await-confirm':
        return this.#onConfirm(state.spake, message, now);
      case 'await-fingerprints':
        return this.#onFingerprints(message, now);
    }
  }

  /** 'start': the hub's hello opens the exchange in its mode, if the window admits it. */
  #onHello(message: HubPairingMessage, now: number): DevicePairingStep {
    const ctx = this.#ctx;
    if (message.t !== 'hello') return this.#refuse('PAIRING_BAD_MESSAGE');
    this.#mode = message.mode;
    if (message.mode === 'push-button' && !ctx.allowsPushButton) return this.#refuse('PAIRING_PUSH_BUTTON_REFUSED');
    const refusal = ctx.window.admit(now);
    if (refusal) return this.#refuse(refusal);
    if (ctx.hubCount() >= ctx.window.config.maxHubs) return this.#refuse('PAIRING_HUB_LIMIT');
    if (message.mode === 'setup-code') {
      this.#state = { s: 'await-share' };
      return {
        reply: encodeDeviceMessage({
          t: 'params',
          serial: ctx.serial,
          model: ctx.model,
          salt: ctx.verifier.salt,
          iterations: ctx.verifier.iterations,
          ...modelBytesBody(ctx.modelDocument?.length),
        }),
        done: false,
      };
    }
    this.#state = { s: 'await-fingerprints' };
    return {
      reply: encodeDeviceMessage({
        t: 'fingerprints',
        serial: ctx.serial,
        model: ctx.model,
        hub: ctx.peerPin,
        device: ctx.ownPin,
        ...modelBytesBody(ctx.modelDocument?.length),
      }),
      done: false,
    };
  }

  /** After params or fingerprints: part `i` of the model document. Tests no secret, so counts nothing. */
  #onModel(i: number): DevicePairingStep {
    const doc = this.#ctx.modelDocument;
    const start = i * PAIRING_MODEL_PART_BYTES;
    if (!doc || i !== this.#nextPart || start >= doc.length) return this.#refuse('PAIRING_BAD_MESSAGE');
    this.#nextPart++;
    const d = doc.subarray(start, start + PAIRING_MODEL_PART_BYTES);
    return { reply: encodeDeviceMessage({ t: 'model', i, d }), done: false };
  }

  /** 'await-share': answers the hub's SPAKE2+ share; from here the attempt counts. */
  #onShare(message: HubPairingMessage, now: number): DevicePairingStep {
    const ctx = this.#ctx;
    if (message.t !== 'share') return this.#refuse('PAIRING_BAD_MESSAGE');
    const closed = ctx.window.admit(now);
    if (closed) return this.#refuse(closed);
    let answer: ReturnType<typeof respondVerifier>;
    try {
      answer = respondVerifier(
        {
          w0: ctx.verifier.w0,
          L: ctx.verifier.L,
          context: PAIRING_CONTEXT,
          idProver: ctx.peerPin,
          idVerifier: ctx.ownPin,
        },
        message.x,
      );
    } catch {
      // Not a point of the group: it tests no code, so it is refused without counting.
      return this.#refuse('PAIRING_BAD_MESSAGE');
    }
    // From here the hub can check its guess against our confirmation: the attempt counts.
    const refusal = ctx.window.beginAttempt(now);
    if (refusal) return this.#refuse(refusal);
    this.#state = { s: 'await-confirm', spake: answer.state };
    return { reply: encodeDeviceMessage({ t: 'share', y: answer.shareV, cv: answer.confirmV }), done: false };
  }

  /** 'await-confirm': checks the hub's confirmation and, when it holds, pairs with the MAC over both pins. */
  #onConfirm(spake: Spake2PlusVerifierState, message: HubPairingMessage, now: number): DevicePairingStep {
    const ctx = this.#ctx;
    if (message.t !== 'confirm') return this.#refuse('PAIRING_BAD_MESSAGE', true);
    let sharedKey: Uint8Array;
    try {
      sharedKey = finishVerifier(spake, message.cp).sharedKey;
    } catch {
      return this.#refuse('PAIRING_CONFIRMATION_FAILED', true);
    }
    // The window may have shut meanwhile (expired, or another hub paired first).
    if (!ctx.window.status(now).open && ctx.window.status(now).reason !== 'too-many-failures')
      return this.#refuse('PAIRING_WINDOW_CLOSED', true);
    if (ctx.hubCount() >= ctx.window.config.maxHubs) return this.#refuse('PAIRING_HUB_LIMIT', true);
    ctx.window.succeed();
    return this.#end(
      { t: 'paired', mac: pairedMac(sharedKey, ctx.peerPin, ctx.ownPin) },
      { kind: 'paired', mode: 'setup-code', hubPin: ctx.peerPin },
    );
  }

  /** 'await-fingerprints' (push-button): pairs when the hub saw the same two pins. */
  #onFingerprints(message: HubPairingMessage, now: number): DevicePairingStep {
    const ctx = this.#ctx;
    if (message.t !== 'fingerprints') return this.#refuse('PAIRING_BAD_MESSAGE');
    const refusal = ctx.window.beginAttempt(now);
    if (refusal) return this.#refuse(refusal);
    if (!sameBytes(message.hub, ctx.peerPin) || !sameBytes(message.device, ctx.ownPin))
      return this.#refuse('PAIRING_FINGERPRINT_MISMATCH', true);
    if (ctx.hubCount() >= ctx.window.config.maxHubs) return this.#refuse('PAIRING_HUB_LIMIT', true);
    ctx.window.succeed();
    return this.#end({ t: 'paired' }, { kind: 'paired', mode: 'push-button', hubPin: ctx.peerPin });
  }
}

/**
 * Builds the verifier's cached window table now (about 40 ms once), so the first exchange after
 * a window opens answers as fast as the later ones. Call it when the window opens.
 */
export function prepareVerifier(verifier: PairingVerifier): void {
  try {
    respondVerifier(
      { w0: verifier.w0, L: verifier.L, context: PAIRING_CONTEXT, idProver: 'warm-up', idVerifier: 'warm-up' },
      pointToBytes(curve().BASE),
    );
  } catch {
    // A verifier that cannot answer fails the real exchange with its own error.
  }
}

// ---- the hub side of one exchange ---------------------------------------------------------

/** What the hub learns from a completed exchange. */
export interface HubPairingResult {
  readonly serial: string;
  readonly model: string;
  /** The device's model document (UTF-8 JSON text) when it gave one, as `acceptModel` judged it. */
  readonly modelDocument?: string;
  readonly mode: PairingMode;
  /** The device's key pin, confirmed by the exchange: the only key the hub accepts from it from now on. */
  readonly devicePin: Uint8Array;
}

/**
 * Judges the device's model before the exchange goes on: `document` is its model document (UTF-8
 * JSON text, at most {@link MAX_PAIRING_MODEL_BYTES}) or undefined when it gave none, `model` the
 * id it announced. Throwing ends the exchange with that error, before the device spends an
 * attempt (setup code) or pins the hub (push button).
 */
export type AcceptPairingModel = (document: string | undefined, model: string, mode: PairingMode) => void;

/** The hub's next step: a request to send, or the result. */
export type HubPairingStep =
  | { readonly kind: 'send'; readonly action: string; readonly value: string }
  | { readonly kind: 'done'; readonly result: HubPairingResult };

/** Options of a hub-side exchange. */
export interface HubPairingOptions {
  readonly mode: PairingMode;
  /** The setup code from the device's label (setup-code mode). */
  readonly setupCode?: string;
  /** The hub's own key pin, and the device's as this TLS connection showed it. */
  readonly ownPin: Uint8Array;
  readonly peerPin: Uint8Array;
  /** Most PBKDF2 iterations the hub will compute (default {@link defaultPairingConfig}.maxIterations). */
  readonly maxIterations?: number;
  /** Judges the device's model before the deciding step (default: every model is accepted). */
  readonly acceptModel?: AcceptPairingModel;
}

/** The device as the hub knows it so far. */
interface PeerSoFar {
  readonly serial: string;
  readonly model: string;
  readonly modelDocument?: string;
}

/** What follows the model document: the SPAKE2+ share (setup code) or the hub's fingerprints. */
type AfterModel =
  | { readonly kind: 'share'; readonly salt: Uint8Array; readonly iterations: number }
  | { readonly kind: 'fingerprints' };

type HubExchangeState =
  | { readonly s: 'start' }
  | { readonly s: 'await-params' }
  | { readonly s: 'await-fingerprints' }
  | {
      readonly s: 'await-model';
      readonly peer: PeerSoFar;
      readonly next: AfterModel;
      readonly total: number;
      readonly parts: Buffer[];
      received: number;
    }
  | { readonly s: 'await-share'; readonly spake: Spake2PlusProverState; readonly peer: PeerSoFar }
  | { readonly s: 'await-paired'; readonly sharedKey: Uint8Array; readonly peer: PeerSoFar }
  | { readonly s: 'await-pushed'; readonly peer: PeerSoFar }
  | { readonly s: 'done' };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The hub's side of one pairing exchange. Throws PairingRefusedError when the device refuses,
 * PairingError 'PAIRING_CONFIRMATION_FAILED' or 'PAIRING_FINGERPRINT_MISMATCH' when the hub
 * detects a wrong code or a proxy, 'PAIRING_BAD_MESSAGE' for a malformed answer (a model
 * document over {@link MAX_PAIRING_MODEL_BYTES} included), or whatever `acceptModel` throws.
 *
 * @example
 * const exchange = new HubPairingExchange({ mode: 'setup-code', setupCode, ownPin, peerPin });
 * let step = exchange.start();
 * while (step.kind === 'send') step = exchange.receive(await conn.request('pairing', step.action, step.value));
 */
export class HubPairingExchange {
  readonly #o: HubPairingOptions;
  readonly #maxIterations: number;
  #state: HubExchangeState = { s: 'start' };

  constructor(options: HubPairingOptions) {
    if (!PAIRING_MODES.includes(options.mode))
      throw new ConfigError('PAIRING_CONFIG_INVALID', 'mode', 'must be setup-code or push-button');
    if (options.mode === 'setup-code') normaliseSetupCode(options.setupCode as string);
    if (options.ownPin.length !== PAIRING_PIN_BYTES || options.peerPin.length !== PAIRING_PIN_BYTES)
      throw new ConfigError('PAIRING_CONFIG_INVALID', 'pins', `must be ${PAIRING_PIN_BYTES} bytes`);
    this.#o = options;
    this.#maxIterations = options.maxIterations ?? defaultPairingConfig.maxIterations;
  }

  /** The first request. */
  start(): HubPairingStep {
    if (this.#state.s !== 'start') throw new PairingError('PAIRING_STATE_USED', 'this exchange already started');
    this.#state = this.#o.mode === 'setup-code' ? { s: 'await-params' } : { s: 'await-fingerprints' };
    return { kind: 'send', ...encodeHubMessage({ t: 'hello', mode: this.#o.mode }) };
  }

  #fail(error: unknown): never {
    this.#state = { s: 'done' };
    throw error;
  }

  /** Takes the device's answer and returns the next step. */
  receive(value: unknown): HubPairingStep {
    const state = this.#state;
    if (state.s === 'start' || state.s === 'done')
      throw new PairingError('PAIRING_STATE_USED', 'this exchange is not waiting for an answer');
    let message: DevicePairingMessage;
    try {
      message = parseDeviceMessage(value);
    } catch (err) {
      return this.#fail(err);
    }
    if (message.t === 'refused') return this.#fail(new PairingRefusedError(message.code));
    switch (state.s) {
      case 'await-params':
        return this.#onParams(message);
      case 'await-fingerprints':
        return this.#onFingerprints(message);
      case 'await-model':
        return this.#onModelPart(state, message);
      case 'await-share':
        return this.#onShare(state.spake, state.peer, message);
      case 'await-paired':
        return this.#onPaired(state.sharedKey, state.peer, message);
      case 'await-pushed':
        return this.#onPushed(state.peer, message);
    }
  }

  #onParams(message: DevicePairingMessage): HubPairingStep {
    if (message.t !== 'params') return this.#fail(badMessage('expected params'));
    if (message.iterations > this.#maxIterations)
      return this.#fail(badMessage(`the device asks for more than ${this.#maxIterations} PBKDF2 iterations`));
    const next: AfterModel = { kind: 'share', salt: message.salt, iterations: message.iterations };
    return this.#modelOrNext({ serial: message.serial, model: message.model }, message.modelBytes, next);
  }

  #onFingerprints(message: DevicePairingMessage): HubPairingStep {
    const o = this.#o;
    if (message.t !== 'fingerprints') return this.#fail(badMessage('expected fingerprints'));
    if (!sameBytes(message.hub, o.ownPin) || !sameBytes(message.device, o.peerPin))
      return this.#fail(new PairingRefusedError('PAIRING_FINGERPRINT_MISMATCH'));
    const peer = { serial: message.serial, model: message.model };
    return this.#modelOrNext(peer, message.modelBytes, { kind: 'fingerprints' });
  }

  /** Asks for the model document's first part, or goes on when the device gives none. */
  #modelOrNext(peer: PeerSoFar, modelBytes: number | undefined, next: AfterModel): HubPairingStep {
    if (modelBytes === undefined) return this.#afterModel(peer, next);
    this.#state = { s: 'await-model', peer, next, total: modelBytes, parts: [], received: 0 };
    return { kind: 'send', ...encodeHubMessage({ t: 'model', i: 0 }) };
  }

  #onModelPart(state: Extract<HubExchangeState, { s: 'await-model' }>, message: DevicePairingMessage): HubPairingStep {
    const want = Math.min(PAIRING_MODEL_PART_BYTES, state.total - state.received);
    if (message.t !== 'model' || message.i !== state.parts.length || message.d.length !== want)
      return this.#fail(badMessage(`expected part ${state.parts.length} of the model document`));
    state.parts.push(Buffer.from(message.d));
    state.received += want;
    if (state.received < state.total)
      return { kind: 'send', ...encodeHubMessage({ t: 'model', i: state.parts.length }) };
    let text: string;
    try {
      text = utf8.decode(Buffer.concat(state.parts));
    } catch {
      return this.#fail(badMessage('the model document is not UTF-8'));
    }
    return this.#afterModel({ ...state.peer, modelDocument: text }, state.next);
  }

  /** The model is known: `acceptModel` judges it, then the deciding step goes out. */
  #afterModel(peer: PeerSoFar, next: AfterModel): HubPairingStep {
    const o = this.#o;
    try {
      o.acceptModel?.(peer.modelDocument, peer.model, o.mode);
    } catch (err) {
      return this.#fail(err);
    }
    if (next.kind === 'fingerprints') {
      this.#state = { s: 'await-pushed', peer };
      return { kind: 'send', ...encodeHubMessage({ t: 'fingerprints', hub: o.ownPin, device: o.peerPin }) };
    }
    const { w0, w1 } = deriveSetupCodeSecrets(o.setupCode!, next.salt, next.iterations);
    const started = startProver({ w0, w1, context: PAIRING_CONTEXT, idProver: o.ownPin, idVerifier: o.peerPin });
    this.#state = { s: 'await-share', spake: started.state, peer };
    return { kind: 'send', ...encodeHubMessage({ t: 'share', x: started.shareP }) };
  }

  #onShare(spake: Spake2PlusProverState, peer: PeerSoFar, message: DevicePairingMessage): HubPairingStep {
    if (message.t !== 'share') return this.#fail(badMessage('expected share'));
    let finished: ReturnType<typeof finishProver>;
    try {
      finished = finishProver(spake, message.y, message.cv);
    } catch (err) {
      return this.#fail(
        err instanceof PairingError && err.code === 'PAIRING_BAD_SHARE'
          ? badMessage('invalid share')
          : new PairingRefusedError('PAIRING_CONFIRMATION_FAILED'),
      );
    }
    this.#state = { s: 'await-paired', sharedKey: finished.sharedKey, peer };
    return { kind: 'send', ...encodeHubMessage({ t: 'confirm', cp: finished.confirmP }) };
  }

  #onPaired(sharedKey: Uint8Array, peer: PeerSoFar, message: DevicePairingMessage): HubPairingStep {
    const o = this.#o;
    if (message.t !== 'paired' || !message.mac) return this.#fail(badMessage('expected paired'));
    if (!sameBytes(message.mac, pairedMac(sharedKey, o.ownPin, o.peerPin)))
      return this.#fail(new PairingRefusedError('PAIRING_CONFIRMATION_FAILED'));
    this.#state = { s: 'done' };
    return { kind: 'done', result: { ...peer, mode: 'setup-code', devicePin: o.peerPin } };
  }

  #onPushed(peer: PeerSoFar, message: DevicePairingMessage): HubPairingStep {
    if (message.t !== 'paired' || message.mac) return this.#fail(badMessage('expected paired'));
    this.#state = { s: 'done' };
    return { kind: 'done', result: { ...peer, mode: 'push-button', devicePin: this.#o.peerPin } };
  }
}
