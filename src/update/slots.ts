/**
 * A/B slots and the boot state: what the supervisor (the device's "bootloader") reads before
 * every boot and what the updater writes to install an image. Every file is replaced by an
 * atomic rename, so a power cut leaves the old state or the new one.
 *
 *     <state>/firmware/boot.json        which slot boots, the previous one, the trial counter
 *     <state>/firmware/security.json    the anti-rollback counter (never lowered, survives factory reset)
 *     <state>/firmware/rejected.json    images that failed their health check here (never retried)
 *     <state>/firmware/slots/a/, b/     unpacked images, each with its .slot.json (file hashes) and
 *                                       .slot.image.tar (the verified archive: the next delta's base)
 *
 * The factory image (the installed runtime itself) is the read-only third slot, 'factory'.
 */
import { createReadStream } from 'node:fs';
import { readFile, readdir, lstat, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeJsonAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { UpdateStateError } from './errors.ts';
import { isVersion, compareVersions } from './semver.ts';
import {
  parseImageManifest,
  IMAGE_MANIFEST_FILE,
  IMAGE_FORMAT,
  MAX_SECURITY_VERSION,
  type ImageManifest,
} from './image.ts';

/** The firmware folder inside the device's state folder. */
export const FIRMWARE_DIR = 'firmware';
/** A bootable slot: one of the two A/B slots, or the read-only factory image. */
export type SlotName = 'factory' | 'a' | 'b';
/** The slot's own record of what was installed into it. */
export const SLOT_MANIFEST_FILE = '.slot.json';
/**
 * The verified image archive a slot was installed from, kept as the base of the next delta. Not
 * part of the image (`.slot*` names are the installer's), so a slot's check skips it; the updater
 * checks it against the slot's signed target before using it.
 */
export const SLOT_IMAGE_FILE = '.slot.image.tar';
/** Exit code with which an agent asks the supervisor to boot again (after an install). */
export const REBOOT_EXIT_CODE = 75;

const BOOT_FILE = 'boot.json';
const SECURITY_FILE = 'security.json';
const REJECTED_FILE = 'rejected.json';
const BOOT_FORMAT = 'bulwark-boot/1';
const SECURITY_FORMAT = 'bulwark-security-counter/1';
const SLOT_FORMAT = 'bulwark-slot/1';
const REJECTED_FORMAT = 'bulwark-rejected/1';
/** Images remembered as failed. */
export const MAX_REJECTED = 16;

/** What the supervisor did when it abandoned a slot. */
export interface FallbackRecord {
  readonly from: SlotName;
  readonly to: SlotName;
  readonly version?: string;
  readonly targetSha256?: string;
  readonly reason: string;
  readonly at: string;
  /** Set once the agent has written it into the journal. */
  readonly reported: boolean;
}

/** A slot on trial: booted but not yet reported healthy. */
export interface TrialRecord {
  /** Boots started so far (counted before each start). */
  readonly boots: number;
  readonly version: string;
  readonly targetSha256: string;
}

/** boot.json. */
export interface BootState {
  readonly format: typeof BOOT_FORMAT;
  readonly active: SlotName;
  /** Where to go back to if the active slot's trial fails. */
  readonly previous: SlotName | null;
  readonly trial: TrialRecord | null;
  readonly fallback?: FallbackRecord;
}

/** A device that has never installed an update boots the factory image. */
export const INITIAL_BOOT_STATE: BootState = Object.freeze({
  format: BOOT_FORMAT,
  active: 'factory',
  previous: null,
  trial: null,
});

const isSlot = (v: unknown): v is SlotName => v === 'factory' || v === 'a' || v === 'b';
const isHex64 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

/** Validates a parsed boot.json. @throws UpdateStateError 'BOOT_STATE_INVALID' */
export function parseBootState(value: unknown): BootState {
  const fail = (key: string): never => {
    throw new UpdateStateError('BOOT_STATE_INVALID', `boot.json: bad '${key}'`);
  };
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object' || v.format !== BOOT_FORMAT) return fail('format');
  if (!isSlot(v.active)) fail('active');
  if (v.previous !== null && !isSlot(v.previous)) fail('previous');
  let trial: TrialRecord | null = null;
  if (v.trial !== null) {
    const t = v.trial as Record<string, unknown> | undefined;
    if (
      !t ||
      typeof t !== 'object' ||
      !Number.isSafeInteger(t.boots) ||
      (t.boots as number) < 0 ||
      (t.boots as number) > 1000 ||
      !isVersion(t.version) ||
      !isHex64(t.targetSha256)
    )
      fail('trial');
    trial = { boots: t!.boots as number, version: t!.version as string, targetSha256: t!.targetSha256 as string };
  }
  let fallback: FallbackRecord | undefined;
  if (v.fallback !== undefined) {
    const f = v.fallback as Record<string, unknown>;
    if (
      !f ||
      typeof f !== 'object' ||
      !isSlot(f.from) ||
      !isSlot(f.to) ||
      typeof f.reason !== 'string' ||
      f.reason.length > 200 ||
      typeof f.at !== 'string' ||
      typeof f.reported !== 'boolean' ||
      (f.version !== undefined && !isVersion(f.version)) ||
      (f.targetSha256 !== undefined && !isHex64(f.targetSha256))
    )
      fail('fallback');
    fallback = {
      from: f.from as SlotName,
      to: f.to as SlotName,
      reason: f.reason as string,
      at: f.at as string,
      reported: f.reported as boolean,
      ...(f.version !== undefined ? { version: f.version as string } : {}),
      ...(f.targetSha256 !== undefined ? { targetSha256: f.targetSha256 as string } : {}),
    };
  }
  return {
    format: BOOT_FORMAT,
    active: v.active as SlotName,
    previous: v.previous as SlotName | null,
    trial,
    ...(fallback ? { fallback } : {}),
  };
}

/** Paths of the firmware folder. */
export function firmwarePaths(stateDir: string): {
  dir: string;
  boot: string;
  security: string;
  rejected: string;
  slots: string;
  slot(name: SlotName): string;
  staging(name: SlotName): string;
} {
  const dir = join(stateDir, FIRMWARE_DIR);
  return {
    dir,
    boot: join(dir, BOOT_FILE),
    security: join(dir, SECURITY_FILE),
    rejected: join(dir, REJECTED_FILE),
    slots: join(dir, 'slots'),
    slot: (name) => join(dir, 'slots', name),
    staging: (name) => join(dir, 'slots', `.${name}.staging`),
  };
}

/**
 * Reads boot.json. A missing file is the initial state; an unreadable one is reported in
 * `problem` and treated as the initial state (the factory image always boots).
 */
export async function readBootState(stateDir: string): Promise<{ state: BootState; problem?: string }> {
  let text: string;
  try {
    text = await readFile(firmwarePaths(stateDir).boot, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: INITIAL_BOOT_STATE };
    return {
      state: INITIAL_BOOT_STATE,
      problem: `boot.json unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  try {
    return { state: parseBootState(JSON.parse(text)) };
  } catch {
    return { state: INITIAL_BOOT_STATE, problem: 'boot.json is malformed' };
  }
}

/** Replaces boot.json atomically. */
export async function writeBootState(stateDir: string, state: BootState): Promise<void> {
  const p = firmwarePaths(stateDir);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(p.boot, parseBootState(state), SECRET_FILE_MODE);
}

/** security.json: the highest security version and version that have run healthily here. */
export interface SecurityCounter {
  readonly securityVersion: number;
  readonly version: string | null;
}

/** Reads the anti-rollback counter (0 when none). A malformed counter is an error: never silently lowered. */
export async function readSecurityCounter(stateDir: string): Promise<SecurityCounter> {
  let text: string;
  try {
    text = await readFile(firmwarePaths(stateDir).security, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { securityVersion: 0, version: null };
    throw new UpdateStateError('SECURITY_COUNTER_UNREADABLE', 'security.json cannot be read');
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UpdateStateError('SECURITY_COUNTER_UNREADABLE', 'security.json is malformed');
  }
  if (
    v.format !== SECURITY_FORMAT ||
    !Number.isSafeInteger(v.securityVersion) ||
    (v.securityVersion as number) < 0 ||
    (v.securityVersion as number) > MAX_SECURITY_VERSION ||
    (v.version !== null && !isVersion(v.version))
  ) {
    throw new UpdateStateError('SECURITY_COUNTER_UNREADABLE', 'security.json is malformed');
  }
  return { securityVersion: v.securityVersion as number, version: v.version };
}

/** Raises the counter to at least (`securityVersion`, `version`); never lowers it. */
export async function raiseSecurityCounter(
  stateDir: string,
  securityVersion: number,
  version: string,
): Promise<SecurityCounter> {
  const now = await readSecurityCounter(stateDir);
  const next: SecurityCounter = {
    securityVersion: Math.max(now.securityVersion, securityVersion),
    version: now.version === null || compareVersions(version, now.version) > 0 ? version : now.version,
  };
  if (next.securityVersion === now.securityVersion && next.version === now.version) return now;
  const p = firmwarePaths(stateDir);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(p.security, { format: SECURITY_FORMAT, ...next }, SECRET_FILE_MODE);
  return next;
}

/** An image that failed its health check on this device. */
export interface RejectedImage {
  readonly sha256: string;
  readonly version: string;
  readonly reason: string;
  readonly at: string;
}

/** Reads the images this device will not install again. */
export async function readRejectedImages(stateDir: string): Promise<RejectedImage[]> {
  try {
    const v = JSON.parse(await readFile(firmwarePaths(stateDir).rejected, 'utf8')) as {
      format?: unknown;
      images?: unknown;
    };
    if (v.format !== REJECTED_FORMAT || !Array.isArray(v.images)) return [];
    return (v.images as RejectedImage[])
      .filter((x) => isHex64(x?.sha256) && isVersion(x?.version))
      .slice(-MAX_REJECTED);
  } catch {
    return [];
  }
}

/** Remembers a failed image (the newest {@link MAX_REJECTED} are kept). */
export async function addRejectedImage(stateDir: string, image: RejectedImage): Promise<void> {
  const list = (await readRejectedImages(stateDir)).filter((x) => x.sha256 !== image.sha256);
  const p = firmwarePaths(stateDir);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(
    p.rejected,
    { format: REJECTED_FORMAT, images: [...list, image].slice(-MAX_REJECTED) },
    SECRET_FILE_MODE,
  );
}

/** .slot.json: what the updater installed into a slot, with every file's hash. */
export interface SlotManifest {
  readonly format: typeof SLOT_FORMAT;
  readonly target: { readonly path: string; readonly sha256: string; readonly length: number };
  readonly image: ImageManifest;
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly size: number }>>;
  readonly installedAt: string;
}

/** Builds a slot manifest. */
export function slotManifest(
  target: SlotManifest['target'],
  image: ImageManifest,
  files: ReadonlyArray<{ path: string; sha256: string; size: number }>,
  now = new Date(),
): SlotManifest {
  return {
    format: SLOT_FORMAT,
    target,
    image,
    files: Object.fromEntries(files.map((f) => [f.path, { sha256: f.sha256, size: f.size }])),
    installedAt: now.toISOString(),
  };
}

function parseSlotManifest(value: unknown): SlotManifest {
  const fail = (why: string): never => {
    throw new UpdateStateError('SLOT_INVALID', `.slot.json: ${why}`);
  };
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object' || v.format !== SLOT_FORMAT) return fail('bad format');
  const t = v.target as Record<string, unknown> | undefined;
  if (!t || typeof t.path !== 'string' || !isHex64(t.sha256) || !Number.isSafeInteger(t.length)) fail('bad target');
  let image: ImageManifest;
  try {
    image = parseImageManifest(v.image);
  } catch {
    return fail('bad image');
  }
  const files = v.files as Record<string, { sha256?: unknown; size?: unknown }> | undefined;
  if (!files || typeof files !== 'object') return fail('bad files');
  for (const f of Object.values(files))
    if (!isHex64(f?.sha256) || !Number.isSafeInteger(f?.size)) fail('bad file entry');
  return {
    format: SLOT_FORMAT,
    target: t as unknown as SlotManifest['target'],
    image,
    files: files as SlotManifest['files'],
    installedAt: String(v.installedAt),
  };
}

/** Reads a slot's manifest without checking its files (the agent's view of what it runs). */
export async function readSlotManifest(stateDir: string, slot: SlotName): Promise<SlotManifest> {
  let text: string;
  try {
    text = await readFile(join(firmwarePaths(stateDir).slot(slot), SLOT_MANIFEST_FILE), 'utf8');
  } catch {
    throw new UpdateStateError('SLOT_INVALID', `slot ${slot} has no .slot.json`);
  }
  try {
    return parseSlotManifest(JSON.parse(text));
  } catch (err) {
    if (err instanceof UpdateStateError) throw err;
    throw new UpdateStateError('SLOT_INVALID', `slot ${slot}: .slot.json is malformed`);
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)
    h.update(chunk);
  return h.digest('hex');
}

/**
 * Checks a slot before it boots: its manifest, every file's hash, no file missing or added, and
 * image.json equal to the manifest's. Reads every byte of the image once (verified boot).
 * @throws UpdateStateError 'SLOT_INVALID' with the reason
 */
export async function verifySlot(
  stateDir: string,
  slot: SlotName,
  limits: { maxImageEntries: number },
): Promise<SlotManifest> {
  const manifest = await readSlotManifest(stateDir, slot);
  const dir = firmwarePaths(stateDir).slot(slot);
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      if (path === SLOT_MANIFEST_FILE || path === SLOT_IMAGE_FILE) continue;
      if (found.length > limits.maxImageEntries)
        throw new UpdateStateError('SLOT_INVALID', `slot ${slot} holds too many files`);
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) {
        found.push(path + '/');
        await walk(path);
      } else if (info.isFile()) found.push(path);
      else throw new UpdateStateError('SLOT_INVALID', `slot ${slot} holds something that is not a file: ${path}`);
    }
  };
  await walk('');
  const files = found.filter((p) => !p.endsWith('/'));
  const expected = Object.keys(manifest.files);
  const missing = expected.filter((p) => !files.includes(p));
  const extra = files.filter((p) => !(p in manifest.files));
  if (missing.length || extra.length)
    throw new UpdateStateError(
      'SLOT_INVALID',
      `slot ${slot} does not match its manifest (${missing.length} missing, ${extra.length} extra)`,
    );
  for (const p of files) {
    if ((await hashFile(join(dir, p))) !== manifest.files[p]!.sha256)
      throw new UpdateStateError('SLOT_INVALID', `slot ${slot}: ${p} has changed since it was installed`);
  }
  let image: ImageManifest;
  try {
    image = parseImageManifest(JSON.parse(await readFile(join(dir, IMAGE_MANIFEST_FILE), 'utf8')));
  } catch {
    throw new UpdateStateError('SLOT_INVALID', `slot ${slot}: image.json is unreadable`);
  }
  if (JSON.stringify(image) !== JSON.stringify(manifest.image))
    throw new UpdateStateError('SLOT_INVALID', `slot ${slot}: image.json does not match the manifest`);
  return manifest;
}

/** What a slot holds, for boot decisions. */
export type SlotCheck =
  | { readonly ok: true; readonly image: ImageManifest; readonly targetSha256?: string }
  | { readonly ok: false; readonly reason: string; readonly version?: string };

/** The result of {@link decideBoot}. */
export interface BootPlan {
  readonly state: BootState;
  readonly changed: boolean;
  readonly boot: SlotName;
  readonly trial: boolean;
  readonly notes: readonly string[];
}

/**
 * The boot decision, pure: abandon a slot whose trial ran out of boots or that fails its check
 * (or sits below the security counter) for the previous slot if that is good, else for the
 * factory image; then count this boot if it is a trial.
 */
export function decideBoot(
  state: BootState,
  checks: Partial<Record<'a' | 'b', SlotCheck>>,
  counter: SecurityCounter,
  maxTrialBoots: number,
  now: Date = new Date(),
): BootPlan {
  const notes: string[] = [];
  const usable = (slot: SlotName): SlotCheck => {
    if (slot === 'factory')
      return {
        ok: true,
        image: { format: IMAGE_FORMAT, model: '-', version: '0.0.0', securityVersion: 0, entry: '-' },
      };
    const c = checks[slot] ?? { ok: false, reason: `slot ${slot} was not checked` };
    if (c.ok && c.image.securityVersion < counter.securityVersion) {
      return {
        ok: false,
        reason:
          `slot ${slot} holds security version ${c.image.securityVersion}, ` +
          `below the device's ${counter.securityVersion}`,
      };
    }
    return c;
  };
  let s = state;
  const fallback = (reason: string): void => {
    const to: SlotName = s.previous && s.previous !== s.active && usable(s.previous).ok ? s.previous : 'factory';
    const from = s.active;
    const c = from === 'factory' ? undefined : checks[from];
    const version = s.trial?.version ?? (c ? (c.ok ? c.image.version : c.version) : undefined);
    // Only a failed trial condemns the image; a slot damaged on disk may be installed again.
    const sha = s.trial?.targetSha256;
    notes.push(`leaving slot ${from}${version ? ` (${version})` : ''} for ${to}: ${reason}`);
    s = {
      format: BOOT_FORMAT,
      active: to,
      previous: null,
      trial: null,
      fallback: {
        from,
        to,
        reason: reason.slice(0, 200),
        at: now.toISOString(),
        reported: false,
        ...(version ? { version } : {}),
        ...(sha ? { targetSha256: sha } : {}),
      },
    };
  };
  if (s.trial && s.trial.boots >= maxTrialBoots)
    fallback(`not healthy within ${maxTrialBoots} boot${maxTrialBoots === 1 ? '' : 's'}`);
  const check = usable(s.active);
  if (!check.ok) fallback(check.reason);
  if (s.active === 'factory' && counter.securityVersion > 0 && state.active !== 'factory')
    notes.push('booting the factory image as recovery; it will update itself');
  if (s.trial) s = { ...s, trial: { ...s.trial, boots: s.trial.boots + 1 } };
  return {
    state: s,
    changed: JSON.stringify(s) !== JSON.stringify(state),
    boot: s.active,
    trial: s.trial !== null,
    notes,
  };
}

/**
 * Reads the boot state, checks the slots it may boot, decides, and writes the new state before
 * the boot (so a crash during it still counts). What the supervisor calls before each start.
 */
export async function prepareBoot(
  stateDir: string,
  o: { maxTrialBoots: number; maxImageEntries: number; now?: Date },
): Promise<BootPlan & { image?: SlotManifest }> {
  const { state, problem } = await readBootState(stateDir);
  let counter: SecurityCounter;
  try {
    counter = await readSecurityCounter(stateDir);
  } catch {
    // An unreadable counter must not lower the bar: no slot passes, the factory image boots and re-installs.
    counter = { securityVersion: MAX_SECURITY_VERSION, version: null };
  }
  const checks: Partial<Record<'a' | 'b', SlotCheck>> = {};
  const manifests: Partial<Record<'a' | 'b', SlotManifest>> = {};
  for (const slot of new Set([state.active, state.previous])) {
    if (slot !== 'a' && slot !== 'b') continue;
    try {
      const m = await verifySlot(stateDir, slot, o);
      manifests[slot] = m;
      checks[slot] = { ok: true, image: m.image, targetSha256: m.target.sha256 };
    } catch (err) {
      const version = await readSlotManifest(stateDir, slot).then(
        (m) => m.image.version,
        () => undefined,
      );
      checks[slot] = {
        ok: false,
        reason: err instanceof UpdateStateError ? err.message : `slot ${slot} cannot be read`,
        ...(version ? { version } : {}),
      };
    }
  }
  const plan = decideBoot(state, checks, counter, o.maxTrialBoots, o.now);
  if (plan.changed) await writeBootState(stateDir, plan.state);
  const notes = problem ? [problem, ...plan.notes] : plan.notes;
  const image = plan.boot === 'factory' ? undefined : manifests[plan.boot];
  return { ...plan, notes, ...(image ? { image } : {}) };
}
