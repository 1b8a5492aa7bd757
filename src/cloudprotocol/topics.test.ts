import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SERIAL_PATTERN, generateSerial } from '../identity/index.ts';
import * as topics from './topics.ts';

const A = 'PLG-AAAAAAAAAA',
  B = 'PLG-BBBBBBBBBB';
const deviceA = { kind: 'device', serial: A } as const;
const cloud = { kind: 'service', name: '1' } as const;

test('the serial shape is the one the factory issues', () => {
  assert.equal(topics.SERIAL.source, SERIAL_PATTERN.source);
  for (let i = 0; i < 50; i++) assert.ok(topics.SERIAL.test(generateSerial('PLG')));
});

test('a certificate CN is a device, a cloud instance, or nobody', () => {
  assert.deepEqual(topics.identityFromCommonName(A), deviceA);
  assert.deepEqual(topics.identityFromCommonName('bulwark-cloud-1'), cloud);
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
    assert.equal(topics.identityFromCommonName(cn), undefined, String(cn));
  }
  assert.throws(() => topics.serviceCommonName('a/b'), { code: 'INVALID_INPUT' });
});

test('a device publishes only its own up topics; the cloud only down topics', () => {
  for (const k of topics.UP_KINDS) {
    assert.equal(topics.mayPublish(deviceA, topics.deviceTopic(A, k)), true, k);
    assert.equal(topics.mayPublish(deviceA, topics.deviceTopic(B, k)), false, k);
    assert.equal(topics.mayPublish(cloud, topics.deviceTopic(A, k)), false, `cloud may not forge ${k}`);
  }
  for (const k of topics.DOWN_KINDS) {
    assert.equal(topics.mayPublish(deviceA, topics.deviceTopic(A, k)), false, k);
    assert.equal(topics.mayPublish(cloud, topics.deviceTopic(B, k)), true, k);
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
    assert.equal(topics.mayPublish(deviceA, t), false, t);
  }
});

test('a device subscribes only to its own down topics, by exact name', () => {
  for (const k of topics.DOWN_KINDS) {
    assert.equal(topics.maySubscribe(deviceA, topics.deviceTopic(A, k)), true);
    assert.equal(topics.maySubscribe(deviceA, topics.deviceTopic(B, k)), false);
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
    assert.equal(topics.maySubscribe(deviceA, f), false, f);
  }
  assert.equal(topics.maySubscribe(cloud, 'devices/+/telemetry'), true);
  assert.equal(topics.maySubscribe(cloud, '$share/bulwark/devices/+/replies'), true);
  assert.equal(topics.maySubscribe(cloud, '$share/other/devices/+/replies'), false);
  assert.equal(topics.maySubscribe(cloud, 'devices/+/commands'), false, 'the cloud does not read commands');
  assert.equal(topics.maySubscribe(cloud, '#'), false);
});

test('parseDeviceTopic takes only concrete device topics', () => {
  assert.deepEqual(topics.parseDeviceTopic(topics.deviceTopic(A, 'telemetry')), { serial: A, kind: 'telemetry' });
  for (const t of ['devices/+/telemetry', `devices/${A}/other`, `devices/${A}/telemetry/`, `x/${A}/telemetry`])
    assert.equal(topics.parseDeviceTopic(t), undefined, t);
});

test('parseDeviceTopic takes any string and returns only a topic that deviceTopic writes back', () => {
  const part = fc.oneof(
    fc.constantFrom(topics.TOPIC_ROOT, A, B, '+', '#', '', ...topics.UP_KINDS, ...topics.DOWN_KINDS),
    fc.string({ maxLength: 16 }),
  );
  const topic = fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.array(part, { maxLength: 5 }).map((p) => p.join('/')),
  );
  fc.assert(
    fc.property(topic, (t) => {
      const parsed = topics.parseDeviceTopic(t);
      if (parsed !== undefined) assert.equal(topics.deviceTopic(parsed.serial, parsed.kind), t);
    }),
    { numRuns: 500 },
  );
});
