/**
 * Settings of the unit's DNS-SD advertisement (advertiser.ts), kept apart from it so the agent
 * validates them at start without loading the mDNS library.
 */
import { ConfigError, integerSettings } from '../errors/index.ts';

/** How the unit answers DNS-SD queries on the local network; times in ms. */
export interface AdvertiserConfig {
  /** Answer `_bulwark._tcp.local` queries so a paired hub finds the unit after an address change. */
  readonly enabled: boolean;
  /** Most answers sent per second, whatever asks (a flood of queries costs at most this). */
  readonly maxAnswersPerSecond: number;
  /** The same answer is multicast at most once per this, ms (RFC 6762 section 6: at least 1 s). */
  readonly minAnswerIntervalMs: number;
}

/** On, 10 answers a second at most, each at most once a second. */
export const defaultAdvertiserConfig: AdvertiserConfig = Object.freeze({
  enabled: true,
  maxAnswersPerSecond: 10,
  minAnswerIntervalMs: 1_000,
});

const int = integerSettings('DEVICE_CONFIG_INVALID');

/** The complete settings from `partial`, or ConfigError 'DEVICE_CONFIG_INVALID' naming the key at fault. */
export function validateAdvertiserConfig(partial: Partial<AdvertiserConfig> | undefined): AdvertiserConfig {
  const c = { ...defaultAdvertiserConfig, ...partial };
  for (const key of Object.keys(partial ?? {}))
    if (!Object.hasOwn(defaultAdvertiserConfig, key))
      throw new ConfigError('DEVICE_CONFIG_INVALID', `advertise.${key}`, 'is not an advertising setting');
  if (typeof c.enabled !== 'boolean') throw new ConfigError('DEVICE_CONFIG_INVALID', 'advertise.enabled', 'boolean');
  int('advertise.maxAnswersPerSecond', c.maxAnswersPerSecond, 1, 100);
  // Below 1 s the unit would break RFC 6762's rate rule for multicast answers.
  int('advertise.minAnswerIntervalMs', c.minAnswerIntervalMs, 1_000, 60_000);
  return c;
}
