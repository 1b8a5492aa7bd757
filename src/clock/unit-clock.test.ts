import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { CLOCK_FILE_NAME, SOFTWARE_TIME_FLOOR, openClock } from './index.ts';
import type { ClockReadings } from './index.ts';

const BUILD = SOFTWARE_TIME_FLOOR.at;
const DAY = 86_400_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-clock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A wall clock and a monotonic clock the test sets by hand; each run of the unit starts its own. */
function readings(wall: number, mono = 5_000): ClockReadings & { wallAt: number; mono: number } {
  const r = { wallAt: wall, mono, wall: () => r.wallAt, monotonic: () => r.mono };
  return r;
}

async function savedFloor(dir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dir, CLOCK_FILE_NAME), 'utf8')) as { floor: string }).floor;
}

test('the next run starts from the floor saved at close, not from the software build', async () => {
  await withDir(async (dir) => {
    const first = readings(0);
    const clock = await openClock(dir, { readings: first });
    first.mono += 3 * DAY;
    await clock.close();
    assert.equal(await savedFloor(dir), new Date(BUILD + 3 * DAY).toISOString());
    const again = await openClock(dir, { readings: readings(0, 17) });
    assert.equal(again.now(), BUILD + 3 * DAY);
    assert.equal(again.plausible(), false);
    await again.close();
  });
});

test('a forward jump of the wall clock is not saved as a floor', async () => {
  await withDir(async (dir) => {
    const r = readings(BUILD + DAY);
    const clock = await openClock(dir, { readings: r });
    r.wallAt += 31 * DAY;
    assert.equal(clock.now(), BUILD + 32 * DAY);
    await clock.close();
    const again = await openClock(dir, { readings: readings(BUILD + DAY) });
    assert.equal(again.floor(), BUILD);
    assert.equal(again.plausible(), true, 'the corrected wall clock is believed');
    await again.close();
  });
});

test('a unit-made time counts as a floor, and an unparsable one is ignored', async () => {
  await withDir(async (dir) => {
    const made = '2027-03-04T05:06:07.000Z';
    const floorSources = [
      { at: made, source: 'unit made' },
      { at: 'yesterday', source: 'garbage' },
      { at: undefined, source: 'absent' },
    ];
    const clock = await openClock(dir, { readings: readings(0), floorSources });
    assert.equal(clock.floor(), Date.parse(made));
    assert.equal(clock.state().source, 'unit made');
    await clock.close();
  });
});

test('a raised floor is saved with its source', async () => {
  await withDir(async (dir) => {
    const clock = await openClock(dir, { readings: readings(BUILD) });
    assert.equal(clock.raise(BUILD + 100 * DAY, 'signed timestamp'), true);
    await clock.close();
    const text = JSON.parse(await readFile(join(dir, CLOCK_FILE_NAME), 'utf8')) as unknown;
    assert.deepEqual(text, {
      version: 1,
      floor: new Date(BUILD + 100 * DAY).toISOString(),
      source: 'signed timestamp',
    });
  });
});

test('saves clock.json on its interval while running', async () => {
  await withDir(async (dir) => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const r = readings(0);
      const clock = await openClock(dir, { readings: r, saveIntervalMs: 60_000 });
      r.mono += 60_000;
      mock.timers.tick(60_000);
      // The interval's write is under way: save() returns it rather than starting one at the later time.
      r.mono += 3_600_000;
      await clock.save();
      assert.equal(await savedFloor(dir), new Date(BUILD + 60_000).toISOString());
      await clock.close();
      assert.equal(await savedFloor(dir), new Date(BUILD + 3_660_000).toISOString());
    } finally {
      mock.timers.reset();
    }
  });
});

test('an unusable clock.json is moved aside and the other floors count', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, CLOCK_FILE_NAME), '{"version":1,"floor":"not a time","source":"x"}');
    const noted: string[] = [];
    const damaged = { dir: join(dir, 'damaged'), note: (e: { reason: string }) => void noted.push(e.reason) };
    const clock = await openClock(dir, { readings: readings(0), damaged });
    assert.equal(clock.floor(), BUILD);
    assert.deepEqual(noted, ['does not match its schema']);
    assert.equal((await readdir(join(dir, 'damaged'))).length, 1);
    await clock.close();
    assert.equal(await savedFloor(dir), new Date(BUILD).toISOString());
  });
});

test('a failed write is reported and the clock goes on', async () => {
  await withDir(async (dir) => {
    const errors: unknown[] = [];
    const stateDir = join(dir, 'state');
    const clock = await openClock(stateDir, { readings: readings(0), onError: (err) => errors.push(err) });
    await writeFile(stateDir, 'a file where the state folder should be');
    await clock.close();
    assert.equal(errors.length, 1);
    assert.equal(clock.now(), BUILD);
  });
});

test('refuses a save interval out of range, naming the key', async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      openClock(dir, { saveIntervalMs: 1_000 }),
      (err: unknown) => hasCode(err, 'DEVICE_CONFIG_INVALID') && String(err).includes('clock.saveIntervalMs'),
    );
  });
});
