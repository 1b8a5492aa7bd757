/**
 * Settings of the device updater and of the release side: typed objects with their secure
 * defaults beside them. Every limit is named, has a unit and a range; a value outside it is
 * refused with the key's name.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors/index.ts';

/** How the device checks, downloads and boots updates. */
export interface DeviceUpdateConfig {
  /**
   * The repository's base URL (`<url>/metadata/`, `<url>/targets/`); https, or http on a loopback
   * address. Undefined: no repository, no checks.
   */
  readonly repositoryUrl: string | undefined;
  /** The manufacturer's default for automatic updates; the owner may turn them off on the admin page. */
  readonly autoUpdate: boolean;
  /** Time between automatic checks, ms (default 6 h). */
  readonly checkIntervalMs: number;
  /** Up to this much random delay is added to every check so a fleet does not check at once, ms. */
  readonly checkJitterMs: number;
  /** The first check after a boot comes this long after start (plus jitter), ms. */
  readonly firstCheckDelayMs: number;
  /** How long the owner's "postpone" holds automatic updates back, ms (default 7 days). */
  readonly postponeMs: number;
  /**
   * Whose certificates an https repository must present: the manufacturer CA pinned in the
   * bundle, or the system's CAs (a CDN).
   */
  readonly tlsTrust: 'manufacturer-ca' | 'system';
  /** A connection must open and the server must send something at least this often, ms. */
  readonly idleTimeoutMs: number;
  /** One metadata file must arrive whole within this, ms. */
  readonly metadataDeadlineMs: number;
  /** An image download may take this long plus its length at `minDownloadBytesPerSecond`, ms. */
  readonly downloadDeadlineBaseMs: number;
  /** The slowest download rate accepted, bytes per second. */
  readonly minDownloadBytesPerSecond: number;
  /** Largest image accepted, bytes, whatever its metadata says. */
  readonly maxImageBytes: number;
  /** Largest total size of an image's files once unpacked, bytes. */
  readonly maxUnpackedBytes: number;
  /**
   * Space an update never takes, bytes: kept for the owner's data, the journal and a factory reset. A
   * download starts only when the image and its unpacked slot fit on the storage beside it.
   */
  readonly reservedBytes: number;
  /**
   * Largest image rebuilt from a delta, bytes; a larger image is downloaded whole. Rebuilding
   * holds the base, the delta and the result in memory at once. 0: never use deltas.
   */
  readonly maxDeltaImageBytes: number;
  /** Most entries (files and folders) in an image. */
  readonly maxImageEntries: number;
  /** Root metadata versions walked in one check (TUF key rotations). */
  readonly maxRootRotations: number;
  /** A new image that has not reported healthy within this many boots is abandoned for the previous slot. */
  readonly maxTrialBoots: number;
  /** A trial boot that has not reported healthy within this is ended (and counts as failed), ms. */
  readonly healthTimeoutMs: number;
  /** After an install, the agent answers pending requests for this long before restarting into the new slot, ms. */
  readonly restartDelayMs: number;
}

/** The defaults: a check every 6 h with up to 30 min of jitter, the first 5 min after boot; 3 trial boots. */
export const defaultDeviceUpdateConfig: Readonly<DeviceUpdateConfig> = Object.freeze({
  repositoryUrl: undefined,
  autoUpdate: true,
  checkIntervalMs: 21_600_000,
  checkJitterMs: 1_800_000,
  firstCheckDelayMs: 300_000,
  postponeMs: 604_800_000,
  tlsTrust: 'manufacturer-ca',
  idleTimeoutMs: 30_000,
  metadataDeadlineMs: 60_000,
  downloadDeadlineBaseMs: 60_000,
  minDownloadBytesPerSecond: 16_384,
  maxImageBytes: 536_870_912,
  maxUnpackedBytes: 1_073_741_824,
  reservedBytes: 16_777_216,
  maxDeltaImageBytes: 67_108_864,
  maxImageEntries: 10_000,
  maxRootRotations: 32,
  maxTrialBoots: 3,
  healthTimeoutMs: 120_000,
  restartDelayMs: 1_000,
});

const RANGES: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  checkIntervalMs: [1_000, 2_592_000_000],
  checkJitterMs: [0, 86_400_000],
  firstCheckDelayMs: [0, 86_400_000],
  postponeMs: [60_000, 2_592_000_000],
  idleTimeoutMs: [100, 600_000],
  metadataDeadlineMs: [100, 600_000],
  downloadDeadlineBaseMs: [100, 3_600_000],
  minDownloadBytesPerSecond: [1, 1_073_741_824],
  maxImageBytes: [1_024, 17_179_869_184],
  maxUnpackedBytes: [1_024, 34_359_738_368],
  // Below 1 MiB a full storage could leave no room for a lockout counter or a reset's journal entry.
  reservedBytes: [1_048_576, 17_179_869_184],
  // A zstd patch-from window covers at most 2^27 bytes: no delta can rebuild a larger image.
  maxDeltaImageBytes: [0, 134_217_728],
  maxImageEntries: [2, 1_000_000],
  maxRootRotations: [1, 1_024],
  // More than a few trial boots keeps a broken image running; fewer than 1 would never boot it.
  maxTrialBoots: [1, 10],
  healthTimeoutMs: [500, 3_600_000],
  restartDelayMs: [0, 60_000],
});

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Checks a repository URL: https anywhere, plain http only on loopback; no credentials, query or fragment. */
export function validateRepositoryUrl(value: unknown, key = 'repositoryUrl'): string {
  if (typeof value !== 'string' || value.length > 512)
    throw new ConfigError('UPDATE_CONFIG_INVALID', key, 'must be a URL of at most 512 characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('UPDATE_CONFIG_INVALID', key, 'is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError('UPDATE_CONFIG_INVALID', key, 'must be https: (or http: on a loopback address)');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigError('UPDATE_CONFIG_UNSAFE', key, 'plain http is accepted only on a loopback address; use https');
  }
  if (url.username || url.password || url.search || url.hash)
    throw new ConfigError('UPDATE_CONFIG_INVALID', key, 'must not carry credentials, a query or a fragment');
  return url.href.replace(/\/+$/, '');
}

/**
 * Validates a (partial) updater config against the defaults; refuses unknown keys and any value
 * outside its range, naming the key.
 * @throws ConfigError 'UPDATE_CONFIG_INVALID' or 'UPDATE_CONFIG_UNSAFE'
 */
export function validateDeviceUpdateConfig(config: Partial<DeviceUpdateConfig> = {}): DeviceUpdateConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'config', 'must be an object');
  for (const key of Object.keys(config)) {
    if (!(key in defaultDeviceUpdateConfig))
      throw new ConfigError('UPDATE_CONFIG_INVALID', key.slice(0, 64), 'is not an update setting');
  }
  const merged: Record<string, unknown> = { ...defaultDeviceUpdateConfig, ...config };
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new ConfigError('UPDATE_CONFIG_INVALID', key, `must be an integer from ${min} to ${max}`);
    }
  }
  if (typeof merged.autoUpdate !== 'boolean')
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'autoUpdate', 'must be true or false');
  if (merged.tlsTrust !== 'manufacturer-ca' && merged.tlsTrust !== 'system')
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'tlsTrust', "must be 'manufacturer-ca' or 'system'");
  if (merged.repositoryUrl !== undefined) merged.repositoryUrl = validateRepositoryUrl(merged.repositoryUrl);
  if ((merged.maxUnpackedBytes as number) < (merged.maxImageBytes as number) / 64) {
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'maxUnpackedBytes', 'is too small for maxImageBytes');
  }
  return Object.freeze(merged) as unknown as DeviceUpdateConfig;
}

/** How long each role's metadata stays valid after it is signed, seconds. */
export interface ExpiryConfig {
  readonly rootSeconds: number;
  readonly targetsSeconds: number;
  readonly snapshotSeconds: number;
  readonly timestampSeconds: number;
}

/**
 * Root a year (offline keys, renewed rarely), targets 90 days, snapshot 14 days, timestamp 1 day
 * (renewed by `release refresh`).
 */
export const defaultExpiryConfig: Readonly<ExpiryConfig> = Object.freeze({
  rootSeconds: 31_536_000,
  targetsSeconds: 7_776_000,
  snapshotSeconds: 1_209_600,
  timestampSeconds: 86_400,
});

/** Validates expiry settings: from 1 second to 10 years each. */
export function validateExpiryConfig(config: Partial<ExpiryConfig> = {}): ExpiryConfig {
  for (const key of Object.keys(config)) {
    if (!(key in defaultExpiryConfig))
      throw new ConfigError('RELEASE_CONFIG_INVALID', key.slice(0, 64), 'is not an expiry setting');
  }
  const merged: Record<string, unknown> = { ...defaultExpiryConfig, ...config };
  for (const key of Object.keys(defaultExpiryConfig)) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 315_360_000) {
      throw new ConfigError('RELEASE_CONFIG_INVALID', key, 'must be an integer number of seconds from 1 to 315360000');
    }
  }
  return Object.freeze(merged) as unknown as ExpiryConfig;
}

/**
 * Parses a duration such as '6h', '30m', '90s', '1500ms' or '7d' into ms.
 * @example parseDuration('6h') === 21_600_000
 */
export function parseDuration(text: string, key: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new ConfigError('UPDATE_CONFIG_INVALID', key, "must be a duration like '6h', '30m', '90s' or '1500ms'");
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
