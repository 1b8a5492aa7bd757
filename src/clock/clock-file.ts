/**
 * clock.json in the state folder: the floor the unit reached, so the next start does not begin below
 * it. `{ "version": 1, "floor": "<ISO time>", "source": "<what set it>" }`. Pure: the format only;
 * src/storage's state files read and write it.
 */
import type { StateFormat } from '../storage/index.ts';
import { isFloorTime } from './floor-clock.ts';

/** The clock file's name in the state folder. */
export const CLOCK_FILE_NAME = 'clock.json';

/** What clock.json holds. */
export interface SavedFloor {
  /** The floor when it was saved, ms since the epoch. */
  readonly at: number;
  /** The source of that floor. */
  readonly source: string;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function parseSavedFloor(text: string): SavedFloor {
  const v = JSON.parse(text) as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  const at = typeof v.floor === 'string' && ISO_TIME.test(v.floor) ? Date.parse(v.floor) : NaN;
  const source = v.source;
  if (keys !== 'floor,source,version' || v.version !== 1 || !isFloorTime(at)) throw new Error('clock.json');
  if (typeof source !== 'string' || source.length === 0 || source.length > 64) throw new Error('clock.json');
  return { at, source };
}

/** clock.json's format, version 1. */
export const CLOCK_FILE_FORMAT: StateFormat<SavedFloor> = Object.freeze({
  name: 'clock',
  version: 1,
  parse: parseSavedFloor,
  mode: 0o600,
});

/** The text of clock.json for `floor`. */
export function clockFileText(floor: SavedFloor): string {
  return JSON.stringify({ version: 1, floor: new Date(floor.at).toISOString(), source: floor.source }, null, 2) + '\n';
}
