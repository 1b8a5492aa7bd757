import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SERIAL_PATTERN, generateSerial } from '../identity/index.ts';
import {
  SERIAL, identityFromCommonName, serviceCommonName, deviceTopic, parseDeviceTopic, mayPublish, maySubscribe, UP_KINDS, DOWN_KINDS,
  parseTelemetry, parseCommand, parseReply, parseSync, parseJsonPayload, encodePayload, toRanges, inRanges, PAYLOAD_LIMITS,
} from './protocol.ts';

const A = 'PLG-AAAAAAAAAA', B = 'PLG-BBBBBBBBBB';
const deviceA = { kind: 'device', serial: A } as const;
const cloud = { kind: 'service', name: '1' } as const;

test('the serial shape is the one the factory issues', () => {
  assert.equal(SERIAL.source, SERIAL_PATTERN.source);
  for (let i = 0; i < 50; i++) assert.ok(SERIAL.test(generateSerial('PLG')));
});

test('a certificate CN is a device, a cloud instance, or nobody', () => {
  assert.deepEqual(identityFromCommonName(A), deviceA);
  assert.deepEqual(identityFromCommonName('bulwark-cloud-1'), cloud);
  for (const cn of [undefined, '', 'localhost', 'PLG-aaaaaaaaaa', 'bulwark-cloud-', 'bulwark-cloud-UPPER', 'bulwark-cloud-1/2', `${A} `]) {
    assert.equal(identityFromCommonName(cn), undefined, String(cn));
  }
  assert.throws(() => serviceCommonName('a/b'), { code: 'INVALID_INPUT' });
});

test('a device publishes only its own up topics; the cloud only down topics', () => {
  for (const k of UP_KINDS) {
    assert.equal(mayPublish(deviceA, deviceTopic(A, k)), true, k);
    assert.equal(mayPublish(deviceA, deviceTopic(B, k)), false, k);
    assert.equal(mayPublish(cloud, deviceTopic(A, k)), false, `cloud may not forge ${k}`);
  }
  for (const k of DOWN_KINDS) {
    assert.equal(mayPublish(deviceA, deviceTopic(A, k)), false, k);
    assert.equal(mayPublish(cloud, deviceTopic(B, k)), true, k);
  }
  for (const t of ['devices/+/telemetry', '#', `devices/${A}/telemetry/x`, `devices/${A}`, '$SYS/x', `Devices/${A}/telemetry`, '']) {
    assert.equal(mayPublish(deviceA, t), false, t);
  }
});

test('a device subscribes only to its own down topics, by exact name', () => {
  for (const k of DOWN_KINDS) {
    assert.equal(maySubscribe(deviceA, deviceTopic(A, k)), true);
    assert.equal(maySubscribe(deviceA, deviceTopic(B, k)), false);
  }
  for (const f of ['#', '+/+/+', 'devices/+/commands', `devices/${A}/#`, `devices/${A}/+`, `devices/${A}/telemetry`, '$share/bulwark/devices/+/telemetry']) {
    assert.equal(maySubscribe(deviceA, f), false, f);
  }
  assert.equal(maySubscribe(cloud, 'devices/+/telemetry'), true);
  assert.equal(maySubscribe(cloud, '$share/bulwark/devices/+/replies'), true);
  assert.equal(maySubscribe(cloud, '$share/other/devices/+/replies'), false);
  assert.equal(maySubscribe(cloud, 'devices/+/commands'), false, 'the cloud does not read commands');
  assert.equal(maySubscribe(cloud, '#'), false);
});

test('parseDeviceTopic takes only concrete device topics', () => {
  assert.deepEqual(parseDeviceTopic(deviceTopic(A, 'telemetry')), { serial: A, kind: 'telemetry' });
  for (const t of ['devices/+/telemetry', `devices/${A}/other`, `devices/${A}/telemetry/`, `x/${A}/telemetry`]) assert.equal(parseDeviceTopic(t), undefined, t);
});

test('payload parsers take exactly their schema', () => {
  assert.deepEqual(parseTelemetry({ seq: 1, at: 2, values: { energy: 3, power: true } }), { seq: 1, at: 2, values: { energy: 3, power: true } });
  for (const bad of [
    { seq: 0, at: 1, values: {} }, { seq: 1.5, at: 1, values: {} }, { seq: 1, at: 1, values: { Bad: 1 } }, { seq: 1, at: 1, values: { a: {} } },
    { seq: 1, at: 1, values: {}, extra: 1 }, { seq: 1, at: 1, values: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`v${i}`, i])) },
    { seq: 1, at: 1, values: { a: 'x'.repeat(65) } }, { seq: 1, at: 1, values: { a: Infinity } }, [], null,
  ]) assert.throws(() => parseTelemetry(bad), { code: 'INVALID_INPUT' }, JSON.stringify(bad));
  assert.deepEqual(parseCommand({ id: 'abcdefgh', capability: 'power', action: 'on', expiresAt: 5 }), { id: 'abcdefgh', capability: 'power', action: 'on', expiresAt: 5 });
  assert.throws(() => parseCommand({ id: 'short', capability: 'power', action: 'on', expiresAt: 5 }), { code: 'INVALID_INPUT' });
  assert.deepEqual(parseReply({ id: 'abcdefgh', ok: false, error: { code: 'X_Y', message: 'm' } }), { id: 'abcdefgh', ok: false, error: { code: 'X_Y', message: 'm' } });
  assert.throws(() => parseSync({ ranges: [[3, 2]] }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseJsonPayload(Buffer.alloc(PAYLOAD_LIMITS.maxPayloadBytes + 1, 0x20)), { code: 'INVALID_INPUT' });
  assert.throws(() => encodePayload({ big: 'x'.repeat(PAYLOAD_LIMITS.maxPayloadBytes) }), { code: 'INVALID_INPUT' });
});

test('ranges cover exactly the given numbers (when within the range limit)', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 200 }), (seqs) => {
    const r = toRanges(seqs, 10_000);
    for (const s of seqs) assert.ok(inRanges(s, r));
    const covered = r.reduce((n, [a, b]) => n + b - a + 1, 0);
    assert.equal(covered, new Set(seqs).size);
    for (let i = 1; i < r.length; i++) assert.ok(r[i]![0] > r[i - 1]![1] + 1, 'merged and sorted');
  }), { numRuns: 300 });
  assert.equal(toRanges([1, 3, 5, 7], 2).length, 2, 'bounded');
});
