/**
 * The Node.js range an image needs (image.json's `node`, and its signed target's custom data): a
 * small, strict subset of npm's range syntax, so the device and the release side read it alike.
 * One to four comparators separated by single spaces, each `>=`, `>`, `<=`, `<` or `=` followed by
 * a strict MAJOR.MINOR.PATCH version, all of which must hold: `>=24.0.0 <25.0.0`. Pure.
 */
import { isVersion, compareVersions } from './semver.ts';

/** Longest range accepted, characters. */
export const MAX_NODE_RANGE_LENGTH = 64;
/** The range a built image states unless told otherwise: the Node major its bundle targets. */
export const DEFAULT_NODE_RANGE = '>=24.0.0 <25.0.0';

const COMPARATOR = /^(>=|<=|>|<|=)(\d+\.\d+\.\d+)$/;

type Comparator = { readonly op: string; readonly version: string };

function comparatorsOf(range: unknown): Comparator[] | undefined {
  if (typeof range !== 'string' || range.length === 0 || range.length > MAX_NODE_RANGE_LENGTH) return undefined;
  const parts = range.split(' ');
  if (parts.length > 4) return undefined;
  const out: Comparator[] = [];
  for (const part of parts) {
    const m = COMPARATOR.exec(part);
    if (!m || !isVersion(m[2])) return undefined;
    out.push({ op: m[1]!, version: m[2] });
  }
  return out;
}

/** True when `range` is a range in the accepted syntax. */
export function isNodeRange(range: unknown): range is string {
  return comparatorsOf(range) !== undefined;
}

/**
 * True when the Node version `version` (e.g. `process.versions.node`, '24.21.0') is in `range`.
 * A malformed range or version is never satisfied.
 * @example satisfiesNodeRange('>=24.0.0 <25.0.0', '24.21.0') === true
 */
export function satisfiesNodeRange(range: string, version: string): boolean {
  const comparators = comparatorsOf(range);
  if (!comparators || !isVersion(version)) return false;
  return comparators.every(({ op, version: bound }) => {
    const c = compareVersions(version, bound);
    return op === '>=' ? c >= 0 : op === '>' ? c > 0 : op === '<=' ? c <= 0 : op === '<' ? c < 0 : c === 0;
  });
}

/** The range of one Node major, `>=N.0.0 <N+1.0.0`, from an esbuild target such as 'node24'. */
export function nodeRangeOfTarget(target: string): string {
  const m = /^node(\d{1,3})$/.exec(target);
  if (!m) throw new RangeError(`not a node target: ${target}`);
  const major = Number(m[1]);
  return `>=${major}.0.0 <${major + 1}.0.0`;
}
