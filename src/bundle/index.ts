/**
 * The unit bundle: the folder the factory writes for each unit, `<out>/<serial>/`. This module
 * states its layout once (which files the device reads, which stay at the factory, which are
 * secret) and reads it back on the device with strict validation. It is deliberately light:
 * the device agent imports it, the factory's certificate machinery stays out of it.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';
import { modelDigest, modelFromDocument, type ModelSpec } from '../models/index.ts';

/** Who uses a bundle file: the device (flashed onto it) or the factory only (printing). */
export type BundleAudience = 'device' | 'factory';

/** One file of the bundle layout. */
export interface BundleFileSpec {
  readonly name: string;
  readonly audience: BundleAudience;
  readonly secret: boolean;
  readonly description: string;
}

/** The bundle layout, version 1. Secret files are written with mode 0600. */
export const BUNDLE_FILES = {
  unit: {
    name: 'unit.json',
    audience: 'device',
    secret: false,
    description: 'identity: serial, model, maker, fingerprints, initial password mode',
  },
  model: {
    name: 'model.json',
    audience: 'device',
    secret: false,
    description: 'the product model (bulwark.model/v1, canonical); unit.json holds its digest',
  },
  caCert: {
    name: 'ca-cert.pem',
    audience: 'device',
    secret: false,
    description: 'manufacturer CA: the only trust anchor for the cloud connection',
  },
  deviceCert: {
    name: 'device-cert.pem',
    audience: 'device',
    secret: false,
    description: 'device certificate signed by the manufacturer CA (CN = serial)',
  },
  deviceKey: {
    name: 'device-key.pem',
    audience: 'device',
    secret: true,
    description: 'device private key (ECDSA P-256) for mutual TLS',
  },
  webCert: {
    name: 'web-cert.pem',
    audience: 'device',
    secret: false,
    description: 'unique self-signed certificate of the HTTPS admin service',
  },
  webKey: {
    name: 'web-key.pem',
    audience: 'device',
    secret: true,
    description: 'private key of the HTTPS admin service',
  },
  adminPasswordHash: {
    name: 'admin-password.phc',
    audience: 'device',
    secret: true,
    description: 'argon2id hash of the sticker password (absent in setup mode)',
  },
  pairingVerifier: {
    name: 'pairing-verifier.json',
    audience: 'device',
    secret: true,
    description: 'SPAKE2+ verifier (w0, L) with PBKDF2 salt and iterations; never the setup code',
  },
  updateRoot: {
    name: 'update-root.json',
    audience: 'device',
    secret: false,
    description: 'TUF root metadata of the update repository: the trust anchor for software updates',
  },
  label: {
    name: 'label.json',
    audience: 'factory',
    secret: true,
    description: 'plaintext password, setup code, claim code and QR URI, for printing only',
  },
  stickerSvg: { name: 'sticker.svg', audience: 'factory', secret: true, description: 'the printed label, vector' },
  stickerPng: {
    name: 'sticker.png',
    audience: 'factory',
    secret: true,
    description: 'the printed label, 300 dpi raster',
  },
} as const satisfies Record<string, BundleFileSpec>;

/** Format tag of unit.json. */
export const UNIT_FORMAT = 'bulwark-unit/1';

/** The public identity record, unit.json. */
export interface UnitRecord {
  readonly format: typeof UNIT_FORMAT;
  readonly serial: string;
  readonly model: string;
  readonly modelName: string;
  /** {@link modelDigest} of model.json: a bundle whose model does not match is refused. */
  readonly modelDigest: string;
  readonly maker: string;
  readonly securityContact: string;
  readonly supportPeriodEnd: string;
  readonly initialPasswordMode: 'sticker' | 'setup';
  readonly createdAt: string;
  readonly caFingerprint: string;
  readonly deviceCertFingerprint: string;
  readonly webCertFingerprint: string;
}

/** Stable codes of {@link BundleError}. */
export type BundleErrorCode = 'BUNDLE_INCOMPLETE' | 'BUNDLE_INVALID' | 'BUNDLE_INSECURE_MODE' | 'BUNDLE_MODEL_MISMATCH';

/** Thrown when a bundle is missing files, malformed, or its secrets are readable by others. */
export class BundleError extends BulwarkError<BundleErrorCode> {}

const SERIAL = /^[A-Z]{3}-[A-Z2-9]{10}$/;
const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/** Validates a parsed unit.json. */
export function parseUnitRecord(value: unknown): UnitRecord {
  const fail = (key: string): never => {
    throw new BundleError('BUNDLE_INVALID', `unit.json: bad or missing '${key}'`, { key });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('(root)');
  const v = value as Record<string, unknown>;
  const str = (key: string, re?: RegExp): string => {
    const x = v[key];
    if (typeof x !== 'string' || x.length === 0 || x.length > 256 || (re && !re.test(x))) return fail(key);
    return x;
  };
  if (v.format !== UNIT_FORMAT) fail('format');
  const mode = str('initialPasswordMode', /^(sticker|setup)$/) as 'sticker' | 'setup';
  return {
    format: UNIT_FORMAT,
    serial: str('serial', SERIAL),
    model: str('model', /^[a-z][a-z0-9-]{0,31}$/),
    modelName: str('modelName'),
    modelDigest: str('modelDigest', FINGERPRINT),
    maker: str('maker'),
    securityContact: str('securityContact', /^(mailto:|https:\/\/)/),
    supportPeriodEnd: str('supportPeriodEnd', /^\d{4}-\d{2}-\d{2}$/),
    initialPasswordMode: mode,
    createdAt: str('createdAt'),
    caFingerprint: str('caFingerprint', FINGERPRINT),
    deviceCertFingerprint: str('deviceCertFingerprint', FINGERPRINT),
    webCertFingerprint: str('webCertFingerprint', FINGERPRINT),
  };
}

/** What the device loads from its bundle. Holds secrets: never log it. */
export interface DeviceBundle {
  readonly dir: string;
  readonly unit: UnitRecord;
  /** The unit's product model, from model.json, checked against unit.json's digest. */
  readonly model: ModelSpec;
  readonly caCertPem: string;
  readonly deviceCertPem: string;
  readonly deviceKeyPem: string;
  readonly webCertPem: string;
  readonly webKeyPem: string;
  /** argon2id PHC string of the sticker password; undefined in setup mode. */
  readonly adminPasswordHash?: string;
  readonly pairingVerifierJson: unknown;
  /** TUF root metadata (JSON text): the updater's trust anchor; tuf-js verifies it. */
  readonly updateRootJson: string;
}

async function readBundleFile(dir: string, spec: BundleFileSpec, optional = false): Promise<string | undefined> {
  const path = join(dir, spec.name);
  let info;
  try {
    info = await stat(path);
  } catch {
    if (optional) return undefined;
    throw new BundleError('BUNDLE_INCOMPLETE', `bundle file missing: ${spec.name}`, { file: spec.name });
  }
  if (!info.isFile() || info.size > 64 * 1024)
    throw new BundleError('BUNDLE_INVALID', `not a small regular file: ${spec.name}`, { file: spec.name });
  // A secret readable by group or others has already leaked on a shared system: refuse it.
  if (spec.secret && (info.mode & 0o077) !== 0) {
    throw new BundleError(
      'BUNDLE_INSECURE_MODE',
      `secret file ${spec.name} is readable by others (mode ${(info.mode & 0o777).toString(8)}); expected 600`,
      { file: spec.name },
    );
  }
  return readFile(path, 'utf8');
}

/**
 * The unit's model from model.json: a valid bulwark.model/v1 document whose digest is the one in
 * unit.json and whose id is the unit's model. Anything else is refused before the agent starts.
 */
function readBundleModel(unit: UnitRecord, text: string): ModelSpec {
  let model: ModelSpec;
  try {
    model = modelFromDocument(JSON.parse(text) as unknown, 'model.json');
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 200) : 'unreadable';
    throw new BundleError('BUNDLE_INVALID', `model.json is not a valid model: ${reason}`, { file: 'model.json' });
  }
  const digest = modelDigest(model);
  if (digest !== unit.modelDigest || model.id !== unit.model) {
    throw new BundleError(
      'BUNDLE_MODEL_MISMATCH',
      `model.json (${model.id}, ${digest}) is not the model unit.json names (${unit.model}, ${unit.modelDigest})`,
      { file: 'model.json' },
    );
  }
  return model;
}

/** Reads and validates the device's part of a unit bundle. */
export async function readDeviceBundle(dir: string): Promise<DeviceBundle> {
  const f = BUNDLE_FILES;
  let unitJson: unknown;
  try {
    unitJson = JSON.parse((await readBundleFile(dir, f.unit))!);
  } catch (err) {
    if (err instanceof BulwarkError) throw err;
    throw new BundleError('BUNDLE_INVALID', 'unit.json is not valid JSON');
  }
  const unit = parseUnitRecord(unitJson);
  const model = readBundleModel(unit, (await readBundleFile(dir, f.model))!);
  const [caCertPem, deviceCertPem, deviceKeyPem, webCertPem, webKeyPem, adminPasswordHash, verifier, updateRootJson] =
    await Promise.all([
      readBundleFile(dir, f.caCert),
      readBundleFile(dir, f.deviceCert),
      readBundleFile(dir, f.deviceKey),
      readBundleFile(dir, f.webCert),
      readBundleFile(dir, f.webKey),
      readBundleFile(dir, f.adminPasswordHash, unit.initialPasswordMode === 'setup'),
      readBundleFile(dir, f.pairingVerifier),
      readBundleFile(dir, f.updateRoot),
    ]);
  let pairingVerifierJson: unknown;
  try {
    pairingVerifierJson = JSON.parse(verifier!);
  } catch {
    throw new BundleError('BUNDLE_INVALID', 'pairing-verifier.json is not valid JSON');
  }
  try {
    JSON.parse(updateRootJson!);
  } catch {
    throw new BundleError('BUNDLE_INVALID', 'update-root.json is not valid JSON');
  }
  return {
    dir,
    unit,
    model,
    caCertPem: caCertPem!,
    deviceCertPem: deviceCertPem!,
    deviceKeyPem: deviceKeyPem!,
    webCertPem: webCertPem!,
    webKeyPem: webKeyPem!,
    ...(adminPasswordHash ? { adminPasswordHash: adminPasswordHash.trim() } : {}),
    pairingVerifierJson,
    updateRootJson: updateRootJson!,
  };
}
