// The journal on the unit's clock (src/clock): a jump of the wall clock neither erases nor resurrects
// an entry. Wall and monotonic clocks are set by hand; each "run" opens the clock and the journal anew.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClock, SOFTWARE_TIME_FLOOR, type UnitClock } from '../clock/index.ts';
import { ConnectionJournal, JOURNAL_FILE_NAME } from './index.ts';
import type { JournalRecordInput } from './index.ts';

const DAY = 86_400_000;
/** The true time when the unit first starts: 10 days after the software was built. */
const T0 = SOFTWARE_TIME_FLOOR.at + 10 * DAY;
const config = { maxAgeDays: 30, expirySweepMs: 60_000 };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-journal-clock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The unit's time as the test sees it: the true time, what the wall clock says, and the monotonic clock. */
class Time {
  wall: number;
  mono = 7_000;
  constructor(wall: number) {
    this.wall = wall;
  }
  /** Real time passes: both clocks move. */
  pass(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
}

/** One run of the unit: its clock (floor from the software build and when the unit was made) and journal. */
async function run(dir: string, time: Time): Promise<{ clock: UnitClock; journal: ConnectionJournal }> {
  const readings = { wall: () => time.wall, monotonic: () => time.mono };
  const clock = await openClock(dir, { readings, floorSources: [{ at: T0, source: 'unit made' }] });
  const onError = (err: unknown): never => {
    throw err;
  };
  const journal = await ConnectionJournal.open({ stateDir: dir, privacyClass: 'standard', clock, config, onError });
  return { clock, journal };
}

async function stop(unit: { clock: UnitClock; journal: ConnectionJournal }): Promise<void> {
  await unit.journal.close();
  await unit.clock.close();
}

function login(detail: string): JournalRecordInput {
  return { surface: 'web', source: '192.0.2.7:40000', event: 'login', identity: 'owner', result: 'failure', detail };
}

const details = (journal: ConnectionJournal): string[] => journal.export().map((e) => e.detail ?? '');

test('a unit started at 1970 stamps entries at the floor and keeps them once the clock is set', async () => {
  await withDir(async (dir) => {
    const time = new Time(0);
    const unit = await run(dir, time);
    const entry = unit.journal.record(login('before the clock was set'))!;
    assert.equal(entry.at, new Date(T0).toISOString(), 'stamped at the floor, not in 1970');
    time.pass(60_000);
    time.wall = T0 + 200 * DAY; // the clock is set: the unit had sat on a shelf
    unit.journal.record(login('after'));
    assert.deepEqual(details(unit.journal), ['before the clock was set', 'after']);
    await stop(unit);
    const next = await run(dir, time);
    assert.deepEqual(details(next.journal), ['before the clock was set', 'after'], 'kept across a restart too');
    time.pass(30 * DAY + 1);
    assert.deepEqual(details(next.journal), ['after'], 'aged by the time the unit ran');
    await stop(next);
  });
});

test('a 31-day forward jump and back loses nothing and resurrects nothing', async () => {
  await withDir(async (dir) => {
    const time = new Time(T0);
    const unit = await run(dir, time);
    unit.journal.record(login('day 0'));
    time.pass(20 * DAY);
    unit.journal.record(login('day 20'));
    time.wall += 31 * DAY;
    unit.journal.record(login('during the jump'));
    assert.deepEqual(details(unit.journal), ['day 0', 'day 20', 'during the jump'], 'the jump erased nothing');
    await stop(unit);
    const jumped = await run(dir, time);
    assert.deepEqual(details(jumped.journal), ['day 0', 'day 20', 'during the jump'], 'nor did a restart in it');
    const lastStamp = Date.parse(jumped.journal.export().at(-1)!.at);
    time.wall -= 31 * DAY;
    const after = jumped.journal.record(login('after the jump back'))!;
    assert.ok(Date.parse(after.at) >= lastStamp, 'a new entry is not stamped before the last one');
    time.pass(11 * DAY);
    assert.deepEqual(details(jumped.journal), ['day 20', 'during the jump', 'after the jump back']);
    await stop(jumped);
  });
});

test('an entry that expired stays gone when the wall clock goes back, across a restart', async () => {
  await withDir(async (dir) => {
    const time = new Time(T0);
    const unit = await run(dir, time);
    unit.journal.record(login('old'));
    await unit.journal.flush();
    time.pass(31 * DAY);
    assert.deepEqual(details(unit.journal), []);
    // A power cut: the journal never swept its file, but the clock saved its floor.
    await unit.clock.close();
    assert.match(await readFile(join(dir, JOURNAL_FILE_NAME), 'utf8'), /"old"/);
    time.wall -= 31 * DAY;
    const next = await run(dir, time);
    assert.deepEqual(details(next.journal), []);
    await stop(next);
    await unit.journal.close();
  });
});

test('a clock 2 days fast keeps entries at most 2 days longer, and loses none when corrected', async () => {
  await withDir(async (dir) => {
    const time = new Time(T0 + 2 * DAY);
    const unit = await run(dir, time);
    unit.journal.record(login('fast'));
    time.pass(DAY);
    time.wall -= 2 * DAY; // corrected
    unit.journal.record(login('corrected'));
    assert.deepEqual(details(unit.journal), ['fast', 'corrected']);
    time.pass(30 * DAY);
    assert.deepEqual(details(unit.journal), ['fast', 'corrected']);
    time.pass(DAY + 1);
    assert.deepEqual(details(unit.journal), ['corrected'], 'the fast entry went 2 days late');
    time.pass(DAY / 2);
    assert.deepEqual(details(unit.journal), [], 'the one stamped while the clock slewed back, 1.5 days late');
    await stop(unit);
  });
});

test('a clock a year slow stamps at the floor and expires entries on time', async () => {
  await withDir(async (dir) => {
    const time = new Time(T0 - 365 * DAY);
    const unit = await run(dir, time);
    assert.equal(unit.clock.plausible(), false);
    const entry = unit.journal.record(login('slow'))!;
    assert.equal(entry.at, new Date(T0).toISOString());
    time.pass(29 * DAY);
    assert.deepEqual(details(unit.journal), ['slow']);
    time.pass(2 * DAY);
    assert.deepEqual(details(unit.journal), []);
    await stop(unit);
  });
});

test('without a clock the journal keeps its wall-clock behaviour; with both clock and now it refuses', async () => {
  await withDir(async (dir) => {
    let wall = T0;
    const journal = await ConnectionJournal.open({ stateDir: dir, now: () => wall, config });
    journal.record(login('wall'));
    wall += 31 * DAY;
    assert.deepEqual(details(journal), [], 'a wall-clock journal ages by the wall clock');
    await journal.close();
    const clock = await openClock(dir);
    await assert.rejects(ConnectionJournal.open({ stateDir: dir, now: () => wall, clock }), /clock/);
    await clock.close();
  });
});
