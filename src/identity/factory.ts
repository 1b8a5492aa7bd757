/**
 * The factory: a folder holding the manufacturer CA (and, later, the update-signing keys), and
 * the provisioning step that gives every unit its own keys, certificates, password, setup code
 * and claim code, writes its bundle and sticker, and records the batch's public manifest.
 */
import { mkdir, readFile, stat, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { BulwarkError, ConfigError } from '../errors/index.ts';
import {
  writeFileAtomic,
  writeJsonAtomic,
  writeFileDurable,
  commitDirectory,
  readJson,
  SECRET_FILE_MODE,
  PUBLIC_FILE_MODE,
} from '../storage/index.ts';
import { canonicalModel, modelDigest, resolveModel, type ModelSpec } from '../models/index.ts';
import { BUNDLE_FILES, UNIT_FORMAT, type UnitRecord } from '../bundle/index.ts';
import { HashLimiter, hashPassword } from '../auth/index.ts';
import { createPairingVerifierRecord } from '../pairing/index.ts';
import {
  createManufacturerCa,
  loadCaSigner,
  issueDeviceCertificate,
  createWebCertificate,
  certificateFingerprint,
} from './certificates.ts';
import { generateAdminPassword, generateClaimCode, generateSetupCode, generateSerial, hashClaimCode } from './codes.ts';
import { renderStickerSvg, renderStickerPng, stickerUri } from './sticker.ts';

/** Thrown for factory folder problems (missing, already initialised, refused settings). */
export class FactoryError extends BulwarkError<
  | 'FACTORY_MISSING'
  | 'FACTORY_EXISTS'
  | 'FACTORY_CA_MISMATCH'
  | 'FACTORY_UPDATE_ROOT_MISSING'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_OTHER_FACTORY'
  | 'OUTPUT_NOT_DIRECTORY'
> {}

/** Format tag of factory.json. */
export const FACTORY_FORMAT = 'bulwark-factory/1';

/** The factory's settings, factory.json. No secret lives in it. */
export interface FactoryConfig {
  readonly format: typeof FACTORY_FORMAT;
  readonly maker: string;
  /** Where vulnerability reports go (RFC 9116 Contact): a mailto: or https: URI. */
  readonly securityContact: string;
  readonly createdAt: string;
  readonly caFingerprint: string;
  /** PBKDF2 iterations for the setup-code verifier (RFC 9383 registration). */
  readonly pairingIterations: number;
}

/** Default settings for `factory init`; each can be overridden and is validated. */
export const defaultFactorySettings = {
  maker: 'Bulwark Reference Devices',
  securityContact: 'mailto:security@bulwark.invalid',
  pairingIterations: 10_000,
} as const;

const CA_DIR = 'ca';
const CA_CERT = join(CA_DIR, 'ca-cert.pem');
const CA_KEY = join(CA_DIR, 'ca-key.pem');
const FACTORY_JSON = 'factory.json';
/** Reserved for the update-signing keys (TUF roles) that `bulwark release` creates. */
export const UPDATE_KEYS_DIR = 'update-keys';

function validateFactoryConfig(c: Record<string, unknown>): FactoryConfig {
  if (c.format !== FACTORY_FORMAT)
    throw new ConfigError('FACTORY_CONFIG_INVALID', 'format', `expected ${FACTORY_FORMAT}`);
  const maker = c.maker;
  if (typeof maker !== 'string' || !/^[\p{L}\p{N} .,&'()-]{1,64}$/u.test(maker))
    throw new ConfigError('FACTORY_CONFIG_INVALID', 'maker', "must be 1 to 64 letters, digits, spaces or .,&'()-");
  const contact = c.securityContact;
  if (
    typeof contact !== 'string' ||
    !/^(mailto:[^\s@]+@[^\s@]+|https:\/\/[^\s]+)$/.test(contact) ||
    contact.length > 200
  ) {
    throw new ConfigError('FACTORY_CONFIG_INVALID', 'securityContact', 'must be a mailto: or https: URI');
  }
  const iterations = c.pairingIterations;
  if (typeof iterations !== 'number' || !Number.isInteger(iterations) || iterations < 1000 || iterations > 10_000_000) {
    throw new ConfigError('FACTORY_CONFIG_UNSAFE', 'pairingIterations', 'must be an integer from 1000 to 10000000');
  }
  if (
    typeof c.createdAt !== 'string' ||
    typeof c.caFingerprint !== 'string' ||
    !/^sha256:[0-9a-f]{64}$/.test(c.caFingerprint)
  ) {
    throw new ConfigError('FACTORY_CONFIG_INVALID', 'caFingerprint', 'missing or malformed');
  }
  return {
    format: FACTORY_FORMAT,
    maker,
    securityContact: contact,
    createdAt: c.createdAt,
    caFingerprint: c.caFingerprint,
    pairingIterations: iterations,
  };
}

/** Options of {@link initFactory}. */
export interface InitFactoryOptions {
  readonly maker?: string;
  readonly securityContact?: string;
  readonly pairingIterations?: number;
}

/** Creates a factory folder with a new manufacturer CA; refuses to overwrite an existing one. */
export async function initFactory(dir: string, options: InitFactoryOptions = {}): Promise<FactoryConfig> {
  if (existsSync(join(dir, CA_KEY)) || existsSync(join(dir, FACTORY_JSON))) {
    throw new FactoryError('FACTORY_EXISTS', `a factory already exists in ${dir}; refusing to overwrite its CA`, {
      dir,
    });
  }
  const now = new Date();
  const draft = {
    format: FACTORY_FORMAT,
    maker: options.maker ?? defaultFactorySettings.maker,
    securityContact: options.securityContact ?? defaultFactorySettings.securityContact,
    createdAt: now.toISOString(),
    caFingerprint: 'sha256:' + '0'.repeat(64),
    pairingIterations: options.pairingIterations ?? defaultFactorySettings.pairingIterations,
  };
  validateFactoryConfig(draft); // refuse bad settings before any key exists
  await mkdir(join(dir, CA_DIR), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, UPDATE_KEYS_DIR), { recursive: true, mode: 0o700 });
  // TUF update-signing keys (root 2-of-3 offline, targets, snapshot, timestamp) and root metadata v1.
  const { createUpdateKeys } = await import('../release/index.ts');
  await createUpdateKeys(join(dir, UPDATE_KEYS_DIR), { now });
  const ca = await createManufacturerCa(draft.maker, { now });
  await writeFileAtomic(join(dir, CA_KEY), ca.privateKeyPem, SECRET_FILE_MODE);
  await writeFileAtomic(join(dir, CA_CERT), ca.certPem, PUBLIC_FILE_MODE);
  const config = validateFactoryConfig({ ...draft, caFingerprint: ca.fingerprint });
  await writeJsonAtomic(join(dir, FACTORY_JSON), config);
  const { ensureAuditKey } = await import('../release/index.ts');
  await ensureAuditKey(dir); // signs the audit reports kept with releases
  return config;
}

/** A loaded factory: its settings and the CA's certificate. */
export interface Factory {
  readonly dir: string;
  readonly config: FactoryConfig;
  readonly caCertPem: string;
  /** The latest TUF root metadata: copied into every bundle as the device's update trust anchor. */
  readonly updateRootJson: string;
}

/** Loads and validates a factory folder. */
export async function loadFactory(dir: string): Promise<Factory> {
  let raw: unknown;
  try {
    raw = await readJson(join(dir, FACTORY_JSON));
  } catch {
    throw new FactoryError('FACTORY_MISSING', `no factory in ${dir}: run 'bulwark factory init --dir ${dir}' first`, {
      dir,
    });
  }
  if (typeof raw !== 'object' || raw === null)
    throw new ConfigError('FACTORY_CONFIG_INVALID', 'factory.json', 'not an object');
  const config = validateFactoryConfig(raw as Record<string, unknown>);
  const caCertPem = await readFile(join(dir, CA_CERT), 'utf8');
  if (certificateFingerprint(caCertPem) !== config.caFingerprint) {
    throw new FactoryError('FACTORY_CA_MISMATCH', 'ca-cert.pem does not match the fingerprint in factory.json', {
      dir,
    });
  }
  let updateRootJson: string;
  try {
    updateRootJson = await readFile(join(dir, UPDATE_KEYS_DIR, 'root.json'), 'utf8');
  } catch {
    throw new FactoryError(
      'FACTORY_UPDATE_ROOT_MISSING',
      `no update root metadata in ${join(dir, UPDATE_KEYS_DIR)}; this factory predates signed updates`,
      { dir },
    );
  }
  return { dir, config, caCertPem, updateRootJson };
}

/** The path of the factory's CA certificate. */
export function factoryCaCertPath(dir: string): string {
  return join(dir, CA_CERT);
}

/** One unit in the batch manifest: public data only. */
export interface ManifestUnit {
  readonly serial: string;
  readonly model: string;
  /** The digest of the unit's model; the model itself is in {@link Manifest.models}. */
  readonly modelDigest: string;
  readonly deviceCertFingerprint: string;
  /** The device (birth) certificate's serial number, hex: what a certificate revocation list names. */
  readonly deviceCertSerialNumber: string;
  readonly webCertFingerprint: string;
  /** {@link hashClaimCode} of the claim code; the code itself never leaves the sticker. */
  readonly claimCodeHash: string;
  readonly createdAt: string;
}

/** Format tag of manifest.json. */
export const MANIFEST_FORMAT = 'bulwark-manifest/1';

/** The batch manifest the cloud imports. */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly maker: string;
  readonly caFingerprint: string;
  readonly units: ManifestUnit[];
  /** Every model the units use, by digest: the cloud learns a maker's own products from here. */
  readonly models?: Readonly<Record<string, ModelSpec>>;
}

/** Options of {@link provisionUnits}. There is deliberately no way to choose a password. */
export interface ProvisionOptions {
  readonly factoryDir: string;
  /** A built-in model id or a model file (see resolveModel). */
  readonly model: string;
  readonly count: number;
  readonly outDir: string;
  /** Units provisioned at once (overlaps argon2 in the thread pool with rendering). */
  readonly concurrency?: number;
  /** Called after each unit with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Maximum units in one batch. */
export const MAX_BATCH = 100_000;

/** A provisioned unit, as returned to the caller (holds secrets: for printing and tests). */
export interface ProvisionedUnit {
  readonly serial: string;
  readonly dir: string;
  readonly adminPassword?: string;
  readonly setupCode: string;
  readonly claimCode: string;
}

const REFUSED_KEYS = ['password', 'adminPassword', 'defaultPassword', 'setupCode', 'claimCode'];

/** Refuses options that would make units share or pre-know a secret. */
export function refuseWeakeningOptions(options: object): void {
  for (const key of REFUSED_KEYS) {
    if (key in options) {
      throw new ConfigError(
        'PROVISION_SHARED_SECRET_REFUSED',
        key,
        'refused: every unit gets its own random secret from the OS CSPRNG; a chosen or shared value would ' +
          'make units guessable',
      );
    }
  }
}

/** One file of a unit bundle: its spec in BUNDLE_FILES and its content. */
type BundleFile = readonly [spec: { name: string; secret: boolean }, data: string | Uint8Array];

/**
 * Writes a unit's files in a hidden staging folder and renames it whole to `outDir/serial`: a crash
 * never leaves half a bundle.
 */
async function writeBundle(outDir: string, serial: string, files: readonly BundleFile[]): Promise<void> {
  const staging = join(outDir, `.${serial}.partial`);
  await mkdir(staging, { mode: 0o700 });
  try {
    await Promise.all(
      files.map(([spec, data]) =>
        writeFileDurable(join(staging, spec.name), data, spec.secret ? SECRET_FILE_MODE : PUBLIC_FILE_MODE),
      ),
    );
    await commitDirectory(staging, join(outDir, serial));
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

async function provisionOne(
  factory: Factory,
  ca: Awaited<ReturnType<typeof loadCaSigner>>,
  model: ModelSpec,
  outDir: string,
  limiter: HashLimiter,
): Promise<{ unit: ProvisionedUnit; entry: ManifestUnit }> {
  const { config } = factory;
  const digest = modelDigest(model);
  let serial = generateSerial(model.serialPrefix);
  while (existsSync(join(outDir, serial))) serial = generateSerial(model.serialPrefix);
  const adminPassword = model.initialPasswordMode === 'sticker' ? generateAdminPassword() : undefined;
  const setupCode = generateSetupCode();
  const claimCode = generateClaimCode();

  const [deviceCert, webCert, passwordHash] = await Promise.all([
    issueDeviceCertificate(ca, serial, config.maker),
    createWebCertificate(serial, config.maker),
    adminPassword ? hashPassword(adminPassword, undefined, { limiter }) : Promise.resolve(undefined),
  ]);
  const verifier = createPairingVerifierRecord(setupCode, { iterations: config.pairingIterations });
  const createdAt = new Date().toISOString();
  const unit: UnitRecord = {
    format: UNIT_FORMAT,
    serial,
    model: model.id,
    modelName: model.name,
    modelDigest: digest,
    maker: config.maker,
    securityContact: config.securityContact,
    // The product's promise (its model file's supportPeriod), not one date for everything the factory makes.
    supportPeriodEnd: model.supportPeriod.endsOn,
    initialPasswordMode: model.initialPasswordMode,
    createdAt,
    caFingerprint: config.caFingerprint,
    deviceCertFingerprint: deviceCert.fingerprint,
    webCertFingerprint: webCert.fingerprint,
  };
  const sticker = {
    maker: config.maker,
    modelName: model.name,
    model: model.id,
    serial,
    setupCode,
    claimCode,
    supportEnd: model.supportPeriod.endsOn,
    ...(adminPassword ? { adminPassword } : {}),
  };
  const svg = renderStickerSvg(sticker);
  const png = await renderStickerPng(svg);

  const f = BUNDLE_FILES;
  const label = { serial, model: model.id, adminPassword: adminPassword ?? null, setupCode, claimCode };
  await writeBundle(outDir, serial, [
    [f.unit, JSON.stringify(unit, null, 2) + '\n'],
    [f.model, canonicalModel(model) + '\n'],
    [f.caCert, factory.caCertPem],
    [f.deviceCert, deviceCert.certPem],
    [f.deviceKey, deviceCert.privateKeyPem],
    [f.webCert, webCert.certPem],
    [f.webKey, webCert.privateKeyPem],
    ...(passwordHash ? [[f.adminPasswordHash, passwordHash + '\n'] as const] : []),
    [f.pairingVerifier, JSON.stringify(verifier, null, 2) + '\n'],
    [f.updateRoot, factory.updateRootJson],
    [f.label, JSON.stringify({ ...label, uri: stickerUri(sticker) }, null, 2) + '\n'],
    [f.stickerSvg, svg],
    [f.stickerPng, png],
  ]);
  const entry: ManifestUnit = {
    serial,
    model: model.id,
    modelDigest: digest,
    deviceCertFingerprint: deviceCert.fingerprint,
    deviceCertSerialNumber: new X509Certificate(deviceCert.certPem).serialNumber.toLowerCase(),
    webCertFingerprint: webCert.fingerprint,
    claimCodeHash: hashClaimCode(serial, claimCode),
    createdAt,
  };
  return {
    unit: { serial, dir: join(outDir, serial), ...(adminPassword ? { adminPassword } : {}), setupCode, claimCode },
    entry,
  };
}

async function readManifest(path: string, factory: Factory): Promise<Manifest> {
  if (!existsSync(path))
    return {
      format: MANIFEST_FORMAT,
      maker: factory.config.maker,
      caFingerprint: factory.config.caFingerprint,
      units: [],
    };
  const raw = (await readJson(path)) as Partial<Manifest>;
  if (raw.format !== MANIFEST_FORMAT || !Array.isArray(raw.units))
    throw new FactoryError('MANIFEST_INVALID', `${path} is not a bulwark manifest`);
  if (raw.caFingerprint !== factory.config.caFingerprint) {
    throw new FactoryError(
      'MANIFEST_OTHER_FACTORY',
      `${path} belongs to another factory's CA; use another --out folder`,
    );
  }
  return raw as Manifest;
}

/** Provisions `count` units of `model` into `outDir` and adds them to `outDir/manifest.json`. */
export async function provisionUnits(options: ProvisionOptions): Promise<ProvisionedUnit[]> {
  refuseWeakeningOptions(options);
  const model = resolveModel(options.model); // an unknown model or a bad file fails before any work
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > MAX_BATCH) {
    throw new ConfigError('PROVISION_COUNT_INVALID', 'count', `must be an integer from 1 to ${MAX_BATCH}`);
  }
  const factory = await loadFactory(options.factoryDir);
  const ca = await loadCaSigner(factory.caCertPem, await readFile(join(options.factoryDir, CA_KEY), 'utf8'));
  await mkdir(options.outDir, { recursive: true, mode: 0o700 });
  if (!(await stat(options.outDir)).isDirectory())
    throw new FactoryError('OUTPUT_NOT_DIRECTORY', `${options.outDir} is not a folder`);
  const manifestPath = join(options.outDir, 'manifest.json');
  const manifest = await readManifest(manifestPath, factory);

  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, 16));
  const limiter = new HashLimiter({ maxConcurrent: 2, maxQueued: concurrency, maxWaitMs: 600_000 });
  const results: Array<{ unit: ProvisionedUnit; entry: ManifestUnit }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      next++;
      results.push(await provisionOne(factory, ca, model, options.outDir, limiter));
      options.onProgress?.(results.length, options.count);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, options.count) }, worker));
  } finally {
    // Units already written are real: record them even when a later one failed.
    const models = { ...manifest.models, [modelDigest(model)]: model };
    await writeJsonAtomic(manifestPath, {
      ...manifest,
      models,
      units: [...manifest.units, ...results.map((r) => r.entry)],
    });
  }
  return results.map((r) => r.unit);
}
