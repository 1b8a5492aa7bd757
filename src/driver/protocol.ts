/**
 * The driver protocol, pure: JSON-RPC 2.0, one UTF-8 message a line, at most
 * {@link DRIVER_LIMITS}.maxLineBytes a line. The agent sends `initialize`, `get` and `act`; the
 * driver answers them and sends the notifications `changed`, `button` and `fault`. Every message
 * either side receives is checked here, its shape first and then its values against the model.
 * No I/O, no timers: the client and the kit carry these lines.
 */
import type { Capability, CapabilityValueType } from '../models/index.ts';
import { DriverError } from './errors.ts';

/** The protocol name the agent sends in `initialize` and puts in the driver's environment. */
export const DRIVER_PROTOCOL = 'bulwark.driver/v1';

/** The protocol's fixed bounds. */
export const DRIVER_LIMITS = Object.freeze({
  /** Bytes of one line, newline excluded; a longer line is refused and its rest discarded unread. */
  maxLineBytes: 65_536,
  /** Characters of a driver's name or version. */
  maxNameLength: 64,
  /** Characters of a fault or error message a driver sends; longer ones are cut. */
  maxMessageLength: 256,
  /** Capabilities in one model, enum values in one capability, actions in one capability. */
  maxCapabilities: 64,
  maxEnumValues: 64,
  maxActions: 16,
  /** Characters of an id, an action or an enum value. */
  maxIdLength: 64,
});

/** The value type of a capability: what `get`, `act` and `changed` may carry for it (the model's). */
export type DriverValueType = CapabilityValueType;

/** A capability as the driver boundary sees it: the model file's, without its description. */
export type DriverCapability = Omit<Capability, 'description'>;

/** A model as the driver boundary sees it: its id and capabilities. */
export interface DriverModel {
  readonly id: string;
  readonly capabilities: readonly DriverCapability[];
}

/** A capability's value on the wire. */
export type DriverValue = boolean | number | string;

/** The unit's physical button: a press, or a hold (the factory reset). */
export type ButtonGesture = 'press' | 'hold';

/** What a driver answers to `initialize`. */
export interface DriverIdentity {
  readonly name: string;
  readonly version: string;
  /**
   * The driver answers `health` (it said `"health": true`): only then is it asked, so a driver from
   * before `health` existed, whatever it answers to an unknown method, never holds an image on trial.
   */
  readonly health: boolean;
}

/** A checked notification from a driver. */
export type DriverNotification =
  | { readonly method: 'changed'; readonly capability: string; readonly value: DriverValue }
  | { readonly method: 'button'; readonly gesture: ButtonGesture }
  | { readonly method: 'fault'; readonly message: string };

/** A line from the driver, its JSON-RPC shape checked, its params not yet. */
export type DriverInbound =
  | { readonly type: 'notification'; readonly method: string; readonly params: Record<string, unknown> }
  | { readonly type: 'result'; readonly id: number; readonly result: unknown }
  | { readonly type: 'error'; readonly id: number; readonly code: number; readonly message: string };

/** A line from the agent, its JSON-RPC shape checked, its params not yet. */
export interface AgentRequest {
  readonly id: number;
  readonly method: string;
  readonly params: Record<string, unknown>;
}

/** JSON-RPC 2.0 error codes a driver answers with. */
export const RPC_ERRORS = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** The driver's own: the hardware failed or refused. */
  HARDWARE_FAILED: -32000,
  /** The driver's own: `get` or `act` before `initialize`. */
  NOT_INITIALIZED: -32002,
});

const invalid = (message: string, details: Record<string, unknown> = {}): DriverError =>
  new DriverError('DRIVER_PROTOCOL_INVALID', message, details);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A driver's text made safe to journal: control characters replaced, cut to `max` characters. */
export function cleanText(text: string, max: number = DRIVER_LIMITS.maxMessageLength): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

function parseJsonLine(line: string): Record<string, unknown> {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    throw invalid('a line is not JSON');
  }
  if (!isRecord(message) || message.jsonrpc !== '2.0') throw invalid('a message is not a JSON-RPC 2.0 object');
  return message;
}

function paramsOf(message: Record<string, unknown>): Record<string, unknown> {
  if (message.params === undefined) return {};
  if (!isRecord(message.params)) throw invalid('params must be an object');
  return message.params;
}

function isRequestId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
}

/**
 * Checks the JSON-RPC shape of a line the driver sent: a notification, or an answer to one of the
 * agent's requests (the agent's ids are non-negative integers). Throws DriverError('DRIVER_PROTOCOL_INVALID').
 */
export function parseDriverLine(line: string): DriverInbound {
  const message = parseJsonLine(line);
  if ('method' in message) {
    if (typeof message.method !== 'string') throw invalid('method must be a string');
    if ('id' in message) throw invalid('a driver sends notifications only, never requests');
    return { type: 'notification', method: message.method, params: paramsOf(message) };
  }
  if (!isRequestId(message.id)) throw invalid('an answer needs the id of a request');
  const hasResult = 'result' in message;
  const hasError = 'error' in message;
  if (hasResult === hasError) throw invalid('an answer has exactly one of result and error');
  if (hasResult) return { type: 'result', id: message.id, result: message.result };
  const error = message.error;
  if (!isRecord(error) || !Number.isSafeInteger(error.code) || typeof error.message !== 'string') {
    throw invalid('error must be { code: integer, message: string }');
  }
  return { type: 'error', id: message.id, code: error.code as number, message: cleanText(error.message) };
}

/**
 * Checks the JSON-RPC shape of a line the agent sent: a request with an integer id. Throws
 * DriverError('DRIVER_PROTOCOL_INVALID'), with `details.id` when the line had a usable id.
 */
export function parseAgentLine(line: string): AgentRequest {
  const message = parseJsonLine(line);
  if (!isRequestId(message.id)) throw invalid('a request needs a non-negative integer id');
  if (typeof message.method !== 'string') throw invalid('method must be a string', { id: message.id });
  try {
    return { id: message.id, method: message.method, params: paramsOf(message) };
  } catch (e) {
    throw invalid((e as Error).message, { id: message.id });
  }
}

/** Throws DriverError('DRIVER_UNKNOWN_CAPABILITY') unless `model` has a capability `id`. */
export function findCapability(model: DriverModel, id: unknown): DriverCapability {
  if (typeof id !== 'string') throw invalid('capability must be a string');
  const found = model.capabilities.find((c) => c.id === id);
  if (found === undefined) {
    throw new DriverError('DRIVER_UNKNOWN_CAPABILITY', `model ${model.id} has no capability '${cleanText(id, 64)}'`);
  }
  return found;
}

/** Throws DriverError('DRIVER_UNKNOWN_ACTION') unless `capability` has `action`. */
export function checkAction(capability: DriverCapability, action: unknown): string {
  if (typeof action !== 'string') throw invalid('action must be a string');
  if (!capability.actions.includes(action)) {
    throw new DriverError(
      'DRIVER_UNKNOWN_ACTION',
      `capability ${capability.id} has no action '${cleanText(action, 64)}'`,
    );
  }
  return action;
}

function onStep(value: number, min: number, step: number): boolean {
  const n = (value - min) / step;
  return Math.abs(n - Math.round(n)) <= 1e-9 * Math.max(1, Math.abs(n));
}

/** Why `value` is not of `type`, or undefined when it is. */
function valueProblem(type: DriverValueType, value: unknown): string | undefined {
  switch (type.type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be a boolean';
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
      if (value < type.min || value > type.max) return `must be from ${type.min} to ${type.max}`;
      if (type.step !== undefined && !onStep(value, type.min, type.step)) return `must be a step of ${type.step}`;
      return undefined;
    case 'enum':
      return typeof value === 'string' && type.values.includes(value)
        ? undefined
        : `must be one of ${type.values.join(', ')}`;
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      return value.length <= type.maxLength ? undefined : `must be at most ${type.maxLength} characters`;
  }
}

/** Returns `value` when `capability` may take it; otherwise throws DriverError('DRIVER_VALUE_INVALID'). */
export function checkValue(capability: DriverCapability, value: unknown): DriverValue {
  const problem = valueProblem(capability.value, value);
  if (problem !== undefined) {
    throw new DriverError('DRIVER_VALUE_INVALID', `${capability.id}: ${problem}`, { capability: capability.id });
  }
  return value as DriverValue;
}

function boundedName(v: unknown, key: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > DRIVER_LIMITS.maxNameLength) {
    throw invalid(`${key} must be a string of 1 to ${DRIVER_LIMITS.maxNameLength} characters`);
  }
  return cleanText(v, DRIVER_LIMITS.maxNameLength);
}

/** Checks a driver's answer to `initialize`: `{ name, version, health? }`. */
export function checkInitializeResult(result: unknown): DriverIdentity {
  if (!isRecord(result)) throw invalid('initialize must answer { name, version }');
  if (result.health !== undefined && typeof result.health !== 'boolean') throw invalid('health must be a boolean');
  return {
    name: boundedName(result.name, 'name'),
    version: boundedName(result.version, 'version'),
    health: result.health === true,
  };
}

/** A driver's answer to the optional `health` request: the product's own check of its hardware. */
export type DriverHealth = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Checks a driver's answer to `health`: `{ ok: true }` or `{ ok: false, reason }`. */
export function checkHealthResult(result: unknown): DriverHealth {
  if (!isRecord(result) || typeof result.ok !== 'boolean') throw invalid('health must answer { ok, reason? }');
  if (result.ok) return { ok: true };
  const reason = typeof result.reason === 'string' && result.reason.length > 0 ? cleanText(result.reason) : undefined;
  return { ok: false, reason: reason ?? 'no reason given' };
}

/** Checks a driver's answer to `get` or `act` on `capability`: `{ value }` of the capability's type. */
export function checkValueResult(capability: DriverCapability, result: unknown): DriverValue {
  if (!isRecord(result) || !('value' in result)) throw invalid(`${capability.id}: the answer must be { value }`);
  return checkValue(capability, result.value);
}

/** Checks a driver's notification against `model`; throws the DriverError that says what is wrong. */
export function checkNotification(
  model: DriverModel,
  method: string,
  params: Record<string, unknown>,
): DriverNotification {
  switch (method) {
    case 'changed': {
      if (!('value' in params)) throw invalid("changed's params must be { capability, value }");
      const capability = findCapability(model, params.capability);
      return { method, capability: capability.id, value: checkValue(capability, params.value) };
    }
    case 'button':
      if (params.gesture !== 'press' && params.gesture !== 'hold')
        throw invalid("button's gesture must be press or hold");
      return { method, gesture: params.gesture };
    case 'fault':
      if (typeof params.message !== 'string') throw invalid("fault's message must be a string");
      return { method, message: cleanText(params.message) };
    default:
      throw invalid(`unknown notification '${cleanText(method, 64)}'`);
  }
}

/** The checked params of an agent's request, for the driver kit. */
export type AgentCall =
  | { readonly method: 'initialize'; readonly model: DriverModel }
  | { readonly method: 'health' }
  | { readonly method: 'get'; readonly capability: DriverCapability }
  | {
      readonly method: 'act';
      readonly capability: DriverCapability;
      readonly action: string;
      readonly value?: DriverValue;
    };

/**
 * Checks an agent's request's params; `model` is the one `initialize` gave (undefined before it).
 * Throws DriverError: 'DRIVER_PROTOCOL_INVALID' for a wrong shape or a call before `initialize`,
 * or the value check's code.
 */
export function checkAgentCall(model: DriverModel | undefined, request: AgentRequest): AgentCall {
  const { method, params } = request;
  if (method === 'initialize') {
    if (params.protocol !== DRIVER_PROTOCOL) throw invalid(`protocol must be ${DRIVER_PROTOCOL}`);
    return { method, model: checkDriverModel(params.model) };
  }
  if (method !== 'get' && method !== 'act' && method !== 'health')
    throw invalid(`unknown method '${cleanText(method, 64)}'`);
  if (model === undefined) throw invalid(`${method} before initialize`);
  if (method === 'health') return { method };
  const capability = findCapability(model, params.capability);
  if (method === 'get') return { method, capability };
  const action = checkAction(capability, params.action);
  if (params.value === undefined) return { method, capability, action };
  return { method, capability, action, value: checkValue(capability, params.value) };
}

function modelProblem(path: string, message: string): DriverError {
  return new DriverError('DRIVER_MODEL_INVALID', `${path}: ${message}`, { path });
}

function checkId(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > DRIVER_LIMITS.maxIdLength) {
    throw modelProblem(path, `must be a string of 1 to ${DRIVER_LIMITS.maxIdLength} characters`);
  }
  return v;
}

function checkIdList(v: unknown, path: string, max: number): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) throw modelProblem(path, `must list 1 to ${max}`);
  const ids = v.map((x, i) => checkId(x, `${path}[${i}]`));
  if (new Set(ids).size !== ids.length) throw modelProblem(path, 'must not repeat an entry');
  return ids;
}

function checkFinite(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw modelProblem(path, 'must be a finite number');
  return v;
}

function checkValueType(v: unknown, path: string): DriverValueType {
  if (!isRecord(v)) throw modelProblem(path, 'must be an object');
  switch (v.type) {
    case 'boolean':
      return { type: 'boolean' };
    case 'number': {
      const min = checkFinite(v.min, `${path}.min`);
      const max = checkFinite(v.max, `${path}.max`);
      if (max < min) throw modelProblem(`${path}.max`, 'must be at least min');
      if (v.step === undefined) return { type: 'number', min, max };
      const step = checkFinite(v.step, `${path}.step`);
      if (step <= 0) throw modelProblem(`${path}.step`, 'must be above 0');
      return { type: 'number', min, max, step };
    }
    case 'enum':
      return { type: 'enum', values: checkIdList(v.values, `${path}.values`, DRIVER_LIMITS.maxEnumValues) };
    case 'string': {
      const maxLength = v.maxLength;
      if (!Number.isSafeInteger(maxLength) || (maxLength as number) < 0 || (maxLength as number) > 16_384) {
        throw modelProblem(`${path}.maxLength`, 'must be an integer from 0 to 16384');
      }
      return { type: 'string', maxLength: maxLength as number };
    }
    default:
      throw modelProblem(`${path}.type`, 'must be boolean, number, enum or string');
  }
}

const KINDS: ReadonlySet<string> = new Set(['switch', 'level', 'lock', 'reading', 'snapshot']);

function checkCapability(v: unknown, path: string): DriverCapability {
  if (!isRecord(v)) throw modelProblem(path, 'must be an object');
  if (typeof v.kind !== 'string' || !KINDS.has(v.kind))
    throw modelProblem(`${path}.kind`, `must be one of ${[...KINDS].join(', ')}`);
  if (v.unit !== undefined && (typeof v.unit !== 'string' || v.unit.length > DRIVER_LIMITS.maxIdLength)) {
    throw modelProblem(`${path}.unit`, 'must be a short string');
  }
  if (v.sensitive !== undefined && typeof v.sensitive !== 'boolean')
    throw modelProblem(`${path}.sensitive`, 'must be a boolean');
  return {
    id: checkId(v.id, `${path}.id`),
    kind: v.kind as DriverCapability['kind'],
    actions: checkIdList(v.actions, `${path}.actions`, DRIVER_LIMITS.maxActions),
    value: checkValueType(v.value, `${path}.value`),
    ...(v.unit === undefined ? {} : { unit: v.unit }),
    ...(v.sensitive === undefined ? {} : { sensitive: v.sensitive }),
  };
}

/**
 * Checks a model's shape as the driver boundary needs it and returns just that part: id and
 * capabilities (id, kind, actions, value type, unit, sensitive), nothing else the model holds.
 * Throws DriverError('DRIVER_MODEL_INVALID') naming the path, e.g. `capabilities[1].value.max`.
 */
export function checkDriverModel(model: unknown): DriverModel {
  if (!isRecord(model)) throw modelProblem('model', 'must be an object');
  const id = checkId(model.id, 'id');
  const list = model.capabilities;
  if (!Array.isArray(list) || list.length > DRIVER_LIMITS.maxCapabilities) {
    throw modelProblem('capabilities', `must list at most ${DRIVER_LIMITS.maxCapabilities}`);
  }
  const capabilities = list.map((c, i) => checkCapability(c, `capabilities[${i}]`));
  if (new Set(capabilities.map((c) => c.id)).size !== capabilities.length) {
    throw modelProblem('capabilities', 'must not repeat an id');
  }
  return { id, capabilities };
}

/** One JSON-RPC request line (newline included). */
export function encodeRequest(id: number, method: string, params: Record<string, unknown>): string {
  return `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
}

/** One JSON-RPC notification line (newline included). */
export function encodeNotification(notification: DriverNotification): string {
  const { method, ...params } = notification;
  return `${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`;
}

/** One JSON-RPC result line (newline included). */
export function encodeResult(id: number, result: unknown): string {
  return `${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`;
}

/** One JSON-RPC error line (newline included); `id` null when the request's id could not be read. */
export function encodeError(id: number | null, code: number, message: string): string {
  return `${JSON.stringify({ jsonrpc: '2.0', id, error: { code, message: cleanText(message) } })}\n`;
}

/** What a {@link LineReader} found in a chunk: a whole line, or a refusal of one. */
export type LineEvent = { readonly line: string } | { readonly error: DriverError };

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into UTF-8 lines of at most `maxBytes` each, holding at most `maxBytes`
 * bytes: a longer line is reported once as 'DRIVER_LINE_TOO_LONG' as soon as it passes the bound,
 * and the rest of it is dropped as it arrives. A line that is not UTF-8 is 'DRIVER_PROTOCOL_INVALID'.
 * Empty lines are skipped; a trailing CR is taken off.
 */
export class LineReader {
  readonly #maxBytes: number;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #parts: Buffer[] = [];
  #size = 0;
  #discarding = false;

  constructor(maxBytes: number = DRIVER_LIMITS.maxLineBytes) {
    this.#maxBytes = maxBytes;
  }

  /** The bytes held for an unfinished line (at most `maxBytes`). */
  get held(): number {
    return this.#size;
  }

  /** Feeds a chunk; returns the lines and refusals it completed, in order. */
  push(chunk: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (this.#discarding) {
        if (end < 0) return events;
        this.#discarding = false;
        start = end + 1;
        continue;
      }
      const piece = chunk.subarray(start, end < 0 ? chunk.length : end);
      if (this.#size + piece.length > this.#maxBytes) {
        events.push({ error: this.#tooLong() });
        this.#discarding = end < 0;
      } else if (end < 0) {
        this.#parts.push(Buffer.from(piece));
        this.#size += piece.length;
      } else {
        this.#finish(piece, events);
      }
      if (end < 0) return events;
      start = end + 1;
    }
    return events;
  }

  #tooLong(): DriverError {
    this.#parts = [];
    this.#size = 0;
    return new DriverError('DRIVER_LINE_TOO_LONG', `a line is longer than ${this.#maxBytes} bytes`, {
      maxBytes: this.#maxBytes,
    });
  }

  #finish(piece: Uint8Array, events: LineEvent[]): void {
    let bytes: Uint8Array = this.#parts.length === 0 ? piece : Buffer.concat([...this.#parts, piece]);
    this.#parts = [];
    this.#size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length === 0) return;
    try {
      events.push({ line: this.#decoder.decode(bytes) });
    } catch {
      events.push({ error: invalid('a line is not UTF-8') });
    }
  }
}
