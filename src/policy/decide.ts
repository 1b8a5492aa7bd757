/**
 * The decision tree: a device profile in, a risk tier and the required controls out, with the
 * reason for every decision spelled out so a reviewer can follow it.
 *
 * Tiers (the highest factor wins):
 * - Tier 1, baseline: no personal data, not internet-exposed, only low-risk sensors and
 *   actuators (a bulb, a climate sensor). Roughly OWASP ISVS level 1.
 * - Tier 2, elevated: keeps personal data, is reachable from the internet, reveals occupancy
 *   (motion, presence, contact, power metering), guards safety (smoke, water leak), or drives
 *   something that can cause harm (power, heating, motors, valves, sirens).
 * - Tier 3, high: can see, hear or locate people, or opens the home (camera, microphone,
 *   location, lock). Roughly ISVS level 2, which names locks and cameras.
 *
 * @example
 *   const decision = decide(parseProfile(text, resolveModel));
 *   decision.reasons;
 *   // ['camera -> tier 3 -> setup-code pairing required for sensitive devices (PAIR-PAKE-SENSITIVE); ...']
 */
import { CATALOGUE } from './catalogue.ts';
import type { Applicability, Control, Tier } from './catalogue.ts';
import { ETSI_PROVISIONS, ETSI_OUT_OF_SCOPE, ETSI_PARTIAL_NOTES } from './etsi.ts';
import type { EtsiProvision } from './etsi.ts';
import type { Actuator, DeviceProfile, NetworkModel, Sensor } from './profile.ts';

/** Risk tier of each sensor; a Record so that adding a sensor without a tier does not compile. */
export const SENSOR_TIERS: Readonly<Record<Sensor, Tier>> = {
  camera: 3,
  microphone: 3,
  location: 3,
  motion: 2, // occupancy: tells a burglar when nobody is home
  presence: 2,
  contact: 2,
  'power-meter': 2, // usage patterns reveal occupancy and habits
  smoke: 2, // safety: a silenced alarm is a hazard
  'water-leak': 2,
  temperature: 1,
  humidity: 1,
  light: 1,
  'air-quality': 1,
};

/** Risk tier of each actuator. */
export const ACTUATOR_TIERS: Readonly<Record<Actuator, Tier>> = {
  lock: 3,
  heating: 2, // overheating, frost damage, energy cost
  power: 2, // switches arbitrary loads: fire risk
  motor: 2, // blinds, garage doors: physical harm, access
  valve: 2, // water or gas
  siren: 2, // false alarms, or an alarm silenced
  light: 1,
};

/** Tier raised by keeping personal data. */
export const PERSONAL_DATA_TIER: Tier = 2;
/** Tier raised by being reachable from the internet. */
export const INTERNET_EXPOSED_TIER: Tier = 2;

/** What each tier means, for the policy document: the scale, in words about products in general, not this one. */
export const TIER_DESCRIPTIONS: Readonly<Record<Tier, string>> = {
  1:
    'Baseline: products that keep no personal data, are not reachable from the internet, and have only low-risk ' +
    'sensors and actuators (roughly OWASP ISVS level 1).',
  2:
    'Elevated: products that keep personal data, are reachable from the internet, reveal occupancy, guard safety, ' +
    'or drive something that can cause harm (any one of these is enough).',
  3:
    'High: products that can see, hear or locate people, or open the home (roughly OWASP ISVS level 2, which ' +
    'names locks and cameras).',
};

/** One fact about the profile that sets a minimum tier. */
export interface RiskFactor {
  /** e.g. 'camera', 'lock', 'personal data', 'internet exposure'. */
  readonly factor: string;
  readonly tier: Tier;
}

/** A control the product must meet, and why. */
export interface RequiredControl {
  readonly control: Control;
  readonly because: readonly string[];
}

/** A control the product does not need, and why not. */
export interface NotApplicableControl {
  readonly control: Control;
  readonly because: string;
}

/** The outcome of the decision tree for one profile. */
export interface Decision {
  readonly tier: Tier;
  /** Facts that raised the tier above 1, highest first. */
  readonly factors: readonly RiskFactor[];
  /** Human-readable decisions, e.g. 'camera -> tier 3 -> ...'. */
  readonly reasons: readonly string[];
  readonly required: readonly RequiredControl[];
  readonly notApplicable: readonly NotApplicableControl[];
}

/** The risk factors of a profile, highest tier first (tier-1 facts are left out). */
export function riskFactors(profile: DeviceProfile): RiskFactor[] {
  const factors: RiskFactor[] = [
    ...profile.sensors.map((s) => ({ factor: s, tier: SENSOR_TIERS[s] })),
    ...profile.actuators.map((a) => ({ factor: a, tier: ACTUATOR_TIERS[a] })),
  ];
  if (profile.personalData) factors.push({ factor: 'personal data', tier: PERSONAL_DATA_TIER });
  if (profile.internetExposed) factors.push({ factor: 'internet exposure', tier: INTERNET_EXPOSED_TIER });
  // Stable sort keeps profile order within a tier, so reasons are deterministic.
  return factors.filter((f) => f.tier > 1).sort((a, b) => b.tier - a.tier);
}

/** Whether `appliesTo` holds for a profile at `tier`: the reasons it does, or the first reason it does not. */
export function evaluateApplicability(
  appliesTo: Applicability,
  profile: DeviceProfile,
  tier: Tier,
  factors: readonly RiskFactor[] = riskFactors(profile),
): { applies: true; because: string[] } | { applies: false; because: string } {
  const because: string[] = [];
  if (appliesTo.networkModels !== undefined) {
    const hit = appliesTo.networkModels.filter((m) => profile.networkModels.includes(m));
    if (hit.length === 0)
      return { applies: false, because: `does not use the ${orList(appliesTo.networkModels)} network model` };
    because.push(`uses the ${hit.join(' and ')} network model`);
  }
  if (appliesTo.sensors !== undefined) {
    const hit = appliesTo.sensors.filter((s) => profile.sensors.includes(s));
    if (hit.length === 0) return { applies: false, because: `has no ${orList(appliesTo.sensors)} sensor` };
    because.push(`has a ${hit.join(' and ')} sensor`);
  }
  if (appliesTo.actuators !== undefined) {
    const hit = appliesTo.actuators.filter((a) => profile.actuators.includes(a));
    if (hit.length === 0) return { applies: false, because: `has no ${orList(appliesTo.actuators)} actuator` };
    because.push(`has a ${hit.join(' and ')} actuator`);
  }
  if (appliesTo.minTier !== undefined) {
    if (tier < appliesTo.minTier)
      return { applies: false, because: `risk tier ${tier} is below tier ${appliesTo.minTier}` };
    const from = factors.filter((f) => f.tier >= (appliesTo.minTier ?? 1)).map((f) => f.factor);
    because.push(`risk tier ${tier} (${from.join(', ')}) reaches tier ${appliesTo.minTier}`);
  }
  if (appliesTo.personalData !== undefined) {
    if (profile.personalData !== appliesTo.personalData) {
      return { applies: false, because: profile.personalData ? 'keeps personal data' : 'keeps no personal data' };
    }
    because.push(profile.personalData ? 'keeps personal data' : 'keeps no personal data');
  }
  if (appliesTo.internetExposed !== undefined) {
    if (profile.internetExposed !== appliesTo.internetExposed) {
      return {
        applies: false,
        because: profile.internetExposed ? 'is reachable from the internet' : 'is not reachable from the internet',
      };
    }
    because.push(profile.internetExposed ? 'is reachable from the internet' : 'is not reachable from the internet');
  }
  if (because.length === 0) because.push('baseline for every device');
  return { applies: true, because };
}

/**
 * Runs the decision tree: profile -> tier, required and not-applicable controls, and reasons.
 * Pure: the same profile always gives the same decision.
 */
export function decide(profile: DeviceProfile, catalogue: readonly Control[] = CATALOGUE): Decision {
  const factors = riskFactors(profile);
  const tier: Tier = factors[0]?.tier ?? 1;
  const required: RequiredControl[] = [];
  const notApplicable: NotApplicableControl[] = [];
  for (const control of catalogue) {
    const verdict = evaluateApplicability(control.appliesTo, profile, tier, factors);
    if (verdict.applies) required.push({ control, because: verdict.because });
    else notApplicable.push({ control, because: verdict.because });
  }
  const reasons = explain(
    profile,
    tier,
    factors,
    required.map((r) => r.control),
  );
  reasons.push(`tier ${tier}: ${required.length} controls required, ${notApplicable.length} not applicable`);
  return { tier, factors, reasons, required, notApplicable };
}

function explain(
  profile: DeviceProfile,
  tier: Tier,
  factors: readonly RiskFactor[],
  required: readonly Control[],
): string[] {
  const reasons: string[] = [];
  if (factors.length === 0) {
    reasons.push(
      'no personal data, no internet exposure, no high-risk sensor or actuator -> tier 1 -> baseline controls only',
    );
  }
  for (const f of factors) {
    // The controls this factor switches on: by tier, by naming the sensor/actuator, or by its flag.
    const triggered = required.filter((c) => {
      const a = c.appliesTo;
      if (a.minTier !== undefined && a.minTier > 1 && a.minTier <= f.tier && f.tier === tier) return true;
      if ((a.sensors as readonly string[] | undefined)?.includes(f.factor) === true) return true;
      if ((a.actuators as readonly string[] | undefined)?.includes(f.factor) === true) return true;
      if (f.factor === 'personal data' && a.personalData === true) return true;
      return f.factor === 'internet exposure' && a.internetExposed === true;
    });
    const head = `${f.factor} -> tier ${f.tier}`;
    if (triggered.length > 0) reasons.push(`${head} -> ${triggered.map(phrase).join('; ')}`);
    else reasons.push(f.tier < tier ? `${head} (within tier ${tier}; adds no controls)` : head);
  }
  for (const model of profile.networkModels) {
    const triggered = required.filter((c) => c.appliesTo.networkModels?.includes(model) === true);
    reasons.push(`${NETWORK_MODEL_NAMES[model]} -> ${triggered.map(phrase).join('; ')}`);
  }
  return reasons;
}

/** How each network model is named in reasons and documents. */
export const NETWORK_MODEL_NAMES: Readonly<Record<NetworkModel, string>> = {
  listening: 'listening service',
  hub: 'local automation hub',
  cloud: 'connection to the manufacturer',
};

function phrase(c: Control): string {
  return `${c.title.charAt(0).toLowerCase()}${c.title.slice(1)} (${c.id})`;
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** How one provision stands for a given decision. */
export type ProvisionVerdict =
  | { readonly kind: 'met'; readonly controls: readonly Control[] }
  | { readonly kind: 'not-applicable'; readonly reason: string }
  | { readonly kind: 'out-of-scope'; readonly reason: string };

/** One row of a product's ETSI coverage table. */
export interface ProductProvisionCoverage {
  readonly provision: EtsiProvision;
  readonly verdict: ProvisionVerdict;
  readonly note?: string;
}

/**
 * The ETSI EN 303 645 coverage for one product: each provision is met by required controls,
 * not applicable (none of its controls apply, with their reasons), or out of scope.
 */
export function etsiCoverageFor(decision: Decision): ProductProvisionCoverage[] {
  return ETSI_PROVISIONS.map((provision) => {
    const note = ETSI_PARTIAL_NOTES[provision.id];
    const withNote = note === undefined ? {} : { note };
    const met = decision.required.filter((r) => r.control.provisions.etsi.includes(provision.id)).map((r) => r.control);
    if (met.length > 0) return { provision, verdict: { kind: 'met', controls: met }, ...withNote };
    const outOfScope = ETSI_OUT_OF_SCOPE[provision.id];
    if (outOfScope !== undefined)
      return { provision, verdict: { kind: 'out-of-scope', reason: outOfScope }, ...withNote };
    const skipped = decision.notApplicable.filter((n) => n.control.provisions.etsi.includes(provision.id));
    const reason =
      skipped.length === 0
        ? 'no control in the catalogue meets this provision'
        : `the product ${[...new Set(skipped.map((n) => n.because))].join('; ')} ` +
          `(${skipped.map((n) => n.control.id).join(', ')} not applicable)`;
    return { provision, verdict: { kind: 'not-applicable', reason }, ...withNote };
  });
}
