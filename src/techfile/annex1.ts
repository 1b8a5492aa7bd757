/**
 * CRA Annex I Part I in the technical file: each essential requirement either linked to the controls
 * that meet it, every one of them required by the product and passed in the audit, or marked not
 * applicable with its reason (the controls that meet it do not apply to this product, or the
 * catalogue's written out-of-scope reason). Anything else stops the build with the item's name. Pure.
 */
import { CATALOGUE, frameworkCoverage, type Control } from '../policy/index.ts';
import { TechfileError } from './errors.ts';
import type { ControlVerdicts } from './verdicts.ts';

/** A control that meets an Annex I item and passed the audit, or rests on the maker's declaration (not a test). */
export interface LinkedControl {
  readonly id: string;
  readonly title: string;
  readonly status: 'pass' | 'declared';
  /** The checks that passed or were declared, by id. */
  readonly checks: readonly string[];
}

/** One Annex I Part I item in the file. */
export interface Annex1Row {
  /** The regulation's numbering, e.g. 'I.2(c)'. */
  readonly id: string;
  readonly requirement: string;
  readonly status: 'linked' | 'not-applicable';
  /** Present when linked: the passing controls. */
  readonly controls: readonly LinkedControl[];
  /** Present when not applicable: why. */
  readonly reason?: string;
}

type RowOrGap = { row: Annex1Row; gap?: undefined } | { row?: undefined; gap: string };

function rowFor(
  id: string,
  requirement: string,
  controls: readonly Control[],
  outOfScope: string | undefined,
  verdicts: ControlVerdicts,
): RowOrGap {
  const known = controls.map((c) => verdicts.get(c.id)).filter((v) => v !== undefined);
  const required = known.filter((v) => v.required);
  if (required.length > 0) {
    const notPassed = required.filter((v) => v.status !== 'pass' && v.status !== 'declared');
    if (notPassed.length > 0) return { gap: notPassed.map((v) => `${v.id} ${v.status} (${v.summary})`).join('; ') };
    const linked = required.map((v) => ({
      id: v.id,
      title: v.title,
      status: v.status === 'declared' ? ('declared' as const) : ('pass' as const),
      checks: v.checks.filter((c) => c.status === 'pass' || c.status === 'declared').map((c) => c.id),
    }));
    return { row: { id, requirement, status: 'linked', controls: linked } };
  }
  if (known.length > 0) {
    const reason = `the controls that meet it do not apply to this product: ${known
      .map((v) => `${v.id} (${v.summary})`)
      .join('; ')}`;
    return { row: { id, requirement, status: 'not-applicable', controls: [], reason } };
  }
  if (outOfScope !== undefined)
    return { row: { id, requirement, status: 'not-applicable', controls: [], reason: outOfScope } };
  return { gap: 'no control of the catalogue meets it and no reason is written' };
}

/**
 * The Annex I Part I table of a product.
 * @throws TechfileError 'TECHFILE_ANNEX1_UNLINKED' naming every item with neither a passing control nor a reason
 */
export function buildAnnex1Table(verdicts: ControlVerdicts, catalogue: readonly Control[] = CATALOGUE): Annex1Row[] {
  const rows: Annex1Row[] = [];
  const gaps: string[] = [];
  for (const c of frameworkCoverage('cra', catalogue).filter((x) => x.provision.group === 'Part I')) {
    const found = rowFor(c.provision.id, c.provision.paraphrase, c.controls, c.outOfScope, verdicts);
    if (found.row !== undefined) rows.push(found.row);
    else gaps.push(`${c.provision.id} (${c.provision.paraphrase}): ${found.gap}`);
  }
  if (gaps.length > 0) {
    throw new TechfileError(
      'TECHFILE_ANNEX1_UNLINKED',
      `CRA Annex I Part I items linked to no passing control and not marked not applicable: ${gaps.join(' | ')}`,
      { items: gaps.map((g) => g.slice(0, g.indexOf(' '))) },
    );
  }
  return rows;
}
