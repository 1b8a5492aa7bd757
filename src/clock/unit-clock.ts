/**
 * The unit's clock: src/clock's pure floor (floor-clock.ts) with its edge, the saved clock file, read
 * at open and written atomically at most every `saveIntervalMs` and at close (docs/clock.md).
 */
import { join } from 'node:path';
import { requireIntegerSetting } from '../errors/index.ts';
import { readStateFile, writeStateFile, type DamagedStateSink } from '../storage/index.ts';
import { CLOCK_FILE_FORMAT, CLOCK_FILE_NAME, clockFileText } from './clock-file.ts';
import { FloorClock, type ClockReadings, type ClockState, type FloorSource } from './floor-clock.ts';

/**
 * No unit runs this software before it was written. The release process may stamp a later time here
 * when it builds an image; the source's own is the month this line was last changed.
 */
export const SOFTWARE_TIME_FLOOR: FloorSource = Object.freeze({
  at: Date.parse('2026-12-01T00:00:00.000Z'),
  source: 'software build',
});

/** Options of {@link openClock}. */
export interface ClockOptions {
  /**
   * Further floors, e.g. `{ at: bundle.unit.createdAt, source: 'unit made' }`; a value that is not a
   * time (an unparsable string) is ignored. {@link SOFTWARE_TIME_FLOOR} and clock.json always count.
   */
  readonly floorSources?: ReadonlyArray<{ readonly at: number | string | undefined; readonly source: string }>;
  /** Least time between two writes of clock.json while running, ms (60_000..86_400_000; default 600_000). */
  readonly saveIntervalMs?: number;
  /** Where an unusable clock.json goes (the agent's sink journals it); default `<stateDir>/damaged`, untold. */
  readonly damaged?: DamagedStateSink;
  /** Called with a failed write of clock.json (a full disk): the clock goes on. Default: ignored. */
  readonly onError?: (err: unknown) => void;
  /** The clocks read; for tests. Default Date.now and process.hrtime. */
  readonly readings?: ClockReadings;
}

/** The unit's clock. Pass it to src/journal's ConnectionJournal as `clock`. */
export interface UnitClock {
  /** The time, ms since the epoch: the wall clock, never below the floor, never backwards within a run. */
  now(): number;
  /** The floor, ms since the epoch: what ages are measured against (a wall-clock jump does not move it). */
  floor(): number;
  /** Whether the wall clock is at or above the floor. */
  plausible(): boolean;
  /** Raises the floor to a trusted time (a verified signed timestamp); returns whether it moved. */
  raise(at: number, source: string): boolean;
  /** The floor, its source, the wall clock and whether it is plausible. */
  state(): ClockState;
  /** Writes clock.json now (a write already under way is not started twice). Never rejects. */
  save(): Promise<void>;
  /** Stops the timer and writes clock.json. Idempotent; never rejects. */
  close(): Promise<void>;
}

const DEFAULT_SAVE_INTERVAL_MS = 600_000;

function systemReadings(): ClockReadings {
  return { wall: Date.now, monotonic: () => Number(process.hrtime.bigint()) / 1e6 };
}

function floorTimes(sources: ClockOptions['floorSources'] = []): FloorSource[] {
  return sources.map((s) => ({ at: typeof s.at === 'string' ? Date.parse(s.at) : (s.at ?? NaN), source: s.source }));
}

/**
 * Opens the unit's clock on `stateDir`: its floor is the newest of the software's build time, the
 * saved clock.json and `floorSources`. An unusable clock.json is moved aside and the others count.
 * @throws ConfigError 'DEVICE_CONFIG_INVALID' for a save interval out of range
 *
 * @example
 * const clock = await openClock(stateDir, { floorSources: [{ at: bundle.unit.createdAt, source: 'unit made' }] });
 * const journal = await ConnectionJournal.open({ stateDir, clock });
 * // ... at shutdown:
 * await journal.close();
 * await clock.close();
 */
export async function openClock(stateDir: string, options: ClockOptions = {}): Promise<UnitClock> {
  const interval = options.saveIntervalMs ?? DEFAULT_SAVE_INTERVAL_MS;
  requireIntegerSetting('DEVICE_CONFIG_INVALID', 'clock.saveIntervalMs', interval, 60_000, 86_400_000);
  const path = join(stateDir, CLOCK_FILE_NAME);
  const damaged = options.damaged ?? { dir: join(stateDir, 'damaged'), note: () => undefined };
  const saved = await readStateFile(path, CLOCK_FILE_FORMAT, damaged);
  const sources = [SOFTWARE_TIME_FLOOR, ...floorTimes(options.floorSources)];
  if (saved) sources.push({ at: saved.at, source: saved.source });
  const core = new FloorClock(sources, options.readings ?? systemReadings());
  const report = options.onError ?? (() => undefined);
  const onError = (err: unknown): void => {
    try {
      report(err);
    } catch {
      /* a reporter must not stop the clock */
    }
  };
  let writing: Promise<void> | undefined;
  const save = (): Promise<void> => {
    const text = clockFileText({ at: core.floor(), source: core.state().source });
    writing ??= writeStateFile(path, CLOCK_FILE_FORMAT, text)
      .catch(onError)
      .finally(() => (writing = undefined));
    return writing;
  };
  const timer = setInterval(() => void save(), interval);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    now: () => core.now(),
    floor: () => core.floor(),
    plausible: () => core.plausible(),
    raise: (at, source) => core.raise(at, source),
    state: () => core.state(),
    save,
    close() {
      clearInterval(timer);
      // The last write holds the floor as it is at close, not as it was when a timer's write began.
      closing ??= Promise.resolve(writing).then(save);
      return closing;
    },
  };
}
