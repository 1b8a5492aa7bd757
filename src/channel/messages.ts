/**
 * The channel's messages and their strict validators. Pure. A message is a flat JSON object:
 * no key beyond its schema, every string, number and count bounded, values scalar only.
 * Keys that could reach an object's prototype ('__proto__', 'constructor', 'prototype') are
 * refused wherever they appear, and every accepted message is rebuilt as a fresh frozen object.
 */
import { defaultChannelConfig } from './config.ts';
import { ChannelMessageError } from './errors.ts';
import { encodeFrame } from './frame.ts';

/** Hard limits of the schemas. */
export const MESSAGE_LIMITS = Object.freeze({
  /** Request ids run from 1 to this (2^31). */
  maxId: 2 ** 31,
  /** Longest capability, action or event capability name, characters. */
  maxNameLength: 32,
  /** Longest string value, characters. */
  maxValueStringLength: 256,
  /** Longest error message, characters. */
  maxErrorMessageLength: 200,
  /** Longest bye reason, characters. */
  maxReasonLength: 64,
  /** Largest ping/pong counter. */
  maxCounter: 2 ** 31,
  /** Largest event timestamp, ms since the epoch (the largest valid Date). */
  maxTimestamp: 8_640_000_000_000_000,
});

/** A value carried by a request, response or event: a scalar, never an object. */
export type ChannelValue = boolean | number | string | null;

/** The error codes a peer may answer a request with. */
export const CHANNEL_ERROR_CODES = Object.freeze([
  'CAPABILITY_DENIED', // the peer may not use this capability (not in its access list)
  'UNKNOWN_CAPABILITY', // this side has no such capability
  'UNKNOWN_ACTION', // the capability has no such action
  'BAD_REQUEST', // the request is malformed for this capability (or reuses an id in flight)
  'BAD_VALUE', // the value is of the wrong type or out of range for the action
  'BUSY', // too many requests in flight
  'TIMEOUT', // the handler did not answer in time
  'UNAVAILABLE', // the capability exists but cannot act now (e.g. hardware fault)
  'INTERNAL', // anything else; details stay on the answering side
] as const);
export type ChannelErrorCode = (typeof CHANNEL_ERROR_CODES)[number];

/**
 * The events a side may push; 'key-rotation' is the device saying it has a signed statement of a
 * new channel key for the hub to fetch (value: its part count; see docs/pairing.md).
 */
export const CHANNEL_EVENT_NAMES = Object.freeze(['state', 'telemetry', 'unpaired', 'key-rotation'] as const);
export type ChannelEventName = (typeof CHANNEL_EVENT_NAMES)[number];

/** Asks the peer to act on one of its capabilities. */
export interface RequestMessage {
  readonly type: 'request';
  readonly id: number;
  readonly capability: string;
  readonly action: string;
  readonly value?: ChannelValue;
}
/** The answer to a request that succeeded. */
export interface ResponseMessage {
  readonly type: 'response';
  readonly id: number;
  readonly ok: true;
  readonly value: ChannelValue;
}
/** The answer to a request that failed. */
export interface ErrorMessage {
  readonly type: 'error';
  readonly id: number;
  readonly code: ChannelErrorCode;
  readonly message: string;
}
/** Something that happened on the sending side. */
export interface EventMessage {
  readonly type: 'event';
  readonly name: ChannelEventName;
  readonly capability?: string;
  readonly value: ChannelValue;
  /** When, ms since the epoch. */
  readonly at: number;
}
/** Keepalive probe; the peer answers with a pong carrying the same `n`. */
export interface PingMessage {
  readonly type: 'ping';
  readonly n: number;
}
/** Keepalive answer. */
export interface PongMessage {
  readonly type: 'pong';
  readonly n: number;
}
/** The sender is closing the channel, for `reason` (e.g. 'shutdown', 'unpaired'). */
export interface ByeMessage {
  readonly type: 'bye';
  readonly reason: string;
}
/** Every message of the channel. */
export type ChannelMessage =
  RequestMessage | ResponseMessage | ErrorMessage | EventMessage | PingMessage | PongMessage | ByeMessage;

const NAME_PATTERN = /^[a-z][a-z0-9-]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const ERROR_CODES: ReadonlySet<string> = new Set(CHANNEL_ERROR_CODES);
const EVENT_NAMES: ReadonlySet<string> = new Set(CHANNEL_EVENT_NAMES);

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new ChannelMessageError(message, details);
}

/** The own data properties of a plain object, checked against required and optional keys. */
function fieldsOf(
  input: unknown,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('a message must be a JSON object');
  const proto = Object.getPrototypeOf(input) as unknown;
  if (proto !== Object.prototype && proto !== null) fail('a message must be a plain object');
  if (Object.getOwnPropertySymbols(input).length > 0) fail('a message has no symbol keys');
  const keys = Object.getOwnPropertyNames(input);
  if (keys.length > required.length + optional.length) fail('a message has unexpected keys');
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) fail('a message may not use a prototype key');
    if (!required.includes(key) && !optional.includes(key))
      fail('a message has an unexpected key', { key: key.slice(0, 32) });
    const descriptor = Object.getOwnPropertyDescriptor(input, key);
    if (!descriptor || !('value' in descriptor) || !descriptor.enumerable)
      fail('a message has only plain data properties');
    fields[key] = descriptor.value;
  }
  for (const key of required) if (!(key in fields)) fail('a message lacks a required key', { key });
  return fields;
}

function boundedString(key: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length > max || !value.isWellFormed())
    fail(`${key} must be a string of at most ${max} characters`, { key });
  return value;
}

function name(key: string, value: unknown): string {
  const s = boundedString(key, value, MESSAGE_LIMITS.maxNameLength);
  if (!NAME_PATTERN.test(s)) fail(`${key} must match [a-z][a-z0-9-]*`, { key });
  return s;
}

function text(key: string, value: unknown, max: number): string {
  const s = boundedString(key, value, max);
  if (CONTROL_CHARACTERS.test(s)) fail(`${key} may not contain control characters`, { key });
  return s;
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    fail(`${key} must be an integer from ${min} to ${max}`, { key });
  return value;
}

function channelValue(key: string, value: unknown): ChannelValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > Number.MAX_SAFE_INTEGER)
      fail(`${key} must be a finite number within ±2^53`, { key });
    return Object.is(value, -0) ? 0 : value;
  }
  if (typeof value === 'string') return boundedString(key, value, MESSAGE_LIMITS.maxValueStringLength);
  return fail(`${key} must be a boolean, number, string or null`, { key });
}

function requestId(value: unknown): number {
  return integer('id', value, 1, MESSAGE_LIMITS.maxId);
}

/**
 * Checks any value against the schemas and returns a fresh, frozen message.
 * Throws 'CHANNEL_BAD_MESSAGE' for anything else.
 */
export function validateMessage(input: unknown): ChannelMessage {
  const type =
    typeof input === 'object' && input !== null && Object.hasOwn(input, 'type')
      ? (Object.getOwnPropertyDescriptor(input, 'type')?.value as unknown)
      : undefined;
  switch (type) {
    case 'request': {
      const f = fieldsOf(input, ['type', 'id', 'capability', 'action'], ['value']);
      const base = {
        type,
        id: requestId(f.id),
        capability: name('capability', f.capability),
        action: name('action', f.action),
      } as const;
      return Object.freeze('value' in f ? { ...base, value: channelValue('value', f.value) } : base);
    }
    case 'response': {
      const f = fieldsOf(input, ['type', 'id', 'ok', 'value']);
      if (f.ok !== true) fail('ok must be true');
      return Object.freeze({ type, id: requestId(f.id), ok: true, value: channelValue('value', f.value) } as const);
    }
    case 'error': {
      const f = fieldsOf(input, ['type', 'id', 'code', 'message']);
      if (typeof f.code !== 'string' || !ERROR_CODES.has(f.code)) fail('code must be a known error code');
      return Object.freeze({
        type,
        id: requestId(f.id),
        code: f.code as ChannelErrorCode,
        message: text('message', f.message, MESSAGE_LIMITS.maxErrorMessageLength),
      } as const);
    }
    case 'event': {
      const f = fieldsOf(input, ['type', 'name', 'value', 'at'], ['capability']);
      if (typeof f.name !== 'string' || !EVENT_NAMES.has(f.name)) fail('name must be a known event name');
      const base = {
        type,
        name: f.name as ChannelEventName,
        value: channelValue('value', f.value),
        at: integer('at', f.at, 0, MESSAGE_LIMITS.maxTimestamp),
      } as const;
      return Object.freeze('capability' in f ? { ...base, capability: name('capability', f.capability) } : base);
    }
    case 'ping':
    case 'pong': {
      const f = fieldsOf(input, ['type', 'n']);
      return Object.freeze({ type, n: integer('n', f.n, 0, MESSAGE_LIMITS.maxCounter) } as const);
    }
    case 'bye': {
      const f = fieldsOf(input, ['type', 'reason']);
      const reason = boundedString('reason', f.reason, MESSAGE_LIMITS.maxReasonLength);
      if (!NAME_PATTERN.test(reason)) fail('reason must match [a-z][a-z0-9-]*');
      return Object.freeze({ type, reason } as const);
    }
    default:
      return fail('type must be one of request, response, error, event, ping, pong, bye');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses one frame body (bytes or text) into a validated message.
 * Throws 'CHANNEL_BAD_MESSAGE' for anything that is not one: invalid UTF-8, invalid JSON,
 * a body over `maxBytes`, or a value outside the schemas.
 *
 * @example
 * for (const body of decoder.push(chunk)) { const msg = parseMessage(body); if (msg.type === 'request') ... }
 */
export function parseMessage(
  body: Uint8Array | string,
  maxBytes: number = defaultChannelConfig.maxFrameBytes,
): ChannelMessage {
  let json: string;
  if (typeof body === 'string') {
    if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) fail('message too large', { maxBytes });
    json = body;
  } else {
    if (!(body instanceof Uint8Array)) fail('a message must be bytes or a string');
    if (body.length > maxBytes) fail('message too large', { maxBytes });
    try {
      json = utf8.decode(body);
    } catch {
      return fail('message is not valid UTF-8');
    }
  }
  // Every message is an object; refusing anything else first keeps deep arrays away from JSON.parse.
  if (json.trimStart()[0] !== '{') fail('message must be a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return fail('message is not valid JSON');
  }
  return validateMessage(value);
}

/** Validates `message` and encodes it as one frame. Throws 'CHANNEL_BAD_MESSAGE' or 'CHANNEL_FRAME_TOO_LARGE'. */
export function encodeMessage(
  message: ChannelMessage,
  maxFrameBytes: number = defaultChannelConfig.maxFrameBytes,
): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(validateMessage(message)), 'utf8'), maxFrameBytes);
}
