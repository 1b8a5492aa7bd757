/**
 * The updater and the unit's clock (docs/clock.md, docs/update.md): metadata expiry is judged against
 * the later of the wall clock and the clock floor, so a slow clock does not void the freeze protection
 * and a clock at 1970 does not void it either; a verified timestamp's signing time raises the floor;
 * and a refusal for expiry says what the clock has to do with it. Pure: no files, no timers.
 */

/** The unit's clock as the updater needs it; src/clock's UnitClock is one. */
export interface UpdateClock {
  /** The floor, ms since the epoch: a lower bound of the true time. */
  floor(): number;
  /** The floor, where it came from, the wall clock and whether the wall clock is at or above the floor. */
  state(): { readonly floor: number; readonly source: string; readonly wall: number; readonly plausible: boolean };
  /** Raises the floor to a trusted time; returns whether it moved. */
  raise(at: number, source: string): boolean;
}

/**
 * The field of timestamp.json's signed part that says when the release side signed it (ISO 8601, UTC).
 * It is inside `signed`, so the timestamp key's signature covers it; a TUF client that does not know
 * it keeps it as an unrecognised field.
 */
export const TIMESTAMP_SIGNED_AT_FIELD = 'bulwark_signed_at';

/**
 * Metadata that expired less than this before a plausible wall clock is refused with the clock named as
 * the likely cause, ms: a repository re-signs its timestamp before it expires, so a fast clock shows as an
 * expiry at most as far back as the clock is fast; a freeze is usually older.
 */
export const FAST_CLOCK_SUSPECT_MS = 7 * 86_400_000;

/** The time metadata expiry is judged against, and why. */
export interface ExpiryReference {
  /** The later of the wall clock and the floor, ms since the epoch. */
  readonly at: number;
  readonly wall: number;
  /** The floor (0 without a clock) and what set it. */
  readonly floor: number;
  readonly source: string;
  /** Whether the wall clock is below the floor (then `at` is the floor). */
  readonly belowFloor: boolean;
}

/** The time expiry is judged against: the wall clock, never below the floor. Without a clock, `Date.now()`. */
export function expiryReference(clock: UpdateClock | undefined): ExpiryReference {
  if (!clock) {
    const wall = Date.now();
    return { at: wall, wall, floor: 0, source: 'none', belowFloor: false };
  }
  const s = clock.state();
  return {
    at: Math.max(s.wall, s.floor),
    wall: s.wall,
    floor: s.floor,
    source: s.source,
    belowFloor: s.wall < s.floor,
  };
}

/** A time for messages: 'YYYY-MM-DD HH:MM' UTC (or the raw number when it is not a time). */
export function timeText(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().slice(0, 16).replace('T', ' ');
}

function spanText(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7_200) return `${Math.round(s / 60)} min`;
  return s < 172_800 ? `${Math.round(s / 3_600)} h` : `${Math.round(s / 86_400)} days`;
}

/** What the journal says when the wall clock is below the floor. */
export function belowFloorText(ref: ExpiryReference): string {
  return (
    `this unit's clock reads ${timeText(ref.wall)}, below what it knows (${timeText(ref.floor)}, ${ref.source}): ` +
    'metadata expiry is checked against that instead'
  );
}

/** The signed part of a verified metadata file, as far as the clock needs it. */
export interface SignedTimes {
  readonly expires: string;
  readonly unrecognizedFields?: Readonly<Record<string, unknown>>;
}

/** The signing time a timestamp carries, ms; undefined when it has none, or one that is not a time. */
export function signedAtOf(timestamp: SignedTimes | undefined): number | undefined {
  const raw = timestamp?.unrecognizedFields?.[TIMESTAMP_SIGNED_AT_FIELD];
  if (typeof raw !== 'string' || raw.length > 40) return undefined;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? at : undefined;
}

/**
 * How far a verified refresh may raise the floor: the timestamp's signing time, when it is no later than
 * the expiry of every role verified with it (a signing time after what it vouches for has expired is
 * inconsistent, and is not believed). So a stolen timestamp key alone cannot push the floor past the
 * expiry of the targets, whose key stays offline.
 */
export function floorRaiseOf(timestamp: SignedTimes | undefined, verified: readonly SignedTimes[]): number | undefined {
  const at = signedAtOf(timestamp);
  if (at === undefined) return undefined;
  const expiries = [timestamp!, ...verified].map((s) => Date.parse(s.expires));
  return expiries.every((e) => Number.isFinite(e) && at <= e) ? at : undefined;
}

/**
 * The message of a refusal for expired metadata, naming the clock's part in it: the floor, when the wall
 * clock was below it; a likely fast clock, when the metadata expired only a little before a plausible
 * wall clock; stale metadata otherwise. The metadata is refused in every case.
 * @param role the role that expired; `expires` its expiry, ms, when known
 */
export function expiredText(role: string, expires: number | undefined, ref: ExpiryReference): string {
  const wall = timeText(ref.wall);
  // Worded after tuf-js's own ('timestamp.json is expired'), which tools and tests look for.
  if (ref.belowFloor) {
    const when = expires === undefined ? '' : ` ${timeText(expires)},`;
    const known = `${timeText(ref.floor)}, ${ref.source}`;
    return `${role}.json is expired:${when} before what this unit knows (${known}); clock reads ${wall}`;
  }
  if (expires === undefined) return `${role}.json is expired (this unit's clock reads ${wall})`;
  const late = `${timeText(expires)}, ${spanText(ref.at - expires)} before this unit's clock (${wall})`;
  if (ref.at - expires <= FAST_CLOCK_SUSPECT_MS)
    return `${role}.json is expired: ${late}: likely a fast clock, or stale`;
  return `${role}.json is expired: ${late}: stale metadata, or a clock far off`;
}
