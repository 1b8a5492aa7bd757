/**
 * Credential checks, white-box: no credential repeats across a batch or derives from the serial
 * (the manifest and the unit folders the factory wrote beside it), and stored password hashes
 * are argon2id at or above the floor. Secrets read from the inputs (hashes, salts, label
 * passwords) are compared, never copied into evidence.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BUNDLE_FILES } from '../bundle/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readUnitRecord } from './device-info.ts';
import { readBounded, readJsonBounded } from './files.ts';
import { loadManifest, type ManifestEntry, type ManifestView } from './manifest.ts';
import type { Evidence } from './types.ts';
import type * as AuthIndex from '../auth/index.ts';

function certFingerprint(pem: string): { fingerprint: string; publicKey: string } | undefined {
  try {
    const cert = new X509Certificate(pem);
    return {
      fingerprint: 'sha256:' + createHash('sha256').update(cert.raw).digest('hex'),
      publicKey: createHash('sha256')
        .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    };
  } catch {
    return undefined;
  }
}

function duplicateCount(values: readonly string[]): number {
  return values.length - new Set(values).size;
}

/**
 * bundle.unique-credentials: across the manifest (and the unit folders beside it) no credential repeats or derives from
 * the serial.
 */
export async function checkUniqueCredentials(ctx: AuditContext): Promise<CheckOutcome> {
  const manifest = await loadManifest(ctx);
  if (ctx.inputs.manifestPath !== undefined && manifest === undefined) {
    return {
      status: 'fail',
      summary: 'the manifest cannot be read as a Bulwark manifest',
      evidence: [
        { sent: `read ${ctx.inputs.manifestPath}`, received: 'not a manifest with a units list', finding: true },
      ],
    };
  }
  if (manifest === undefined)
    return notTested("needs --manifest (the batch's manifest.json) to compare the credentials of every unit");
  const folders = await readUnitFolders(manifest, ctx.inputs.limits.maxUnitFoldersRead);
  const evidence: Evidence[] = [
    ...manifestEvidence(manifest),
    ...(folders.count > 0 ? unitFolderEvidence(folders) : []),
    ...(await bundleAgainstManifest(ctx, manifest.units)),
  ];
  const u = manifest.units;
  return verdict(
    evidence,
    `no credential repeats across ${u.length} units${
      folders.count > 0 ? ` (${folders.count} unit folders ` + `compared)` : ''
    } and none is derived from the serial or model`,
    (f) => `credentials are shared or derived: ${f.map((e) => e.sent).join('; ')}`,
  );
}

function distinct(sent: string, values: readonly string[]): Evidence {
  const dup = duplicateCount(values);
  return { sent, received: dup === 0 ? 'all distinct' : `${dup} repeated`, finding: dup > 0 };
}

/** The manifest's own fields: serials, fingerprints and claim-code hashes all distinct. */
function manifestEvidence(manifest: ManifestView): Evidence[] {
  const u = manifest.units;
  const name = basename(manifest.path);
  const field = (what: string, values: string[]): Evidence =>
    distinct(`${what} of ${values.length} units in ${name}`, values);
  const cross = u.filter((x) => x.deviceCertFingerprint === x.webCertFingerprint).length;
  const evidence: Evidence[] = [
    field(
      'serial numbers',
      u.map((x) => x.serial),
    ),
    field(
      'device certificate fingerprints',
      u.map((x) => x.deviceCertFingerprint),
    ),
    field(
      'web certificate fingerprints',
      u.map((x) => x.webCertFingerprint),
    ),
    field(
      'claim code hashes',
      u.map((x) => x.claimCodeHash),
    ),
    {
      sent: 'device and web certificate of each unit',
      received: cross === 0 ? 'different for every unit' : `${cross} unit(s) use one certificate for both`,
      finding: cross > 0,
    },
  ];
  if (manifest.malformed > 0)
    evidence.push({
      sent: 'manifest entries',
      received: `${manifest.malformed} malformed entr${manifest.malformed === 1 ? 'y' : 'ies'} skipped`,
      finding: true,
    });
  if (manifest.truncated)
    evidence.push({ sent: 'manifest size', received: `only the first ${u.length} units were examined (limit)` });
  return evidence;
}

/** What the unit folders beside a manifest hold: hashes, salts and (factory-only) label secrets. */
interface UnitFolders {
  count: number;
  readonly salts: string[];
  readonly hashes: string[];
  readonly verifierSalts: string[];
  readonly passwords: string[];
  readonly setupCodes: string[];
  readonly claimCodes: string[];
  /** Label secrets that contain the unit's serial, its last six symbols or its model. */
  derived: number;
}

async function readUnitFolders(manifest: ManifestView, maxFolders: number): Promise<UnitFolders> {
  const root = dirname(manifest.path);
  const out: UnitFolders = {
    count: 0,
    salts: [],
    hashes: [],
    verifierSalts: [],
    passwords: [],
    setupCodes: [],
    claimCodes: [],
    derived: 0,
  };
  for (const unit of manifest.units.slice(0, maxFolders)) {
    if (!/^[A-Z0-9-]{1,32}$/.test(unit.serial)) continue;
    const dir = join(root, unit.serial);
    if (!existsSync(dir)) continue;
    out.count++;
    const phc = await readBounded(join(dir, BUNDLE_FILES.adminPasswordHash.name), 4_096);
    if (phc.ok) {
      const parts = phc.text.trim().split('$');
      out.salts.push(parts[4] ?? '');
      out.hashes.push(parts[5] ?? '');
    }
    const { value: verifier } = await readJsonBounded(join(dir, BUNDLE_FILES.pairingVerifier.name), 65_536);
    const vs = (verifier as { pbkdf2?: { salt?: unknown } } | undefined)?.pbkdf2?.salt;
    if (typeof vs === 'string') out.verifierSalts.push(vs);
    const { value: label } = await readJsonBounded(join(dir, BUNDLE_FILES.label.name), 65_536);
    if (typeof label === 'object' && label !== null) addLabel(out, unit, label as Record<string, unknown>);
  }
  return out;
}

function addLabel(out: UnitFolders, unit: ManifestEntry, l: Record<string, unknown>): void {
  const norm = (s: string): string => s.replace(/[^a-z0-9]/gi, '').toLowerCase();
  const serialKey = norm(unit.serial);
  const serialTail = serialKey.slice(-6);
  for (const [list, v] of [
    [out.passwords, l.adminPassword],
    [out.setupCodes, l.setupCode],
    [out.claimCodes, l.claimCode],
  ] as const) {
    if (typeof v !== 'string') continue;
    list.push(v);
    const n = norm(v);
    if (n.includes(serialKey) || (serialTail.length === 6 && n.includes(serialTail)) || n.includes(norm(unit.model)))
      out.derived++;
  }
}

function unitFolderEvidence(f: UnitFolders): Evidence[] {
  const evidence: Evidence[] = [];
  const add = (what: string, values: string[]): void => {
    if (values.length > 0)
      evidence.push(distinct(`${what} of ${values.length} unit folders beside the manifest`, values));
  };
  add('admin password hash salts', f.salts);
  add('admin password hashes', f.hashes);
  add('setup-code verifier salts', f.verifierSalts);
  add('sticker passwords (label.json, compared only)', f.passwords);
  add('setup codes (label.json, compared only)', f.setupCodes);
  add('claim codes (label.json, compared only)', f.claimCodes);
  if (f.passwords.length + f.setupCodes.length + f.claimCodes.length > 0) {
    evidence.push({
      sent: "sticker secrets compared with each unit's serial number and model",
      received:
        f.derived === 0
          ? 'none contains the serial, its last six symbols or the model'
          : `${f.derived} contain the serial or model`,
      finding: f.derived > 0,
    });
  }
  return evidence;
}

/** The audited unit's own bundle against the manifest. */
async function bundleAgainstManifest(ctx: AuditContext, u: readonly ManifestEntry[]): Promise<Evidence[]> {
  const unit = await readUnitRecord(ctx);
  if (unit === undefined || ctx.inputs.bundleDir === undefined) return [];
  const web = await readBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.webCert.name), 65_536);
  const dev = await readBounded(join(ctx.inputs.bundleDir, BUNDLE_FILES.deviceCert.name), 65_536);
  const w = web.ok ? certFingerprint(web.text) : undefined;
  const d = dev.ok ? certFingerprint(dev.text) : undefined;
  const listed = u.some(
    (x) =>
      x.serial === unit.serial && x.webCertFingerprint === w?.fingerprint && x.deviceCertFingerprint === d?.fingerprint,
  );
  const evidence: Evidence[] = [
    {
      sent: `the bundle's certificates (${String(unit.serial)}) against the manifest`,
      received: listed ? 'listed with the same fingerprints' : 'not listed with these fingerprints',
    },
  ];
  if (w && d)
    evidence.push({
      sent: "the bundle's web and device keys",
      received: w.publicKey === d.publicKey ? 'the same key serves both' : 'two different keys',
      finding: w.publicKey === d.publicKey,
    });
  return evidence;
}

/** The hashing floor: OWASP's argon2id minimum, the project's own default. */
export const ARGON2_FLOOR = Object.freeze({ memoryKiB: 19_456, passes: 2, parallelism: 1, saltBytes: 16 });

type PasswordHashParser = (typeof AuthIndex)['parsePasswordHash'];

/** Judges a stored hash, read by the firmware's own PHC parser (src/auth), against the floor. */
function judgeHash(text: string, parse: PasswordHashParser): { ok: boolean; text: string; salt?: string } {
  let parsed: ReturnType<PasswordHashParser>;
  try {
    parsed = parse(text.trim());
  } catch (err) {
    const scheme = /^\$([a-z0-9-]+)\$/i.exec(text.trim())?.[1];
    const why =
      scheme === undefined
        ? 'not a PHC hash string (plain text or unknown format)'
        : scheme === 'argon2id'
          ? `refused by the firmware's hash parser: ${(err as Error).message.slice(0, 120)}`
          : `a ${scheme} hash, not argon2id v=19`;
    return { ok: false, text: why };
  }
  const { memoryKiB: mem, passes: t, parallelism: p } = parsed.params;
  const saltBytes = parsed.salt.length;
  const f = ARGON2_FLOOR;
  const weak = mem < f.memoryKiB || t < f.passes || p < f.parallelism || saltBytes < f.saltBytes;
  const floor = ` (below the floor m=${f.memoryKiB}, t=${f.passes}, p=${f.parallelism}, ${f.saltBytes}-byte salt)`;
  return {
    ok: !weak,
    text: `argon2id m=${mem} KiB, t=${t}, p=${p}, ${saltBytes}-byte salt${weak ? floor : ''}`,
    salt: Buffer.from(parsed.salt).toString('base64'),
  };
}

/** bundle.hash-params: stored password hashes are argon2id at or above the floor, each with its own salt. */
export async function checkHashParams(ctx: AuditContext): Promise<CheckOutcome> {
  const { bundleDir, stateDir } = ctx.inputs;
  if (bundleDir === undefined && stateDir === undefined)
    return notTested('needs --bundle or --state to read the stored password hashes');
  const { parsePasswordHash } = await import('../auth/index.ts');
  const evidence: Evidence[] = [];
  const salts: string[] = [];
  if (bundleDir !== undefined) {
    const f = await readBounded(join(bundleDir, BUNDLE_FILES.adminPasswordHash.name), 4_096);
    if (f.ok) {
      const j = judgeHash(f.text, parsePasswordHash);
      if (j.salt) salts.push(j.salt);
      evidence.push({
        sent: `read ${BUNDLE_FILES.adminPasswordHash.name} in the bundle`,
        received: j.text,
        finding: !j.ok,
      });
    } else
      evidence.push({
        sent: `read ${BUNDLE_FILES.adminPasswordHash.name} in the bundle`,
        received: f.reason === 'missing' ? 'absent (a model whose owner sets the password at setup)' : f.reason,
      });
  }
  if (stateDir !== undefined) {
    const { value, reason } = await readJsonBounded(join(stateDir, 'web', 'owner.json'), 65_536);
    const hash = (value as { passwordHash?: unknown } | undefined)?.passwordHash;
    if (typeof hash === 'string') {
      const j = judgeHash(hash, parsePasswordHash);
      if (j.salt) salts.push(j.salt);
      evidence.push({
        sent: 'read web/owner.json in the state folder',
        received: `owner password: ${j.text}`,
        finding: !j.ok,
      });
    } else
      evidence.push({
        sent: 'read web/owner.json in the state folder',
        received:
          reason === 'missing'
            ? 'absent (the owner has not changed the password)'
            : `no password hash (${reason ?? 'unexpected content'})`,
        finding: reason !== 'missing',
      });
  }
  if (salts.length === 2)
    evidence.push({
      sent: 'salts of the two hashes',
      received: salts[0] === salts[1] ? 'the same salt' : 'different salts',
      finding: salts[0] === salts[1],
    });
  // What the firmware uses for every new hash (the owner's first password on a setup-mode model).
  const { DEFAULT_ARGON2_PARAMS: d } = await import('../auth/index.ts');
  const weakDefault =
    d.memoryKiB < ARGON2_FLOOR.memoryKiB || d.passes < ARGON2_FLOOR.passes || d.parallelism < ARGON2_FLOOR.parallelism;
  evidence.push({
    sent: "the firmware's parameters for new hashes",
    received: `argon2id m=${d.memoryKiB} KiB, t=${d.passes}, p=${d.parallelism}${
      weakDefault ? ' (below the ' + 'floor)' : ''
    }`,
    finding: weakDefault,
  });
  return verdict(
    evidence,
    `every stored password hash is argon2id at or above m=${ARGON2_FLOOR.memoryKiB} KiB, t=${ARGON2_FLOOR.passes}, ` +
      `p=${ARGON2_FLOOR.parallelism} with its own salt`,
    (f) => `weak or unexpected password storage: ${f.map((e) => e.received).join('; ')}`,
  );
}
