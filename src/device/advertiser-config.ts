/**
 * Settings of the unit's DNS-SD advertisement (advertiser.ts), kept apart from it so the agent
 * validates them at start without loading the mDNS library.
 */
import { ConfigError, integerSettings } from '../errors/index.ts';

/** How the unit answers DNS-SD queries on the local network; times in ms. */
export interface AdvertiserConfig {
  /** Answer `_bulwark._tcp.local` queries so a paired hub finds the unit after an address change. */
  readonly enabled: boolean;
  /**
   * Most answers sent per second to everyone together: what a flood from many addresses costs at most. Far above what
   * the queriers of one home need, so it is not what holds back a hub's answer.
   */
  readonly maxAnswersPerSecond: number;
  /** Most answers per second to one source address: one chatty or hostile host cannot use up everyone's answers. */
  readonly maxAnswersPerSourcePerSecond: number;
  /** Source addresses counted at once; past it, the one heard from longest ago is forgotten (memory is bounded). */
  readonly maxTrackedSources: number;
  /** The same answer is multicast at most once per this, ms (RFC 6762 section 6: at least 1 s). */
  readonly minAnswerIntervalMs: number;
}

/** On; 10 answers a second to one address, 100 to all (64 addresses counted), each multicast at most once a second. */
export const defaultAdvertiserConfig: AdvertiserConfig = Object.freeze({
  enabled: true,
  maxAnswersPerSecond: 100,
  // A hub's browse asks at most 4 times a second (src/hub/discovery.ts): 10 leaves room for a retry.
  maxAnswersPerSourcePerSecond: 10,
  maxTrackedSources: 64,
  minAnswerIntervalMs: 1_000,
});

/** The mDNS port and group (RFC 6762 section 3): here, so the advertiser binds before its records load. */
export const MDNS_PORT = 5353;
export const MDNS_GROUP = '224.0.0.251';

const int = integerSettings('DEVICE_CONFIG_INVALID');

/** The complete settings from `partial`, or ConfigError 'DEVICE_CONFIG_INVALID' naming the key at fault. */
export function validateAdvertiserConfig(partial: Partial<AdvertiserConfig> | undefined): AdvertiserConfig {
  const c = { ...defaultAdvertiserConfig, ...partial };
  for (const key of Object.keys(partial ?? {}))
    if (!Object.hasOwn(defaultAdvertiserConfig, key))
      throw new ConfigError('DEVICE_CONFIG_INVALID', `advertise.${key}`, 'is not an advertising setting');
  if (typeof c.enabled !== 'boolean') throw new ConfigError('DEVICE_CONFIG_INVALID', 'advertise.enabled', 'boolean');
  int('advertise.maxAnswersPerSecond', c.maxAnswersPerSecond, 1, 1_000);
  int('advertise.maxAnswersPerSourcePerSecond', c.maxAnswersPerSourcePerSecond, 1, c.maxAnswersPerSecond);
  int('advertise.maxTrackedSources', c.maxTrackedSources, 1, 4_096);
  // Below 1 s the unit would break RFC 6762's rate rule for multicast answers.
  int('advertise.minAnswerIntervalMs', c.minAnswerIntervalMs, 1_000, 60_000);
  return c;
}

/** What the advertiser has seen and done since it started. */
export interface AdvertiserStats {
  readonly queries: number;
  readonly answered: number;
  /** Answers held back by the rate bound. */
  readonly limited: number;
  /** Packets the library could not parse (dropped, counted). */
  readonly malformed: number;
  /** Packets from outside the unit's own link (dropped unread, counted). */
  readonly offLink: number;
}
