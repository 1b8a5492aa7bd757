/**
 * Firmware versions: strict `MAJOR.MINOR.PATCH` (no pre-release or build suffix, no leading
 * zeros), so "older" has exactly one meaning on the device and on the release side.
 */
import { InvalidInputError } from '../errors/index.ts';

const VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

/** True when `text` is a strict MAJOR.MINOR.PATCH version. */
export function isVersion(text: unknown): text is string {
  return typeof text === 'string' && VERSION.test(text);
}

/** Parses a version into its three numbers. @throws InvalidInputError */
export function parseVersion(text: string): readonly [number, number, number] {
  const m = typeof text === 'string' ? VERSION.exec(text) : null;
  if (!m)
    throw new InvalidInputError('a version must be MAJOR.MINOR.PATCH, e.g. 1.2.3', {
      version: String(text).slice(0, 40),
    });
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Compares two versions: negative when `a` is older, 0 when equal, positive when newer.
 * @example compareVersions('1.10.0', '1.9.3') > 0
 */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a),
    y = parseVersion(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}
