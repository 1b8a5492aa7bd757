/**
 * Semantic Versioning 2.0.0 precedence for the versions advisories name (npm's are semver, with
 * pre-release parts, unlike a firmware version): pure, bounded, no dependency.
 */

/** A parsed version: three numbers and the pre-release identifiers (build metadata is ignored). */
export interface SemVer {
  readonly core: readonly [number, number, number];
  readonly pre: readonly string[];
}

/** The longest version string read. */
export const MAX_VERSION_LENGTH = 256;

const NUMBER = '(0|[1-9]\\d{0,15})';
const SEMVER = new RegExp(
  `^v?${NUMBER}\\.${NUMBER}\\.${NUMBER}(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+[0-9A-Za-z.-]+)?$`,
);

/** Parses `text` as a semantic version; undefined when it is not one. */
export function parseSemVer(text: unknown): SemVer | undefined {
  if (typeof text !== 'string' || text.length > MAX_VERSION_LENGTH) return undefined;
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return (b.length === 0 ? 0 : 1) - (a.length === 0 ? 0 : 1);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i],
      y = b[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x),
      ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Precedence of two parsed versions: negative when `a` is older, 0 when equal, positive when newer. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) if (a.core[i] !== b.core[i]) return a.core[i]! - b.core[i]!;
  return comparePre(a.pre, b.pre);
}
