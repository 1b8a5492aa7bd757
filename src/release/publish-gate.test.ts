import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideSupportPeriod } from './publish-gate.ts';

const NOW = new Date('2027-03-01T12:00:00Z');
const model = (endsOn: string, shorterExpectedUse?: string) => ({
  id: 'kettle',
  supportPeriod: { endsOn, ...(shorterExpectedUse ? { shorterExpectedUse } : {}) },
});

test("a model's first release signs its declared end when it is five years or more away", () => {
  assert.deepEqual(decideSupportPeriod({ model: model('2032-03-01'), now: NOW }), { endsOn: '2032-03-01' });
});

test('under five years from the first publication is refused unless a shorter expected use is recorded', () => {
  assert.throws(() => decideSupportPeriod({ model: model('2032-02-27'), now: NOW }), {
    code: 'RELEASE_SUPPORT_TOO_SHORT',
    message: /under 5 years from its first publication \(2027-03-01\)/,
  });
  const reason = 'a seasonal product replaced every two years by design';
  assert.deepEqual(decideSupportPeriod({ model: model('2029-03-01', reason), now: NOW }), {
    endsOn: '2029-03-01',
    shorterExpectedUse: reason,
  });
});

test("five years count from the model's first publication, not from each later release", () => {
  const later = new Date('2030-06-01T00:00:00Z');
  const inputs = { model: model('2032-03-01'), firstPublishedAt: NOW.toISOString(), now: later };
  assert.equal(decideSupportPeriod(inputs).endsOn, '2032-03-01');
});

test('an end earlier than the one already signed is refused as a shortening', () => {
  assert.throws(() => decideSupportPeriod({ model: model('2032-03-01'), signed: '2033-01-01', now: NOW }), {
    code: 'RELEASE_SUPPORT_SHORTENED',
    message: /last until 2033-01-01; a release may extend that, never shorten it to 2032-03-01/,
  });
});

test("the release record's extension wins over an earlier model declaration", () => {
  const recorded = { endsOn: '2034-12-31', setAt: NOW.toISOString() };
  const decided = decideSupportPeriod({ model: model('2032-03-01'), recorded, signed: '2034-12-31', now: NOW });
  assert.equal(decided.endsOn, '2034-12-31');
});

test('a support period already over is refused', () => {
  const inputs = { model: model('2032-03-01'), firstPublishedAt: NOW.toISOString() };
  assert.throws(() => decideSupportPeriod({ ...inputs, now: new Date('2032-03-02T00:00:00Z') }), {
    code: 'RELEASE_SUPPORT_ENDED',
  });
  assert.equal(decideSupportPeriod({ ...inputs, now: new Date('2032-03-01T23:59:59Z') }).endsOn, '2032-03-01');
});
