/**
 * The risk register of the technical file (CRA Art. 13(2)-(3), Annex VII point 3): each asset of the
 * product, each threat to it, the controls that treat it with the audit's evidence, the risk left
 * after them and the decision. Pure.
 *
 * The rule is mechanical, so a reader can check it: a threat whose required treating controls all
 * passed the audit is reduced to low and accepted; one with a control that failed or was not tested
 * keeps its inherent risk and is to be treated; one no required control treats keeps its inherent
 * risk, accepted only when that is low.
 */
import type { AssetInventory } from '../policy/index.ts';
import { threatsOf, type RegisterAsset, type RiskLevel, type Threat } from './threats.ts';
import type { ControlVerdict, ControlVerdicts } from './verdicts.ts';

/** Whether the risk left is accepted or must be treated further. */
export type RiskDecision = 'accept' | 'treat';

/** One row of the register. */
export interface RiskEntry {
  /** `<asset id>/<threat id>`. */
  readonly id: string;
  readonly asset: RegisterAsset;
  readonly threat: string;
  readonly inherentRisk: RiskLevel;
  /** The treating controls the product's profile requires, with what the audit found. */
  readonly treatedBy: readonly ControlVerdict[];
  /** Treating controls the profile does not require, with the reason. */
  readonly notRequired: readonly { readonly id: string; readonly because: string }[];
  readonly residualRisk: RiskLevel;
  readonly decision: RiskDecision;
  /** Why the residual risk and decision follow. */
  readonly rationale: string;
}

/** The whole register. */
export interface RiskRegister {
  readonly modelId: string;
  readonly version: string;
  readonly entries: readonly RiskEntry[];
  readonly counts: { readonly accept: number; readonly treat: number };
}

function judged(threat: Threat, verdicts: ControlVerdicts): RiskEntry {
  const known = threat.controls.map((id) => verdicts.get(id)).filter((v) => v !== undefined);
  const treatedBy = known.filter((v) => v.required);
  const notRequired = known.filter((v) => !v.required).map((v) => ({ id: v.id, because: v.summary }));
  const base = {
    id: `${threat.asset.id}/${threat.id}`,
    asset: threat.asset,
    threat: threat.threat,
    treatedBy,
    notRequired,
  };
  const inherent = threat.inherent;
  if (treatedBy.length === 0) {
    const accept = inherent === 'low';
    const rationale = accept
      ? 'no control this product requires treats it, and its inherent risk is low'
      : 'no control this product requires treats it';
    return {
      ...base,
      inherentRisk: inherent,
      residualRisk: inherent,
      decision: accept ? 'accept' : 'treat',
      rationale,
    };
  }
  const failed = treatedBy.filter((v) => v.status === 'fail').map((v) => v.id);
  const unshown = treatedBy.filter((v) => v.status !== 'pass' && v.status !== 'fail').map((v) => v.id);
  if (failed.length === 0 && unshown.length === 0)
    return {
      ...base,
      inherentRisk: inherent,
      residualRisk: 'low',
      decision: 'accept',
      rationale: `every control that treats it passed the audit (${treatedBy.map((v) => v.id).join(', ')})`,
    };
  const why = [
    ...(failed.length > 0 ? [`failed the audit: ${failed.join(', ')}`] : []),
    ...(unshown.length > 0 ? [`not shown by the audit: ${unshown.join(', ')}`] : []),
  ];
  return { ...base, inherentRisk: inherent, residualRisk: inherent, decision: 'treat', rationale: why.join('; ') };
}

/**
 * The register of a product from its asset inventory and its controls' verdicts.
 * @example
 *   const inventory = buildAssetInventory({ profile, model });
 *   buildRiskRegister(inventory, controlVerdicts(decide(profile), report), '1.2.0').counts; // { accept, treat }
 */
export function buildRiskRegister(inventory: AssetInventory, verdicts: ControlVerdicts, version: string): RiskRegister {
  const entries = threatsOf(inventory).map((t) => judged(t, verdicts));
  const accept = entries.filter((e) => e.decision === 'accept').length;
  return { modelId: inventory.modelId, version, entries, counts: { accept, treat: entries.length - accept } };
}
