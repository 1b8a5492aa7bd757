import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePayload, parseFirmware, PAYLOAD_LIMITS } from '../cloudprotocol/index.ts';
import { firmwareReport, type LinkedFirmware, type LinkedOutcome } from './firmware-report.ts';

function updater(outcomes: LinkedOutcome[], running: Partial<LinkedFirmware['running']> = {}): LinkedFirmware {
  return {
    running: { slot: 'b', version: '1.2.0', securityVersion: 2, targetSha256: 'a'.repeat(64), ...running },
    outcomes: () => outcomes,
    onOutcome: () => () => undefined,
  };
}

test('the report carries the running image with its archive hash and the kept outcomes, oldest first', () => {
  const kept: LinkedOutcome[] = [
    { n: 1, at: 10, outcome: 'installed', version: '1.3.0' },
    { n: 2, at: 20, outcome: 'rolled-back', version: '1.3.0', detail: 'not healthy within 3 boots' },
  ];
  const r = firmwareReport(updater(kept), 30);
  assert.deepEqual(r, {
    at: 30,
    running: { version: '1.2.0', securityVersion: 2, slot: 'b', sha256: 'a'.repeat(64) },
    outcomes: kept,
  });
  const factory = firmwareReport(updater([], { slot: 'factory', targetSha256: undefined }), 30);
  assert.deepEqual(factory?.running, { version: '1.2.0', securityVersion: 2, slot: 'factory' }, 'no archive, no hash');
});

test('an outcome the cloud would refuse is cleaned or left out, never the whole report', () => {
  const r = firmwareReport(
    updater([
      { n: 1, at: 10, outcome: 'exploded' },
      { n: 2, at: 20, outcome: 'failed', version: '1.3.0', code: 'not-a-code', detail: 'disk\nfull\u0007' },
    ]),
    30,
  );
  assert.deepEqual(r?.outcomes, [{ n: 2, at: 20, outcome: 'failed', version: '1.3.0', detail: 'disk full ' }]);
});

test('a report that would not fit one payload drops its oldest outcomes first', () => {
  const wide = '€'.repeat(PAYLOAD_LIMITS.maxOutcomeDetail); // three bytes each
  const kept = Array.from({ length: PAYLOAD_LIMITS.maxFirmwareOutcomes + 3 }, (_, i) => ({
    n: i + 1,
    at: i,
    outcome: 'refused',
    version: '1.3.0',
    code: 'UPDATE_DOWNGRADE',
    detail: `${i} ${wide}`.slice(0, PAYLOAD_LIMITS.maxOutcomeDetail),
  }));
  const r = firmwareReport(updater(kept), 30)!;
  assert.ok(encodePayload(r).length <= PAYLOAD_LIMITS.maxPayloadBytes);
  assert.ok(r.outcomes.length < PAYLOAD_LIMITS.maxFirmwareOutcomes, 'some had to go');
  assert.equal(r.outcomes.at(-1)!.n, kept.length, 'the newest stays');
  assert.deepEqual(parseFirmware(JSON.parse(encodePayload(r).toString()) as unknown), r);
});

test('a running image the protocol cannot describe sends no report', () => {
  assert.equal(firmwareReport(updater([], { version: 'not a version' }), 30), undefined);
});
