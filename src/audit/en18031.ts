/**
 * The EN 18031 section of an audit: the facts the profile and the unit's model settle, and every requirement of the
 * three parts walked through its decision tree with the checks' results. Reads nothing the audit has not read.
 */
import { assessEn18031, en18031Facts, en18031PartScopes, type CheckId, type DeviceProfile } from '../policy/index.ts';
import type { ModelSpec } from '../models/index.ts';
import type { AuditContext } from './context.ts';
import { auditedModel } from './device-info.ts';
import type { AuditReport, CheckResult } from './types.ts';

/** The EN 18031 section from the checks' results, the profile and the unit's model (when the auditor knows it). */
export async function en18031Section(
  ctx: AuditContext,
  results: ReadonlyMap<CheckId, CheckResult>,
): Promise<AuditReport['en18031']> {
  const { model, how } = await auditedModel(ctx);
  return buildEn18031Section(ctx.inputs.profile, { model, how }, results);
}

/** The section, pure: facts from the profile and model, each requirement walked with the checks' statuses. */
export function buildEn18031Section(
  profile: DeviceProfile,
  known: { readonly model?: ModelSpec | undefined; readonly how: string },
  results: ReadonlyMap<CheckId, CheckResult>,
): AuditReport['en18031'] {
  const { model, how } = known;
  const facts = en18031Facts(profile, model);
  const checks = new Map([...results].map(([id, r]) => [id, r.status] as const));
  const evidence = { checks, facts };
  const requirements = assessEn18031(evidence);
  const count = (o: string) => requirements.filter((r) => r.outcome === o).length;
  return {
    model: model ? `model '${model.id}' (${how})` : `not known: ${how}`,
    parts: en18031PartScopes(evidence).map((p) => ({ part: p.part, applies: p.applies, because: p.step })),
    requirements,
    summary: {
      pass: count('pass'),
      fail: count('fail'),
      notApplicable: count('not-applicable'),
      notTested: count('not-tested'),
    },
  };
}
