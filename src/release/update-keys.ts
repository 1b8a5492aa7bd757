/**
 * The update-signing keys in the factory folder (`<factory>/update-keys/`): three offline root
 * keys (threshold 2), one key each for targets, snapshot and timestamp, all Ed25519 in 0600
 * PEM files, and every version of the root metadata. `root.json` is the latest root: the trust
 * anchor the factory copies into each unit bundle.
 *
 *     update-keys/root-1.pem root-2.pem root-3.pem   offline root keys (2 of 3 sign a root)
 *     update-keys/targets.pem snapshot.pem timestamp.pem
 *     update-keys/root.json                           the latest root metadata (public)
 *     update-keys/roots/<n>.root.json                 every root version, for repositories
 */
import { readFile, readdir, mkdir, chmod, rename, open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Metadata, Root } from '@tufjs/models';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { validateExpiryConfig, ReleaseError, type ExpiryConfig } from '../update/index.ts';
import {
  loadTufModels,
  generateSigningKey,
  signingKeyFromPem,
  signingKeyPem,
  tufKeyOf,
  signWith,
  expiresIn,
  metadataBytes,
  TUF_SPEC_VERSION,
  type SigningKey,
  type TufModels,
  type TufRole,
} from './tuf.ts';

/** Number of root keys and how many must sign a root. */
export const ROOT_KEY_COUNT = 3;
export const ROOT_THRESHOLD = 2;

/** The latest root metadata inside the keys folder: what provisioning copies into bundles. */
export const ROOT_METADATA_FILE = 'root.json';
const ROOTS_DIR = 'roots';

/** The key files of each role. */
export const UPDATE_KEY_FILES: Readonly<Record<TufRole, readonly string[]>> = Object.freeze({
  root: Array.from({ length: ROOT_KEY_COUNT }, (_, i) => `root-${i + 1}.pem`),
  targets: ['targets.pem'],
  snapshot: ['snapshot.pem'],
  timestamp: ['timestamp.pem'],
});

/** Every update-signing key. Holds private keys: never log it. */
export interface UpdateKeys {
  readonly root: readonly SigningKey[];
  readonly targets: SigningKey;
  readonly snapshot: SigningKey;
  readonly timestamp: SigningKey;
}

/** Builds (unsigned) root metadata naming `keys`' public halves for each role. */
export function buildRoot(m: TufModels, keys: UpdateKeys, version: number, expires: string): Metadata<Root> {
  const all = [...keys.root, keys.targets, keys.snapshot, keys.timestamp];
  const role = (ks: readonly SigningKey[], threshold: number): { keyids: string[]; threshold: number } => ({
    keyids: ks.map((k) => k.keyId),
    threshold,
  });
  const root = m.Root.fromJSON({
    _type: 'root',
    spec_version: TUF_SPEC_VERSION,
    version,
    expires,
    consistent_snapshot: true,
    keys: Object.fromEntries(all.map((k) => [k.keyId, tufKeyOf(m, k).toJSON()])),
    roles: {
      root: role(keys.root, ROOT_THRESHOLD),
      targets: role([keys.targets], 1),
      snapshot: role([keys.snapshot], 1),
      timestamp: role([keys.timestamp], 1),
    },
  });
  return new m.Metadata(root);
}

async function writeKey(dir: string, file: string, key: SigningKey): Promise<void> {
  if (existsSync(join(dir, file)))
    throw new ReleaseError(
      'RELEASE_KEYS_EXIST',
      `${file} already exists in ${dir}; refusing to overwrite a signing key`,
    );
  await writeFileAtomic(join(dir, file), signingKeyPem(key), SECRET_FILE_MODE);
}

/** Writes root metadata version `n` into the keys folder (history and latest). */
export async function saveRootVersion(dir: string, root: Metadata<Root>): Promise<void> {
  await mkdir(join(dir, ROOTS_DIR), { recursive: true, mode: 0o700 });
  const bytes = metadataBytes(root);
  await writeFileAtomic(join(dir, ROOTS_DIR, `${root.signed.version}.root.json`), bytes, PUBLIC_FILE_MODE);
  await writeFileAtomic(join(dir, ROOT_METADATA_FILE), bytes, PUBLIC_FILE_MODE);
}

/**
 * Creates the update-signing keys and the first root metadata (version 1, signed by all three
 * root keys) in `dir`; refuses to overwrite existing keys.
 * @example await createUpdateKeys(join(factoryDir, UPDATE_KEYS_DIR))
 */
export async function createUpdateKeys(
  dir: string,
  options: { now?: Date; expiry?: Partial<ExpiryConfig> } = {},
): Promise<{ rootVersion: number; keyIds: Record<TufRole, string[]> }> {
  const expiry = validateExpiryConfig(options.expiry);
  const m = await loadTufModels();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const keys: UpdateKeys = {
    root: UPDATE_KEY_FILES.root.map(() => generateSigningKey()),
    targets: generateSigningKey(),
    snapshot: generateSigningKey(),
    timestamp: generateSigningKey(),
  };
  await Promise.all([
    ...UPDATE_KEY_FILES.root.map((f, i) => writeKey(dir, f, keys.root[i]!)),
    writeKey(dir, UPDATE_KEY_FILES.targets[0]!, keys.targets),
    writeKey(dir, UPDATE_KEY_FILES.snapshot[0]!, keys.snapshot),
    writeKey(dir, UPDATE_KEY_FILES.timestamp[0]!, keys.timestamp),
  ]);
  const root = buildRoot(m, keys, 1, expiresIn(expiry.rootSeconds, options.now));
  signWith(m, root, keys.root);
  await saveRootVersion(dir, root);
  return {
    rootVersion: 1,
    keyIds: {
      root: keys.root.map((k) => k.keyId),
      targets: [keys.targets.keyId],
      snapshot: [keys.snapshot.keyId],
      timestamp: [keys.timestamp.keyId],
    },
  };
}

async function readKey(dir: string, file: string): Promise<SigningKey> {
  const path = join(dir, file);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch {
    throw new ReleaseError(
      'RELEASE_KEYS_MISSING',
      `update-signing key ${file} not found in ${dir}: was the factory created by 'bulwark factory init'?`,
      { file },
    );
  }
  return signingKeyFromPem(pem);
}

/** Loads every update-signing key from `dir`. */
export async function loadUpdateKeys(dir: string): Promise<UpdateKeys> {
  const [root, targets, snapshot, timestamp] = await Promise.all([
    Promise.all(UPDATE_KEY_FILES.root.map((f) => readKey(dir, f))),
    readKey(dir, UPDATE_KEY_FILES.targets[0]!),
    readKey(dir, UPDATE_KEY_FILES.snapshot[0]!),
    readKey(dir, UPDATE_KEY_FILES.timestamp[0]!),
  ]);
  return { root, targets, snapshot, timestamp };
}

/** Writes replacement keys for `role` beside the old ones (`<file>.new`, 0600). */
export async function stageRoleKeys(dir: string, role: TufRole, keys: readonly SigningKey[]): Promise<void> {
  const files = UPDATE_KEY_FILES[role];
  if (keys.length !== files.length)
    throw new ReleaseError('RELEASE_KEY_INVALID', `${role} needs ${files.length} key(s)`);
  for (let i = 0; i < files.length; i++)
    await writeFileAtomic(join(dir, `${files[i]!}.new`), signingKeyPem(keys[i]!), SECRET_FILE_MODE);
}

/** Moves staged keys over the old ones: the old private keys are gone afterwards. */
export async function commitStagedKeys(dir: string, role: TufRole): Promise<void> {
  for (const f of UPDATE_KEY_FILES[role]) await rename(join(dir, `${f}.new`), join(dir, f));
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Every root version in the keys folder, oldest first, as file bytes. */
export async function listRootVersions(dir: string, maxVersions = 1_024): Promise<Buffer[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, ROOTS_DIR));
  } catch {
    throw new ReleaseError('RELEASE_KEYS_MISSING', `no root metadata in ${dir}`);
  }
  const versions = names
    .map((n) => /^(\d{1,6})\.root\.json$/.exec(n))
    .filter((x) => x !== null)
    .map((x) => Number(x[1]))
    .sort((a, b) => a - b);
  if (versions.length === 0 || versions.length > maxVersions)
    throw new ReleaseError('RELEASE_KEYS_MISSING', `no usable root metadata in ${dir}`);
  versions.forEach((v, i) => {
    if (v !== i + 1) throw new ReleaseError('RELEASE_ROOT_GAP', `root version ${i + 1} is missing from ${dir}`);
  });
  return Promise.all(versions.map((v) => readFile(join(dir, ROOTS_DIR, `${v}.root.json`))));
}
