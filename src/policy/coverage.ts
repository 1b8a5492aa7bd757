/**
 * How the catalogue covers the standards: every ETSI EN 303 645 provision and every UK PSTI
 * requirement with the controls that name it. The standards' lists (etsi.ts, psti.ts) do not
 * know the catalogue; this file joins the two, so the arrows point one way.
 *
 * @example
 *   const uncovered = etsiCoverage().filter((c) => c.controls.length === 0 && !c.outOfScope);
 */
import { CATALOGUE } from './catalogue.ts';
import type { Control } from './catalogue.ts';
import { ETSI_OUT_OF_SCOPE, ETSI_PARTIAL_NOTES, ETSI_PROVISIONS } from './etsi.ts';
import type { EtsiProvision } from './etsi.ts';
import { PSTI_REQUIREMENTS } from './psti.ts';
import type { PstiRequirement } from './psti.ts';

/** How one provision is covered: by controls, or not (with the reason). */
export interface ProvisionCoverage {
  readonly provision: EtsiProvision;
  /** Controls that name this provision; empty when out of scope. */
  readonly controls: readonly Control[];
  /** Why no control covers it; present exactly when `controls` is empty. */
  readonly outOfScope?: string;
  /** Remarks on partial coverage. */
  readonly note?: string;
}

/** Coverage of every provision by `catalogue` (default: the Bulwark catalogue), in document order. */
export function etsiCoverage(catalogue: readonly Control[] = CATALOGUE): ProvisionCoverage[] {
  return ETSI_PROVISIONS.map((provision) => {
    const controls = catalogue.filter((c) => c.provisions.etsi.includes(provision.id));
    const outOfScope = ETSI_OUT_OF_SCOPE[provision.id];
    const note = ETSI_PARTIAL_NOTES[provision.id];
    return {
      provision,
      controls,
      ...(controls.length === 0 && outOfScope !== undefined ? { outOfScope } : {}),
      ...(note !== undefined ? { note } : {}),
    };
  });
}

/** How one PSTI requirement is covered. */
export interface PstiCoverage {
  readonly requirement: PstiRequirement;
  readonly controls: readonly Control[];
}

/** Coverage of each PSTI requirement by `catalogue` (default: the Bulwark catalogue). */
export function pstiCoverage(catalogue: readonly Control[] = CATALOGUE): PstiCoverage[] {
  return PSTI_REQUIREMENTS.map((requirement) => ({
    requirement,
    controls: catalogue.filter((c) => c.provisions.psti?.includes(requirement.id) === true),
  }));
}
