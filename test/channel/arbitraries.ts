// fast-check arbitraries for the channel's messages, shared by unit and fuzz tests.
import fc from 'fast-check';
import { CHANNEL_ERROR_CODES, type ChannelMessage } from '../../src/channel/index.ts';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/);
const value = fc.oneof(
  fc.boolean(),
  fc.constant(null),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
  fc.string({ unit: 'binary', maxLength: 256 }).filter((s) => s.length <= 256 && s.isWellFormed()),
);
const id = fc.integer({ min: 1, max: 2 ** 31 });
/** Any valid message. */
export const validMessage: fc.Arbitrary<ChannelMessage> = fc.oneof(
  fc.record(
    { type: fc.constant('request' as const), id, capability: name, action: name, value },
    { requiredKeys: ['type', 'id', 'capability', 'action'] },
  ),
  fc.record({ type: fc.constant('response' as const), id, ok: fc.constant(true as const), value }),
  fc.record({
    type: fc.constant('error' as const),
    id,
    code: fc.constantFrom(...CHANNEL_ERROR_CODES),
    message: fc
      .string({ unit: 'binary', maxLength: 200 })
      .filter((s) => s.length <= 200 && s.isWellFormed() && !CONTROL.test(s)),
  }),
  fc.record(
    {
      type: fc.constant('event' as const),
      name: fc.constantFrom('state' as const, 'telemetry' as const, 'unpaired' as const),
      capability: name,
      value,
      at: fc.integer({ min: 0, max: 8.64e15 }),
    },
    { requiredKeys: ['type', 'name', 'value', 'at'] },
  ),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), n: fc.integer({ min: 0, max: 2 ** 31 }) }),
  fc.record({ type: fc.constant('bye' as const), reason: fc.stringMatching(/^[a-z][a-z0-9-]{0,63}$/) }),
);
