// Fuzz target for the questions RabbitMQ's HTTP auth backend asks the cloud (form bodies from a broker node): random
// and near-valid forms give a question or a refusal with its reason, never an exception, and every question read is
// answered allow or deny, with a password never carried into the question.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RABBITMQ_AUTH_KINDS,
  decideRabbitmqQuestion,
  defaultRabbitmqAuthPolicy,
  parseRabbitmqQuestion,
  rabbitmqAnswer,
} from './rabbitmq-auth.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const KEYS = [
  'username',
  'password',
  'vhost',
  'client_id',
  'variable_map.client_id',
  'ip',
  'resource',
  'name',
  'permission',
  'routing_key',
  'tags',
];
const VALUES = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('PLG-ABCDEFGHJK', 'bulwark-cloud-1', 'guest', '/', 'queue', 'exchange', 'topic', 'read', 'write'),
  fc.constantFrom('devices.PLG-ABCDEFGHJK.telemetry', 'devices.*.telemetry', 'devices.#', 'amq.topic', '*', '#'),
  fc.string({ minLength: 1_020, maxLength: 1_030 }),
);
const FORM = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 })), VALUES), {
  maxLength: 14,
});

test('random RabbitMQ auth questions: a question answered allow or deny, or a refusal with its reason', () => {
  fc.assert(
    fc.property(fc.constantFrom(...RABBITMQ_AUTH_KINDS), FORM, (kind, pairs) => {
      const form = new URLSearchParams(pairs);
      const parsed = parseRabbitmqQuestion(kind, form);
      if (!parsed.ok) {
        assert.equal(typeof parsed.reason, 'string');
        for (const [key, value] of pairs)
          if (key === 'password' && value.length > 3) assert.ok(!parsed.reason.includes(value), 'no password');
        return;
      }
      assert.ok(!JSON.stringify(parsed.question).includes('"password"'), 'the question holds no password');
      const decision = decideRabbitmqQuestion(parsed.question, defaultRabbitmqAuthPolicy, () => undefined);
      assert.ok(['allow', 'deny'].includes(rabbitmqAnswer(decision)));
      if (parsed.question.passwordPresent) assert.equal(decision.allow, false, 'a password is never let in');
    }),
    { numRuns: RUNS },
  );
});
