/**
 * The unit's clock floor (docs/clock.md): a lower bound of the true time the unit can vouch for (its
 * software's build time, when it was made, the saved clock file, trusted times learnt later), advanced
 * by the monotonic clock; a time that never goes below it; and whether the wall clock is plausible.
 *
 * - {@link openClock}: the clock of a state folder, saved in `clock.json`.
 * - {@link FloorClock}: the pure core, for callers that bring their own clocks.
 *
 * @example
 * const clock = await openClock(stateDir, { floorSources: [{ at: unit.createdAt, source: 'unit made' }] });
 * if (!clock.plausible()) log(`the clock is below ${new Date(clock.floor()).toISOString()}`);
 */
export { openClock, SOFTWARE_TIME_FLOOR } from './unit-clock.ts';
export type { ClockOptions, UnitClock } from './unit-clock.ts';
export { FloorClock } from './floor-clock.ts';
export type { ClockReadings, ClockState, FloorSource } from './floor-clock.ts';
export { CLOCK_FILE_NAME } from './clock-file.ts';
