import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import {
  parseMessage,
  validateMessage,
  encodeMessage,
  FrameDecoder,
  CHANNEL_ERROR_CODES,
  type ChannelMessage,
} from './index.ts';

const valid: ChannelMessage[] = [
  { type: 'request', id: 1, capability: 'switch', action: 'set', value: true },
  { type: 'request', id: 2 ** 31, capability: 'lock', action: 'status' },
  { type: 'request', id: 7, capability: 'thermostat-1', action: 'set-target', value: 21.5 },
  { type: 'request', id: 8, capability: 'label', action: 'set', value: 'x'.repeat(256) },
  { type: 'request', id: 9, capability: 'x', action: 'clear', value: null },
  { type: 'response', id: 1, ok: true, value: false },
  { type: 'response', id: 1, ok: true, value: null },
  { type: 'error', id: 3, code: 'CAPABILITY_DENIED', message: 'not granted' },
  { type: 'event', name: 'state', capability: 'switch', value: true, at: 1_750_000_000_000 },
  { type: 'event', name: 'unpaired', value: null, at: 0 },
  { type: 'ping', n: 0 },
  { type: 'pong', n: 2 ** 31 },
  { type: 'bye', reason: 'shutdown' },
];

const bad = (json: string): void => {
  assert.throws(
    () => parseMessage(json),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
    json.slice(0, 80),
  );
  assert.throws(
    () => parseMessage(Buffer.from(json)),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
    json.slice(0, 80),
  );
};

test('accepts every message type and round-trips it through a frame', () => {
  for (const message of valid) {
    assert.deepEqual(parseMessage(JSON.stringify(message)), message);
    const [body] = new FrameDecoder().push(encodeMessage(message));
    assert.ok(body);
    const parsed = parseMessage(body);
    assert.deepEqual(parsed, message);
    assert.ok(Object.isFrozen(parsed));
  }
});

test('refuses extra keys and missing keys on every type', () => {
  for (const message of valid) {
    bad(JSON.stringify({ ...message, extra: 1 }));
    for (const key of Object.keys(message)) {
      if (key === 'value' && message.type === 'request') continue;
      if (key === 'capability' && message.type === 'event') continue;
      const copy: Record<string, unknown> = { ...message };
      delete copy[key];
      bad(JSON.stringify(copy));
    }
  }
});

test('refuses prototype keys wherever they appear, and pollutes nothing', () => {
  bad('{"type":"ping","n":1,"__proto__":{"polluted":true}}');
  bad('{"__proto__":{"polluted":true},"type":"ping"}');
  bad('{"type":"ping","constructor":{"prototype":{"polluted":true}}}');
  bad('{"type":"bye","reason":"x","prototype":1}');
  bad('{"type":"request","id":1,"capability":"a","action":"b","value":{"__proto__":{"polluted":true}}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});

test('refuses out-of-range ids, names, strings and numbers', () => {
  const r = { type: 'request', id: 1, capability: 'switch', action: 'set' };
  for (const id of [0, -1, 1.5, 2 ** 31 + 1, '1', null, true]) bad(JSON.stringify({ ...r, id }));
  bad('{"type":"request","id":1e400,"capability":"a","action":"b"}');
  for (const capability of ['', 'Switch', '1switch', 'a_b', 'a'.repeat(33), 'a b', 'a\u0000'])
    bad(JSON.stringify({ ...r, capability }));
  for (const action of ['', 'SET', 'a'.repeat(33)]) bad(JSON.stringify({ ...r, action }));
  for (const value of ['x'.repeat(257), [], {}, [1], { a: 1 }]) bad(JSON.stringify({ ...r, value }));
  bad('{"type":"request","id":1,"capability":"a","action":"b","value":1e400}');
  bad(JSON.stringify({ ...r, value: 2 ** 53 + 2 }));
  bad(JSON.stringify({ type: 'error', id: 1, code: 'NOPE', message: 'x' }));
  bad(JSON.stringify({ type: 'error', id: 1, code: 'INTERNAL', message: 'x'.repeat(201) }));
  bad(JSON.stringify({ type: 'error', id: 1, code: 'INTERNAL', message: 'line\ninjection' }));
  bad(JSON.stringify({ type: 'event', name: 'other', value: 1, at: 0 }));
  bad(JSON.stringify({ type: 'event', name: 'state', value: 1, at: -1 }));
  bad(JSON.stringify({ type: 'event', name: 'state', value: 1, at: 8.64e15 + 1 }));
  bad(JSON.stringify({ type: 'response', id: 1, ok: false, value: 1 }));
  bad(JSON.stringify({ type: 'ping', n: -1 }));
  bad(JSON.stringify({ type: 'bye', reason: 'Not Allowed' }));
  bad(JSON.stringify({ type: 'bye', reason: 'a'.repeat(65) }));
  bad(JSON.stringify({ type: 'hello' }));
});

test('refuses bodies that are not a single well-formed JSON object in valid UTF-8', () => {
  for (const json of ['', ' ', 'null', '[]', '1', '"ping"', '{', '{"type":"ping","n":1}x', '[{"type":"ping","n":1}]'])
    bad(json);
  // A lone surrogate escape in a string value.
  bad('{"type":"request","id":1,"capability":"a","action":"b","value":"\\ud800"}');
  // Invalid UTF-8 and an overlong encoding.
  assert.throws(
    () => parseMessage(Buffer.from([0x7b, 0xff, 0x7d])),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
  assert.throws(
    () => parseMessage(Buffer.from([0x7b, 0xc0, 0xaf, 0x7d])),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
  // Larger than the limit.
  assert.throws(
    () => parseMessage(JSON.stringify({ type: 'bye', reason: 'x' }) + ' '.repeat(70_000)),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
  assert.throws(
    () => parseMessage('{"type":"ping","n":1}', 10),
    (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
  );
});

test('validateMessage refuses objects that are not plain data', () => {
  class Ping {
    type = 'ping';
    n = 1;
  }
  const withGetter = Object.defineProperty({ type: 'ping' }, 'n', { get: () => 1, enumerable: true });
  const withSymbol = { type: 'ping', n: 1, [Symbol('x')]: 1 };
  for (const v of [new Ping(), withGetter, withSymbol, null, undefined, 'ping', 1, []]) {
    assert.throws(
      () => validateMessage(v),
      (e) => hasCode(e, 'CHANNEL_BAD_MESSAGE'),
    );
  }
  assert.deepEqual(validateMessage(Object.assign(Object.create(null) as object, { type: 'ping', n: 1 })), {
    type: 'ping',
    n: 1,
  });
});

test('knows the listed error codes', () => {
  for (const code of ['CAPABILITY_DENIED', 'UNKNOWN_CAPABILITY', 'BAD_REQUEST', 'TIMEOUT', 'INTERNAL'])
    assert.ok((CHANNEL_ERROR_CODES as readonly string[]).includes(code));
});
