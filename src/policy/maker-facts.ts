/**
 * One source for who makes a product, where to report its flaws and how long it gets security
 * updates: the factory (factory.json, copied into every unit's unit.json) names the maker and the
 * security contact, the model names the support end. The sticker, the device's pages and its
 * security.txt read them there; the policy and the audit take them from the same place, so none
 * of them can name another maker or date. A profile may still state the maker and the contact (a
 * policy rendered without a factory needs them), but only as the factory does. Pure.
 *
 * @example
 *   const profile = withMakerFacts(await loadExampleProfile('plug'), {
 *     maker: factory.maker, securityContact: factory.securityContact, supportPeriodEnd: model.supportPeriod.endsOn,
 *   }, 'the factory (factory.json)');
 */
import { ProfileError } from './errors.ts';
import type { DeviceProfile } from './profile.ts';

/** The maker's facts as the factory and the unit's model state them. */
export interface MakerFacts {
  /** The factory's maker (factory.json and unit.json `maker`). */
  readonly maker: string;
  /** The factory's security contact, a mailto: or https: URI (unit.json `securityContact`, security.txt's Contact). */
  readonly securityContact: string;
  /** Last day of security updates, YYYY-MM-DD: the model's supportPeriod.endsOn (unit.json `supportPeriodEnd`). */
  readonly supportPeriodEnd: string;
}

function refuseOther(key: 'maker' | 'securityContact', stated: string | undefined, fact: string, source: string): void {
  if (stated === undefined || stated === fact) return;
  throw new ProfileError(
    'PROFILE_INVALID',
    key,
    `states ${JSON.stringify(stated)}, but ${source} states ${JSON.stringify(fact)}: the policy, the audit, the ` +
      `sticker and security.txt must name one ${key === 'maker' ? 'maker' : 'security contact'}; remove ${key} ` +
      'from the profile or make it the same',
  );
}

/**
 * The profile with the maker and security contact of `facts`, which come from `source` (named in errors). A support
 * end later than the unit's is kept: the model may extend its support period, which the unit then gets with its next
 * image; an earlier one would shorten what the unit promises and is refused.
 * @throws ProfileError 'PROFILE_INVALID' (key maker, securityContact or model) when the profile contradicts them
 */
export function withMakerFacts(profile: DeviceProfile, facts: MakerFacts, source: string): DeviceProfile {
  refuseOther('maker', profile.maker, facts.maker, source);
  refuseOther('securityContact', profile.securityContact, facts.securityContact, source);
  if (profile.supportPeriodEnd < facts.supportPeriodEnd) {
    throw new ProfileError(
      'PROFILE_INVALID',
      'model',
      `ends security updates on ${profile.supportPeriodEnd}, but ${source} promises them until ` +
        `${facts.supportPeriodEnd}: a support period may be extended, never shortened`,
    );
  }
  return { ...profile, maker: facts.maker, securityContact: facts.securityContact };
}
