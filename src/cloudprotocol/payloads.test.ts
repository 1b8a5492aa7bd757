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
  parseFirmware,
  parseEnrol,
  parseCertificateMessage,
  encodePayload as encode,
  PAYLOAD_LIMITS,
  UPDATE_OUTCOMES,
} from './payloads.ts';
import { InvalidInputError } from '../errors/index.ts';

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

const RUNNING = { version: '1.2.0', securityVersion: 1, slot: 'a', sha256: 'e'.repeat(64) } as const;
const ROLLED_BACK = { n: 7, at: 5, outcome: 'rolled-back', version: '1.3.0', detail: 'not healthy within 3 boots' };

test('a firmware report carries the running image and the update outcomes, exactly', () => {
  const report = { at: 9, running: RUNNING, outcomes: [ROLLED_BACK, { n: 8, at: 6, outcome: 'refused', code: 'X_Y' }] };
  assert.deepEqual(parseFirmware(report), report);
  assert.deepEqual(
    parseFirmware({ at: 1, running: { version: '1.0.0', securityVersion: 0, slot: 'factory' }, outcomes: [] }),
    {
      at: 1,
      running: { version: '1.0.0', securityVersion: 0, slot: 'factory' },
      outcomes: [],
    },
  );
  const tooMany = Array.from({ length: PAYLOAD_LIMITS.maxFirmwareOutcomes + 1 }, (_, i) => ({
    ...ROLLED_BACK,
    n: i + 1,
  }));
  for (const bad of [
    { at: 1, running: { ...RUNNING, slot: 'c' }, outcomes: [] },
    { at: 1, running: { ...RUNNING, sha256: 'E'.repeat(64) }, outcomes: [] },
    { at: 1, running: { ...RUNNING, version: '1.2.0/../x' }, outcomes: [] },
    { at: 1, running: { ...RUNNING, extra: 1 }, outcomes: [] },
    { at: 1, running: RUNNING, outcomes: [{ ...ROLLED_BACK, outcome: 'exploded' }] },
    { at: 1, running: RUNNING, outcomes: [{ ...ROLLED_BACK, n: 0 }] },
    { at: 1, running: RUNNING, outcomes: [{ ...ROLLED_BACK, code: 'lower' }] },
    {
      at: 1,
      running: RUNNING,
      outcomes: [{ ...ROLLED_BACK, detail: 'x'.repeat(PAYLOAD_LIMITS.maxOutcomeDetail + 1) }],
    },
    { at: 1, running: RUNNING, outcomes: [{ ...ROLLED_BACK, detail: 'line\nbreak' }] },
    { at: 1, running: RUNNING, outcomes: [ROLLED_BACK, ROLLED_BACK] },
    { at: 1, running: RUNNING, outcomes: tooMany },
    { at: 1, running: RUNNING },
  ])
    assert.throws(() => parseFirmware(bad), { code: 'INVALID_INPUT' }, JSON.stringify(bad).slice(0, 120));
});

test('the largest firmware report the parser takes fits one payload', () => {
  const outcome = (n: number): object => ({
    n: Number.MAX_SAFE_INTEGER - n,
    at: Number.MAX_SAFE_INTEGER,
    outcome: 'rolled-back',
    version: '9'.repeat(64),
    code: 'C'.repeat(64),
    detail: 'd'.repeat(PAYLOAD_LIMITS.maxOutcomeDetail),
  });
  const outcomes = Array.from({ length: PAYLOAD_LIMITS.maxFirmwareOutcomes }, (_, i) => outcome(i));
  const report = parseFirmware({ at: 1, running: { ...RUNNING, version: '9'.repeat(64) }, outcomes });
  assert.ok(encode(report).length <= PAYLOAD_LIMITS.maxPayloadBytes);
});

test('random input into parseFirmware: a valid report or INVALID_INPUT, never anything else', () => {
  const outcome = fc.record(
    {
      n: fc.oneof(fc.integer(), fc.anything()),
      at: fc.oneof(fc.nat(), fc.anything()),
      outcome: fc.oneof(fc.constantFrom(...UPDATE_OUTCOMES), fc.string()),
      version: fc.oneof(fc.constant('1.2.3'), fc.string()),
      code: fc.oneof(fc.constant('UPDATE_DOWNGRADE'), fc.string()),
      detail: fc.oneof(fc.string(), fc.anything()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.record({
          at: fc.anything(),
          running: fc.oneof(fc.constant(RUNNING), fc.anything()),
          outcomes: fc.array(outcome),
        }),
      ),
      (value) => {
        try {
          const r = parseFirmware(value);
          assert.ok(r.outcomes.length <= PAYLOAD_LIMITS.maxFirmwareOutcomes);
        } catch (err) {
          assert.ok(err instanceof InvalidInputError, String(err));
        }
      },
    ),
    { numRuns: 500 },
  );
});

const CSR = '-----BEGIN CERTIFICATE REQUEST-----\nMIIBAA==\n-----END CERTIFICATE REQUEST-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n';

test('enrolment messages take exactly their schema', () => {
  assert.deepEqual(parseEnrol({ id: 'abcdefgh12', csr: CSR, reason: 'first' }), {
    id: 'abcdefgh12',
    csr: CSR,
    reason: 'first',
  });
  assert.deepEqual(parseCertificateMessage({ renew: true, before: 5 }), { renew: true, before: 5 });
  assert.ok('certificate' in parseCertificateMessage({ id: 'abcdefgh12', certificate: CERT }));
  const refused: unknown[] = [
    { id: 'abcdefgh12', csr: CERT, reason: 'first' },
    { id: 'abcdefgh12', csr: CSR, reason: 'because' },
    { id: 'abcdefgh12', csr: CSR + 'x', reason: 'first' },
    { id: 'abcdefgh12', csr: CSR.replace('MIIBAA==', 'x'.repeat(3_001)), reason: 'first' },
    { id: 'abcdefgh12', certificate: CERT, error: { code: 'X', message: 'y' } },
    { renew: false, before: 5 },
    { renew: true, before: 5, id: 'abcdefgh12' },
  ];
  for (const r of refused)
    assert.throws(() => ('csr' in (r as object) ? parseEnrol(r) : parseCertificateMessage(r)), InvalidInputError);
});

test('random input into parseEnrol and parseCertificateMessage: a valid message or INVALID_INPUT, nothing else', () => {
  const field = fc.oneof(fc.anything(), fc.constantFrom(CSR, CERT, 'first', 'abcdefgh12', true, 5));
  const body = fc.oneof(
    fc.jsonValue(),
    fc.record({ id: field, csr: field, reason: field }, { requiredKeys: [] }),
    fc.record({ id: field, certificate: field, error: field, renew: field, before: field }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(body, (value) => {
      for (const parse of [parseEnrol, parseCertificateMessage]) {
        try {
          parse(value);
        } catch (e) {
          assert.ok(e instanceof InvalidInputError, String(e));
        }
      }
    }),
    { numRuns: 1_000 },
  );
});
