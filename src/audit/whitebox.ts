/**
 * White-box checks: what the device's bundle, its state folder, a factory manifest and the
 * firmware build show. Reading only, bounded by the audit limits; secrets read from the inputs
 * (hashes, salts, label passwords) are compared, never copied into evidence.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BUNDLE_FILES, UNIT_FORMAT } from '../bundle/index.ts';
import type { AuditContext} from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded, readJsonBounded, walk } from './files.ts';
import type { Evidence } from './types.ts';

// ---- shared readers -----------------------------------------------------------------------

/** One unit of a factory manifest (public data only). */
export interface ManifestEntry {
  readonly serial: string;
  readonly model: string;
  readonly deviceCertFingerprint: string;
  readonly webCertFingerprint: string;
  readonly claimCodeHash: string;
}

/** A manifest as the auditor read it. */
export interface ManifestView {
  readonly path: string;
  readonly units: readonly ManifestEntry[];
  /** Entries dropped because they did not have the expected fields. */
  readonly malformed: number;
  readonly truncated: boolean;
}

const manifests = new WeakMap<AuditContext, Promise<ManifestView | undefined>>();

/** The --manifest file, read once per audit; undefined when none was given or it cannot be read. */
export function loadManifest(ctx: AuditContext): Promise<ManifestView | undefined> {
  let p = manifests.get(ctx);
  if (p === undefined) {
    p = (async () => {
      const path = ctx.inputs.manifestPath;
      if (path === undefined) return undefined;
      const { value } = await readJsonBounded(path, ctx.inputs.limits.maxInputFileBytes);
      const units = (value as { units?: unknown } | undefined)?.units;
      if (!Array.isArray(units)) return undefined;
      const max = ctx.inputs.limits.maxManifestUnits;
      const out: ManifestEntry[] = [];
      let malformed = 0;
      for (const u of units.slice(0, max) as Array<Record<string, unknown>>) {
        const ok = typeof u === 'object' && u !== null && ['serial', 'model', 'deviceCertFingerprint', 'webCertFingerprint', 'claimCodeHash'].every((k) => typeof u[k] === 'string');
        if (ok) out.push(u as unknown as ManifestEntry); else malformed++;
      }
      return { path, units: out, malformed, truncated: units.length > max };
    })();
    manifests.set(ctx, p);
  }
  return p;
}

/** unit.json of the --bundle, when readable. */
async function readUnit(ctx: AuditContext): Promise<Record<string, unknown> | undefined> {
  if (ctx.inputs.bundleDir === undefined) return undefined;
  const { value } = await readJsonBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.unit.name), 65_536);
  return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === UNIT_FORMAT ? value as Record<string, unknown> : undefined;
}

function certFingerprint(pem: string): { fingerprint: string; publicKey: string } | undefined {
  try {
    const cert = new X509Certificate(pem);
    return {
      fingerprint: 'sha256:' + createHash('sha256').update(cert.raw).digest('hex'),
      publicKey: createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'),
    };
  } catch { return undefined; }
}

function duplicateCount(values: readonly string[]): number {
  return values.length - new Set(values).size;
}

/** True when the inputs show a device built with Bulwark (its bundle or state, or its admin service answered). */
function isBulwarkDevice(ctx: AuditContext): boolean {
  return ctx.inputs.bundleDir !== undefined || ctx.inputs.stateDir !== undefined || ctx.trace.login?.targetKind === 'bulwark';
}

const NOT_BULWARK = 'the device\'s configuration and build are not available: give --bundle/--state of a Bulwark device (other devices are audited black-box only)';

// ---- bundle --------------------------------------------------------------------------------

/** bundle.unique-credentials: across the manifest (and the unit folders beside it) no credential repeats or derives from the serial. */
export async function checkUniqueCredentials(ctx: AuditContext): Promise<CheckOutcome> {
  const manifest = await loadManifest(ctx);
  if (ctx.inputs.manifestPath !== undefined && manifest === undefined) {
    return { status: 'fail', summary: 'the manifest cannot be read as a Bulwark manifest', evidence: [{ sent: `read ${ctx.inputs.manifestPath}`, received: 'not a manifest with a units list', finding: true }] };
  }
  if (manifest === undefined) return notTested('needs --manifest (the batch\'s manifest.json) to compare the credentials of every unit');
  const evidence: Evidence[] = [];
  const u = manifest.units;
  const field = (name: string, values: string[]): void => {
    const dup = duplicateCount(values);
    evidence.push({ sent: `${name} of ${values.length} units in ${basename(manifest.path)}`, received: dup === 0 ? 'all distinct' : `${dup} repeated`, finding: dup > 0 });
  };
  field('serial numbers', u.map((x) => x.serial));
  field('device certificate fingerprints', u.map((x) => x.deviceCertFingerprint));
  field('web certificate fingerprints', u.map((x) => x.webCertFingerprint));
  field('claim code hashes', u.map((x) => x.claimCodeHash));
  const cross = u.filter((x) => x.deviceCertFingerprint === x.webCertFingerprint).length;
  evidence.push({ sent: 'device and web certificate of each unit', received: cross === 0 ? 'different for every unit' : `${cross} unit(s) use one certificate for both`, finding: cross > 0 });
  if (manifest.malformed > 0) evidence.push({ sent: 'manifest entries', received: `${manifest.malformed} malformed entr${manifest.malformed === 1 ? 'y' : 'ies'} skipped`, finding: true });
  if (manifest.truncated) evidence.push({ sent: 'manifest size', received: `only the first ${u.length} units were examined (limit)` });

  // Unit folders the factory wrote beside the manifest: hashes, salts and (factory-only) label secrets.
  const root = dirname(manifest.path);
  const salts: string[] = [];
  const hashes: string[] = [];
  const verifierSalts: string[] = [];
  const passwords: string[] = [];
  const setupCodes: string[] = [];
  const claimCodes: string[] = [];
  let derived = 0;
  let folders = 0;
  for (const unit of u.slice(0, ctx.inputs.limits.maxUnitFoldersRead)) {
    if (!/^[A-Z0-9-]{1,32}$/.test(unit.serial)) continue;
    const dir = join(root, unit.serial);
    if (!existsSync(dir)) continue;
    folders++;
    const phc = await readBounded(join(dir, BUNDLE_FILES.adminPasswordHash.name), 4_096);
    if (phc.ok) {
      const parts = phc.text.trim().split('$');
      salts.push(parts[4] ?? '');
      hashes.push(parts[5] ?? '');
    }
    const { value: verifier } = await readJsonBounded(join(dir, BUNDLE_FILES.pairingVerifier.name), 65_536);
    const vs = (verifier as { pbkdf2?: { salt?: unknown } } | undefined)?.pbkdf2?.salt;
    if (typeof vs === 'string') verifierSalts.push(vs);
    const { value: label } = await readJsonBounded(join(dir, BUNDLE_FILES.label.name), 65_536);
    if (typeof label === 'object' && label !== null) {
      const l = label as { adminPassword?: unknown; setupCode?: unknown; claimCode?: unknown };
      const norm = (s: string): string => s.replace(/[^a-z0-9]/gi, '').toLowerCase();
      const serialKey = norm(unit.serial);
      const serialTail = serialKey.slice(-6);
      for (const [list, v] of [[passwords, l.adminPassword], [setupCodes, l.setupCode], [claimCodes, l.claimCode]] as const) {
        if (typeof v !== 'string') continue;
        list.push(v);
        const n = norm(v);
        if (n.includes(serialKey) || (serialTail.length === 6 && n.includes(serialTail)) || n.includes(norm(unit.model))) derived++;
      }
    }
  }
  if (folders > 0) {
    const add = (what: string, values: string[]): void => {
      if (values.length === 0) return;
      const dup = duplicateCount(values);
      evidence.push({ sent: `${what} of ${values.length} unit folders beside the manifest`, received: dup === 0 ? 'all distinct' : `${dup} repeated`, finding: dup > 0 });
    };
    add('admin password hash salts', salts);
    add('admin password hashes', hashes);
    add('setup-code verifier salts', verifierSalts);
    add('sticker passwords (label.json, compared only)', passwords);
    add('setup codes (label.json, compared only)', setupCodes);
    add('claim codes (label.json, compared only)', claimCodes);
    if (passwords.length + setupCodes.length + claimCodes.length > 0) {
      evidence.push({ sent: 'sticker secrets compared with each unit\'s serial number and model', received: derived === 0 ? 'none contains the serial, its last six symbols or the model' : `${derived} contain the serial or model`, finding: derived > 0 });
    }
  }

  // The audited unit's own bundle against the manifest.
  const unit = await readUnit(ctx);
  if (unit !== undefined && ctx.inputs.bundleDir !== undefined) {
    const web = await readBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.webCert.name), 65_536);
    const dev = await readBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.deviceCert.name), 65_536);
    const w = web.ok ? certFingerprint(web.text) : undefined;
    const d = dev.ok ? certFingerprint(dev.text) : undefined;
    const listed = u.some((x) => x.serial === unit.serial && x.webCertFingerprint === w?.fingerprint && x.deviceCertFingerprint === d?.fingerprint);
    evidence.push({ sent: `the bundle's certificates (${String(unit.serial)}) against the manifest`, received: listed ? 'listed with the same fingerprints' : 'not listed with these fingerprints' });
    if (w && d) evidence.push({ sent: 'the bundle\'s web and device keys', received: w.publicKey === d.publicKey ? 'the same key serves both' : 'two different keys', finding: w.publicKey === d.publicKey });
  }
  return verdict(evidence, `no credential repeats across ${u.length} units${folders > 0 ? ` (${folders} unit folders compared)` : ''} and none is derived from the serial or model`,
    (f) => `credentials are shared or derived: ${f.map((e) => e.sent).join('; ')}`);
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
/** The hashing floor: OWASP's argon2id minimum, the project's own default. */
export const ARGON2_FLOOR = Object.freeze({ memoryKiB: 19_456, passes: 2, parallelism: 1, saltBytes: 16 });

function judgeHash(text: string): { ok: boolean; text: string; salt?: string } {
  const m = PHC.exec(text.trim());
  if (!m) {
    const scheme = /^\$([a-z0-9-]+)\$/i.exec(text.trim())?.[1];
    return { ok: false, text: scheme ? `a ${scheme} hash, not argon2id v=19` : 'not a PHC hash string (plain text or unknown format)' };
  }
  const [mem, t, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const saltBytes = Math.floor((m[4]!.length * 3) / 4);
  const weak = mem < ARGON2_FLOOR.memoryKiB || t < ARGON2_FLOOR.passes || p < ARGON2_FLOOR.parallelism || saltBytes < ARGON2_FLOOR.saltBytes;
  return { ok: !weak, text: `argon2id m=${mem} KiB, t=${t}, p=${p}, ${saltBytes}-byte salt${weak ? ` (below the floor m=${ARGON2_FLOOR.memoryKiB}, t=${ARGON2_FLOOR.passes}, p=${ARGON2_FLOOR.parallelism}, ${ARGON2_FLOOR.saltBytes}-byte salt)` : ''}`, salt: m[4]! };
}

/** bundle.hash-params: stored password hashes are argon2id at or above the floor, each with its own salt. */
export async function checkHashParams(ctx: AuditContext): Promise<CheckOutcome> {
  const { bundleDir, stateDir } = ctx.inputs;
  if (bundleDir === undefined && stateDir === undefined) return notTested('needs --bundle or --state to read the stored password hashes');
  const evidence: Evidence[] = [];
  const salts: string[] = [];
  if (bundleDir !== undefined) {
    const f = await readBounded(join(bundleDir, BUNDLE_FILES.adminPasswordHash.name), 4_096);
    if (f.ok) {
      const j = judgeHash(f.text);
      if (j.salt) salts.push(j.salt);
      evidence.push({ sent: `read ${BUNDLE_FILES.adminPasswordHash.name} in the bundle`, received: j.text, finding: !j.ok });
    } else evidence.push({ sent: `read ${BUNDLE_FILES.adminPasswordHash.name} in the bundle`, received: f.reason === 'missing' ? 'absent (a model whose owner sets the password at setup)' : f.reason });
  }
  if (stateDir !== undefined) {
    const { value, reason } = await readJsonBounded(join(stateDir, 'web', 'owner.json'), 65_536);
    const hash = (value as { passwordHash?: unknown } | undefined)?.passwordHash;
    if (typeof hash === 'string') {
      const j = judgeHash(hash);
      if (j.salt) salts.push(j.salt);
      evidence.push({ sent: 'read web/owner.json in the state folder', received: `owner password: ${j.text}`, finding: !j.ok });
    } else evidence.push({ sent: 'read web/owner.json in the state folder', received: reason === 'missing' ? 'absent (the owner has not changed the password)' : `no password hash (${reason ?? 'unexpected content'})`, finding: reason !== 'missing' });
  }
  if (salts.length === 2) evidence.push({ sent: 'salts of the two hashes', received: salts[0] === salts[1] ? 'the same salt' : 'different salts', finding: salts[0] === salts[1] });
  // What the firmware uses for every new hash (the owner's first password on a setup-mode model).
  const { DEFAULT_ARGON2_PARAMS: d } = await import('../auth/index.ts');
  const weakDefault = d.memoryKiB < ARGON2_FLOOR.memoryKiB || d.passes < ARGON2_FLOOR.passes || d.parallelism < ARGON2_FLOOR.parallelism;
  evidence.push({ sent: 'the firmware\'s parameters for new hashes', received: `argon2id m=${d.memoryKiB} KiB, t=${d.passes}, p=${d.parallelism}${weakDefault ? ' (below the floor)' : ''}`, finding: weakDefault });
  return verdict(evidence, `every stored password hash is argon2id at or above m=${ARGON2_FLOOR.memoryKiB} KiB, t=${ARGON2_FLOOR.passes}, p=${ARGON2_FLOOR.parallelism} with its own salt`, (f) => `weak or unexpected password storage: ${f.map((e) => e.received).join('; ')}`);
}

/** bundle.update-trust-anchor: the bundle carries the update repository's TUF root metadata, signed by its own threshold of root keys. */
export async function checkUpdateTrustAnchor(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.bundleDir === undefined) return notTested('needs --bundle to read the update trust anchor (TUF root metadata)');
  const name = BUNDLE_FILES.updateRoot.name;
  const { value, reason } = await readJsonBounded(join(ctx.inputs.bundleDir, name), 1_048_576);
  if (value === undefined) {
    return { status: 'fail', summary: `the bundle has no usable update trust anchor: ${name} is ${reason ?? 'unreadable'}`, evidence: [{ sent: `read ${name} in the bundle`, received: reason ?? 'unreadable', finding: true }] };
  }
  const { Metadata, MetadataKind } = await import('@tufjs/models');
  const evidence: Evidence[] = [];
  let root;
  try { root = Metadata.fromJSON(MetadataKind.Root, value as never); } catch (err) {
    evidence.push({ sent: `parse ${name} as TUF root metadata`, received: `not root metadata (${(err as Error).message.slice(0, 120)})`, finding: true });
    return { status: 'fail', summary: 'the update trust anchor is not TUF root metadata', evidence };
  }
  const signed = root.signed;
  const role = signed.roles.root;
  evidence.push({ sent: `parse ${name} as TUF root metadata`, received: `root version ${signed.version}, ${Object.keys(signed.keys).length} keys, root threshold ${role?.threshold ?? '?'}, ${Object.keys(root.signatures).length} signatures` });
  let verified = true;
  try { root.verifyDelegate('root', root); } catch { verified = false; }
  evidence.push({ sent: 'verify the root\'s signatures against its own root keys', received: verified ? `at least ${role?.threshold ?? '?'} valid signatures: verified` : 'fewer valid signatures than the threshold', finding: !verified });
  const expires = Date.parse(signed.expires);
  // A baked-in root may expire on the shelf: the TUF client walks to the newest root first and judges expiry on that one.
  evidence.push({ sent: 'root expiry', received: `${signed.expires}${expires <= Date.now() ? ' (passed: the updater must find a newer root in the repository before it trusts anything)' : ''}` });
  return verdict(evidence, `the bundle carries TUF root metadata (version ${signed.version}) signed by its threshold of root keys`, () => 'the update trust anchor is not validly signed');
}

/** bundle.model-designation: unit.json, the sticker and the login page name the model. */
export async function checkModelDesignation(ctx: AuditContext): Promise<CheckOutcome> {
  const unit = await readUnit(ctx);
  if (unit === undefined) return notTested(ctx.inputs.bundleDir === undefined ? 'needs --bundle (unit.json names the model)' : 'unit.json in the bundle cannot be read');
  const name = typeof unit.modelName === 'string' ? unit.modelName : '';
  const evidence: Evidence[] = [{ sent: 'read unit.json in the bundle', received: name ? `model ${String(unit.model)}, "${name}"` : 'no model name', finding: name === '' }];
  const sticker = await readBounded(join(ctx.inputs.bundleDir!, BUNDLE_FILES.stickerSvg.name), 1_048_576);
  if (sticker.ok) {
    const escaped = name.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    evidence.push({ sent: `read ${BUNDLE_FILES.stickerSvg.name} (the printed label)`, received: sticker.text.includes(escaped) ? `names "${name}"` : 'does not name the model', finding: !sticker.text.includes(escaped) });
  }
  const page = ctx.trace.answers.find((a) => a.request === 'GET /login' && a.status === 200);
  if (page !== undefined) evidence.push({ sent: 'the login page seen by the black-box probes', received: page.bodyStart.includes(name) ? `names "${name}"` : 'does not name the model', finding: !page.bodyStart.includes(name) });
  return verdict(evidence, `the model "${name}" is named in unit.json${sticker.ok ? ', on the sticker' : ''}${page ? ' and on the login page' : ''}`, () => 'the model designation is missing somewhere the owner looks');
}

/** bundle.secret-file-modes: secret bundle files and the whole state folder are owner-only; codes only as verifiers or hashes. */
export async function checkSecretFileModes(ctx: AuditContext): Promise<CheckOutcome> {
  const { bundleDir, stateDir } = ctx.inputs;
  if (bundleDir === undefined && stateDir === undefined) return notTested('needs --bundle or --state to read file modes');
  const evidence: Evidence[] = [];
  if (bundleDir !== undefined) {
    for (const spec of Object.values(BUNDLE_FILES)) {
      const f = await readBounded(join(bundleDir, spec.name), 4 * 1_048_576);
      if (!f.ok) continue;
      const mode = f.mode.toString(8).padStart(4, '0');
      if (spec.secret) evidence.push({ sent: `mode of ${spec.name} (secret)`, received: mode, finding: (f.mode & 0o077) !== 0 });
      else if ((f.mode & 0o022) !== 0) evidence.push({ sent: `mode of ${spec.name}`, received: `${mode} (writable by others)`, finding: true });
      if (spec.audience === 'factory') evidence.push({ sent: `${spec.name} in the bundle folder`, received: 'present: a factory-only file (plain sticker secrets); this is the factory\'s output folder, whose device files are what gets flashed' });
    }
    const { value: verifier } = await readJsonBounded(join(bundleDir, BUNDLE_FILES.pairingVerifier.name), 65_536);
    const plain = verifier !== undefined && /"(setupCode|setup_code|code|claimCode)"\s*:/i.test(JSON.stringify(verifier));
    evidence.push({ sent: `keys of ${BUNDLE_FILES.pairingVerifier.name}`, received: verifier === undefined ? 'absent' : plain ? 'holds a plain code' : 'a verifier only (no setup code)', finding: plain });
    const unit = await readUnit(ctx);
    const unitPlain = unit !== undefined && Object.keys(unit).some((k) => /code|password/i.test(k) && !/mode$/i.test(k));
    if (unit !== undefined) evidence.push({ sent: 'keys of unit.json', received: unitPlain ? 'holds a code or password' : 'public identity only', finding: unitPlain });
  }
  if (stateDir !== undefined) {
    const { entries, truncated } = await walk(stateDir, ctx.inputs.limits.maxStateFiles);
    if (entries.length === 0) evidence.push({ sent: `list ${stateDir}`, received: 'missing', finding: true });
    const open = entries.filter((e) => e.kind !== 'other' && (e.mode & 0o077) !== 0);
    evidence.push({
      sent: `modes of ${entries.length} files and folders in the state folder${truncated ? ' (first ones only)' : ''}`,
      received: open.length === 0 ? 'all owner-only (files 0600, folders 0700)' : `open to group or others: ${open.slice(0, 10).map((e) => `${e.name} ${e.mode.toString(8)}`).join(', ')}`,
      finding: open.length > 0,
    });
  }
  return verdict(evidence, 'every secret file is owner-only and setup and claim codes are stored only as verifiers or hashes', (f) => `secrets exposed: ${f.map((e) => e.sent).join('; ')}`);
}

// ---- build and configuration ---------------------------------------------------------------

/** config.debug-off: the firmware's production defaults refuse debug interfaces and its runtime flags enable none. */
export async function checkDebugOff(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwarkDevice(ctx)) return notTested(NOT_BULWARK);
  const { AGENT_NODE_FLAGS, defaultDeviceAgentConfig } = await import('../device/index.ts');
  const risky = AGENT_NODE_FLAGS.filter((f) => /^--(inspect|debug|expose|allow-natives-syntax|interactive|repl|experimental-repl)/.test(f));
  const evidence: Evidence[] = [
    { sent: 'the agent\'s Node flags (supervisor AGENT_NODE_FLAGS)', received: `${AGENT_NODE_FLAGS.join(' ') || '(none)'}${risky.length ? ` (debug flags: ${risky.join(' ')})` : ''}`, finding: risky.length > 0 },
    { sent: 'code generation from strings', received: AGENT_NODE_FLAGS.includes('--disallow-code-generation-from-strings') ? 'disallowed (--disallow-code-generation-from-strings)' : 'allowed' },
    { sent: 'opening the inspector later by signal', received: AGENT_NODE_FLAGS.includes('--disable-sigusr1') ? 'impossible (--disable-sigusr1)' : 'possible: SIGUSR1 opens the inspector', finding: !AGENT_NODE_FLAGS.includes('--disable-sigusr1') },
    { sent: 'the agent\'s default mode', received: `${defaultDeviceAgentConfig.mode}${defaultDeviceAgentConfig.mode === 'production' ? ' (refuses to start with the inspector enabled or attachable)' : ''}`, finding: defaultDeviceAgentConfig.mode !== 'production' },
  ];
  const ports = ctx.results.get('net.debug-ports');
  if (ports !== undefined) evidence.push({ sent: 'the black-box port scan (net.debug-ports)', received: ports.summary });
  return verdict(evidence, 'the firmware runs in production mode by default, which refuses the inspector, with no debug flag and no code generation from strings', () => 'the firmware enables a debug interface');
}

/** config.lockout: lockout per source and account with back-off, and no configuration can switch it off. */
export async function checkConfigLockout(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwarkDevice(ctx)) return notTested(NOT_BULWARK);
  const { defaultLockoutConfig: c, validateLockoutConfig, parseLockoutState } = await import('../auth/index.ts');
  const refuses = (partial: Record<string, number>): boolean => { try { validateLockoutConfig(partial); return false; } catch { return true; } };
  const evidence: Evidence[] = [
    { sent: 'the firmware\'s lockout defaults', received: `${c.sourceThreshold} failures per source, ${c.accountThreshold} per account, back-off ${c.baseDelayMs / 1000} s doubling to ${c.maxDelayMs / 1000} s`, finding: c.sourceThreshold > 10 || c.baseDelayMs < 1_000 },
    { sent: 'a configuration that disables lockout (sourceThreshold 1000, baseDelayMs 0)', received: refuses({ sourceThreshold: 1_000 }) && refuses({ baseDelayMs: 0 }) ? 'refused' : 'accepted', finding: !(refuses({ sourceThreshold: 1_000 }) && refuses({ baseDelayMs: 0 })) },
  ];
  if (ctx.inputs.stateDir !== undefined) {
    const f = await readBounded(join(ctx.inputs.stateDir, 'web', 'lockout.json'), 4 * 1_048_576);
    if (f.ok) {
      let ok = true;
      try { parseLockoutState(f.text); } catch { ok = false; }
      evidence.push({ sent: 'read web/lockout.json in the state folder', received: ok ? 'valid lockout counters (persist across restarts)' : 'unreadable counters', finding: !ok });
    }
  }
  return verdict(evidence, 'lockout with back-off is on per source and per account, and configuration cannot switch it off', () => 'lockout is weak or can be switched off');
}

/** config.session: sessions have bounded idle and absolute lifetimes. */
export async function checkConfigSession(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwarkDevice(ctx)) return notTested(NOT_BULWARK);
  const { defaultSessionConfig: s, validateSessionConfig } = await import('../auth/index.ts');
  let unbounded = false;
  try { validateSessionConfig({ idleTimeoutMs: 30 * 86_400_000 }); unbounded = true; } catch { /* refused, as it should be */ }
  const evidence: Evidence[] = [
    { sent: 'the firmware\'s session defaults', received: `idle ${s.idleTimeoutMs / 60_000} min, absolute ${s.absoluteTimeoutMs / 3_600_000} h, ${s.maxSessionsPerUser} per user`, finding: s.idleTimeoutMs > 3_600_000 || s.absoluteTimeoutMs > 86_400_000 },
    { sent: 'a configuration with a 30-day idle timeout', received: unbounded ? 'accepted' : 'refused', finding: unbounded },
  ];
  return verdict(evidence, 'sessions end after 15 minutes idle and 12 hours at most, and longer lifetimes cannot be configured', () => 'session lifetimes are unbounded or too long');
}

/** config.password-policy: minimum length and strength, serial/model/common passwords refused. */
export async function checkPasswordPolicy(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwarkDevice(ctx)) return notTested(NOT_BULWARK);
  const { passwordPolicyRules: r, checkPasswordStrength } = await import('../auth/index.ts');
  const unit = await readUnit(ctx);
  const serial = typeof unit?.serial === 'string' ? unit.serial : 'PLG-7KQ2M9XW4T';
  const model = typeof unit?.modelName === 'string' ? unit.modelName : ctx.inputs.profile.model;
  const inputs = { userInputs: [serial, model, 'admin'] };
  const trials: Array<[string, string, boolean]> = [
    ['a common password (Password1234)', 'Password1234', false],
    ['the serial number with a suffix', `${serial}!2024`, false],
    ['the model name with a suffix', `${model.replace(/\s+/g, '')}Admin99`, false],
    ['a random 16-character password (control)', 'qv7-Lm2x-Tr9p-Wk4z', true],
  ];
  const evidence: Evidence[] = [{ sent: 'the firmware\'s password rules', received: `at least ${r.minLength} characters, strength score ${r.minScore}/4, the ${r.commonPasswordCount} most common passwords refused`, finding: r.minLength < 12 || r.minScore < 3 }];
  for (const [what, pw, expected] of trials) {
    const verdictOf = await checkPasswordStrength(pw, inputs);
    evidence.push({ sent: `strength check of ${what}`, received: verdictOf.ok ? 'accepted' : `refused (${verdictOf.reasons.map((x) => x.code).join(', ')})`, finding: verdictOf.ok !== expected });
  }
  evidence.push({ sent: 'changing the password', received: 'the change form asks for the current password (enforced by the admin service; not observable without the owner\'s credentials, see http.auth-all-routes for its protection)' });
  return verdict(evidence, `passwords need ${r.minLength}+ characters and strength ${r.minScore}/4; common, serial- and model-based passwords are refused`, () => 'the password policy lets weak passwords through');
}

/** config.log-retention: the journal is bounded in entries, bytes and age, and the state's journal keeps to it. */
export async function checkLogRetention(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwarkDevice(ctx)) return notTested(NOT_BULWARK);
  const { defaultJournalConfig: c, validateJournalConfig, JOURNAL_FILE_NAME } = await import('../journal/index.ts');
  let unbounded = false;
  try { validateJournalConfig({ maxAgeDays: 100_000 }); unbounded = true; } catch { /* refused */ }
  const evidence: Evidence[] = [
    { sent: 'the firmware\'s journal limits', received: `${c.maxEntries} entries, ${c.maxBytes} bytes, ${c.maxAgeDays} days`, finding: c.maxAgeDays > 365 },
    { sent: 'a configuration keeping entries for 100,000 days', received: unbounded ? 'accepted' : 'refused', finding: unbounded },
  ];
  if (ctx.inputs.stateDir !== undefined) {
    const entries = await readJournal(ctx);
    const f = await readBounded(join(ctx.inputs.stateDir, JOURNAL_FILE_NAME), ctx.inputs.limits.maxInputFileBytes, { tail: true });
    if (f.ok && entries !== undefined) {
      const oldest = entries.length ? Date.parse(entries[0]!.at) : Date.now();
      const ageDays = (Date.now() - oldest) / 86_400_000;
      evidence.push({ sent: `the journal in the state folder`, received: `${entries.length} entries, ${f.size} bytes, oldest ${ageDays.toFixed(1)} days`, finding: f.size > c.maxBytes || entries.length > c.maxEntries || ageDays > c.maxAgeDays + 1 });
    }
  }
  return verdict(evidence, 'logs are bounded by size, count and age, and the bounds cannot be lifted', () => 'log retention is unbounded or exceeded');
}

// ---- lint and SBOM -------------------------------------------------------------------------

interface ProgramResult { code: number | null; stdout: string; stderr: string; timedOut: boolean }

/** Runs a program with an argv array (no shell), bounded output and time. */
function runProgram(file: string, args: readonly string[], o: { cwd: string; stdin?: string; timeoutMs: number; maxBytes: number }): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    const out: Buffer[] = [], err: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (c: Buffer): void => { size += c.length; if (size <= o.maxBytes) into.push(c); else child.kill('SIGKILL'); };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, o.timeoutMs);
    child.on('error', () => undefined);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.stdin ?? '');
  });
}

interface EslintFileResult { filePath: string; errorCount: number; messages: Array<{ ruleId: string | null; severity: number; line: number }> }

/** The probe whose every line lint must refuse: the bans on shell execution and eval. */
const LINT_PROBE = "eval('1');\nimport { exec } from 'node:child_process';\nexec('ls');\n";

/** build.lint: lint passes on the firmware source (--source), and its bans on shell and eval fire. */
export async function checkLint(ctx: AuditContext): Promise<CheckOutcome> {
  const source = ctx.inputs.sourceDir;
  if (source === undefined) return notTested('needs --source (the firmware\'s project folder) to run its lint');
  const eslint = join(source, 'node_modules', 'eslint', 'bin', 'eslint.js');
  if (!existsSync(eslint)) return notTested(`no ESLint in ${source}/node_modules (run npm ci there)`);
  const limits = { cwd: source, timeoutMs: ctx.inputs.limits.lintTimeoutMs, maxBytes: 64 * 1_048_576 };
  const evidence: Evidence[] = [];
  const probe = await runProgram(process.execPath, [eslint, '--format', 'json', '--stdin', '--stdin-filename', 'src/bulwark-audit-lint-probe.js'], { ...limits, stdin: LINT_PROBE });
  let probeResults: EslintFileResult[] | undefined;
  try { probeResults = JSON.parse(probe.stdout) as EslintFileResult[]; } catch { /* below */ }
  if (probeResults === undefined) return notTested(`ESLint did not run (${probe.timedOut ? 'timed out' : `exit ${String(probe.code)}: ${probe.stderr.split('\n')[0]?.slice(0, 160) ?? ''}`})`);
  const hits = new Set(probeResults.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => m.line)));
  const bansFire = hits.has(1) && (hits.has(2) || hits.has(3));
  evidence.push({ sent: 'lint a probe file calling eval() and child_process.exec()', received: bansFire ? 'both refused' : `refused lines: ${[...hits].join(', ') || 'none'}`, finding: !bansFire });
  const run = await runProgram(process.execPath, [eslint, '--format', 'json', 'src'], limits);
  let results: EslintFileResult[] | undefined;
  try { results = JSON.parse(run.stdout) as EslintFileResult[]; } catch { /* below */ }
  if (results === undefined) return notTested(`ESLint did not finish on src (${run.timedOut ? 'timed out' : `exit ${String(run.code)}`})`, evidence);
  const errors = results.reduce((n, r) => n + r.errorCount, 0);
  const rules = new Map<string, number>();
  for (const r of results) for (const m of r.messages) if (m.severity === 2) rules.set(m.ruleId ?? 'parse', (rules.get(m.ruleId ?? 'parse') ?? 0) + 1);
  evidence.push({ sent: `eslint src in ${source} (${results.length} files)`, received: errors === 0 ? 'no errors' : `${errors} errors: ${[...rules].slice(0, 8).map(([k, v]) => `${k} x${v}`).join(', ')}`, finding: errors > 0 });
  return verdict(evidence, `lint passes on ${results.length} source files and refuses shell execution and eval`, () => 'lint fails or its bans do not fire');
}

const SBOM_NAMES = ['sbom.cdx.json', 'image.cdx.json', 'bom.cdx.json', 'bom.json'];

/** build.sbom: a CycloneDX SBOM ships with each image: signed beside it in the update repository, or in --bundle / --source. */
export async function checkSbom(ctx: AuditContext): Promise<CheckOutcome> {
  const { repositorySbomEvidence } = await import('./update-checks.ts');
  const fromRepo = await repositorySbomEvidence(ctx);
  if (fromRepo !== undefined && fromRepo.some((e) => e.finding !== undefined)) {
    return verdict(fromRepo, 'every published image has a signed CycloneDX SBOM naming it by its hash', () => 'an image ships without a valid SBOM');
  }
  const dirs = [ctx.inputs.bundleDir, ctx.inputs.sourceDir, ctx.inputs.sourceDir && join(ctx.inputs.sourceDir, 'reports'), ctx.inputs.sourceDir && join(ctx.inputs.sourceDir, 'dist')].filter((d): d is string => d !== undefined);
  for (const dir of dirs) {
    for (const name of SBOM_NAMES) {
      const { value, reason } = await readJsonBounded(join(dir, name), ctx.inputs.limits.maxInputFileBytes);
      if (reason === 'missing') continue;
      const v = value as { bomFormat?: unknown; specVersion?: unknown; components?: unknown } | undefined;
      const ok = v?.bomFormat === 'CycloneDX' && Array.isArray(v.components) && v.components.length > 0;
      return verdict([...(fromRepo ?? []), { sent: `read ${join(dir, name)}`, received: ok ? `CycloneDX ${String(v?.specVersion)} with ${(v!.components as unknown[]).length} components` : (reason ?? 'not a CycloneDX SBOM with components'), finding: !ok }],
        'a CycloneDX SBOM ships with the image', () => 'the SBOM is malformed');
    }
  }
  return notTested('no SBOM found: the release side writes one per image (targets/<model>/image.cdx.json in the update repository); give --update-repo, or --bundle or --source holding sbom.cdx.json or image.cdx.json', fromRepo ?? []);
}

// ---- journal -------------------------------------------------------------------------------

/** A journal entry as stored (src/journal's JSON lines). */
export interface StoredJournalEntry {
  readonly seq: number;
  readonly at: string;
  readonly surface: string;
  readonly source: string;
  readonly event: string;
  readonly identity?: string;
  readonly result: string;
  readonly detail?: string;
}

/** The journal in --state, oldest first; undefined when absent. Lines that are not entries are skipped. */
export async function readJournal(ctx: AuditContext): Promise<StoredJournalEntry[] | undefined> {
  if (ctx.inputs.stateDir === undefined) return undefined;
  const { JOURNAL_FILE_NAME } = await import('../journal/index.ts');
  const f = await readBounded(join(ctx.inputs.stateDir, JOURNAL_FILE_NAME), ctx.inputs.limits.maxInputFileBytes, { tail: true });
  if (!f.ok) return undefined;
  const out: StoredJournalEntry[] = [];
  for (const line of f.text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as StoredJournalEntry;
      if (typeof e.at === 'string' && typeof e.source === 'string' && typeof e.event === 'string' && typeof e.result === 'string' && typeof e.surface === 'string') out.push(e);
    } catch { /* a torn line */ }
  }
  return out;
}

/** Polls the journal until `ready` holds or the settle time is up (the device writes in batches). */
async function settledJournal(ctx: AuditContext, ready: (entries: StoredJournalEntry[]) => boolean): Promise<StoredJournalEntry[] | undefined> {
  const until = Date.now() + ctx.inputs.limits.journalSettleMs;
  for (;;) {
    const entries = await readJournal(ctx);
    if (entries === undefined || ready(entries) || Date.now() >= until) return entries;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a journal source ('a.b.c.d:port', '[v6]:port' or a coarsened network) is the auditor's endpoint. */
function sourceMatches(source: string, endpoint: string): boolean {
  if (source === endpoint) return true;
  const [address] = endpoint.split(/:(?=\d+$)/);
  if (source.endsWith('/24')) return address !== undefined && address.split('.').slice(0, 3).join('.') === source.slice(0, -3).split('.').slice(0, 3).join('.');
  return source === '::1/128' && address === '::1';
}

function allEndpoints(ctx: AuditContext): string[] {
  return [...ctx.trace.endpoints.values()].flatMap((s) => [...s]);
}

/** journal.connections: each of the auditor's own connections appears in the journal with time, source, surface and result. */
export async function checkJournalConnections(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to read the connection journal');
  const endpoints = allEndpoints(ctx);
  const recorded = (entries: StoredJournalEntry[], ep: string): boolean => entries.some((e) => sourceMatches(e.source, ep));
  const entries = await settledJournal(ctx, (es) => endpoints.every((ep) => recorded(es, ep)));
  if (entries === undefined) return { status: 'fail', summary: 'there is no connection journal in the state folder', evidence: [{ sent: `read the journal in ${ctx.inputs.stateDir}`, received: 'missing', finding: true }] };
  const malformed = entries.filter((e) => !e.at || !e.source || !e.surface || !e.result).length;
  const evidence: Evidence[] = [{ sent: 'read the connection journal', received: `${entries.length} entries${malformed ? `, ${malformed} without time, source, surface or result` : ''}`, finding: malformed > 0 }];
  if (endpoints.length === 0) return notTested('give --url as well: the auditor then checks that each of its own connections was recorded', evidence);
  const sensitive = entries.some((e) => /\/\d+$/.test(e.source));
  const missing = sensitive ? [] : endpoints.filter((ep) => !recorded(entries, ep));
  const matched = entries.filter((e) => endpoints.some((ep) => sourceMatches(e.source, ep)));
  evidence.push({
    sent: `the auditor's ${endpoints.length} TLS connections during this audit`,
    received: sensitive ? `${matched.length} entries from the auditor's network (sources are coarsened on this device class)` : missing.length === 0 ? `all ${endpoints.length} recorded (${[...new Set(matched.map((e) => `${e.event} ${e.result}`))].slice(0, 8).join(', ')})` : `${missing.length} not recorded, e.g. ${missing.slice(0, 3).join(', ')}`,
    finding: sensitive ? matched.length < endpoints.length : missing.length > 0,
  });
  return verdict(evidence, 'every connection the auditor made is in the journal with its time, source, surface and result', () => 'connection attempts are missing from the journal');
}

/** journal.security-events: the lockout and the CSRF refusal the auditor caused are recorded, and the owner has a journal page. */
export async function checkJournalSecurityEvents(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to read the journal (the owner\'s journal page needs the owner\'s credentials, which audits do not use)');
  const lockoutEps = [...(ctx.trace.endpoints.get('lockout') ?? [])];
  const csrfEps = [...(ctx.trace.endpoints.get('csrf') ?? [])];
  const wantLockout = ctx.trace.lockout !== undefined;
  const wantCsrf = ctx.trace.csrfRefused === true;
  if (!wantLockout && !wantCsrf) return notTested('no security event was caused: give --url so the auditor triggers a lockout and a CSRF refusal and then looks for them in the journal');
  const hasLock = (es: StoredJournalEntry[]): boolean => es.some((e) => e.result === 'locked-out' && lockoutEps.some((ep) => sourceMatches(e.source, ep)));
  const hasCsrf = (es: StoredJournalEntry[]): boolean => es.some((e) => e.event === 'csrf' && e.result === 'refused' && csrfEps.some((ep) => sourceMatches(e.source, ep)));
  const entries = await settledJournal(ctx, (es) => (!wantLockout || hasLock(es)) && (!wantCsrf || hasCsrf(es)));
  if (entries === undefined) return { status: 'fail', summary: 'there is no journal in the state folder', evidence: [{ sent: 'read the journal', received: 'missing', finding: true }] };
  const evidence: Evidence[] = [];
  if (wantLockout) evidence.push({ sent: `the lockout the auditor triggered at attempt ${ctx.trace.lockout!.attempt}`, received: hasLock(entries) ? 'recorded as a locked-out login' : 'not recorded', finding: !hasLock(entries) });
  if (wantCsrf) evidence.push({ sent: 'the cross-origin request the device refused', received: hasCsrf(entries) ? 'recorded as a refused CSRF attempt' : 'not recorded', finding: !hasCsrf(entries) });
  const listing = ctx.trace.answers.find((a) => a.request === 'GET /api/journal');
  if (listing !== undefined) evidence.push({ sent: 'GET /api/journal without a session (the owner\'s listing)', received: listing.status === 404 ? 'does not exist' : `exists and is owner-only (${listing.status})`, finding: listing.status === 404 });
  return verdict(evidence, 'the security events the auditor caused are in the journal, which the owner lists on the admin page', () => 'security events are not recorded for the owner');
}

/** journal.redaction: none of the random passwords the auditor sent appears in any file of the state folder. */
export async function checkJournalRedaction(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to search the logs');
  const canaries = ctx.trace.canaries;
  if (canaries.length === 0) return notTested('no canary was sent: give --url so the auditor sends random passwords and then searches for them');
  // The device batches its writes (journal ~50 ms, counters ~200 ms): let them land first.
  await new Promise((r) => setTimeout(r, Math.min(500, ctx.inputs.limits.journalSettleMs)));
  const { entries, truncated } = await walk(ctx.inputs.stateDir, ctx.inputs.limits.maxStateFiles);
  const files = entries.filter((e) => e.kind === 'file');
  const hits: string[] = [];
  for (const f of files) {
    const t = await readBounded(f.path, ctx.inputs.limits.maxInputFileBytes, { tail: true });
    if (t.ok && canaries.some((c) => t.text.includes(c))) hits.push(f.name);
  }
  return verdict([{ sent: `search ${files.length} files in the state folder${truncated ? ' (first ones only)' : ''} for the ${canaries.length} random passwords the auditor sent`, received: hits.length === 0 ? 'none found' : `found in ${hits.join(', ')}`, finding: hits.length > 0 }],
    'no password the auditor sent was written anywhere on the device', () => 'passwords sent to the device were written to its storage');
}

/** journal.no-content: a camera or microphone device's journal keeps no detail and only coarse sources. */
export async function checkJournalNoContent(ctx: AuditContext): Promise<CheckOutcome> {
  if (ctx.inputs.stateDir === undefined) return notTested('needs --state to read the journal');
  const entries = await readJournal(ctx);
  if (entries === undefined) return notTested('there is no journal in the state folder');
  if (entries.length === 0) return notTested('the journal is empty');
  const detailed = entries.filter((e) => e.detail !== undefined).length;
  const precise = entries.filter((e) => !/\/\d+$/.test(e.source) && e.source !== 'local' && e.source !== 'unknown').length;
  return verdict([
    { sent: `${entries.length} journal entries`, received: detailed === 0 ? 'no free-text detail' : `${detailed} with free-text detail`, finding: detailed > 0 },
    { sent: 'journal sources', received: precise === 0 ? 'networks only (/24, /48)' : `${precise} exact addresses`, finding: precise > 0 },
  ], 'the journal keeps no content-derived detail and only coarse sources', () => 'the journal of a sensing device keeps detail or exact sources');
}
