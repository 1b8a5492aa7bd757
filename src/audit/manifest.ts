/**
 * The batch's manifest (--manifest) as the auditor reads it: public data of every unit, bounded
 * in size and count, read once per audit.
 */
import type { ManifestUnit } from '../identity/index.ts';
import type { AuditContext } from './context.ts';
import { readJsonBounded } from './files.ts';

/** One unit of a factory manifest (public data only): the fields of src/identity's manifest the auditor compares. */
export type ManifestEntry = Pick<
  ManifestUnit,
  'serial' | 'model' | 'deviceCertFingerprint' | 'webCertFingerprint' | 'claimCodeHash'
>;

const ENTRY_FIELDS: ReadonlyArray<keyof ManifestEntry> = [
  'serial',
  'model',
  'deviceCertFingerprint',
  'webCertFingerprint',
  'claimCodeHash',
];

/** A manifest as the auditor read it. */
export interface ManifestView {
  readonly path: string;
  readonly units: readonly ManifestEntry[];
  /** Entries dropped because they did not have the expected fields. */
  readonly malformed: number;
  readonly truncated: boolean;
}

const manifests = new WeakMap<AuditContext, Promise<ManifestView | undefined>>();

/** The --manifest file, read once per audit; undefined when none was given or it cannot be read. */
export function loadManifest(ctx: AuditContext): Promise<ManifestView | undefined> {
  let p = manifests.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const path = ctx.inputs.manifestPath;
      if (path === undefined) return undefined;
      const { value } = await readJsonBounded(path, ctx.inputs.limits.maxInputFileBytes);
      const units = (value as { units?: unknown } | undefined)?.units;
      if (!Array.isArray(units)) return undefined;
      const max = ctx.inputs.limits.maxManifestUnits;
      const out: ManifestEntry[] = [];
      let malformed = 0;
      for (const u of units.slice(0, max) as Array<Record<string, unknown>>) {
        const ok = typeof u === 'object' && u !== null && ENTRY_FIELDS.every((k) => typeof u[k] === 'string');
        if (ok) out.push(u as unknown as ManifestEntry);
        else malformed++;
      }
      return { path, units: out, malformed, truncated: units.length > max };
    })();
    manifests.set(ctx, p);
  }
  return p;
}
