import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SERIAL_PATTERN, generateSerial } from '../identity/index.ts';
import {
  SERIAL,
  TOPIC_ROOT,
  identityFromCommonName,
  serviceCommonName,
  deviceTopic,
  parseDeviceTopic,
  mayPublish,
  maySubscribe,
  UP_KINDS,
  DOWN_KINDS,
} from './topics.ts';

const A = 'PLG-AAAAAAAAAA',
  B = 'PLG-BBBBBBBBBB';
const deviceA = { kind: 'device', serial: A } as const;
const cloud = { kind: 'service', name: '1' } as const;

test('the serial shape is the one the factory issues', () => {
  assert.equal(SERIAL.source, SERIAL_PATTERN.source);
  for (let i = 0; i < 50; i++) assert.ok(SERIAL.test(generateSerial('PLG')));
});

test('a certificate CN is a device, a cloud instance, or nobody', () => {
  assert.deepEqual(identityFromCommonName(A), deviceA);
  assert.deepEqual(identityFromCommonName('bulwark-cloud-1'), cloud);
  for (const cn of [
    undefined,
    '',
    'localhost',
    'PLG-aaaaaaaaaa',
    'bulwark-cloud-',
    'bulwark-cloud-UPPER',
    'bulwark-cloud-1/2',
    `${A} `,
  ]) {
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
  for (const t of [
    'devices/+/telemetry',
    '#',
    `devices/${A}/telemetry/x`,
    `devices/${A}`,
    '$SYS/x',
    `Devices/${A}/telemetry`,
    '',
  ]) {
    assert.equal(mayPublish(deviceA, t), false, t);
  }
});

test('a device subscribes only to its own down topics, by exact name', () => {
  for (const k of DOWN_KINDS) {
    assert.equal(maySubscribe(deviceA, deviceTopic(A, k)), true);
    assert.equal(maySubscribe(deviceA, deviceTopic(B, k)), false);
  }
  for (const f of [
    '#',
    '+/+/+',
    'devices/+/commands',
    `devices/${A}/#`,
    `devices/${A}/+`,
    `devices/${A}/telemetry`,
    '$share/bulwark/devices/+/telemetry',
  ]) {
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
  for (const t of ['devices/+/telemetry', `devices/${A}/other`, `devices/${A}/telemetry/`, `x/${A}/telemetry`])
    assert.equal(parseDeviceTopic(t), undefined, t);
});

test('parseDeviceTopic takes any string and returns only a topic that deviceTopic writes back', () => {
  const part = fc.oneof(
    fc.constantFrom(TOPIC_ROOT, A, B, '+', '#', '', ...UP_KINDS, ...DOWN_KINDS),
    fc.string({ maxLength: 16 }),
  );
  const topic = fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.array(part, { maxLength: 5 }).map((p) => p.join('/')),
  );
  fc.assert(
    fc.property(topic, (t) => {
      const parsed = parseDeviceTopic(t);
      if (parsed !== undefined) assert.equal(deviceTopic(parsed.serial, parsed.kind), t);
    }),
    { numRuns: 500 },
  );
});
