import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FloorClock } from './index.ts';
import type { ClockReadings } from './index.ts';

const BUILD = Date.parse('2026-12-01T00:00:00.000Z');
const DAY = 86_400_000;

/** A wall clock and a monotonic clock the test sets by hand. */
function readings(wall: number): ClockReadings & { wallAt: number; mono: number; pass: (ms: number) => void } {
  const r = {
    wallAt: wall,
    mono: 1_000,
    wall: () => r.wallAt,
    monotonic: () => r.mono,
    /** Real time passes: both clocks move. */
    pass: (ms: number) => {
      r.wallAt += ms;
      r.mono += ms;
    },
  };
  return r;
}

test('a wall clock at 1970 reads as the floor, which advances with elapsed time', () => {
  const r = readings(0);
  const clock = new FloorClock([{ at: BUILD, source: 'software build' }], r);
  assert.equal(clock.now(), BUILD);
  assert.equal(clock.plausible(), false);
  r.pass(90_000);
  assert.equal(clock.now(), BUILD + 90_000);
  assert.equal(clock.floor(), BUILD + 90_000);
  assert.deepEqual(clock.state(), { floor: BUILD + 90_000, source: 'software build', wall: 90_000, plausible: false });
});

test('follows the wall clock when it is at or above the floor', () => {
  const r = readings(BUILD + 40 * DAY);
  const clock = new FloorClock([{ at: BUILD, source: 'software build' }], r);
  assert.equal(clock.now(), BUILD + 40 * DAY);
  assert.equal(clock.plausible(), true);
  r.pass(5_000);
  assert.equal(clock.now(), BUILD + 40 * DAY + 5_000);
});

test('the floor starts from the newest valid source and ignores what is not a time', () => {
  const r = readings(0);
  const sources = [
    { at: BUILD, source: 'software build' },
    { at: BUILD + DAY, source: 'unit made' },
    { at: Number.NaN, source: 'garbage' },
    { at: -5, source: 'negative' },
    { at: 9e15, source: 'past the last date' },
  ];
  const clock = new FloorClock(sources, r);
  assert.equal(clock.floor(), BUILD + DAY);
  assert.equal(clock.state().source, 'unit made');
});

test('a jump of the wall clock does not move the floor', () => {
  const r = readings(BUILD);
  const clock = new FloorClock([{ at: BUILD, source: 'software build' }], r);
  r.wallAt += 31 * DAY;
  assert.equal(clock.floor(), BUILD);
  assert.equal(clock.now(), BUILD + 31 * DAY);
  r.wallAt -= 400 * DAY;
  assert.equal(clock.floor(), BUILD);
});

test('never goes backwards when the wall clock steps back: goes on at half speed until it catches up', () => {
  const r = readings(BUILD + 10 * DAY);
  const clock = new FloorClock([{ at: BUILD, source: 'software build' }], r);
  const before = clock.now();
  r.wallAt -= 5 * DAY;
  assert.equal(clock.now(), before);
  r.pass(1_000);
  assert.equal(clock.now(), before + 500);
  assert.equal(clock.plausible(), true, 'the wall clock is still above the floor');
  r.pass(10 * DAY - 1_000);
  assert.equal(clock.now(), before + 5 * DAY);
  r.pass(1_000);
  assert.equal(clock.now(), r.wallAt, 'once the wall clock has caught up, it is followed again');
});

test('raise moves the floor up only, and a wall clock below it becomes implausible', () => {
  const r = readings(BUILD + 10 * DAY);
  const clock = new FloorClock([{ at: BUILD, source: 'software build' }], r);
  assert.equal(clock.raise(BUILD - DAY, 'older'), false);
  assert.equal(clock.raise(Number.POSITIVE_INFINITY, 'not a time'), false);
  assert.equal(clock.floor(), BUILD);
  assert.equal(clock.raise(BUILD + 20 * DAY, 'signed timestamp'), true);
  assert.equal(clock.plausible(), false);
  assert.equal(clock.now(), BUILD + 20 * DAY);
  r.pass(60_000);
  assert.equal(clock.floor(), BUILD + 20 * DAY + 60_000);
  assert.equal(clock.state().source, 'signed timestamp');
});
