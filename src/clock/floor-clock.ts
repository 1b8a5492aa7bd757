/**
 * The clock floor as a pure core: a lower bound of the true time that the unit can vouch for, and a
 * wall-clock reading that never goes below it. No files, no timers: the wall and the monotonic clock
 * are passed in, so every jump of the wall clock is a test case (docs/clock.md).
 *
 * The floor is the newest of its sources (the software's build time, when the unit was made, the saved
 * clock file, trusted times learnt later) and then advances with the monotonic clock: if the true time
 * was at least F when the monotonic clock read m, it is at least F + (m' - m) when it reads m'. The
 * wall clock never enters the floor: a wall clock that was wrong once (fast, or jumped) would otherwise
 * be believed for ever.
 */

/** A time the floor may start from, and what it is, for messages: 'software build', 'signed timestamp'. */
export interface FloorSource {
  /** Ms since the epoch. A source that is not a time (NaN, negative, past year 275760) is ignored. */
  readonly at: number;
  readonly source: string;
}

/** The two clocks the core reads. */
export interface ClockReadings {
  /** The wall clock, ms since the epoch (Date.now): may be unset, wrong, or jump either way. */
  readonly wall: () => number;
  /** A monotonic clock, ms from any origin: it only moves forward, at the rate of real time. */
  readonly monotonic: () => number;
}

/** What the clock believes, for diagnostics and messages. */
export interface ClockState {
  /** The floor now, ms since the epoch. */
  readonly floor: number;
  /** Where the floor came from. */
  readonly source: string;
  /** The wall clock now. */
  readonly wall: number;
  /** Whether the wall clock is at or above the floor. */
  readonly plausible: boolean;
}

/** The largest time a Date can hold, ms. */
const MAX_TIME_MS = 8.64e15;
/** How fast the time goes on after the wall clock stepped back below it, as a share of real time. */
const SLEW_RATE = 0.5;
/** Longest source name kept, characters. */
const MAX_SOURCE_CHARS = 64;

/** Whether `at` is a time a floor may hold. */
export function isFloorTime(at: unknown): at is number {
  return typeof at === 'number' && Number.isFinite(at) && at >= 0 && at <= MAX_TIME_MS;
}

/**
 * A wall clock with a monotonic floor under it.
 *
 * @example
 * const clock = new FloorClock([{ at: Date.parse('2026-12-01'), source: 'software build' }], readings);
 * clock.now(); // never before 2026-12-01, never backwards
 */
export class FloorClock {
  readonly #readings: ClockReadings;
  #floorAt = 0;
  #floorMono: number;
  #source = 'none';
  #lastAt = Number.NEGATIVE_INFINITY;
  #lastMono = 0;

  constructor(sources: readonly FloorSource[], readings: ClockReadings) {
    this.#readings = readings;
    this.#floorMono = readings.monotonic();
    for (const s of sources) this.raise(s.at, s.source);
  }

  /** The floor now: the newest source, advanced by the monotonic time since it was learnt. */
  floor(): number {
    return this.#floorAt + Math.max(0, this.#readings.monotonic() - this.#floorMono);
  }

  /**
   * The time: the wall clock when it is at or above the floor, the floor otherwise; and never less than
   * the last time given. When the wall clock steps back, the time neither goes back nor stands still: it
   * goes on at half the rate of real time until the wall clock (or the floor) catches up, in twice the step.
   */
  now(): number {
    const mono = this.#readings.monotonic();
    const carried = this.#lastAt + Math.max(0, mono - this.#lastMono) * SLEW_RATE;
    const at = Math.max(this.#readings.wall(), this.floor(), carried);
    this.#lastAt = at;
    this.#lastMono = mono;
    return at;
  }

  /** Whether the wall clock is at or above the floor (below it, it is certainly wrong). */
  plausible(): boolean {
    return this.#readings.wall() >= this.floor();
  }

  /**
   * Raises the floor to `at`, a time learnt from a trusted source (a verified signed timestamp); a
   * time at or below the floor, or not a time, changes nothing. Returns whether the floor moved.
   */
  raise(at: number, source: string): boolean {
    if (!isFloorTime(at) || at <= this.floor()) return false;
    this.#floorAt = at;
    this.#floorMono = this.#readings.monotonic();
    this.#source = String(source).slice(0, MAX_SOURCE_CHARS);
    return true;
  }

  /** The floor, its source, the wall clock and whether it is plausible. */
  state(): ClockState {
    const floor = this.floor();
    const wall = this.#readings.wall();
    return { floor, source: this.#source, wall, plausible: wall >= floor };
  }
}
