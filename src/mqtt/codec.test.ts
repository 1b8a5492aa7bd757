import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MqttDecoder, encodeConnect, encodePublish, encodePuback, encodeSubscribe, encodePingreq } from './codec.ts';
import { MqttProtocolError } from './errors.ts';

test('CONNECT is MQTT 3.1.1 with the client id and no credentials', () => {
  const c = encodeConnect({ clientId: 'bulwark-cloud-1', clean: false, keepaliveSeconds: 30 });
  assert.equal(c[0], 0x10);
  assert.equal(c.subarray(2, 8).toString('latin1'), '\u0000\u0004MQTT');
  assert.equal(c[8], 4, 'protocol level 4');
  assert.equal(c[9], 0, 'persistent session, no user name or password');
  assert.equal(c.readUInt16BE(10), 30);
  assert.equal(encodeConnect({ clientId: 'x', clean: true, keepaliveSeconds: 0 })[9], 2);
});

test("a broker's packets decode, whatever the chunking", () => {
  const publish = Buffer.concat([encodePublish('devices/PLG-AAAAAAAAAA/telemetry', Buffer.from('{"seq":1}'), 1, 7)]);
  const stream = Buffer.concat([
    Buffer.from([0x20, 2, 1, 0]),
    publish,
    Buffer.from([0x40, 2, 0, 7]),
    Buffer.from([0x90, 4, 0, 1, 1, 0x80]),
    Buffer.from([0xd0, 0]),
  ]);
  const whole = new MqttDecoder(1024).push(stream);
  assert.deepEqual(
    whole.map((p) => p.type),
    ['connack', 'publish', 'puback', 'suback', 'pingresp'],
  );
  assert.deepEqual(whole[0], { type: 'connack', sessionPresent: true, returnCode: 0 });
  const p = whole[1] as Extract<(typeof whole)[number], { type: 'publish' }>;
  assert.equal(p.topic, 'devices/PLG-AAAAAAAAAA/telemetry');
  assert.equal(p.messageId, 7);
  assert.equal(p.payload.toString(), '{"seq":1}');
  assert.deepEqual((whole[3] as unknown as { granted: number[] }).granted, [1, 0x80]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }), (cuts) => {
      const d = new MqttDecoder(1024);
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const out = [];
      let from = 0;
      for (const c of [...points, stream.length]) {
        out.push(...d.push(stream.subarray(from, c)));
        from = c;
      }
      assert.deepEqual(out, whole);
    }),
    { numRuns: 200 },
  );
});

test('oversized, malformed and QoS 2 packets are refused with typed errors', () => {
  assert.throws(() => new MqttDecoder(64).push(encodePublish('t', Buffer.alloc(100), 0)), { code: 'MQTT_TOO_LARGE' });
  assert.throws(() => new MqttDecoder(64).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])), MqttProtocolError);
  assert.throws(
    () => new MqttDecoder(64).push(Buffer.from([0x34, 5, 0, 1, 0x74, 0, 1])),
    { code: 'MQTT_MALFORMED' },
    'QoS 2',
  );
  assert.throws(
    () => new MqttDecoder(64).push(Buffer.from([0x10, 0])),
    { code: 'MQTT_MALFORMED' },
    'a CONNECT from the broker',
  );
  assert.throws(
    () => new MqttDecoder(64).push(Buffer.from([0x30, 3, 0, 1, 0x23])),
    { code: 'MQTT_MALFORMED' },
    'wildcard topic',
  );
  const d = new MqttDecoder(64);
  assert.throws(() => d.push(Buffer.from([0xf0, 0])));
  assert.throws(() => d.push(encodePingreq()), /after an error/);
});

test("PUBLISH, PUBACK and SUBSCRIBE encode to the spec's bytes", () => {
  assert.deepEqual([...encodePuback(258)], [0x40, 2, 1, 2]);
  assert.deepEqual(
    [...encodePublish('a/b', Buffer.from('x'), 1, 1, true)],
    [0x3a, 8, 0, 3, 0x61, 0x2f, 0x62, 0, 1, 0x78],
  );
  assert.deepEqual([...encodeSubscribe(1, [{ filter: 'a', qos: 1 }])], [0x82, 6, 0, 1, 0, 1, 0x61, 1]);
  assert.throws(() => encodePuback(0), MqttProtocolError);
  const big = encodePublish('t', Buffer.alloc(200), 0);
  assert.deepEqual([...big.subarray(0, 3)], [0x30, 0xcb, 0x01], 'two-byte remaining length');
});
