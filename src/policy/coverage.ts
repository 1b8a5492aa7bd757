/**
 * How the catalogue covers the standards: every ETSI EN 303 645 provision, every UK PSTI
 * requirement and every provision of the frameworks in frameworks.ts with the controls that name
 * it. The standards' lists (etsi.ts, psti.ts, frameworks.ts) do not know the catalogue; this
 * file joins the two, so the arrows point one way.
 *
 * @example
 *   const uncovered = etsiCoverage().filter((c) => c.controls.length === 0 && !c.outOfScope);
 */
import { CATALOGUE } from './catalogue.ts';
import type { Control } from './catalogue.ts';
import { ETSI_OUT_OF_SCOPE, ETSI_PARTIAL_NOTES, ETSI_PROVISIONS } from './etsi.ts';
import type { EtsiProvision } from './etsi.ts';
import type { FrameworkProvision } from './framework-types.ts';
import { getFramework, referencedIds } from './frameworks.ts';
import type { FrameworkKey } from './frameworks.ts';
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

/** How one provision of a framework beside ETSI and PSTI is covered. */
export interface FrameworkCoverage {
  readonly provision: FrameworkProvision;
  /** Controls that name this provision; empty when out of scope. */
  readonly controls: readonly Control[];
  /** Why no control covers it; present when `controls` is empty and a reason is written. */
  readonly outOfScope?: string;
}

/** Coverage of every provision of the framework `key` by `catalogue`, in the framework's order. */
export function frameworkCoverage(key: FrameworkKey, catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  const framework = getFramework(key);
  return framework.provisions.map((provision) => {
    const controls = catalogue.filter((c) => referencedIds(c.provisions, key).includes(provision.id));
    const outOfScope = framework.outOfScope[provision.id];
    return { provision, controls, ...(controls.length === 0 && outOfScope !== undefined ? { outOfScope } : {}) };
  });
}

/** Coverage of the ten NIST IR 8425 outcomes. */
export function nistCoverage(catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  return frameworkCoverage('nist', catalogue);
}

/** Coverage of the CRA Annex I requirements (Parts I and II). */
export function craAnnex1Coverage(catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  return frameworkCoverage('cra', catalogue);
}

/** Coverage of the CRA Annex II user-information points. */
export function craAnnex2Coverage(catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  return frameworkCoverage('annex2', catalogue);
}

/** Coverage of the PSA Certified security goals. */
export function psaCoverage(catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  return frameworkCoverage('psa', catalogue);
}

/** Coverage of the ioXt pledge principles. */
export function ioxtCoverage(catalogue: readonly Control[] = CATALOGUE): FrameworkCoverage[] {
  return frameworkCoverage('ioxt', catalogue);
}
