import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOWN_KINDS, UP_KINDS, serviceCommonName } from '../cloudprotocol/index.ts';
import {
  decideRabbitmqQuestion,
  defaultRabbitmqAuthPolicy,
  mqttSessionQueues,
  parseRabbitmqQuestion,
  rabbitmqAnswer,
  rabbitmqRefusalEntry,
  topicOfRoutingKey,
  validateRabbitmqAuthPolicy,
  type RabbitmqAuthKind,
  type RabbitmqRefusal,
} from './rabbitmq-auth.ts';

const A = 'PLG-AAAAAAAAAA';
const B = 'PLG-BBBBBBBBBB';
const REVOKED = 'PLG-RRRRRRRRRR';
const CLOUD = serviceCommonName('1');
const policy = validateRabbitmqAuthPolicy();
const revoked = (cn: string): string | undefined => (cn === REVOKED ? 'unit revoked (stolen)' : undefined);

/** A question as RabbitMQ 3.10.8 sends it (fields as recorded from a real node: docs/rabbitmq.md). */
function form(kind: RabbitmqAuthKind, fields: Record<string, string>): URLSearchParams {
  const base: Record<string, string> = kind === 'user' ? {} : { vhost: '/', tags: '' };
  return new URLSearchParams({ ...base, ...fields });
}

const topicQ = (who: string, permission: string, routingKey: string, clientId = who): URLSearchParams =>
  form('topic', {
    username: who,
    resource: 'topic',
    name: 'amq.topic',
    permission,
    routing_key: routingKey,
    'variable_map.client_id': clientId,
    'variable_map.username': who,
    'variable_map.vhost': '/',
  });

const queueQ = (who: string, name: string, permission: string, clientId?: string): URLSearchParams =>
  form('resource', {
    username: who,
    resource: 'queue',
    name,
    permission,
    ...(clientId === undefined ? {} : { client_id: clientId }),
  });

type Row = readonly [name: string, kind: RabbitmqAuthKind, form: URLSearchParams, expected: 'allow' | RabbitmqRefusal];

const rows: readonly Row[] = [
  // Logins: the certificate's CN, with no password.
  ['a device logs in with its certificate', 'user', form('user', { username: A }), 'allow'],
  ['a cloud instance logs in with its certificate', 'user', form('user', { username: CLOUD }), 'allow'],
  [
    'a device certificate plus guest/guest does not log in as guest',
    'user',
    form('user', { username: 'guest', password: 'guest', vhost: '/', client_id: A }),
    'password-login',
  ],
  [
    "a password with the device's own CN as user name is refused too",
    'user',
    form('user', { username: A, password: 'x', vhost: '/', client_id: A }),
    'password-login',
  ],
  [
    'an empty password still counts as a password',
    'user',
    form('user', { username: A, password: '' }),
    'password-login',
  ],
  ['a CN that is no serial and no cloud instance', 'user', form('user', { username: 'admin' }), 'unknown-identity'],
  ['a revoked unit cannot log in', 'user', form('user', { username: REVOKED }), 'revoked'],
  // Connecting: the client id must be the CN.
  [
    'a device connects with its CN as client id',
    'vhost',
    form('vhost', { username: A, ip: '10.0.0.9', client_id: A }),
    'allow',
  ],
  [
    "a device asking for another device's client id is refused",
    'vhost',
    form('vhost', { username: A, ip: '10.0.0.9', client_id: B }),
    'client-id-mismatch',
  ],
  ['a device without a client id (AMQP) is refused', 'vhost', form('vhost', { username: A }), 'client-id-mismatch'],
  ['a cloud instance over AMQP (no client id) connects', 'vhost', form('vhost', { username: CLOUD }), 'allow'],
  [
    'a cloud instance over MQTT with another client id is refused',
    'vhost',
    form('vhost', { username: CLOUD, client_id: 'bulwark-cloud-2' }),
    'client-id-mismatch',
  ],
  [
    'another virtual host is refused',
    'vhost',
    form('vhost', { username: A, client_id: A, vhost: 'x' }),
    'vhost-denied',
  ],
  ['a revoked unit cannot connect', 'vhost', form('vhost', { username: REVOKED, client_id: REVOKED }), 'revoked'],
  // Topics: a device's own, by the shared rule.
  ['a device publishes its own telemetry', 'topic', topicQ(A, 'write', `devices.${A}.telemetry`), 'allow'],
  [
    "a device publishes on another device's telemetry",
    'topic',
    topicQ(A, 'write', `devices.${B}.telemetry`),
    'publish-denied',
  ],
  [
    'a device publishes a command (a down topic)',
    'topic',
    topicQ(A, 'write', `devices.${A}.commands`),
    'publish-denied',
  ],
  ['a device subscribes to its own commands', 'topic', topicQ(A, 'read', `devices.${A}.commands`), 'allow'],
  [
    "a device subscribes to another device's commands",
    'topic',
    topicQ(A, 'read', `devices.${B}.commands`),
    'subscribe-denied',
  ],
  ['a device subscribes with + (sent as *)', 'topic', topicQ(A, 'read', 'devices.*.commands'), 'subscribe-denied'],
  ['a device subscribes with #', 'topic', topicQ(A, 'read', 'devices.#'), 'subscribe-denied'],
  ['a device reads its own telemetry back', 'topic', topicQ(A, 'read', `devices.${A}.telemetry`), 'subscribe-denied'],
  [
    'a topic with a dot in a level is no device topic',
    'topic',
    topicQ(A, 'write', `devices.${A}/x.telemetry`),
    'publish-denied',
  ],
  [
    'a publish with another client id is refused',
    'topic',
    topicQ(A, 'write', `devices.${A}.telemetry`, B),
    'client-id-mismatch',
  ],
  ['a revoked unit cannot publish', 'topic', topicQ(REVOKED, 'write', `devices.${REVOKED}.telemetry`), 'revoked'],
  [
    'a topic on another exchange is refused',
    'topic',
    form('topic', {
      username: A,
      resource: 'topic',
      name: 'amq.fanout',
      permission: 'write',
      routing_key: 'x',
      client_id: A,
    }),
    'publish-denied',
  ],
  // The cloud: every device's up topics, down topics to any device.
  ["the cloud reads every device's telemetry", 'topic', topicQ(CLOUD, 'read', 'devices.*.telemetry'), 'allow'],
  ['the cloud reads one device', 'topic', topicQ(CLOUD, 'read', `devices.${A}.state`), 'allow'],
  ['the cloud does not subscribe to everything', 'topic', topicQ(CLOUD, 'read', '#'), 'subscribe-denied'],
  [
    'the cloud does not read commands it sends',
    'topic',
    topicQ(CLOUD, 'read', 'devices.*.commands'),
    'subscribe-denied',
  ],
  ['the cloud commands a device', 'topic', topicQ(CLOUD, 'write', `devices.${A}.commands`), 'allow'],
  ['the cloud does not forge telemetry', 'topic', topicQ(CLOUD, 'write', `devices.${A}.telemetry`), 'publish-denied'],
  // Queues and exchanges.
  ["a device's own QoS 1 session queue", 'resource', queueQ(A, `mqtt-subscription-${A}qos1`, 'configure', A), 'allow'],
  ["another device's session queue", 'resource', queueQ(A, `mqtt-subscription-${B}qos1`, 'read', A), 'resource-denied'],
  ['a device may not use the cloud queues', 'resource', queueQ(A, 'bulwark.telemetry', 'read', A), 'resource-denied'],
  ['the cloud consumes its shared queue over AMQP', 'resource', queueQ(CLOUD, 'bulwark.telemetry', 'read'), 'allow'],
  ['the prefix alone is no queue name', 'resource', queueQ(CLOUD, 'bulwark.', 'configure'), 'resource-denied'],
  [
    'publishing to the MQTT exchange',
    'resource',
    form('resource', { username: A, resource: 'exchange', name: 'amq.topic', permission: 'write', client_id: A }),
    'allow',
  ],
  [
    'declaring or deleting the MQTT exchange',
    'resource',
    form('resource', { username: CLOUD, resource: 'exchange', name: 'amq.topic', permission: 'configure' }),
    'resource-denied',
  ],
  [
    'the default exchange',
    'resource',
    form('resource', { username: CLOUD, resource: 'exchange', name: 'amq.default', permission: 'write' }),
    'resource-denied',
  ],
];

for (const [name, kind, body, expected] of rows) {
  test(`rabbitmq ${kind}: ${name} (${expected})`, () => {
    const parsed = parseRabbitmqQuestion(kind, body);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    const d = decideRabbitmqQuestion(parsed.question, policy, revoked);
    assert.equal(d.allow ? 'allow' : d.refusal, expected, d.allow ? '' : d.reason);
    assert.equal(rabbitmqAnswer(d), expected === 'allow' ? 'allow' : 'deny');
  });
}

test('every up kind is a device publish and every down kind a device subscription, as on the other brokers', () => {
  const decide = (permission: string, key: string): boolean => {
    const parsed = parseRabbitmqQuestion('topic', topicQ(A, permission, key));
    return parsed.ok && decideRabbitmqQuestion(parsed.question, policy, revoked).allow;
  };
  for (const k of UP_KINDS) assert.equal(decide('write', `devices.${A}.${k}`), true, k);
  for (const k of DOWN_KINDS) {
    assert.equal(decide('read', `devices.${A}.${k}`), true, k);
    assert.equal(decide('write', `devices.${A}.${k}`), false, k);
  }
});

test('a password is dropped by the parser: only whether one came is kept', () => {
  const parsed = parseRabbitmqQuestion('user', form('user', { username: 'guest', password: 'pw-SECRET-1' }));
  assert.ok(parsed.ok);
  assert.equal(parsed.question.passwordPresent, true);
  assert.doesNotMatch(JSON.stringify(parsed.question), /pw-SECRET-1/);
  const d = decideRabbitmqQuestion(parsed.question, policy, revoked);
  assert.ok(!d.allow);
  const entry = rabbitmqRefusalEntry('user', parsed.question, d);
  assert.doesNotMatch(JSON.stringify(entry), /pw-SECRET-1|guest/, 'neither the password nor the typed user name');
  assert.equal(entry.identity, '(unknown)');
});

test("a refusal's journal entry names the CN, the address RabbitMQ gave and the reason", () => {
  const parsed = parseRabbitmqQuestion('vhost', form('vhost', { username: A, ip: '10.0.0.9', client_id: B }));
  assert.ok(parsed.ok);
  const d = decideRabbitmqQuestion(parsed.question, policy, revoked);
  assert.ok(!d.allow);
  assert.deepEqual(rabbitmqRefusalEntry('vhost', parsed.question, d), {
    surface: 'cloud',
    source: '10.0.0.9',
    event: 'rabbitmq-vhost',
    identity: A,
    result: 'refused',
    detail: `client-id-mismatch: client id "${B}" is not the certificate CN`,
  });
});

test('a malformed question is refused with the field at fault, never its value', () => {
  const cases: Array<[RabbitmqAuthKind, URLSearchParams, RegExp]> = [
    ['user', new URLSearchParams(), /username missing/],
    ['topic', new URLSearchParams('username=a&vhost=/'), /field resource missing/],
    ['user', new URLSearchParams('username=a&username=b'), /username given twice/],
    ['user', new URLSearchParams({ username: 'x'.repeat(2_000) }), /username too long/],
    ['resource', queueQ(A, 'q', 'delete', A), /permission unknown/],
    [
      'resource',
      form('resource', { username: A, resource: 'vhost', name: 'q', permission: 'read' }),
      /resource unknown/,
    ],
    [
      'topic',
      new URLSearchParams([...topicQ(A, 'write', 'k'), ['client_id', B]]),
      /client_id and variable_map.client_id differ/,
    ],
  ];
  for (const [kind, body, reason] of cases) {
    const parsed = parseRabbitmqQuestion(kind, body);
    assert.ok(!parsed.ok);
    assert.match(parsed.reason, reason);
    assert.doesNotMatch(parsed.reason, /xxxx/);
  }
});

test('routing keys turn back into the MQTT topics RabbitMQ made them from', () => {
  assert.equal(topicOfRoutingKey(`devices.${A}.telemetry`), `devices/${A}/telemetry`);
  assert.equal(topicOfRoutingKey('devices.*.telemetry'), 'devices/+/telemetry');
  assert.equal(topicOfRoutingKey('devices.#'), 'devices/#');
  assert.equal(topicOfRoutingKey('devices/x.y'), undefined, 'a / in a routing key was a . in the topic');
  assert.deepEqual(mqttSessionQueues(A), [`mqtt-subscription-${A}qos0`, `mqtt-subscription-${A}qos1`]);
});

test('a revocation holds from the next question: nothing is remembered between questions', () => {
  const gone = new Set<string>();
  const check = (cn: string): string | undefined => (gone.has(cn) ? 'revoked just now' : undefined);
  const ask = (): boolean => {
    const parsed = parseRabbitmqQuestion('topic', topicQ(A, 'write', `devices.${A}.telemetry`));
    return parsed.ok && decideRabbitmqQuestion(parsed.question, policy, check).allow;
  };
  assert.equal(ask(), true);
  gone.add(A);
  assert.equal(ask(), false);
});

test('a policy that could widen access is refused', () => {
  assert.deepEqual(validateRabbitmqAuthPolicy(), defaultRabbitmqAuthPolicy);
  assert.throws(() => validateRabbitmqAuthPolicy({ serviceQueuePrefix: 'mqtt-subscription-' }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'serviceQueuePrefix',
  });
  assert.throws(() => validateRabbitmqAuthPolicy({ serviceQueuePrefix: 'bulwark' }), { key: 'serviceQueuePrefix' });
  assert.throws(() => validateRabbitmqAuthPolicy({ exchange: 'amq.*' }), { key: 'exchange' });
  assert.throws(() => validateRabbitmqAuthPolicy({ vhost: '' }), { key: 'vhost' });
});
