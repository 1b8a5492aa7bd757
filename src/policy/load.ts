/**
 * The file edges of the policy capability: reading a profile file (bounded, regular files
 * only) and the model it names, the shipped example profiles, and writing a rendered policy atomically.
 */
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isModelFileRef, resolveModel, type ModelSpec } from '../models/index.ts';
import { writeFileAtomic } from '../storage/index.ts';
import { ProfileError, UnknownExampleError } from './errors.ts';
import { parseProfile, DEFAULT_PROFILE_LIMITS } from './profile.ts';
import type { DeviceProfile, ModelResolver, ProfileLimits } from './profile.ts';

/** The demo models that ship with an example profile in src/policy/profiles. */
export const EXAMPLE_MODELS = ['plug', 'bulb', 'lock', 'sensor', 'camera'] as const;
/** One of the demo models. */
export type ExampleModel = (typeof EXAMPLE_MODELS)[number];

/** Finds a profile's model: a built-in id, or a model file path taken relative to the profile's folder. */
export function modelResolverFor(profilePath: string): ModelResolver {
  const folder = dirname(resolve(profilePath));
  return (ref) => resolveModel(isModelFileRef(ref) ? resolve(folder, ref) : ref);
}

/**
 * Reads and parses a profile file and the model it names (a built-in id, or a model file relative to
 * the profile's folder). Refuses anything but a regular file and never reads more than
 * `maxProfileBytes` + 1 bytes, so /dev/zero or a huge file costs nothing.
 */
export async function loadProfileFile(
  path: string,
  limits: ProfileLimits = DEFAULT_PROFILE_LIMITS,
): Promise<DeviceProfile> {
  return (await loadProfileWithModel(path, limits)).profile;
}

/** {@link loadProfileFile}, also returning the model the profile names (a maker's model file included). */
export async function loadProfileWithModel(
  path: string,
  limits: ProfileLimits = DEFAULT_PROFILE_LIMITS,
): Promise<{ profile: DeviceProfile; model: ModelSpec }> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ProfileError('PROFILE_UNREADABLE', '$', `${path} is not a regular file`);
      if (info.size > limits.maxProfileBytes) {
        throw new ProfileError(
          'PROFILE_TOO_LARGE',
          '$',
          `${path} is ${info.size} bytes; the limit is ${limits.maxProfileBytes}`,
        );
      }
      // The size can change between stat and read; read one byte past the limit to notice.
      const buf = Buffer.alloc(limits.maxProfileBytes + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof ProfileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ProfileError('PROFILE_UNREADABLE', '$', `cannot read ${path} (${code})`);
  }
  const resolver = modelResolverFor(path);
  let model: ModelSpec | undefined;
  const profile = parseProfile(text, (ref) => (model = resolver(ref)), limits);
  if (model === undefined) throw new ProfileError('PROFILE_INVALID', 'model', 'the profile names no model');
  return { profile, model };
}

/** Loads the example profile of a demo model (plug, bulb, lock, sensor, camera). */
export async function loadExampleProfile(model: ExampleModel): Promise<DeviceProfile> {
  // Checked at run time too: the name becomes part of a path.
  if (!(EXAMPLE_MODELS as readonly string[]).includes(model)) throw new UnknownExampleError(String(model));
  return loadProfileFile(fileURLToPath(new URL(`./profiles/${model}.yaml`, import.meta.url)));
}

/** Writes a rendered policy document atomically (a crash leaves the old file or the new one). */
export async function writePolicyDocument(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text);
}
