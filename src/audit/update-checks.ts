/**
 * Checks of software updates, white-box: the trust anchor's signing policy, the device's
 * metadata cache, anti-rollback counter and A/B boot state in its state folder, the updater's
 * defaults, the firmware's own (pure) boot decision fed cases it must refuse, and, with
 * --update-repo, the release repository verified from the bundle's root the way a device walks
 * it, with each image's SBOM and the audit reports kept with releases. The refusal of tampered
 * or old metadata over the network is the update test suite's job (test/update), not the
 * audit's: the audit verifies the configuration and the evidence a device and a release leave.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TufModels from '@tufjs/models';
import type { AuditContext } from './context.ts';
import { acceptsConfig, notTested, verdict, type CheckOutcome } from './context.ts';
import { readBounded, readJsonBounded } from './files.ts';
import { auditKeyId, signAttestation, verifyAttestation, type AttestationVerdict } from './attestation.ts';
import { auditedModel, runningFirmware, isBulwark, NOT_BULWARK_DEVICE } from './device-info.ts';
import { readJournal } from './stored-journal.ts';
import { AUDIT_REPORT_FORMAT, type AuditReport, type Evidence } from './types.ts';

type Models = typeof TufModels;
type AnyMetadata = InstanceType<Models['Metadata']>;

/** The top-level TUF roles every root must define. */
const TOP_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
/** Most root versions walked from the trust anchor to the repository's latest. */
const MAX_ROOT_WALK = 1_024;
/** Images larger than this are checked against their signed length only, not hashed, bytes. */
const MAX_HASHED_IMAGE_BYTES = 256 * 1_048_576;
/** Files in a slot that are the slot's own records, not the image's files. */
const SLOT_OWN_FILES = new Set(['.slot.json', '.slot.image.tar']);

async function models(): Promise<Models> {
  return import('@tufjs/models');
}

function errText(err: unknown): string {
  return (err as Error).message?.slice(0, 140) ?? String(err);
}

/** The signing policy of a root: what a device trusts. Returns evidence (findings for a weak policy). */
function rootPolicy(m: Models, root: AnyMetadata, what: string): Evidence[] {
  const signed = root.signed as InstanceType<Models['Root']>;
  const out: Evidence[] = [];
  const roles = TOP_ROLES.map((r) => [r, signed.roles[r]] as const);
  const missing = roles.filter(([, role]) => role === undefined).map(([r]) => r);
  const weak = roles
    .filter(
      ([, role]) =>
        role !== undefined &&
        (role.threshold < 1 ||
          role.keyIDs.length < role.threshold ||
          role.keyIDs.some((k) => signed.keys[k] === undefined)),
    )
    .map(([r]) => r);
  const rootRole = signed.roles.root;
  const rootThreshold = rootRole?.threshold ?? 0;
  const online = new Set(['targets', 'snapshot', 'timestamp'].flatMap((r) => signed.roles[r]?.keyIDs ?? []));
  const shared = (rootRole?.keyIDs ?? []).filter((k) => online.has(k));
  out.push({
    sent: `${what}: the roles' keys and thresholds`,
    received:
      roles.map(([r, role]) => `${r} ${role ? `${role.threshold} of ${role.keyIDs.length}` : 'missing'}`).join(', ') +
      (missing.length || weak.length ? ` (${[...missing, ...weak].join(', ')} not satisfiable)` : ''),
    finding: missing.length > 0 || weak.length > 0,
  });
  out.push({
    sent: `${what}: the root role's threshold`,
    received:
      rootThreshold >= 2
        ? `${rootThreshold} keys must sign every new root: one stolen key cannot replace the trust anchor`
        : `${rootThreshold}: one key alone can replace the trust anchor`,
    finding: rootThreshold < 2,
  });
  out.push({
    sent: `${what}: root keys against the online roles' keys`,
    received:
      shared.length === 0
        ? 'distinct (the root keys stay offline)'
        : `${shared.length} root key(s) also sign online roles`,
    finding: shared.length > 0,
  });
  const schemes = [...new Set(Object.values(signed.keys).map((k) => k.scheme))];
  out.push({
    sent: `${what}: signature schemes`,
    received: schemes.join(', ') || 'none',
    finding:
      schemes.length === 0 ||
      schemes.some((s) => !/^(ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|rsassa-pss-sha256)$/.test(s)),
  });
  void m;
  return out;
}

/** Verifies `md` against its own root keys and threshold; '' when verified, else why not. */
function selfSigned(md: AnyMetadata): string {
  try {
    md.verifyDelegate('root', md);
    return '';
  } catch (err) {
    return errText(err);
  }
}

// ---- the release repository, verified from the trust anchor --------------------------------

/** One published image as the verified repository lists it. */
export interface RepositoryImage {
  readonly model: string;
  readonly path: string;
  readonly length: number;
  readonly sha256: string;
  readonly custom: Record<string, unknown>;
  /** The image file is present and matches its signed length (and hash, when hashed). */
  readonly file: 'verified' | 'length-only' | 'missing' | 'mismatch';
  /** The SBOM's target, file and content. */
  readonly sbom: {
    readonly path?: string;
    /** The SBOM's file in the repository, once its signed hash verified. */
    readonly file?: string;
    readonly state: 'verified' | 'missing' | 'mismatch' | 'not-cyclonedx' | 'unlisted';
    readonly components?: number;
    readonly namesImage?: boolean;
    readonly spec?: string;
  };
}

/** The repository as a device would see it. */
export interface RepositoryView {
  readonly dir: string;
  /** Empty when the chain verified. */
  readonly problems: readonly string[];
  readonly rootVersion?: number;
  readonly anchor: 'bundle' | 'repository';
  readonly expires?: Record<string, string>;
  readonly expired: readonly string[];
  readonly images: readonly RepositoryImage[];
  readonly truncated: boolean;
  /** The factory's audit public key, as a signed target whose file matched its hash; or why there is none. */
  readonly auditKey?: { readonly pem?: string; readonly reason?: string };
}

async function hashFile(
  path: string,
  target: InstanceType<Models['TargetFile']>,
): Promise<'verified' | 'mismatch' | 'missing'> {
  try {
    await target.verify(createReadStream(path));
    return 'verified';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'mismatch';
  }
}

function hashedName(path: string, sha: string): string {
  const i = path.lastIndexOf('/');
  return `${path.slice(0, i + 1)}${sha}.${path.slice(i + 1)}`;
}

const repositories = new WeakMap<AuditContext, Promise<RepositoryView | undefined>>();

/** The --update-repo, verified once per audit: root walk, timestamp, snapshot, targets, files. */
export function repositoryView(ctx: AuditContext): Promise<RepositoryView | undefined> {
  let p = repositories.get(ctx);
  if (p === undefined) {
    p = verifyRepository(ctx);
    repositories.set(ctx, p);
  }
  return p;
}

/** Reads one metadata file of the repository as JSON and as its bytes (for hash checks). */
type MetadataReader = (name: string) => Promise<{ json?: unknown; bytes?: Buffer; reason?: string }>;

function metadataReader(dir: string, maxBytes: number): MetadataReader {
  return async (name) => {
    const f = await readBounded(join(dir, 'metadata', name), maxBytes);
    if (!f.ok) return { reason: `${name}: ${f.reason}` };
    try {
      return { json: JSON.parse(f.text), bytes: Buffer.from(f.text, 'utf8') };
    } catch {
      return { reason: `${name}: not JSON` };
    }
  };
}

/** What the repository's metadata showed: the newest trusted root, expiry, and the verified targets role. */
interface VerifiedMetadata {
  readonly root: AnyMetadata;
  readonly expires: Record<string, string>;
  readonly expired: string[];
  readonly targets?: AnyMetadata;
}

async function verifyRepository(ctx: AuditContext): Promise<RepositoryView | undefined> {
  const dir = ctx.inputs.updateRepoDir;
  if (dir === undefined) return undefined;
  const m = await models();
  const read = metadataReader(dir, ctx.inputs.limits.maxInputFileBytes);
  const problems: string[] = [];
  // The anchor: the bundle's root (what the device trusts), else the repository's first root.
  let anchor: 'bundle' | 'repository' = 'bundle';
  let anchorJson: unknown;
  if (ctx.inputs.bundleDir !== undefined)
    anchorJson = (await readJsonBounded(join(ctx.inputs.bundleDir, 'update-root.json'), 1_048_576)).value;
  if (anchorJson === undefined) {
    anchor = 'repository';
    anchorJson = (await read('1.root.json')).json;
  }
  let first: AnyMetadata;
  try {
    first = m.Metadata.fromJSON(m.MetadataKind.Root, anchorJson as never);
  } catch (err) {
    return {
      dir,
      problems: [`the trust anchor is not root metadata (${errText(err)})`],
      anchor,
      expired: [],
      images: [],
      truncated: false,
    };
  }
  const selfProblem = selfSigned(first);
  if (selfProblem) problems.push(`the trust anchor does not verify under its own keys (${selfProblem})`);
  const root = await walkRoots(m, first, read, problems);
  const verified = await verifyTopRoles(m, root, read, problems);
  const all =
    verified.targets === undefined ? {} : (verified.targets.signed as InstanceType<Models['Targets']>).targets;
  const imagePaths = Object.keys(all)
    .filter((p) => /^[a-z][a-z0-9-]{0,31}\/image\.tar$/.test(p))
    .sort();
  const max = ctx.inputs.limits.maxRepositoryTargets;
  const images: RepositoryImage[] = [];
  for (const path of imagePaths.slice(0, max))
    images.push(await imageOf(dir, path, all, ctx.inputs.limits.maxInputFileBytes));
  return {
    dir,
    problems,
    auditKey: await auditKeyOf(dir, all, ctx.inputs.limits.maxInputFileBytes),
    rootVersion: root.signed.version,
    anchor,
    expires: verified.expires,
    expired: verified.expired,
    images,
    truncated: imagePaths.length > max,
  };
}

/** The audit public key the signed targets name, read from its file and held against the target's hash and length. */
async function auditKeyOf(dir: string, all: TargetFiles, maxBytes: number): Promise<RepositoryView['auditKey']> {
  const { AUDIT_KEY_TARGET } = await import('../release/index.ts');
  const t = all[AUDIT_KEY_TARGET];
  if (t === undefined) return { reason: `the signed targets name no ${AUDIT_KEY_TARGET} (publish an image again)` };
  const sha = t.hashes.sha256 ?? '';
  const f = await readBounded(join(dir, 'targets', hashedName(AUDIT_KEY_TARGET, sha)), Math.min(maxBytes, 65_536));
  if (!f.ok) return { reason: `${AUDIT_KEY_TARGET}: ${f.reason}` };
  const bytes = Buffer.from(f.text, 'utf8');
  if (bytes.length !== t.length || createHash('sha256').update(bytes).digest('hex') !== sha)
    return { reason: `${AUDIT_KEY_TARGET} does not match its signed hash` };
  return { pem: f.text };
}

/** Walks from the anchor to the newest root, each signed by its predecessor's threshold and its own keys. */
async function walkRoots(
  m: Models,
  anchor: AnyMetadata,
  read: MetadataReader,
  problems: string[],
): Promise<AnyMetadata> {
  let root = anchor;
  for (let n = root.signed.version + 1, i = 0; i < MAX_ROOT_WALK; n++, i++) {
    const next = await read(`${n}.root.json`);
    if (next.json === undefined) break;
    let md2: AnyMetadata;
    try {
      md2 = m.Metadata.fromJSON(m.MetadataKind.Root, next.json as never);
    } catch (err) {
      problems.push(`${n}.root.json is not root metadata (${errText(err)})`);
      break;
    }
    try {
      root.verifyDelegate('root', md2);
    } catch (err) {
      problems.push(`${n}.root.json is not signed by the threshold of root ${n - 1}'s keys (${errText(err)})`);
      break;
    }
    const own = selfSigned(md2);
    if (own) {
      problems.push(`${n}.root.json is not signed by its own new keys (${own})`);
      break;
    }
    if (md2.signed.version !== n) {
      problems.push(`${n}.root.json says version ${md2.signed.version}`);
      break;
    }
    root = md2;
  }
  return root;
}

/** Verifies timestamp, snapshot and targets under `root`, in the order a device does, noting expiry. */
async function verifyTopRoles(
  m: Models,
  root: AnyMetadata,
  read: MetadataReader,
  problems: string[],
): Promise<VerifiedMetadata> {
  const expires: Record<string, string> = { root: root.signed.expires };
  const expired: string[] = [];
  const note = (role: string, md: AnyMetadata): void => {
    expires[role] = md.signed.expires;
    if (md.signed.isExpired()) expired.push(role);
  };
  if (root.signed.isExpired()) expired.push('root');
  const ts = await read('timestamp.json');
  let timestamp: AnyMetadata;
  try {
    if (ts.json === undefined) throw new Error(ts.reason);
    timestamp = m.Metadata.fromJSON(m.MetadataKind.Timestamp, ts.json as never);
    root.verifyDelegate('timestamp', timestamp);
  } catch (err) {
    problems.push(`timestamp.json: ${errText(err)}`);
    return { root, expires, expired };
  }
  note('timestamp', timestamp);
  const snapMeta = (timestamp.signed as InstanceType<Models['Timestamp']>).snapshotMeta;
  const snap = await read(`${snapMeta.version}.snapshot.json`);
  let snapshot: AnyMetadata;
  try {
    if (snap.json === undefined || snap.bytes === undefined) throw new Error(snap.reason);
    snapMeta.verify(snap.bytes);
    snapshot = m.Metadata.fromJSON(m.MetadataKind.Snapshot, snap.json as never);
    root.verifyDelegate('snapshot', snapshot);
    if (snapshot.signed.version !== snapMeta.version)
      throw new Error(`version ${snapshot.signed.version}, the timestamp names ${snapMeta.version}`);
  } catch (err) {
    problems.push(`${snapMeta.version}.snapshot.json: ${errText(err)}`);
    return { root, expires, expired };
  }
  note('snapshot', snapshot);
  const tMeta = (snapshot.signed as InstanceType<Models['Snapshot']>).meta['targets.json'];
  let targets: AnyMetadata;
  try {
    if (tMeta === undefined) throw new Error('the snapshot does not list targets.json');
    const t = await read(`${tMeta.version}.targets.json`);
    if (t.json === undefined || t.bytes === undefined) throw new Error(t.reason);
    tMeta.verify(t.bytes);
    targets = m.Metadata.fromJSON(m.MetadataKind.Targets, t.json as never);
    root.verifyDelegate('targets', targets);
  } catch (err) {
    problems.push(`targets: ${errText(err)}`);
    return { root, expires, expired };
  }
  note('targets', targets);
  return { root, expires, expired, targets };
}

type TargetFiles = Record<string, InstanceType<Models['TargetFile']>>;

/** One published image: its file against its signed length and hash, and its SBOM. */
async function imageOf(dir: string, path: string, all: TargetFiles, maxBytes: number): Promise<RepositoryImage> {
  const t = all[path]!;
  const sha = t.hashes.sha256 ?? '';
  const file = join(dir, 'targets', hashedName(path, sha));
  let state: RepositoryImage['file'];
  if (t.length <= MAX_HASHED_IMAGE_BYTES) state = await hashFile(file, t);
  else {
    const { stat } = await import('node:fs/promises');
    state = await stat(file).then(
      (s) => (s.size === t.length ? 'length-only' : 'mismatch'),
      () => 'missing',
    );
  }
  const custom = t.custom ?? {};
  const sbomPath = typeof custom.sbom === 'string' ? custom.sbom : undefined;
  const sbom =
    sbomPath === undefined ? { state: 'unlisted' as const } : await sbomOf(dir, sbomPath, all, sha, maxBytes);
  return { model: path.split('/')[0]!, path, length: t.length, sha256: sha, custom, file: state, sbom };
}

/**
 * The SBOM an image names: listed and signed, its file matching, CycloneDX with components, naming the image's hash.
 */
async function sbomOf(
  dir: string,
  sbomPath: string,
  all: TargetFiles,
  imageSha: string,
  maxBytes: number,
): Promise<RepositoryImage['sbom']> {
  const sbomTarget = all[sbomPath];
  if (sbomTarget === undefined) return { path: sbomPath, state: 'missing' };
  const sbomFile = join(dir, 'targets', hashedName(sbomPath, sbomTarget.hashes.sha256 ?? ''));
  const hashed = await hashFile(sbomFile, sbomTarget);
  if (hashed !== 'verified') return { path: sbomPath, state: hashed };
  const { value } = await readJsonBounded(sbomFile, maxBytes);
  const v = value as
    { bomFormat?: unknown; specVersion?: unknown; components?: unknown; metadata?: unknown } | undefined;
  const ok = v?.bomFormat === 'CycloneDX' && Array.isArray(v.components) && v.components.length > 0;
  if (!ok) return { path: sbomPath, state: 'not-cyclonedx' };
  return {
    path: sbomPath,
    file: sbomFile,
    state: 'verified',
    components: (v.components as unknown[]).length,
    spec: String(v.specVersion),
    namesImage: JSON.stringify(v).includes(imageSha),
  };
}

function repositoryEvidence(view: RepositoryView): Evidence[] {
  const out: Evidence[] = [
    {
      sent: `walk ${view.dir} from ${
        view.anchor === 'bundle'
          ? "the bundle's update-root.json (the device's trust " + 'anchor)'
          : 'its own first root (no --bundle: trust on first use)'
      }: root versions, timestamp, snapshot, targets`,
      received:
        view.problems.length === 0
          ? `every signature, threshold, version and hash verifies (root v${view.rootVersion ?? '?'})`
          : view.problems.slice(0, 4).join('; '),
      finding: view.problems.length > 0,
    },
  ];
  if (view.expires) {
    out.push({
      sent: "expiry of the repository's metadata",
      received: `${Object.entries(view.expires)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}${
        view.expired.length
          ? `; expired: ${view.expired.join(', ')} (devices refuse the repository until ` + `'bulwark release refresh')`
          : ''
      }`,
      finding: view.expired.some((r) => r !== 'root'),
    });
  }
  return out;
}

// ---- update.signature-required --------------------------------------------------------------

/** The trust anchor in the bundle (update-root.json): self-signed under a sound policy. */
async function anchorEvidence(
  m: Models,
  bundleDir: string | undefined,
): Promise<{ anchor?: AnyMetadata; evidence: Evidence[] }> {
  const evidence: Evidence[] = [];
  if (bundleDir === undefined) return { evidence };
  let anchor: AnyMetadata | undefined;
  const { value, reason } = await readJsonBounded(join(bundleDir, 'update-root.json'), 1_048_576);
  try {
    anchor = m.Metadata.fromJSON(m.MetadataKind.Root, value as never);
    const self = selfSigned(anchor);
    evidence.push({
      sent: 'update-root.json in the bundle',
      received: self
        ? `root v${anchor.signed.version} does not verify under its own keys (${self})`
        : `root v${anchor.signed.version}, verified under its own threshold`,
      finding: self !== '',
    });
    evidence.push(...rootPolicy(m, anchor, 'the trust anchor'));
  } catch (err) {
    evidence.push({
      sent: 'update-root.json in the bundle',
      received: value === undefined ? (reason ?? 'unreadable') : `not TUF root metadata (${errText(err)})`,
      finding: true,
    });
  }
  return anchor === undefined ? { evidence } : { anchor, evidence };
}

/** The device's cached timestamp, snapshot and targets (those present), each verified against `root`. */
async function cachedRoleResults(ctx: AuditContext, m: Models, root: AnyMetadata, dir: string): Promise<string[]> {
  const cachedRoles: string[] = [];
  for (const [role, kind] of [
    ['timestamp', m.MetadataKind.Timestamp],
    ['snapshot', m.MetadataKind.Snapshot],
    ['targets', m.MetadataKind.Targets],
  ] as const) {
    const f = await readJsonBounded(join(dir, `${role}.json`), ctx.inputs.limits.maxInputFileBytes);
    if (f.value === undefined) continue;
    try {
      root.verifyDelegate(role, m.Metadata.fromJSON(kind as never, f.value as never));
      cachedRoles.push(`${role} verified`);
    } catch (err) {
      cachedRoles.push(`${role} DOES NOT verify (${errText(err)})`);
    }
  }
  return cachedRoles;
}

/**
 * The device's metadata cache (`dir`): the root it trusts now against the anchor, and its cached roles against that
 * root. `seen` is true when signed role metadata was found.
 */
async function deviceMetadataEvidence(
  ctx: AuditContext,
  m: Models,
  dir: string,
  anchor: AnyMetadata | undefined,
): Promise<{ evidence: Evidence[]; seen: boolean }> {
  const cached = await readJsonBounded(join(dir, 'root.json'), 1_048_576);
  if (cached.reason === 'missing') {
    const empty = 'empty: the device has not checked for updates yet';
    return { evidence: [{ sent: "the device's metadata cache (update/metadata)", received: empty }], seen: false };
  }
  let root: AnyMetadata;
  try {
    root = m.Metadata.fromJSON(m.MetadataKind.Root, cached.value as never);
  } catch (err) {
    const received = `not root metadata (${errText(err)})`;
    return { evidence: [{ sent: 'update/metadata/root.json', received, finding: true }], seen: false };
  }
  const self = selfSigned(root);
  const older = anchor !== undefined && root.signed.version < anchor.signed.version;
  const evidence: Evidence[] = [
    {
      sent: 'update/metadata/root.json (the root the device trusts now)',
      received:
        `v${root.signed.version}` +
        (self ? `, does not verify under its own keys (${self})` : ', threshold-signed') +
        (older ? `, older than the bundle's v${anchor.signed.version}` : ''),
      finding: self !== '' || older,
    },
  ];
  if (root.signed.version > (anchor?.signed.version ?? root.signed.version))
    evidence.push(...rootPolicy(m, root, "the device's current root"));
  const cachedRoles = await cachedRoleResults(ctx, m, root, dir);
  if (cachedRoles.length > 0)
    evidence.push({
      sent: "the device's cached timestamp, snapshot and targets against its root's keys",
      received: cachedRoles.join('; '),
      finding: cachedRoles.some((r) => /DOES NOT/.test(r)),
    });
  return { evidence, seen: cachedRoles.length > 0 };
}

/** The journal's refusals of bad metadata or images, for the record. */
async function updateRefusalEvidence(ctx: AuditContext): Promise<Evidence[]> {
  const entries = await readJournal(ctx);
  const refused = (entries ?? []).filter(
    (e) =>
      e.surface === 'update' &&
      e.result === 'refused' &&
      /UPDATE_METADATA_(UNSIGNED|EXPIRED|ROLLBACK|MISMATCH)|UPDATE_IMAGE_HASH_MISMATCH/.test(e.detail ?? ''),
  );
  if (refused.length === 0) return [];
  return [
    {
      sent: "the journal's update refusals",
      received:
        `${refused.length} refusal(s) of bad metadata or images, e.g. ` +
        `${refused[refused.length - 1]!.detail?.slice(0, 100) ?? ''}`,
    },
  ];
}

/** The updater's transport rules: a plain-http repository is refused. */
async function updateTransportEvidence(): Promise<Evidence> {
  const { defaultDeviceUpdateConfig: d, validateDeviceUpdateConfig } = await import('../update/index.ts');
  const plainRefused = !acceptsConfig(() =>
    validateDeviceUpdateConfig({ repositoryUrl: 'http://updates.example.com' }),
  );
  return {
    sent: "the updater's transport rules (a plain-http repository on the network)",
    received:
      `${plainRefused ? 'refused' : 'accepted'}; https checked against ` +
      `${d.tlsTrust === 'manufacturer-ca' ? 'the manufacturer CA in the bundle' : 'the system CAs'}; TUF verifies ` +
      `whatever the transport`,
    finding: !plainRefused,
  };
}

/** The verdict of update.signature-required from its evidence, the anchor and what signed metadata was seen. */
function signatureVerdict(
  evidence: Evidence[],
  anchor: AnyMetadata | undefined,
  seen: number,
  withRelease: boolean,
): CheckOutcome {
  if (evidence.some((e) => e.finding === true))
    return verdict(
      evidence,
      '',
      (f) => `update metadata is not safely signed or verified: ${f.map((e) => e.received).join('; ')}`,
    );
  if (anchor === undefined)
    return notTested('needs --bundle: the trust anchor (update-root.json) decides what the device accepts', evidence);
  if (seen === 0)
    return notTested(
      'the trust anchor is sound, but no signed metadata was seen: give --update-repo, or --state of a device that ' +
        'has checked for updates',
      evidence,
    );
  return verdict(
    evidence,
    `the device trusts root v${anchor.signed.version} (root ` +
      `${(anchor.signed as InstanceType<Models['Root']>).roles.root?.threshold ?? '?'}-of-n, offline keys), and the ` +
      `metadata ${withRelease ? 'of the release and ' : ''}in its cache verify under it`,
    () => '',
  );
}

/**
 * update.signature-required: the device trusts a threshold-signed root, and the metadata it holds and the release it
 * fetches verify under it.
 */
export async function checkSignatureRequired(ctx: AuditContext): Promise<CheckOutcome> {
  const { bundleDir, stateDir } = ctx.inputs;
  if (bundleDir === undefined && stateDir === undefined && ctx.inputs.updateRepoDir === undefined)
    return notTested(
      "needs --bundle (the trust anchor) with --state (the device's verified metadata) or --update-repo (the release)",
    );
  const m = await models();
  const { anchor, evidence } = await anchorEvidence(m, bundleDir);
  let seen = 0;
  if (stateDir !== undefined) {
    const device = await deviceMetadataEvidence(ctx, m, join(stateDir, 'update', 'metadata'), anchor);
    if (device.seen) seen++;
    evidence.push(...device.evidence, ...(await updateRefusalEvidence(ctx)));
  }
  const view = await repositoryView(ctx);
  if (view !== undefined) {
    seen++;
    evidence.push(...repositoryEvidence(view));
  }
  evidence.push(await updateTransportEvidence());
  return signatureVerdict(evidence, anchor, seen, view !== undefined);
}

// ---- update.anti-rollback -------------------------------------------------------------------

const HEX64 = 'a'.repeat(64);
/** The image of a made-up model that the boot decision's cases put in a slot: 2.0.0, security version 1. */
const CASE_IMAGE = {
  format: 'bulwark-image/1' as const,
  model: 'x',
  version: '2.0.0',
  securityVersion: 1,
  entry: 'agent.mjs',
};

/** The firmware's boot decision, fed a slot below the counter: it must not boot it. */
async function bootRefusesOldEvidence(): Promise<Evidence> {
  const { decideBoot, INITIAL_BOOT_STATE } = await import('../update/index.ts');
  const image = CASE_IMAGE;
  const plan = decideBoot(
    { ...INITIAL_BOOT_STATE, active: 'a', previous: null, trial: null },
    { a: { ok: true, image, targetSha256: HEX64 } },
    { securityVersion: 2, version: '2.1.0' },
    3,
  );
  return {
    sent:
      "the firmware's boot decision (src/update decideBoot) for a slot holding security version 1 on a device " +
      'whose counter is 2',
    received:
      plan.boot === 'a' ? 'boots it' : `refuses it and boots ${plan.boot} (${plan.notes[0]?.slice(0, 100) ?? ''})`,
    finding: plan.boot === 'a',
  };
}

type SecurityCounter = { securityVersion: number; version: string | null };

/** The device's anti-rollback counter (firmware/security.json), and evidence about it. */
async function counterEvidence(stateDir: string): Promise<{ counter?: SecurityCounter; evidence: Evidence[] }> {
  const { readSecurityCounter } = await import('../update/index.ts');
  const evidence: Evidence[] = [];
  let counter: SecurityCounter | undefined;
  const file = await readBounded(join(stateDir, 'firmware', 'security.json'), 65_536);
  try {
    counter = file.ok ? await readSecurityCounter(stateDir) : undefined;
  } catch (err) {
    evidence.push({
      sent: 'firmware/security.json',
      received: `unreadable: ${errText(err)} (the supervisor then boots nothing but the factory image)`,
      finding: true,
    });
  }
  if (!file.ok)
    evidence.push({
      sent: 'firmware/security.json',
      received:
        `${file.reason}: the device has not recorded the security version of any image that ran healthily ` +
        `(it records it at the first health report)`,
      finding: true,
    });
  else if (counter !== undefined)
    evidence.push({
      sent: 'firmware/security.json (the anti-rollback counter)',
      received:
        `security version ${counter.securityVersion}, highest version run healthily ` +
        `${counter.version ?? 'none'}; mode ${file.mode.toString(8)}`,
      finding: (file.mode & 0o077) !== 0,
    });
  return counter === undefined ? { evidence } : { counter, evidence };
}

/** The image the device runs, against the counter: not below it, not older than an image that ran here. */
async function runningImageEvidence(ctx: AuditContext, counter: SecurityCounter | undefined): Promise<Evidence[]> {
  const { image: running, how } = await runningFirmware(ctx);
  if (running === undefined) return [{ sent: 'the image the device runs', received: how }];
  if (counter === undefined) return [];
  const { compareVersions } = await import('../update/index.ts');
  const below = running.securityVersion < counter.securityVersion;
  const older =
    counter.version !== null && compareVersions(running.version, counter.version) < 0 && running.slot !== 'factory';
  return [
    {
      sent: `the image the device runs (${how})`,
      received:
        `${running.version}, security version ${running.securityVersion}, from ` +
        `${running.slot === 'factory' ? 'the factory image' : `slot ${running.slot}`}${
          below ? ': BELOW the counter' : ''
        }${older ? ': older than an image that ran here' : ''}`,
      finding: below || older,
    },
  ];
}

/** The image the repository publishes for the model, against the counter (with --update-repo), for the record. */
async function publishedImageEvidence(ctx: AuditContext, counter: SecurityCounter | undefined): Promise<Evidence[]> {
  const view = await repositoryView(ctx);
  const { model } = await auditedModel(ctx);
  const published = view?.images.find((i) => i.model === model?.id);
  if (published === undefined || counter === undefined) return [];
  const sv = Number(published.custom.securityVersion);
  return [
    {
      sent: `the image the repository publishes for ${published.model}`,
      received: `${String(published.custom.version)} with security version ${sv}${
        sv < counter.securityVersion ? ": below this device's counter, so the device refuses it (UPDATE_DOWNGRADE)" : ''
      }`,
    },
  ];
}

/** The journal's refused downgrades, for the record. */
async function downgradeJournalEvidence(ctx: AuditContext): Promise<Evidence[]> {
  const refusals = ((await readJournal(ctx)) ?? []).filter(
    (e) => e.surface === 'update' && /UPDATE_DOWNGRADE/.test(e.detail ?? ''),
  );
  if (refusals.length === 0) return [];
  return [
    {
      sent: 'the journal',
      received:
        `${refusals.length} downgrade(s) refused, e.g. ` +
        `${refusals[refusals.length - 1]!.detail?.slice(0, 100) ?? ''}`,
    },
  ];
}

/**
 * update.anti-rollback: the device keeps a security counter that only grows, runs nothing below it, and its boot
 * decision refuses an older image.
 */
export async function checkAntiRollback(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const evidence: Evidence[] = [await bootRefusesOldEvidence()];
  const stateDir = ctx.inputs.stateDir;
  if (stateDir === undefined)
    return notTested("needs --state to read the device's anti-rollback counter (firmware/security.json)", evidence);
  const { counter, evidence: counterFound } = await counterEvidence(stateDir);
  evidence.push(...counterFound);
  evidence.push(...(await runningImageEvidence(ctx, counter)));
  evidence.push(...(await publishedImageEvidence(ctx, counter)));
  evidence.push(...(await downgradeJournalEvidence(ctx)));
  return verdict(
    evidence,
    `the device keeps its anti-rollback counter (security version ${counter?.securityVersion ?? '?'}), runs nothing ` +
      `below it, and its boot decision refuses older images`,
    (f) => `rollback protection is missing or broken: ${f.map((e) => e.received).join('; ')}`,
  );
}

// ---- update.failsafe-slots ------------------------------------------------------------------

/**
 * The firmware's boot decision fed the cases it must survive: a trial that used its boots, a damaged slot, and an
 * image's first boot (counted before it starts).
 */
async function bootFallbackEvidence(): Promise<Evidence[]> {
  const { decideBoot, INITIAL_BOOT_STATE, defaultDeviceUpdateConfig: d } = await import('../update/index.ts');
  const image = CASE_IMAGE;
  const counter = { securityVersion: 1, version: '1.0.0' };
  const previous = { ok: true, image: { ...image, version: '1.0.0' } } as const;
  const onTrial = (active: 'a' | 'b', previousSlot: 'a' | 'factory', boots: number) =>
    ({
      ...INITIAL_BOOT_STATE,
      active,
      previous: previousSlot,
      trial: { boots, version: '2.0.0', targetSha256: HEX64 },
    }) as const;
  const trial = decideBoot(
    onTrial('b', 'a', d.maxTrialBoots),
    { a: previous, b: { ok: true, image } },
    counter,
    d.maxTrialBoots,
  );
  const damaged = decideBoot(
    { ...INITIAL_BOOT_STATE, active: 'b', previous: 'a', trial: null },
    { a: previous, b: { ok: false, reason: 'slot b: agent.mjs has changed since it was installed' } },
    counter,
    d.maxTrialBoots,
  );
  const first = decideBoot(onTrial('a', 'factory', 0), { a: { ok: true, image } }, counter, d.maxTrialBoots);
  const counted = first.trial && first.state.trial?.boots === 1;
  return [
    {
      sent:
        `the boot decision for a new image in slot b that has used its ${d.maxTrialBoots} trial boots without ` +
        `reporting healthy`,
      received: trial.boot === 'a' ? 'goes back to slot a, the previous image' : `boots ${trial.boot}`,
      finding: trial.boot !== 'a',
    },
    {
      sent: 'the boot decision for a slot whose files no longer match their recorded hashes (verified boot)',
      received: damaged.boot === 'b' ? 'boots it anyway' : `refuses it and boots ${damaged.boot}`,
      finding: damaged.boot === 'b',
    },
    {
      sent: "the boot decision for an image's first boot",
      received: counted
        ? 'boots it on trial and counts the boot before starting it (a cut during the boot still counts)'
        : 'does not count the trial boot first',
      finding: !counted,
    },
  ];
}

/** The updater's trial settings: bounded by configuration. */
async function trialSettingsEvidence(): Promise<Evidence> {
  const { defaultDeviceUpdateConfig: d, validateDeviceUpdateConfig } = await import('../update/index.ts');
  const unbounded = acceptsConfig(() => validateDeviceUpdateConfig({ maxTrialBoots: 1_000 }));
  return {
    sent: "the updater's trial settings",
    received:
      `${d.maxTrialBoots} trial boots, each healthy within ${d.healthTimeoutMs / 1000} s; 1,000 trial boots ` +
      `${unbounded ? 'accepted' : 'refused'}`,
    finding: unbounded,
  };
}

/** The device's boot state (firmware/boot.json) and, when it runs a slot, that slot's files verified. */
async function bootStateEvidence(ctx: AuditContext, stateDir: string): Promise<Evidence[]> {
  const { readBootState } = await import('../update/index.ts');
  const { state, problem } = await readBootState(stateDir);
  const boot = await readBounded(join(stateDir, 'firmware', 'boot.json'), 65_536);
  const trial = state.trial ? `on trial (${state.trial.boots} boot(s) of ${state.trial.version})` : 'no trial';
  const fallback = state.fallback
    ? `; last fallback: ${state.fallback.from} -> ${state.fallback.to} (${state.fallback.reason.slice(0, 80)})`
    : '';
  const evidence: Evidence[] = [
    {
      sent: 'firmware/boot.json',
      received: problem
        ? problem
        : boot.ok
          ? `active ${state.active}, previous ${state.previous ?? 'none'}, ${trial}${fallback}`
          : 'absent: the device boots its factory image and has installed no update yet',
      finding: problem !== undefined,
    },
  ];
  if (state.active === 'a' || state.active === 'b') {
    const r = await verifySlotFiles(stateDir, state.active, ctx.inputs.limits.maxStateFiles * 20);
    evidence.push({
      sent: `verify slot ${state.active}: every file against its .slot.json record`,
      received: r.ok ? r.text : `FAILS: ${r.text}`,
      finding: !r.ok,
    });
  }
  return evidence;
}

/** Staging folders left in firmware/slots by an install that was cut short, for the record. */
async function leftoverStagingEvidence(stateDir: string): Promise<Evidence[]> {
  let leftovers: string[] = [];
  try {
    leftovers = (await readdir(join(stateDir, 'firmware', 'slots'))).filter((n) => n.endsWith('.staging'));
  } catch {
    /* no slots yet */
  }
  if (leftovers.length === 0) return [];
  return [
    {
      sent: 'firmware/slots',
      received:
        `${leftovers.join(', ')}: an install was cut short (cleaned at the next install; the boot state ` +
        `never named it)`,
    },
  ];
}

/**
 * update.failsafe-slots: the boot state is intact, the running slot verifies, and the boot decision falls back from a
 * failed trial or a damaged slot.
 */
export async function checkFailsafeSlots(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const { defaultDeviceUpdateConfig: d } = await import('../update/index.ts');
  const evidence: Evidence[] = [...(await bootFallbackEvidence()), await trialSettingsEvidence()];
  const stateDir = ctx.inputs.stateDir;
  if (stateDir === undefined)
    return notTested("needs --state to read the device's boot state (firmware/boot.json) and slots", evidence);
  evidence.push(...(await bootStateEvidence(ctx, stateDir)), ...(await leftoverStagingEvidence(stateDir)));
  return verdict(
    evidence,
    `images go to the inactive slot and boot on trial (${d.maxTrialBoots} boots), a damaged or unhealthy slot falls ` +
      `back by itself, and this device's boot state is intact`,
    (f) => `fail-safe installation is not assured: ${f.map((e) => e.received).join('; ')}`,
  );
}

/**
 * The auditor's own check of an installed slot (the supervisor's verified boot, done again from
 * outside): .slot.json's file list and hashes against the files, image.json against the record.
 */
async function verifySlotFiles(
  stateDir: string,
  slot: 'a' | 'b',
  maxFiles: number,
): Promise<{ ok: boolean; text: string }> {
  const { createHash } = await import('node:crypto');
  const { walk } = await import('./files.ts');
  const dir = join(stateDir, 'firmware', 'slots', slot);
  const { value } = await readJsonBounded(join(dir, '.slot.json'), 16 * 1_048_576);
  const m = value as
    | { format?: unknown; files?: Record<string, { sha256?: unknown }>; image?: unknown; target?: { sha256?: unknown } }
    | undefined;
  if (m?.format !== 'bulwark-slot/1' || typeof m.files !== 'object' || m.files === null)
    return { ok: false, text: '.slot.json is missing or malformed' };
  const { entries, truncated } = await walk(dir, maxFiles, 16);
  if (truncated) return { ok: false, text: `more than ${maxFiles} entries` };
  const files = entries.filter((e) => e.kind === 'file' && !SLOT_OWN_FILES.has(e.name)).map((e) => e.name);
  const others = entries.filter((e) => e.kind === 'other').map((e) => e.name);
  const expected = Object.keys(m.files);
  const missing = expected.filter((f) => !files.includes(f));
  const extra = files.filter((f) => !(f in m.files!));
  if (missing.length || extra.length || others.length)
    return { ok: false, text: `${missing.length} missing, ${extra.length} added, ${others.length} not regular files` };
  const sha256Of = async (file: string): Promise<string> => {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) h.update(chunk);
    return h.digest('hex');
  };
  for (const f of files) {
    if ((await sha256Of(join(dir, f))) !== m.files[f]!.sha256)
      return { ok: false, text: `${f} has changed since it was installed` };
  }
  const image = (await readJsonBounded(join(dir, 'image.json'), 65_536)).value;
  if (JSON.stringify(image) !== JSON.stringify(m.image))
    return { ok: false, text: 'image.json differs from the installed record' };
  const img = image as { version?: unknown; securityVersion?: unknown };
  const kept = await keptArchiveText(join(dir, '.slot.image.tar'), m.target, sha256Of);
  return {
    ok: true,
    text:
      `verified: ${files.length} files match their hashes (${String(img.version)}, security version ` +
      `${String(img.securityVersion)})${kept}`,
  };
}

/**
 * What the slot's kept archive (the next delta's base) is. Not a finding when it differs: the
 * updater checks it against the signed target before use and downloads the full image instead.
 */
async function keptArchiveText(
  file: string,
  target: { sha256?: unknown } | undefined,
  sha256Of: (file: string) => Promise<string>,
): Promise<string> {
  const size = await stat(file).then(
    (s) => s.size,
    () => -1,
  );
  if (size < 0) return '; no kept archive (the next update downloads the full image)';
  if (size > MAX_HASHED_IMAGE_BYTES) return `; kept archive of ${size} bytes not hashed (over the limit)`;
  return (await sha256Of(file)) === target?.sha256
    ? '; the kept archive matches its signed target (a delta base)'
    : '; the kept archive differs from its signed target: the updater will not use it as a delta base';
}

// ---- config.auto-update ---------------------------------------------------------------------

/** A duration in the largest fitting unit: h, min or s. */
function hours(ms: number): string {
  return ms >= 3_600_000
    ? `${+(ms / 3_600_000).toFixed(1)} h`
    : ms >= 60_000
      ? `${+(ms / 60_000).toFixed(1)} min`
      : `${ms / 1000} s`;
}

/** The owner's choices (update/prefs.json) and the last check (update/status.json) in the state folder. */
async function updatePrefsEvidence(stateDir: string): Promise<Evidence[]> {
  const prefs = await readJsonBounded(join(stateDir, 'update', 'prefs.json'), 65_536);
  const p = prefs.value as { autoUpdate?: unknown; postponedUntil?: unknown } | undefined;
  const status = await readJsonBounded(join(stateDir, 'update', 'status.json'), 65_536);
  const last = (status.value as { lastCheck?: { at?: unknown; outcome?: unknown } | null } | undefined)?.lastCheck;
  return [
    {
      sent: "update/prefs.json (the owner's choices)",
      received:
        prefs.reason === 'missing'
          ? "none: the manufacturer's default applies"
          : `automatic updates ${p?.autoUpdate === false ? 'turned off by the owner' : 'on'}${
              typeof p?.postponedUntil === 'string' ? `, postponed until ${p.postponedUntil}` : ''
            }`,
    },
    {
      sent: 'update/status.json',
      received:
        last && typeof last.at === 'string'
          ? `last check ${last.at}: ${String(last.outcome)}`
          : 'no check recorded yet (no repository configured, or the first check is still ahead)',
    },
  ];
}

/** The owner's update controls on the admin page. */
const OWNER_UPDATE_CONTROLS = ['update-postpone', 'update-auto-off', 'update-check'];

/**
 * The owner's controls: routes of the admin page that exist only if the updater offers them; without a device, the
 * firmware's updater, started on a throwaway state with no repository, shows which controls it gives the owner.
 */
async function ownerControlEvidence(ctx: AuditContext): Promise<Evidence[]> {
  if (ctx.target === undefined) {
    const ids = await updaterOwnerActions();
    return [
      {
        sent: "the owner controls the firmware's updater puts on the admin page",
        received: ids.join(', ') || 'none',
        finding: !OWNER_UPDATE_CONTROLS.every((c) => ids.includes(c)),
      },
    ];
  }
  const evidence: Evidence[] = [];
  for (const id of OWNER_UPDATE_CONTROLS) {
    const a = await ctx.exchange('http', {
      method: 'POST',
      path: `/api/actions/${id}`,
      headers: { accept: 'application/json' },
    });
    const exists = a.status === 401 || a.status === 403 || a.status === 303;
    evidence.push({
      sent: `POST /api/actions/${id} without a session${ctx.fromText('http')}`,
      received:
        a.status === 0
          ? `no answer (${a.error ?? '?'})`
          : exists
            ? `${a.status}: the owner's control exists and needs the owner's session`
            : `${a.status}${a.status === 404 ? ': no such control' : ''}`,
      finding: a.status !== 0 && !exists,
    });
  }
  return evidence;
}

/** config.auto-update: updates are on by default at a bounded interval, and the owner can postpone or turn them off. */
export async function checkAutoUpdate(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_DEVICE);
  const { defaultDeviceUpdateConfig: d, validateDeviceUpdateConfig } = await import('../update/index.ts');
  const unbounded = acceptsConfig(() => validateDeviceUpdateConfig({ checkIntervalMs: 60 * 86_400_000 }));
  const evidence: Evidence[] = [
    {
      sent: "the updater's defaults (src/update)",
      received:
        `automatic updates ${d.autoUpdate ? 'on' : 'OFF'}; a check every ${hours(d.checkIntervalMs)} plus ` +
        `up to ${hours(d.checkJitterMs)} of jitter, the first ${hours(d.firstCheckDelayMs)} after boot`,
      finding: !d.autoUpdate || d.checkIntervalMs > 86_400_000 || d.firstCheckDelayMs > 86_400_000,
    },
    {
      sent: 'a configuration checking every 60 days',
      received: unbounded ? 'accepted' : 'refused',
      finding: unbounded,
    },
  ];
  const stateDir = ctx.inputs.stateDir;
  if (stateDir !== undefined) evidence.push(...(await updatePrefsEvidence(stateDir)));
  evidence.push(...(await ownerControlEvidence(ctx)));
  if (evidence.some((e) => /no answer/.test(e.received)) && !evidence.some((e) => e.finding === true))
    return notTested("the admin page did not answer, so the owner's update controls were not seen", evidence);
  return verdict(
    evidence,
    `automatic updates are on by default (every ${hours(d.checkIntervalMs)} with jitter, bounded by configuration) ` +
      `and the owner can check now, postpone or turn them off`,
    (f) => `automatic updates are not assured: ${f.map((e) => `${e.sent} -> ${e.received}`).join('; ')}`,
  );
}

async function updaterOwnerActions(): Promise<string[]> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { startUpdater } = await import('../update/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-updater-'));
  try {
    const updater = await startUpdater({
      stateDir: dir,
      bundle: { unit: { model: 'plug' }, caCertPem: '', updateRootJson: '{}' },
      journal: { record: () => undefined },
    });
    const ids = updater.ownerActions().map((a) => a.id);
    await updater.close();
    return ids;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- update.release-notes -------------------------------------------------------------------

/** The shape of a release note in an image's signed custom data (`custom.notes`). */
export const RELEASE_NOTE_FIELDS = ['risk', 'interruption'] as const;

function noteOf(custom: Record<string, unknown>): { risk?: string; interruption?: string } | undefined {
  const n = custom.notes;
  if (typeof n !== 'object' || n === null) return undefined;
  const r = n as Record<string, unknown>;
  return {
    ...(typeof r.risk === 'string' && r.risk.trim() !== '' ? { risk: r.risk } : {}),
    ...(typeof r.interruption === 'string' && r.interruption.trim() !== '' ? { interruption: r.interruption } : {}),
  };
}

/**
 * update.release-notes: each published image carries, in its signed custom data, a note for the
 * owner (`notes.risk`: what it fixes; `notes.interruption`: what installing interrupts), and the
 * device's updater keeps that note so it can show it.
 */
export async function checkReleaseNotes(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx) && ctx.inputs.updateRepoDir === undefined) return notTested(NOT_BULWARK_DEVICE);
  const { parseImageTargetCustom } = await import('../update/index.ts');
  const evidence: Evidence[] = [];
  const sample = {
    format: 'bulwark-image/1',
    model: 'plug',
    version: '1.1.0',
    securityVersion: 2,
    notes: { risk: 'fixes a lockout bypass', interruption: 'restarts the device (about 10 s)' },
  };
  let kept: unknown;
  try {
    kept = (parseImageTargetCustom(sample) as unknown as Record<string, unknown>).notes;
  } catch (err) {
    kept = `refused (${errText(err)})`;
  }
  const keeps = typeof kept === 'object' && kept !== null && (kept as { risk?: unknown }).risk === sample.notes.risk;
  evidence.push({
    sent:
      "the device's parser of an image's signed custom data (src/update parseImageTargetCustom), given a " +
      'release note',
    received: keeps
      ? 'keeps the note for the owner'
      : typeof kept === 'string'
        ? kept
        : 'drops it: the device cannot show the owner what an update fixes',
    finding: !keeps,
  });
  const view = await repositoryView(ctx);
  if (view !== undefined) {
    const { model } = await auditedModel(ctx);
    const images = view.images.filter((i) => model === undefined || i.model === model.id);
    if (images.length === 0)
      evidence.push({ sent: `the images ${view.dir} publishes${model ? ` for ${model.id}` : ''}`, received: 'none' });
    for (const i of images) {
      const n = noteOf(i.custom);
      const missing = RELEASE_NOTE_FIELDS.filter((f) => n?.[f] === undefined);
      evidence.push({
        sent: `the signed custom data of ${i.path} (${String(i.custom.version)})`,
        received:
          missing.length === 0
            ? `a note: "${n!.risk!.slice(0, 80)}"; installing: "${n!.interruption!.slice(0, 60)}"`
            : `no ${missing.map((f) => `notes.${f}`).join(' or ')}`,
        finding: missing.length > 0,
      });
    }
  } else if (keeps)
    return notTested(
      "needs --update-repo: the device keeps a release's note, but whether the releases carry one is read in the " +
        'repository',
      evidence,
    );
  return verdict(
    evidence,
    'each release carries a signed note of the risk it fixes and what installing interrupts, and the device keeps ' +
      'it for the owner',
    (f) => `owners are not told what an update fixes: ${f.map((e) => e.received).join('; ')}`,
  );
}

// ---- build.sbom (the release repository) ----------------------------------------------------

/** The SBOM evidence of the release repository, or undefined without --update-repo. */
export async function repositorySbomEvidence(ctx: AuditContext): Promise<Evidence[] | undefined> {
  const view = await repositoryView(ctx);
  if (view === undefined) return undefined;
  const { model } = await auditedModel(ctx);
  const images = view.images.filter((i) => model === undefined || i.model === model.id);
  if (images.length === 0)
    return [
      {
        sent: `the images ${view.dir} publishes${model ? ` for ${model.id}` : ''}`,
        received: 'none published: no SBOM to read',
      },
    ];
  return images.map((i) => ({
    sent: `the SBOM beside ${i.path} (${String(i.custom.version)})`,
    received:
      i.sbom.state === 'verified'
        ? `CycloneDX ${i.sbom.spec ?? '?'}, ${i.sbom.components ?? 0} components, signed as a target (hash ` +
          `verified)${i.sbom.namesImage ? ', naming the image by its SHA-256' : ", NOT naming the image's hash"}`
        : i.sbom.state === 'unlisted'
          ? "none: the image's signed custom data names no SBOM"
          : `${i.sbom.path ?? '?'}: ${i.sbom.state}`,
    finding: i.sbom.state !== 'verified' || i.sbom.namesImage !== true,
  }));
}

// ---- build.audit-report ---------------------------------------------------------------------

/** Where a release repository keeps the audit reports of the images it ships. */
export const KEPT_AUDITS_DIR = 'audits';

/** A verdict the release gate lets through: a pass, or the maker's declaration (not a test, but not a failure). */
const clears = (status: string | undefined): boolean => status === 'pass' || status === 'declared';

/**
 * True when a report passes the release gate: every required control passed or rests on the maker's declaration, or
 * fell short only for want of this very check (build.audit-report).
 */
export function passesReleaseGate(report: Pick<AuditReport, 'controls' | 'checks'>): boolean {
  const status = new Map(report.checks.map((c) => [c.id, c.status]));
  return report.controls
    .filter((c) => c.required)
    .every((c) => clears(c.status) || c.checks.every((k) => k === 'build.audit-report' || clears(status.get(k))));
}

/** Why a kept file is not a signed report of the shipped image, said in the evidence. */
const REFUSED_ATTESTATION: Readonly<Record<Extract<AttestationVerdict, { ok: false }>['reason'], string>> = {
  'not-an-envelope': 'unsigned (not a DSSE envelope: a plain report proves nothing)',
  'bad-signature': "its signature does not verify with the factory's audit key",
  'not-a-statement': 'signed, but not an in-toto statement about one image carrying an audit report',
  'other-image': 'signed for another image (its subject digest is not the shipped image)',
};

/** The newest kept report files of a model (by name: version and time), at most `max`. */
async function keptReportNames(dir: string, max: number): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((n) => n.endsWith('.audit.json'))
      .sort()
      .reverse()
      .slice(0, max);
  } catch {
    return [];
  }
}

/** Judges a verified report: 'pass: <summary>' when it covers this release and passes the gate, else why not. */
function judgeKeptReport(
  predicate: unknown,
  release: { model: string; version: string; sha256: string },
  ctx: AuditContext,
): string {
  const r = predicate as Partial<AuditReport> | undefined;
  if (r?.format !== AUDIT_REPORT_FORMAT || !Array.isArray(r.controls) || !Array.isArray(r.checks))
    return 'not an audit report';
  const fw = r.scope?.firmware;
  const same =
    fw?.model === release.model &&
    fw.version === release.version &&
    (fw.targetSha256 === undefined || fw.targetSha256 === release.sha256) &&
    r.profile?.model === ctx.inputs.profile.model;
  if (!same) return fw ? `${fw.model} ${fw.version}` : 'no firmware named';
  if (!passesReleaseGate(r as AuditReport))
    return `${release.version}, but ${r.summary?.fail ?? '?'} failed and ${r.summary?.notTested ?? '?'} not tested`;
  const declared = typeof r.summary?.declared === 'number' ? `, ${r.summary.declared} declared by the maker` : '';
  return `pass:${r.generatedAt ?? '?'}: ${r.summary?.pass ?? '?'} required controls passed${declared}`;
}

/** build.audit-report: the release repository keeps a passing audit report of the image it ships for this model. */
export async function checkAuditReport(ctx: AuditContext): Promise<CheckOutcome> {
  const view = await repositoryView(ctx);
  if (view === undefined)
    return notTested(
      'needs --update-repo: audit reports are kept with the releases in the update repository (audits/<model>/)',
    );
  const { model, how } = await auditedModel(ctx);
  if (model === undefined) return notTested(`reports are kept per catalogue model, and ${how}`);
  const image = view.images.find((i) => i.model === model.id);
  const evidence: Evidence[] = [];
  if (image === undefined) {
    evidence.push({ sent: `the image ${view.dir} ships for ${model.id}`, received: 'none published' });
    return notTested(
      `the repository publishes no image for ${model.id}, so there is no release to carry a report`,
      evidence,
    );
  }
  const version = String(image.custom.version);
  evidence.push({
    sent: `the image ${view.dir} ships for ${model.id}`,
    received: `${version} (target ${image.sha256.slice(0, 16)}...)`,
  });
  const key = view.auditKey?.pem;
  evidence.push({
    sent: 'the audit key the signed targets publish (the factory signs kept reports with it)',
    received:
      key === undefined
        ? `none: ${view.auditKey?.reason ?? 'the repository did not verify'}`
        : `Ed25519 key ${auditKeyId(key).slice(0, 16)}...`,
    finding: key === undefined,
  });
  const dir = join(view.dir, KEPT_AUDITS_DIR, model.id);
  const names = await keptReportNames(dir, ctx.inputs.limits.maxKeptReports);
  let found: string | undefined;
  const others: string[] = [];
  for (const name of names) {
    if (key === undefined) break;
    const { value } = await readJsonBounded(join(dir, name), ctx.inputs.limits.maxInputFileBytes);
    const v = verifyAttestation(value, key, image.sha256);
    if (!v.ok) {
      others.push(`${name}: ${REFUSED_ATTESTATION[v.reason]}`);
      continue;
    }
    const judged = judgeKeptReport(v.statement.predicate, { model: model.id, version, sha256: image.sha256 }, ctx);
    if (typeof judged !== 'string' || !judged.startsWith('pass:')) {
      others.push(`${name}: ${judged}`);
      continue;
    }
    found = `${name} (signed for ${image.sha256.slice(0, 16)}...; ${judged.slice(5)})`;
    break;
  }
  evidence.push({
    sent: `the reports kept in ${dir}`,
    received: found
      ? `a passing report of ${model.id} ${version}: ${found}`
      : names.length === 0
        ? 'none'
        : `none passing for ${version}: ${others.slice(0, 4).join('; ')}`,
    finding: found === undefined,
  });
  return verdict(
    evidence,
    `the release of ${model.id} ${version} carries a passing audit report`,
    () => `the release of ${model.id} ${version} carries no passing audit report`,
  );
}

/** The SHA-256 of the image a report covers: the one it names, else the one the repository published for it. */
async function subjectDigest(fw: NonNullable<AuditReport['scope']['firmware']>, repoDir: string): Promise<string> {
  if (fw.targetSha256 !== undefined) return fw.targetSha256;
  const { value } = await readJsonBounded(join(repoDir, 'release.json'), 16_777_216);
  const images = (value as { images?: Array<{ model?: string; version?: string; sha256?: string }> } | undefined)
    ?.images;
  const published = (Array.isArray(images) ? images : []).filter(
    (i) => i.model === fw.model && i.version === fw.version,
  );
  const sha = published.at(-1)?.sha256;
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) {
    const { AuditError } = await import('./errors.ts');
    throw new AuditError(
      'AUDIT_REPORT_NOT_KEPT',
      'report',
      `${repoDir} publishes no image of ${fw.model} ${fw.version}: a report is signed for the image it covers`,
    );
  }
  return sha;
}

/**
 * Keeps a passing report with the release it audited, signed: `<repo>/audits/<model>/<version>-<time>.audit.json` is
 * a DSSE envelope over an in-toto statement whose subject is the image's target and SHA-256, signed with the audit key
 * of the factory in `factoryDir`. Throws AuditError 'AUDIT_REPORT_NOT_KEPT' when the report does not pass the gate,
 * does not name the firmware it audited (give --state) or names an image the repository does not publish.
 */
export async function keepReleaseAudit(report: AuditReport, repoDir: string, factoryDir: string): Promise<string> {
  const { AuditError } = await import('./errors.ts');
  const fw = report.scope.firmware;
  if (fw === undefined)
    throw new AuditError(
      'AUDIT_REPORT_NOT_KEPT',
      'report',
      'names no firmware image: audit with --state so the report says which image it covers',
    );
  if (!passesReleaseGate(report))
    throw new AuditError(
      'AUDIT_REPORT_NOT_KEPT',
      'report',
      `${report.summary.fail} required control(s) failed and ${report.summary.notTested} were not tested: only a ` +
        `passing report is kept with a release`,
    );
  const sha256 = await subjectDigest(fw, repoDir);
  const { ensureAuditKey } = await import('../release/index.ts');
  const { privateKey } = await ensureAuditKey(factoryDir);
  const envelope = signAttestation(report, { name: `${fw.model}/image.tar`, sha256 }, privateKey);
  const { writeFileAtomic, PUBLIC_FILE_MODE } = await import('../storage/index.ts');
  const { mkdir } = await import('node:fs/promises');
  const dir = join(repoDir, KEPT_AUDITS_DIR, fw.model);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, `${fw.version}-${report.generatedAt.replace(/[:.]/g, '-')}.audit.json`);
  await writeFileAtomic(path, JSON.stringify(envelope, null, 2) + '\n', PUBLIC_FILE_MODE);
  return path;
}
