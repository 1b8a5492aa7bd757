/**
 * The owner API's settings: one typed object with safe defaults, validated at start; a setting
 * that would switch a protection off is refused.
 */
import { createHash } from 'node:crypto';
import { validateAdmissionConfig, type AdmissionConfig } from '../admission/index.ts';
import { defaultHttpLimits, type HttpLimits, type HttpsSurfaceLimits } from '../web/index.ts';
import {
  LockoutPolicy,
  validateSessionConfig,
  validateDeviceCookieConfig,
  type LockoutConfig,
  type DeviceCookieConfig,
} from '../auth/index.ts';
import { CloudConfigError } from './errors.ts';
import {
  INTAKE_BODY_LIMITS,
  validateSecurityConfig,
  type DeepPartial,
  type SecurityConfig,
} from './security-config.ts';

/** Settings of the owner API. Times in ms. */
export interface OwnerApiConfig extends HttpsSurfaceLimits {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Extra host names (with port when not 443) the Host header may carry, e.g. 'cloud.example.com'. */
  readonly publicHosts: readonly string[];
  readonly limits: HttpLimits;
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly maxSessionsPerAccount: number;
  /** Login back-off for browsers without a valid device cookie: per source address and per account. */
  readonly login: Partial<LockoutConfig>;
  /** Device cookies: their life and the per-cookie lockout (src/auth). */
  readonly deviceCookie: Partial<DeviceCookieConfig>;
  /** Failed claims per account before it backs off. */
  readonly claimAccountThreshold: number;
  /** Failed claims from one source address (IPv6: its /64) before it backs off. */
  readonly claimSourceThreshold: number;
  /** Failed claims of one serial (all accounts) before it is flagged to the maker; never refuses a claim. */
  readonly claimSerialThreshold: number;
  /** The first claim back-off, ms; doubles with each further failure. */
  readonly claimBaseDelayMs: number;
  readonly claimMaxDelayMs: number;
  /** Most telemetry points returned or charted. */
  readonly maxTelemetryPoints: number;
  /** Always set here: the owner API's defaults name their admission caps. */
  readonly admission: Partial<AdmissionConfig>;
  /**
   * SHA-256 (hex) of the maker's API token ({@link makerTokenSha256}); null (the default) turns the maker's
   * routes under `/v1/maker/` off: they answer 404.
   */
  readonly makerTokenSha256: string | null;
  /** security.txt, the disclosure intake and the CSAF provider (security-config.ts); validated to the full object. */
  readonly security: DeepPartial<SecurityConfig>;
}

/** The secure default. */
export const defaultOwnerApiConfig: Readonly<OwnerApiConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 9443,
  publicHosts: [],
  // The disclosure intake's largest report, form-encoded, must fit; every route still bounds its own fields.
  limits: { ...defaultHttpLimits, ...INTAKE_BODY_LIMITS },
  idleTimeoutMs: 900_000,
  absoluteTimeoutMs: 43_200_000,
  maxSessionsPerAccount: 8,
  login: { sourceThreshold: 5, accountThreshold: 20, maxTrackedSources: 100_000, maxTrackedAccounts: 100_000 },
  deviceCookie: {},
  claimAccountThreshold: 5,
  claimSourceThreshold: 20,
  claimSerialThreshold: 10,
  claimBaseDelayMs: 30_000,
  claimMaxDelayMs: 3_600_000,
  maxTelemetryPoints: 500,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_024,
  // Households and offices share an address: more per source than a device's page allows.
  admission: { maxConnectionsPerSource: 64, maxPendingPerSource: 16 },
  makerTokenSha256: null,
  security: {},
});

/** Shortest maker token accepted, characters (e.g. 32 random bytes in base64: 44). */
export const MIN_MAKER_TOKEN_LENGTH = 32;

/** The hash the config keeps of a maker token; refuses a token too short to resist guessing. */
export function makerTokenSha256(token: string): string {
  const t = token.trim();
  if (t.length < MIN_MAKER_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(t))
    throw new CloudConfigError('makerToken', `must be at least ${MIN_MAKER_TOKEN_LENGTH} printable characters`);
  return createHash('sha256').update(t).digest('hex');
}

/** Validates a (partial) config; refuses settings that switch a protection off. */
export function validateOwnerApiConfig(config: Partial<OwnerApiConfig> = {}): OwnerApiConfig {
  const c = { ...defaultOwnerApiConfig, ...config };
  const security: SecurityConfig = validateSecurityConfig(c.security);
  const int = (key: keyof OwnerApiConfig, min: number, max: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
    }
  };
  int('port', 0, 65_535);
  int('claimAccountThreshold', 1, 20);
  int('claimSourceThreshold', c.claimAccountThreshold, 100);
  int('claimSerialThreshold', 1, 100);
  int('claimBaseDelayMs', 1_000, 3_600_000);
  int('claimMaxDelayMs', c.claimBaseDelayMs, 86_400_000);
  int('maxTelemetryPoints', 10, 10_000);
  int('requestTimeoutMs', 1_000, 120_000);
  int('keepAliveTimeoutMs', 1_000, 120_000);
  int('maxConnections', 1, 100_000);
  validateAdmissionConfig({ ...c.admission, maxConnections: c.maxConnections });
  validateSessionConfig({
    idleTimeoutMs: c.idleTimeoutMs,
    absoluteTimeoutMs: c.absoluteTimeoutMs,
    maxSessionsPerUser: c.maxSessionsPerAccount,
    maxSessions: 10_000,
  });
  new LockoutPolicy({ ...c.login }); // validates
  validateDeviceCookieConfig({ ...c.deviceCookie });
  const hostName = /^[a-z0-9.:[\]-]{1,255}$/i;
  if (!Array.isArray(c.publicHosts) || c.publicHosts.some((h) => typeof h !== 'string' || !hostName.test(h))) {
    throw new CloudConfigError('publicHosts', 'must be host names');
  }
  if (c.makerTokenSha256 !== null && !/^[0-9a-f]{64}$/.test(String(c.makerTokenSha256)))
    throw new CloudConfigError('makerTokenSha256', 'must be null or a SHA-256 in hex (makerTokenSha256(token))');
  return { ...c, security };
}
