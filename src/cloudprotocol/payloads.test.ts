import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseTelemetry,
  parseCommand,
  parseReply,
  parseSync,
  parseJsonPayload,
  encodePayload,
  toRanges,
  inRanges,
  PAYLOAD_LIMITS,
} from './payloads.ts';

test('payload parsers take exactly their schema', () => {
  assert.deepEqual(parseTelemetry({ seq: 1, at: 2, values: { energy: 3, power: true } }), {
    seq: 1,
    at: 2,
    values: { energy: 3, power: true },
  });
  for (const bad of [
    { seq: 0, at: 1, values: {} },
    { seq: 1.5, at: 1, values: {} },
    { seq: 1, at: 1, values: { Bad: 1 } },
    { seq: 1, at: 1, values: { a: {} } },
    { seq: 1, at: 1, values: {}, extra: 1 },
    { seq: 1, at: 1, values: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`v${i}`, i])) },
    { seq: 1, at: 1, values: { a: 'x'.repeat(65) } },
    { seq: 1, at: 1, values: { a: Infinity } },
    [],
    null,
  ])
    assert.throws(() => parseTelemetry(bad), { code: 'INVALID_INPUT' }, JSON.stringify(bad));
  assert.deepEqual(parseCommand({ id: 'abcdefgh', capability: 'power', action: 'on', expiresAt: 5 }), {
    id: 'abcdefgh',
    capability: 'power',
    action: 'on',
    expiresAt: 5,
  });
  assert.throws(() => parseCommand({ id: 'short', capability: 'power', action: 'on', expiresAt: 5 }), {
    code: 'INVALID_INPUT',
  });
  assert.deepEqual(parseReply({ id: 'abcdefgh', ok: false, error: { code: 'X_Y', message: 'm' } }), {
    id: 'abcdefgh',
    ok: false,
    error: { code: 'X_Y', message: 'm' },
  });
  assert.throws(() => parseSync({ ranges: [[3, 2]] }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseJsonPayload(Buffer.alloc(PAYLOAD_LIMITS.maxPayloadBytes + 1, 0x20)), {
    code: 'INVALID_INPUT',
  });
  assert.throws(() => encodePayload({ big: 'x'.repeat(PAYLOAD_LIMITS.maxPayloadBytes) }), { code: 'INVALID_INPUT' });
});

test('ranges cover exactly the given numbers (when within the range limit)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 200 }), (seqs) => {
      const r = toRanges(seqs, 10_000);
      for (const s of seqs) assert.ok(inRanges(s, r));
      const covered = r.reduce((n, [a, b]) => n + b - a + 1, 0);
      assert.equal(covered, new Set(seqs).size);
      for (let i = 1; i < r.length; i++) assert.ok(r[i]![0] > r[i - 1]![1] + 1, 'merged and sorted');
    }),
    { numRuns: 300 },
  );
  assert.equal(toRanges([1, 3, 5, 7], 2).length, 2, 'bounded');
});
