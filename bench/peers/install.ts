/**
 * The peers' installs (issue 20, part 5): each peer at pinned versions in a cache folder of its own, outside the
 * project's lockfile (by default ~/.cache/bulwark-bench-peers/<peer>@<version>, or BULWARK_PEERS_CACHE), made once
 * by `npm install` through execFile with an argv array and reused after. The folder is installed under a temporary
 * name and renamed into place, so a half-done install is never taken for a finished one.
 *
 * The runners (bench/peers/*-light.ts, matter-controller.ts) are written into the install as plain JavaScript
 * (node:module's stripTypeScriptTypes): there they resolve the peer's packages from its own node_modules, and the
 * peer's process does not pay for Node's TypeScript stripper (about 17 MiB of RSS, which would be charged to it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { stripTypeScriptTypes } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../src/storage/index.ts';

/** A peer: its folder name and the exact packages it needs. */
export interface PeerPackageSet {
  readonly id: string;
  readonly version: string;
  /** name -> exact version; checked against `npm view <name> versions` when the pin was chosen. */
  readonly packages: Readonly<Record<string, string>>;
  /** The runner files (in bench/peers/) that run in this install. */
  readonly runners: readonly string[];
}

/** matter.js 0.17 (the last 0.17 release published), with the legacy controller package of the same release. */
export const MATTER_PEER: PeerPackageSet = {
  id: 'matter.js',
  version: '0.17.9',
  packages: { '@matter/main': '0.17.9', '@project-chip/matter.js': '0.17.9' },
  runners: ['loopback-guard.ts', 'matter-light.ts', 'matter-controller.ts'],
};

/** HAP-NodeJS 1.2 (1.2.0, the only 1.2 release). */
export const HAP_PEER: PeerPackageSet = {
  id: 'hap-nodejs',
  version: '1.2.0',
  packages: { 'hap-nodejs': '1.2.0' },
  runners: ['loopback-guard.ts', 'hap-light.ts'],
};

/** A usable install, or why there is none. */
export type PeerInstall =
  | { readonly ok: true; readonly dir: string; readonly reused: boolean; runner(name: string): string }
  | { readonly ok: false; readonly reason: string };

/** Bounds of an install. */
export interface PeerInstallOptions {
  /** The cache root; each peer gets `<root>/<id>@<version>`. */
  readonly root: string;
  /** npm install may take this long before it is killed, ms. */
  readonly timeoutMs: number;
}

/** The default cache root: BULWARK_PEERS_CACHE, else ~/.cache/bulwark-bench-peers. */
export function defaultPeersCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.BULWARK_PEERS_CACHE || join(homedir(), '.cache', 'bulwark-bench-peers');
}

const MARKER = 'bulwark-peer-install.json';
const RUNNER_DIR = 'bulwark-runner';
const HERE = fileURLToPath(new URL('.', import.meta.url));

async function installed(dir: string, peer: PeerPackageSet): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { packages?: Record<string, string> };
    return JSON.stringify(marker.packages) === JSON.stringify(peer.packages);
  } catch {
    return false;
  }
}

async function npmInstall(dir: string, peer: PeerPackageSet, timeoutMs: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const manifest = { name: `bulwark-bench-peer-${peer.id.replace(/[^a-z0-9-]/gi, '-')}`, private: true };
  await writeFileAtomic(join(dir, 'package.json'), JSON.stringify({ ...manifest, dependencies: peer.packages }));
  // No install scripts (nothing of the peers' needs one), no lockfile, no audit or funding calls: the registry only.
  const args = ['install', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund', '--omit=dev'];
  await promisify(execFile)('npm', args, { cwd: dir, timeout: timeoutMs, maxBuffer: 4 * 2 ** 20 });
  for (const [name, version] of Object.entries(peer.packages)) {
    const got = JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    if (got.version !== version) throw new Error(`${name}: npm installed ${got.version}, not ${version}`);
  }
  await writeFileAtomic(join(dir, MARKER), JSON.stringify({ packages: peer.packages, at: new Date().toISOString() }));
}

/** Writes the peer's runners into its install as JavaScript, their relative .ts imports pointed at .mjs. */
async function writeRunners(dir: string, peer: PeerPackageSet): Promise<void> {
  for (const name of peer.runners) {
    const source = await readFile(join(HERE, name), 'utf8');
    const js = stripTypeScriptTypes(source).replace(/from '(\.\/[\w-]+)\.ts'/g, "from '$1.mjs'");
    await writeFileAtomic(join(dir, RUNNER_DIR, name.replace(/\.ts$/, '.mjs')), js);
  }
}

/**
 * Installs `peer` into its cache folder (or reuses the folder), writes its runners, and says where they are.
 * Never throws: a failed install is returned with its reason, so the bench reports it instead of a number.
 *
 * @example
 * const matter = await installPeer(MATTER_PEER, { root: defaultPeersCache(), timeoutMs: 300_000 });
 * if (matter.ok) spawn(process.execPath, [matter.runner('matter-light.ts'), matter.dir, '5540']);
 */
export async function installPeer(peer: PeerPackageSet, o: PeerInstallOptions): Promise<PeerInstall> {
  const dir = join(o.root, `${peer.id}@${peer.version}`);
  try {
    const reused = existsSync(dir) && (await installed(dir, peer));
    if (!reused) {
      const staging = join(o.root, `.staging-${peer.id}@${peer.version}-${process.pid}`);
      await npmInstall(staging, peer, o.timeoutMs);
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
    await writeRunners(dir, peer);
    const runner = (name: string): string => join(dir, RUNNER_DIR, name.replace(/\.ts$/, '.mjs'));
    return { ok: true, dir, reused, runner };
  } catch (err) {
    const e = err as Error & { stderr?: string; killed?: boolean };
    const detail = e.killed ? `npm install timed out after ${o.timeoutMs / 1000} s` : e.message.split('\n')[0];
    const npmSays = e.stderr?.split('\n').find((l) => /ERR!/.test(l));
    return { ok: false, reason: `install failed: ${detail}${npmSays ? ` (${npmSays.trim()})` : ''}` };
  }
}
