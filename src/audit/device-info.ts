/**
 * What the auditor knows about the audited unit beyond the profile: its model (the bundle's
 * model.json, checked against unit.json's digest; else a built-in model the profile names) and the firmware image
 * its state folder says it runs. Read once per audit; bounded reads only.
 */
import { join } from 'node:path';
import { BUNDLE_FILES, UNIT_FORMAT } from '../bundle/index.ts';
import type { ModelSpec } from '../models/index.ts';
import type { AuditContext } from './context.ts';
import { readJsonBounded } from './files.ts';
import type { FirmwareIdentity } from './types.ts';

const models = new WeakMap<AuditContext, Promise<{ model?: ModelSpec; how: string }>>();

/** The model of the audited unit, and how the auditor knows it. */
export function auditedModel(ctx: AuditContext): Promise<{ model?: ModelSpec; how: string }> {
  let p = models.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const { listModels, modelDigest, modelFromDocument } = await import('../models/index.ts');
      if (ctx.inputs.bundleDir !== undefined) {
        const { value: unit } = await readJsonBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.unit.name), 65_536);
        const { value: doc } = await readJsonBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.model.name), 65_536);
        const digest = (unit as { modelDigest?: unknown } | undefined)?.modelDigest;
        if (doc !== undefined) {
          try {
            const model = modelFromDocument(doc, 'model.json');
            if (modelDigest(model) !== digest)
              return { how: "the bundle's model.json does not match unit.json's digest" };
            return { model, how: `the bundle's model.json (model '${model.id}', digest as unit.json states)` };
          } catch {
            return { how: "the bundle's model.json is not a valid bulwark.model/v1 model" };
          }
        }
      }
      const name = ctx.inputs.profile.model.toLowerCase();
      const byName = listModels().find((m) => m.name.toLowerCase() === name);
      return byName
        ? { model: byName, how: `the profile's model "${ctx.inputs.profile.model}" is catalogue model '${byName.id}'` }
        : { how: `"${ctx.inputs.profile.model}" is not a model of the catalogue (src/models)` };
    })();
    models.set(ctx, p);
  }
  return p;
}

const images = new WeakMap<AuditContext, Promise<{ image?: FirmwareIdentity; how: string }>>();

/**
 * The image the device runs: boot.json's active slot and that slot's record of what was
 * installed, or the factory image (the installed runtime, whose version the auditor reads from
 * its own package: the audit runs the same toolkit). Undefined without --state.
 */
export function runningFirmware(ctx: AuditContext): Promise<{ image?: FirmwareIdentity; how: string }> {
  let p = images.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const stateDir = ctx.inputs.stateDir;
      if (stateDir === undefined) return { how: 'no --state: the running image is not known' };
      const { model } = await auditedModel(ctx);
      const { readBootState, runningImageOf } = await import('../update/index.ts');
      const { state, problem } = await readBootState(stateDir);
      try {
        const r = await runningImageOf(stateDir, state.active);
        return {
          image: {
            model: model?.id ?? ctx.inputs.profile.model,
            version: r.version,
            securityVersion: r.securityVersion,
            slot: r.slot,
            ...(r.targetSha256 ? { targetSha256: r.targetSha256 } : {}),
          },
          how: `firmware/boot.json${problem ? ` (${problem})` : ''}: active slot ${state.active}`,
        };
      } catch (err) {
        return { how: `the active slot ${state.active} cannot be read (${(err as Error).message.slice(0, 120)})` };
      }
    })();
    images.set(ctx, p);
  }
  return p;
}

/**
 * True when the inputs show a device built with Bulwark (its bundle or state, or its admin service answered as one).
 */
export function isBulwark(ctx: AuditContext): boolean {
  return (
    ctx.inputs.bundleDir !== undefined || ctx.inputs.stateDir !== undefined || ctx.trace.login?.targetKind === 'bulwark'
  );
}

/** The reason a Bulwark-specific check gives on another device. */
export const NOT_BULWARK_DEVICE =
  'this check reads the configuration and code of a Bulwark device: give --bundle/--state of one (other devices are ' +
  'audited black-box only)';

/** The reason a check of the firmware's configuration gives on a device whose configuration the auditor has not got. */
export const NOT_BULWARK_CONFIG =
  "the device's configuration and build are not available: " +
  'give --bundle/--state of a Bulwark device (other devices are audited black-box only)';

/** unit.json of the --bundle, when readable and of the bundle format. */
export async function readUnitRecord(ctx: AuditContext): Promise<Record<string, unknown> | undefined> {
  if (ctx.inputs.bundleDir === undefined) return undefined;
  const { value } = await readJsonBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.unit.name), 65_536);
  const isUnit = typeof value === 'object' && value !== null && (value as { format?: unknown }).format === UNIT_FORMAT;
  return isUnit ? (value as Record<string, unknown>) : undefined;
}
