/**
 * runAudit: validates the options, decides the profile's required controls, runs the checks
 * those controls name (black-box probes first, white-box reads after), and evaluates.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { BUNDLE_FILES, parseUnitRecord, type UnitRecord } from '../bundle/index.ts';
import { decide, loadProfileFile, withMakerFacts, type CheckId, type DeviceProfile } from '../policy/index.ts';
import { AuditError } from './errors.ts';
import { validateAuditLimits, loopbackSources, type AuditLimits, type ProbeFamily } from './config.ts';
import { AuditContext, type AuditInputs } from './context.ts';
import { parseHttpsTarget, type HttpsTarget } from './net.ts';
import type { UnitBoot } from './unit-boot.ts';
import { checkOrder, runCheck } from './registry.ts';
import { readBounded, readJsonBounded } from './files.ts';
import { runningFirmware } from './device-info.ts';
import { en18031Section } from './en18031.ts';
import {
  countControls,
  evaluateControls,
  evaluateEtsi,
  evaluateFrameworks,
  evaluatePsti,
  exitCodeFor,
} from './evaluate.ts';
import {
  AUDIT_REPORT_FORMAT,
  type AuditInputPaths,
  type AuditReport,
  type AuditScope,
  type CheckResult,
} from './types.ts';

/** What to audit. Everything but the profile is optional; what is not given is not tested. */
export interface AuditOptions extends AuditInputPaths {
  /**
   * The device profile, parsed, or the path of its YAML file (which names the product model: a built-in id, or a model
   * file relative to the profile's folder). With a bundle, it must name the bundle's model.
   */
  readonly profile: DeviceProfile | string;
  /**
   * HTTPS URLs of running units of the product; the first gets the full battery, all are compared for certificate
   * uniqueness.
   */
  readonly urls?: readonly string[];
  readonly limits?: Partial<AuditLimits>;
  /** First loopback source address of the probe families (default 127.0.0.50). */
  readonly loopbackSourceBase?: string;
  /**
   * An SDK product's own boot (it starts the agent with the start it is handed): device.secure-defaults starts the
   * unit's fresh and reset copies with it. Without it, the unit starts as its process or service unit shows.
   */
  readonly unitBoot?: UnitBoot;
  /** Called before and after each check, e.g. for a progress bar. */
  readonly onProgress?: (event: {
    readonly check: CheckId;
    readonly done: number;
    readonly total: number;
    readonly result?: CheckResult;
  }) => void;
}

async function existing(path: string | undefined, key: string, kind: 'dir' | 'file'): Promise<string | undefined> {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path === '') throw new AuditError('AUDIT_OPTIONS_INVALID', key, 'must be a path');
  const full = resolve(path);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new AuditError('AUDIT_INPUT_UNREADABLE', key, `${path} does not exist or cannot be read`);
  }
  if (kind === 'dir' ? !info.isDirectory() : !info.isFile())
    throw new AuditError(
      'AUDIT_INPUT_UNREADABLE',
      key,
      `${path} is not a ${kind === 'dir' ? 'folder' : 'regular file'}`,
    );
  return full;
}

function parseTargets(urls: readonly string[] | undefined, limits: AuditLimits): HttpsTarget[] {
  if (urls === undefined) return [];
  if (!Array.isArray(urls)) throw new AuditError('AUDIT_OPTIONS_INVALID', 'urls', 'must be a list of https URLs');
  if (urls.length > limits.maxUrls) throw new AuditError('AUDIT_OPTIONS_INVALID', 'urls', `at most ${limits.maxUrls}`);
  return urls.map((u, i) => {
    const t = typeof u === 'string' ? parseHttpsTarget(u) : undefined;
    if (t === undefined)
      throw new AuditError(
        'AUDIT_TARGET_INVALID',
        `urls[${i}]`,
        `${String(u).slice(0, 100)} is not an https://host[:port] URL without credentials`,
      );
    return t;
  });
}

function checkHostPort(value: string | undefined, key: string, scheme?: string): string | undefined {
  if (value === undefined) return undefined;
  const text = scheme ? value : `x://${value}`;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    url.hostname === '' ||
    url.port === '' ||
    (scheme !== undefined && url.protocol !== `${scheme}:`) ||
    url.pathname.replace(/^\/$/, '') !== ''
  ) {
    throw new AuditError('AUDIT_TARGET_INVALID', key, scheme ? `must be ${scheme}://host:port` : 'must be host:port');
  }
  return value;
}

/** The cloud API's URL, https://host[:port] without credentials or a path. */
function cloudApiTarget(value: string): HttpsTarget {
  const t = typeof value === 'string' ? parseHttpsTarget(value) : undefined;
  if (t === undefined || t.url.pathname.replace(/^\/$/, '') !== '' || t.url.search !== '')
    throw new AuditError('AUDIT_TARGET_INVALID', 'cloudApi', 'must be an https://host[:port] URL without a path');
  return t;
}

/** The cloud API as a target, with the CA certificates its certificate must chain to when given. */
async function cloudApiInput(g: AuditInputPaths): Promise<HttpsTarget | undefined> {
  if (g.cloudApi === undefined) return undefined;
  const target = cloudApiTarget(g.cloudApi);
  if (g.cloudApiCa === undefined) return target;
  const f = await readBounded(g.cloudApiCa, 1_048_576);
  if (!f.ok || !f.text.includes('-----BEGIN CERTIFICATE-----'))
    throw new AuditError('AUDIT_INPUT_UNREADABLE', 'cloudApiCa', `${g.cloudApiCa} is not a PEM certificate file`);
  return { ...target, ca: f.text };
}

/** True when this host can use `address` as a source address (127/8 beyond 127.0.0.1 is Linux-only). */
function canBind(address: string): Promise<boolean> {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.once('error', () => resolveBind(false));
    server.listen(0, address, () => server.close(() => resolveBind(true)));
  });
}

async function toolVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The optional inputs, checked (folders and files exist, ports are host:port) and resolved; absent ones left out. */
async function givenInputs(options: AuditOptions): Promise<AuditInputPaths> {
  const [bundle, state, manifest, source, updateRepo, serviceUnit, revoked, cloudApiCa, cloudMail] = await Promise.all([
    existing(options.bundle, 'bundle', 'dir'),
    existing(options.state, 'state', 'dir'),
    existing(options.manifest, 'manifest', 'file'),
    existing(options.source, 'source', 'dir'),
    existing(options.updateRepo, 'updateRepo', 'dir'),
    existing(options.serviceUnit, 'serviceUnit', 'file'),
    existing(options.revoked, 'revoked', 'dir'),
    existing(options.cloudApiCa, 'cloudApiCa', 'file'),
    existing(options.cloudMail, 'cloudMail', 'dir'),
  ]);
  const hub = checkHostPort(options.hub, 'hub');
  const cloud = checkHostPort(options.cloud, 'cloud', 'mqtts');
  const cloudApi = options.cloudApi === undefined ? undefined : cloudApiTarget(options.cloudApi).url.origin;
  if (cloudApiCa !== undefined && cloudApi === undefined)
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'cloudApiCa', 'needs cloudApi');
  const all = {
    bundle,
    state,
    manifest,
    source,
    hub,
    cloud,
    updateRepo,
    serviceUnit,
    revoked,
    cloudApi,
    cloudApiCa,
    cloudMail,
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v));
}

/**
 * With a bundle, the unit's model is the bundle's model.json: a profile of another model would audit the unit against
 * the wrong tier, so it is refused. A bundle without a readable model.json is left to the bundle checks to report.
 */
async function checkBundleModel(profile: DeviceProfile, bundleDir: string | undefined): Promise<void> {
  if (bundleDir === undefined) return;
  const { value } = await readJsonBounded(join(bundleDir, BUNDLE_FILES.model.name), 65_536);
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  if (typeof id !== 'string' || id === profile.modelId) return;
  throw new AuditError(
    'AUDIT_MODEL_MISMATCH',
    'profile',
    `names model '${profile.modelId}', but the bundle's unit is model '${id.slice(0, 64)}' (its model.json): ` +
      "audit a unit with a profile that names the unit's own model",
  );
}

/**
 * With a bundle, the maker, the security contact and the support end are the unit's own (its unit.json, written by the
 * factory from factory.json and the model), as its sticker and security.txt show them: the report names those, and a
 * profile stating others is refused (ProfileError). A bundle without a readable unit.json is left to the bundle checks.
 */
async function unitMakerFacts(profile: DeviceProfile, bundleDir: string | undefined): Promise<DeviceProfile> {
  if (bundleDir === undefined) return profile;
  const { value } = await readJsonBounded(join(bundleDir, BUNDLE_FILES.unit.name), 65_536);
  let unit: UnitRecord;
  try {
    unit = parseUnitRecord(value);
  } catch {
    return profile;
  }
  const { maker, securityContact, supportPeriodEnd } = unit;
  return withMakerFacts(
    profile,
    { maker, securityContact, supportPeriodEnd },
    "the bundle's unit.json (the factory's)",
  );
}

/** The loopback source addresses of the probe families, when the first target is on loopback and they can be used. */
async function probeSources(
  targets: readonly HttpsTarget[],
  base: string | undefined,
): Promise<Record<ProbeFamily, string> | undefined> {
  if (targets[0]?.loopbackV4 !== true) return undefined;
  const planned = loopbackSources(base);
  return (await canBind(planned.tls)) ? planned : undefined;
}

/** The checks' inputs: the profile, its decision, the targets and limits, and what else was given. */
function auditInputs(
  base: Pick<AuditInputs, 'profile' | 'decision' | 'targets' | 'limits' | 'cloudApi'>,
  g: AuditInputPaths,
  sources: Record<ProbeFamily, string> | undefined,
): AuditInputs {
  return {
    ...base,
    ...(g.bundle ? { bundleDir: g.bundle } : {}),
    ...(g.state ? { stateDir: g.state } : {}),
    ...(g.manifest ? { manifestPath: g.manifest } : {}),
    ...(g.source ? { sourceDir: g.source } : {}),
    ...(g.hub ? { hub: g.hub } : {}),
    ...(g.cloud ? { cloud: g.cloud } : {}),
    ...(g.revoked ? { revokedIdentityDir: g.revoked } : {}),
    ...(sources ? { sources } : {}),
    ...(g.updateRepo ? { updateRepoDir: g.updateRepo } : {}),
    ...(g.serviceUnit ? { serviceUnitPath: g.serviceUnit } : {}),
    ...(g.cloudMail ? { cloudMailDir: g.cloudMail } : {}),
  };
}

/** Runs the checks in order, reporting progress before and after each. */
async function runChecks(ctx: AuditContext, order: readonly CheckId[], options: AuditOptions): Promise<void> {
  let done = 0;
  for (const id of order) {
    options.onProgress?.({ check: id, done, total: order.length });
    const result = await runCheck(id, ctx);
    options.onProgress?.({ check: id, done: ++done, total: order.length, result });
  }
}

/** What the audit looked at, for the report. */
async function auditScope(
  ctx: AuditContext,
  given: AuditInputPaths,
  sources: Record<ProbeFamily, string> | undefined,
): Promise<AuditScope> {
  const targets = ctx.inputs.targets;
  const { image: firmware } = await runningFirmware(ctx);
  const login = ctx.trace.login;
  const targetKind: AuditScope['targetKind'] =
    targets.length === 0
      ? 'none'
      : login === undefined
        ? 'other'
        : login.note.startsWith('no answer')
          ? 'unreachable'
          : login.targetKind;
  return {
    urls: targets.map((t) => t.url.href.replace(/\/$/, '')),
    ...given,
    ...(firmware ? { firmware } : {}),
    targetKind,
    login: login?.note ?? (targets.length === 0 ? 'no --url: black-box checks not run' : 'not probed'),
    ...(sources ? { sourceAddresses: sources } : {}),
  };
}

/**
 * Audits a product against its profile's required controls and returns the report.
 *
 * @example
 *   const report = await runAudit({ profile: 'plug.yaml', urls: ['https://127.0.0.1:8443'], bundle, state, manifest });
 *   process.exitCode = auditExitCode(report);
 */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const started = Date.now();
  if (typeof options !== 'object' || options === null)
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'options', 'must be an object');
  const limits = validateAuditLimits(options.limits);
  const stated = typeof options.profile === 'string' ? await loadProfileFile(options.profile) : options.profile;
  const targets = parseTargets(options.urls, limits);
  const given = await givenInputs(options);
  await checkBundleModel(stated, given.bundle);
  const profile = await unitMakerFacts(stated, given.bundle);
  const decision = decide(profile);
  const sources = await probeSources(targets, options.loopbackSourceBase);
  const cloudApi = await cloudApiInput(given);
  if (options.unitBoot !== undefined && typeof options.unitBoot !== 'function')
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'unitBoot', 'must be a function');
  const ctx = new AuditContext({
    ...auditInputs({ profile, decision, targets, limits, ...(cloudApi ? { cloudApi } : {}) }, given, sources),
    ...(options.unitBoot ? { unitBoot: options.unitBoot } : {}),
  });
  const order = checkOrder(decision.required.flatMap((r) => r.control.checks.map((c) => c.id)));
  await runChecks(ctx, order, options);
  const scope = await auditScope(ctx, given, sources);
  const controls = evaluateControls(decision, ctx.results);
  const counts = countControls(controls);
  const exitCode = exitCodeFor(counts);
  return {
    format: AUDIT_REPORT_FORMAT,
    generatedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    tool: { name: 'bulwark', version: await toolVersion() },
    profile,
    tier: decision.tier,
    reasons: decision.reasons,
    scope,
    checks: order.map((id) => ctx.results.get(id)!),
    controls,
    etsi: evaluateEtsi(decision, controls),
    psti: evaluatePsti(controls),
    frameworks: evaluateFrameworks(controls),
    en18031: await en18031Section(ctx, ctx.results),
    summary: { ...counts, passed: exitCode === 0, exitCode },
  };
}

/** The exit code for a report: 0 only when every required control passed or is declared (see AUDIT_EXIT_CODES). */
export function auditExitCode(report: AuditReport): number {
  return exitCodeFor(countControls(report.controls));
}
