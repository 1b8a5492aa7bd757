import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAgentCall,
  checkDriverModel,
  checkHealthResult,
  checkInitializeResult,
  checkNotification,
  checkValueResult,
  encodeNotification,
  encodeRequest,
  findCapability,
  LineReader,
  parseAgentLine,
  parseDriverLine,
  DRIVER_PROTOCOL,
  type DriverModel,
  type LineEvent,
} from './protocol.ts';
import { TokenBucket } from './rate.ts';
import { restartDelay, validateDriverClientConfig, defaultDriverClientConfig } from './config.ts';
import { DriverError } from './errors.ts';

const model: DriverModel = {
  id: 'thermostat',
  capabilities: [
    { id: 'setpoint', kind: 'level', actions: ['set', 'get'], value: { type: 'number', min: 5, max: 30, step: 0.5 } },
    { id: 'temperature', kind: 'reading', actions: ['get'], value: { type: 'number', min: -40, max: 125 } },
    { id: 'heating', kind: 'switch', actions: ['get'], value: { type: 'boolean' } },
    { id: 'door', kind: 'lock', actions: ['open', 'close'], value: { type: 'enum', values: ['open', 'closed'] } },
    { id: 'label', kind: 'reading', actions: ['get'], value: { type: 'string', maxLength: 4 } },
  ],
};

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DriverError, `not a DriverError: ${String(e)}`);
    return e.code;
  }
  assert.fail('did not throw');
}

const lines = (events: LineEvent[]): string[] => events.flatMap((e) => ('line' in e ? [e.line] : []));
const errors = (events: LineEvent[]): string[] => events.flatMap((e) => ('error' in e ? [e.error.code] : []));

test('splits lines across chunks and skips empty lines and a trailing CR', () => {
  const reader = new LineReader(64);
  assert.deepEqual(lines(reader.push(Buffer.from('{"a":1}\n{"b"'))), ['{"a":1}']);
  assert.deepEqual(lines(reader.push(Buffer.from(':2}\r\n\n'))), ['{"b":2}']);
  assert.equal(reader.held, 0);
});

test('refuses a line longer than the bound once, holds no more than the bound, and reads the next line', () => {
  const reader = new LineReader(16);
  const first = reader.push(Buffer.alloc(10, 0x61));
  assert.deepEqual(first, []);
  const second = reader.push(Buffer.alloc(1000, 0x61));
  assert.deepEqual(errors(second), ['DRIVER_LINE_TOO_LONG']);
  assert.equal(reader.held, 0);
  // the rest of the long line is dropped as it arrives, with no second refusal
  assert.deepEqual(reader.push(Buffer.alloc(100_000, 0x61)), []);
  assert.equal(reader.held, 0);
  assert.deepEqual(lines(reader.push(Buffer.from('aaa\nok\n'))), ['ok']);
});

test('a line of exactly the bound passes; one byte more does not', () => {
  const reader = new LineReader(4);
  assert.deepEqual(lines(reader.push(Buffer.from('abcd\n'))), ['abcd']);
  assert.deepEqual(errors(reader.push(Buffer.from('abcde\nx\n'))), ['DRIVER_LINE_TOO_LONG']);
});

test('refuses a line that is not UTF-8', () => {
  const reader = new LineReader();
  assert.deepEqual(errors(reader.push(Buffer.from([0xff, 0xfe, 0x0a]))), ['DRIVER_PROTOCOL_INVALID']);
});

test('parses a driver notification, a result and an error answer', () => {
  const n = parseDriverLine('{"jsonrpc":"2.0","method":"changed","params":{"capability":"heating","value":true}}');
  assert.deepEqual(n, { type: 'notification', method: 'changed', params: { capability: 'heating', value: true } });
  assert.deepEqual(parseDriverLine('{"jsonrpc":"2.0","id":3,"result":{"value":1}}'), {
    type: 'result',
    id: 3,
    result: { value: 1 },
  });
  const e = parseDriverLine('{"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"relay\\nstuck"}}');
  assert.deepEqual(e, { type: 'error', id: 4, code: -32000, message: 'relay stuck' });
});

test('refuses invalid JSON and valid JSON of the wrong shape', () => {
  for (const line of [
    'not json',
    '[1,2]',
    '{"jsonrpc":"1.0","method":"changed"}',
    '{"jsonrpc":"2.0","method":7}',
    '{"jsonrpc":"2.0","id":1,"method":"get","params":{}}',
    '{"jsonrpc":"2.0","method":"changed","params":[1]}',
    '{"jsonrpc":"2.0","id":"x","result":{}}',
    '{"jsonrpc":"2.0","id":1}',
    '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
    '{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}',
  ]) {
    assert.equal(
      code(() => parseDriverLine(line)),
      'DRIVER_PROTOCOL_INVALID',
      line,
    );
  }
});

test('checks notifications against the model', () => {
  assert.deepEqual(checkNotification(model, 'changed', { capability: 'temperature', value: 21.25 }), {
    method: 'changed',
    capability: 'temperature',
    value: 21.25,
  });
  assert.deepEqual(checkNotification(model, 'button', { gesture: 'hold' }), { method: 'button', gesture: 'hold' });
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'humidity', value: 1 })),
    'DRIVER_UNKNOWN_CAPABILITY',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'heating', value: 1 })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'setpoint', value: 31 })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'setpoint', value: 20.3 })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'door', value: 'ajar' })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'label', value: 'abcde' })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'button', { gesture: 'double' })),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'reboot', {})),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.equal(
    code(() => checkNotification(model, 'changed', { capability: 'heating' })),
    'DRIVER_PROTOCOL_INVALID',
  );
});

test('a fault message is cleaned of control characters and cut', () => {
  const n = checkNotification(model, 'fault', { message: `a\u0000b\u001b[31m${'x'.repeat(1000)}` });
  assert.equal(n.method, 'fault');
  if (n.method !== 'fault') return;
  assert.ok(n.message.startsWith('a b [31m'));
  assert.ok(n.message.length <= 260);
});

test('checks answers: a value of the type and range, a name and version', () => {
  const setpoint = findCapability(model, 'setpoint');
  assert.equal(checkValueResult(setpoint, { value: 21.5 }), 21.5);
  assert.equal(
    code(() => checkValueResult(setpoint, { value: 4.5 })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkValueResult(setpoint, { value: Number.NaN })),
    'DRIVER_VALUE_INVALID',
  );
  assert.equal(
    code(() => checkValueResult(setpoint, {})),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.deepEqual(checkInitializeResult({ name: 'acme', version: '1.2.3' }), {
    name: 'acme',
    version: '1.2.3',
    health: false,
  });
  assert.equal(checkInitializeResult({ name: 'acme', version: '1', health: true }).health, true);
  assert.equal(
    code(() => checkInitializeResult({ name: 'acme', version: '1', health: 'yes' })),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.equal(
    code(() => checkInitializeResult({ name: '', version: '1' })),
    'DRIVER_PROTOCOL_INVALID',
  );
});

test("checks the agent's calls on the driver's side, and refuses get before initialize", () => {
  const init = parseAgentLine(encodeRequest(1, 'initialize', { protocol: DRIVER_PROTOCOL, model }));
  const call = checkAgentCall(undefined, init);
  assert.equal(call.method, 'initialize');
  const get = parseAgentLine(encodeRequest(2, 'get', { capability: 'heating' }));
  assert.equal(
    code(() => checkAgentCall(undefined, get)),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.equal(checkAgentCall(model, get).method, 'get');
  const act = (params: Record<string, unknown>): string =>
    code(() => checkAgentCall(model, parseAgentLine(encodeRequest(3, 'act', params))));
  assert.equal(act({ capability: 'heating', action: 'on' }), 'DRIVER_UNKNOWN_ACTION');
  assert.equal(act({ capability: 'setpoint', action: 'set', value: 99 }), 'DRIVER_VALUE_INVALID');
  assert.equal(act({ capability: 'fan', action: 'set' }), 'DRIVER_UNKNOWN_CAPABILITY');
  const other = parseAgentLine(encodeRequest(1, 'initialize', { protocol: 'other/v9', model }));
  assert.equal(
    code(() => checkAgentCall(undefined, other)),
    'DRIVER_PROTOCOL_INVALID',
  );
});

test('encodes one line per message, ending in a newline', () => {
  const line = encodeNotification({ method: 'changed', capability: 'heating', value: false });
  assert.equal(line, '{"jsonrpc":"2.0","method":"changed","params":{"capability":"heating","value":false}}\n');
});

test('refuses a malformed model, naming the path', () => {
  const bad = (m: unknown): string => {
    try {
      checkDriverModel(m);
    } catch (e) {
      assert.ok(e instanceof DriverError && e.code === 'DRIVER_MODEL_INVALID');
      return e.message;
    }
    return assert.fail('accepted');
  };
  const cap = { id: 'x', kind: 'level', actions: ['set'], value: { type: 'number', min: 5, max: 1 } };
  assert.match(bad({ id: 'm', capabilities: [cap] }), /^capabilities\[0\]\.value\.max: must be at least min/);
  assert.match(bad({ id: 'm', capabilities: [{ ...cap, kind: 'fan' }] }), /^capabilities\[0\]\.kind/);
  assert.match(bad({ id: 'm', capabilities: [{ ...cap, value: { type: 'enum', values: [] } }] }), /values/);
  assert.match(bad({ id: '', capabilities: [] }), /^id:/);
});

test('passes on only the id and capabilities of a model, not its other fields', () => {
  const checked = checkDriverModel({ ...model, name: 'Thermostat', serialPrefix: 'THM', extra: 'x' });
  assert.deepEqual(Object.keys(checked), ['id', 'capabilities']);
});

test('the token bucket passes a burst, then the rate', () => {
  const bucket = new TokenBucket(10, 5);
  let passed = 0;
  for (let i = 0; i < 100; i += 1) if (bucket.take(0)) passed += 1;
  assert.equal(passed, 5);
  for (let t = 1; t <= 1000; t += 1) if (bucket.take(t)) passed += 1;
  assert.ok(passed >= 14 && passed <= 16, `passed ${passed}`);
});

test('restart delays double from the base to the ceiling, jitter taking some off', () => {
  const c = defaultDriverClientConfig;
  assert.deepEqual(
    [0, 1, 2, 10].map((a) => restartDelay(a, c, 0)),
    [250, 500, 1000, 30_000],
  );
  assert.equal(restartDelay(0, c, 1), 200);
});

test('refuses an unsafe client setting, naming it', () => {
  assert.throws(() => validateDriverClientConfig({ requestTimeoutMs: 0 }), /requestTimeoutMs/);
  assert.throws(() => validateDriverClientConfig({ restartMaxMs: 10, restartBaseMs: 100 }), /restartMaxMs/);
});

test('the optional health request: after initialize only, answered { ok } or { ok: false, reason }', () => {
  const health = parseAgentLine(encodeRequest(4, 'health', {}));
  assert.equal(
    code(() => checkAgentCall(undefined, health)),
    'DRIVER_PROTOCOL_INVALID',
  );
  assert.deepEqual(checkAgentCall(model, health), { method: 'health' });
  assert.deepEqual(checkHealthResult({ ok: true, reason: 'ignored' }), { ok: true });
  assert.deepEqual(checkHealthResult({ ok: false, reason: 'no\u0000sensor' }), { ok: false, reason: 'no sensor' });
  assert.deepEqual(checkHealthResult({ ok: false }), { ok: false, reason: 'no reason given' });
  for (const bad of [null, {}, { ok: 'true' }, [true]])
    assert.equal(
      code(() => checkHealthResult(bad)),
      'DRIVER_PROTOCOL_INVALID',
    );
});
