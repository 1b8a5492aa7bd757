/**
 * The auditor's bounds and probe lists: one typed object with its default beside it. Every
 * probe loop is bounded in count and in time by a value here, and validation refuses a value
 * that would make the audit impolite (more guesses, longer scans) or unbounded.
 */
import { isIP } from 'node:net';
import { AuditError } from './errors.ts';

/** Bounds of one audit run. Times in milliseconds, sizes in bytes. */
export interface AuditLimits {
  /** One TCP or TLS connection attempt, ms. */
  readonly connectTimeoutMs: number;
  /** One whole HTTP exchange (connect, request, answer), ms. */
  readonly requestTimeoutMs: number;
  /** Most bytes of a response body read; the rest is discarded unread. */
  readonly maxResponseBytes: number;
  /** The whole audit ends by then; checks not yet run are reported not tested, ms. */
  readonly auditDeadlineMs: number;
  /** Most default credentials tried (stops earlier at the first lockout signal). */
  readonly maxDefaultCredentialAttempts: number;
  /** Most wrong passwords sent by the lockout probe. */
  readonly maxLockoutAttempts: number;
  /** The lockout probe passes only if the device signals lockout by this attempt. */
  readonly lockoutExpectedByAttempt: number;
  /** An answer slower than the first one by this much counts as back-off (tarpit), ms. */
  readonly backoffDelayMs: number;
  /** One TCP connect of the port scan, ms. */
  readonly portScanTimeoutMs: number;
  /** Most listening ports of the device's process asked whether they are a Node inspector. */
  readonly maxProcessPortsProbed: number;
  /** Most --url targets. */
  readonly maxUrls: number;
  /** Most units of a manifest examined. */
  readonly maxManifestUnits: number;
  /** Most unit folders next to a manifest whose files are compared. */
  readonly maxUnitFoldersRead: number;
  /** Most bytes of a white-box input file read (journal, manifest, bundle files). */
  readonly maxInputFileBytes: number;
  /** Most files examined under --state. */
  readonly maxStateFiles: number;
  /** The lint run on --source, ms. */
  readonly lintTimeoutMs: number;
  /** How long the journal may take to show the auditor's own attempts, ms. */
  readonly journalSettleMs: number;
  /** Most published images (targets) of an update repository examined. */
  readonly maxRepositoryTargets: number;
  /** Most audit reports kept in a release repository that are read. */
  readonly maxKeptReports: number;
  /** Starting, using and resetting the throwaway copy of the device (factory reset, export), ms. */
  readonly cloneDeadlineMs: number;
  /** The release side's last match of advisories against its images may be at most this old, ms. */
  readonly maxVulnCheckAgeMs: number;
  /** Most advisories kept in an update repository that are read. */
  readonly maxAdvisoriesRead: number;
}

/** The polite defaults. */
export const DEFAULT_AUDIT_LIMITS: Readonly<AuditLimits> = Object.freeze({
  connectTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
  maxResponseBytes: 262_144, // bytes
  auditDeadlineMs: 300_000,
  maxDefaultCredentialAttempts: 10,
  maxLockoutAttempts: 8,
  lockoutExpectedByAttempt: 6,
  backoffDelayMs: 3_000,
  portScanTimeoutMs: 1_000,
  maxProcessPortsProbed: 32,
  maxUrls: 16,
  maxManifestUnits: 100_000,
  maxUnitFoldersRead: 1_000,
  maxInputFileBytes: 16_777_216, // bytes
  maxStateFiles: 500,
  lintTimeoutMs: 600_000,
  journalSettleMs: 3_000,
  maxRepositoryTargets: 64,
  maxKeptReports: 200,
  // The copy of the device starts the unit's supervisor and image twice; on two cores busy with other work that
  // took over 65 s (a CI run beside browser tests), so the bound is twice that: it is there to end a hang.
  cloneDeadlineMs: 120_000,
  maxVulnCheckAgeMs: 30 * 86_400_000, // 30 days
  maxAdvisoriesRead: 20_000,
});

const RANGES: Readonly<Record<keyof AuditLimits, readonly [number, number]>> = {
  connectTimeoutMs: [100, 30_000],
  requestTimeoutMs: [500, 60_000],
  maxResponseBytes: [1_024, 4_194_304],
  auditDeadlineMs: [1_000, 3_600_000],
  maxDefaultCredentialAttempts: [0, 10],
  maxLockoutAttempts: [1, 8],
  lockoutExpectedByAttempt: [1, 8],
  backoffDelayMs: [100, 30_000],
  portScanTimeoutMs: [100, 5_000],
  maxProcessPortsProbed: [0, 256],
  maxUrls: [1, 64],
  maxManifestUnits: [1, 1_000_000],
  maxUnitFoldersRead: [0, 100_000],
  maxInputFileBytes: [65_536, 268_435_456],
  maxStateFiles: [1, 10_000],
  lintTimeoutMs: [1_000, 3_600_000],
  journalSettleMs: [0, 30_000],
  maxRepositoryTargets: [1, 10_000],
  maxKeptReports: [1, 10_000],
  cloneDeadlineMs: [5_000, 600_000],
  maxVulnCheckAgeMs: [3_600_000, 366 * 86_400_000],
  maxAdvisoriesRead: [1, 100_000],
};

/**
 * Validates (partial) limits against the defaults; refuses unknown keys, non-integers and
 * values outside their range, naming the key.
 * @throws AuditError AUDIT_OPTIONS_INVALID
 */
export function validateAuditLimits(limits: Partial<AuditLimits> = {}): AuditLimits {
  for (const key of Object.keys(limits)) {
    if (!(key in RANGES))
      throw new AuditError('AUDIT_OPTIONS_INVALID', `limits.${key.slice(0, 64)}`, 'is not an audit limit');
  }
  const merged: Record<string, unknown> = { ...DEFAULT_AUDIT_LIMITS, ...limits };
  const out: Record<string, number> = {};
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const v = merged[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new AuditError('AUDIT_OPTIONS_INVALID', `limits.${key}`, `must be an integer from ${min} to ${max}`);
    }
    out[key] = v;
  }
  const result = out as unknown as AuditLimits;
  if (result.lockoutExpectedByAttempt > result.maxLockoutAttempts) {
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      'limits.lockoutExpectedByAttempt',
      'must not exceed maxLockoutAttempts',
    );
  }
  return Object.freeze(result);
}

/** A user name and password pair that ships as a default on many devices. */
export interface DefaultCredential {
  readonly username: string;
  readonly password: string;
}

/**
 * Well-known factory credentials (vendor manuals and the Mirai botnet's list); public, so they
 * may appear in reports. At most ten are tried, in this order.
 */
export const DEFAULT_CREDENTIALS: readonly DefaultCredential[] = Object.freeze([
  { username: 'admin', password: 'admin' },
  { username: 'admin', password: 'password' },
  { username: 'admin', password: '1234' },
  { username: 'admin', password: '12345' },
  { username: 'admin', password: '123456' },
  { username: 'root', password: 'root' },
  { username: 'root', password: '12345' },
  { username: 'admin', password: 'admin123' },
  { username: 'user', password: 'user' },
  { username: 'support', password: 'support' },
]);

/** Remote-shell and debug ports the TCP connect scan tries, with what usually listens there. */
export const DEBUG_PORTS: readonly { readonly port: number; readonly service: string }[] = Object.freeze([
  { port: 21, service: 'FTP' },
  { port: 22, service: 'SSH' },
  { port: 23, service: 'telnet' },
  { port: 2222, service: 'SSH (alternative port)' },
  { port: 2323, service: 'telnet (alternative port)' },
  { port: 5037, service: 'adb server' },
  { port: 5555, service: 'adb (Android debug bridge)' },
  { port: 9222, service: 'Chrome DevTools protocol' },
  { port: 9229, service: 'Node.js inspector' },
]);

/**
 * The routes of a Bulwark device's admin service that need a session (src/web/service.ts),
 * probed without one. POSTs carry no body: nothing can change even if one were let through.
 */
export const BULWARK_PROTECTED_ROUTES: readonly { readonly method: 'GET' | 'POST'; readonly path: string }[] =
  Object.freeze([
    { method: 'GET', path: '/' },
    { method: 'GET', path: '/api/status' },
    { method: 'GET', path: '/password' },
    { method: 'GET', path: '/journal' },
    { method: 'GET', path: '/api/journal' },
    { method: 'GET', path: '/api/export' },
    { method: 'POST', path: '/logout' },
    { method: 'POST', path: '/password' },
    { method: 'POST', path: '/api/password-strength' },
    { method: 'POST', path: '/api/capabilities/power/set' },
  ]);

/** Common admin paths of devices not built with Bulwark, probed with GET only. */
export const COMMON_ADMIN_PATHS: readonly string[] = Object.freeze([
  '/',
  '/admin',
  '/settings',
  '/api/settings',
  '/config',
  '/api/config',
  '/api/status',
  '/status',
  '/setup',
  '/cgi-bin/luci',
  '/cgi-bin/admin.cgi',
  '/management',
]);

/** Where the auditor looks for a login form or an HTTP Basic challenge, in order. */
export const LOGIN_DISCOVERY_PATHS: readonly string[] = Object.freeze(['/login', '/', '/admin', '/settings']);

/** The probe families; on a loopback target each gets its own source address, so one's lockout cannot spoil another. */
export const PROBE_FAMILIES = ['tls', 'http', 'csrf', 'input', 'ports', 'credentials', 'lockout'] as const;
/** One probe family. */
export type ProbeFamily = (typeof PROBE_FAMILIES)[number];

/** First loopback source address; the families take this one and the next ones. */
export const LOOPBACK_SOURCE_BASE = '127.0.0.50';

/** The loopback source address of each probe family, from `base` (an IPv4 address in 127/8). */
export function loopbackSources(base: string = LOOPBACK_SOURCE_BASE): Readonly<Record<ProbeFamily, string>> {
  const parts = base.split('.').map(Number);
  if (isIP(base) !== 4 || parts[0] !== 127 || (parts[3] ?? 0) + PROBE_FAMILIES.length > 254) {
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      'loopbackSourceBase',
      'must be an IPv4 address in 127.0.0.0/8 leaving room for every probe family',
    );
  }
  const out = {} as Record<ProbeFamily, string>;
  PROBE_FAMILIES.forEach((family, i) => {
    out[family] = `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]! + i}`;
  });
  return Object.freeze(out);
}
