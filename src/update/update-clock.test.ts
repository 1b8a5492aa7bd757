import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expiredText,
  expiryReference,
  floorRaiseOf,
  signedAtOf,
  TIMESTAMP_SIGNED_AT_FIELD,
  type UpdateClock,
} from './update-clock.ts';

const T = Date.parse('2027-03-01T12:00:00Z');
const DAY = 86_400_000;

function clockAt(wall: number, floor: number): UpdateClock {
  return {
    floor: () => floor,
    // The longest source a floor has.
    state: () => ({ floor, source: 'signed timestamp', wall, plausible: wall >= floor }),
    raise: () => false,
  };
}

const stamped = (signedAt: unknown, expires: string) => ({
  expires,
  unrecognizedFields: { [TIMESTAMP_SIGNED_AT_FIELD]: signedAt },
});

test('expiry is judged against the wall clock, never below the floor', () => {
  assert.deepEqual(expiryReference(clockAt(T, T - DAY)), {
    at: T,
    wall: T,
    floor: T - DAY,
    source: 'signed timestamp',
    belowFloor: false,
  });
  const slow = expiryReference(clockAt(0, T));
  assert.equal(slow.at, T);
  assert.equal(slow.belowFloor, true);
});

test('the floor rises to a signing time only when it is a time no later than every verified expiry', () => {
  const ts = stamped('2027-03-01T12:00:00Z', '2027-03-02T12:00:00Z');
  assert.equal(floorRaiseOf(ts, [{ expires: '2027-06-01T00:00:00Z' }]), T);
  assert.equal(floorRaiseOf(ts, [{ expires: '2027-03-01T11:59:59Z' }]), undefined, 'after the targets expired');
  assert.equal(floorRaiseOf(stamped('2027-03-03T00:00:00Z', '2027-03-02T12:00:00Z'), []), undefined);
  assert.equal(floorRaiseOf({ expires: '2027-03-02T12:00:00Z' }, []), undefined, 'no signing time');
  assert.equal(signedAtOf(stamped('yesterday', '2027-03-02T12:00:00Z')), undefined);
  assert.equal(signedAtOf(stamped(T, '2027-03-02T12:00:00Z')), undefined, 'a number is not the format');
});

test('a refusal for expiry names the floor, a likely fast clock, or stale metadata', () => {
  const below = expiredText('timestamp', T - 40 * DAY, expiryReference(clockAt(T - 365 * DAY, T)));
  assert.match(below, /^timestamp\.json is expired: 2027-01-20 12:00, before what this unit knows \(2027-03-01 12:00/);
  assert.match(below, /; clock reads 2026-03-01 12:00$/);
  const fast = expiredText('timestamp', T - DAY, expiryReference(clockAt(T, 0)));
  assert.match(
    fast,
    /expired: 2027-02-28 12:00, 24 h before this unit's clock \(2027-03-01 12:00\): likely a fast clock/,
  );
  const stale = expiredText('snapshot', T - 31 * DAY, expiryReference(clockAt(T, 0)));
  assert.match(stale, /^snapshot\.json is expired: .*, 31 days before .*: stale metadata, or a clock far off$/);
  for (const text of [below, fast, stale]) assert.ok(text.length <= 140, `${text.length}: ${text}`);
});
