/**
 * Building firmware images that carry the device's code (image format version 2): the device
 * agent and everything it loads, production dependencies included, bundled by esbuild (loaded on
 * first use) into `agent.mjs` plus lazily loaded `chunks/`, with the unit's model file, an SBOM
 * of the npm packages the bundle really holds, and the maker's driver folder when there is one.
 * The build is deterministic: the same sources give the same bytes.
 *
 * @example
 *   await buildDeviceImage('plug-1.2.0.tar', { model: 'plug', version: '1.2.0', securityVersion: 2 });
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  loadTar,
  checkImagePath,
  parseImageManifest,
  nodeRangeOfTarget,
  IMAGE_FORMAT,
  IMAGE_MANIFEST_FILE,
  ReleaseError,
  type ImageManifest,
} from '../update/index.ts';
import { resolveModel, canonicalModel } from '../models/index.ts';
import { buildBundleSbom, type RuntimePackage } from './sbom.ts';

/** The esbuild target of device images; the image's default Node range follows from it. */
export const DEVICE_IMAGE_TARGET = 'node24';

/** Limits of a build, with their units. */
export const imageBuildLimits = {
  /** Files taken from a driver folder. */
  maxDriverFiles: 1_000,
  /** Bytes taken from a driver folder in all. */
  maxDriverBytes: 64 * 1024 * 1024,
  /** Folder depth inside a driver folder. */
  maxDriverDepth: 8,
} as const;

/** What goes into a device image. */
export interface DeviceImageOptions {
  /** A built-in model id or a model file. */
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly description?: string;
  /** The maker's driver folder, copied under `driver/` (regular files only). */
  readonly driverDir?: string;
  /** The Node.js range the image states; default: the major of {@link DEVICE_IMAGE_TARGET}. */
  readonly nodeRange?: string;
  /** The source tree to build from (a checkout or an installed package); default: this package. */
  readonly sourceRoot?: string;
  /** Further files, by path inside the image (tests and demos: a payload, a marker). */
  readonly extraFiles?: Readonly<Record<string, string | Uint8Array>>;
  /** Gzip the archive. */
  readonly gzip?: boolean;
  /** Hears the build's steps (for a progress line). */
  readonly onProgress?: (step: string) => void;
}

/** What a build wrote. */
export interface DeviceImageResult {
  readonly manifest: ImageManifest;
  /** Paths inside the image, sorted. */
  readonly files: readonly string[];
  /** Bytes of the files (unpacked), and of the archive. */
  readonly unpackedBytes: number;
  readonly archiveBytes: number;
  /** The npm packages the bundle holds (what the SBOM lists). */
  readonly packages: readonly RuntimePackage[];
}

const invalid = (message: string): ReleaseError => new ReleaseError('RELEASE_IMAGE_INVALID', message);

/**
 * The agent's entry in a source tree: src/device/agent-main.ts in a checkout, dist/device/agent-main.js
 * in an installed package (as the supervisor's agentEntry finds it).
 */
export function agentSourceEntry(root: string): string {
  for (const rel of ['src/device/agent-main.ts', 'dist/device/agent-main.js']) {
    if (existsSync(join(root, rel))) return join(root, rel);
  }
  throw invalid(`no device agent in ${root} (neither src/device/agent-main.ts nor dist/device/agent-main.js)`);
}

/**
 * Every output file of the bundle gets this first: Node gives an ES module no `require`, and the
 * CommonJS packages in the bundle require Node's built-ins. It serves built-ins only, so nothing
 * in an image loads code from outside it.
 */
const BUILTINS_ONLY_REQUIRE =
  'const require = (id) => process.getBuiltinModule(id) ?? ' +
  '(() => { throw new Error(`bulwark image: ${id} is not a Node built-in`); })();';

type Bundle = { files: Map<string, Uint8Array>; inputs: string[] };

/**
 * The release side (signing, image building, esbuild itself) never goes into a device image. The
 * device reaches src/identity lazily (its certificates' renewals), and identity's factory code
 * imports src/release lazily for `factory init`: that import is left unresolved in the image,
 * where nothing calls it.
 */
const RELEASE_SIDE_OUTSIDE_IMAGE = {
  name: 'release-side-outside-image',
  setup(build: { onResolve(o: { filter: RegExp }, f: (a: { path: string }) => { external: true }): void }): void {
    build.onResolve({ filter: /(^|\/)release\/index\.ts$|^esbuild$/ }, (a) => ({ path: a.path, external: true }));
  },
};

/** Bundles the agent with esbuild; returns the output files by path inside the image, and the metafile's inputs. */
async function runEsbuild(root: string): Promise<Bundle> {
  const esbuild = await import('esbuild');
  const outdir = join(root, '.bulwark-image-out');
  const result = await esbuild
    .build({
      entryPoints: { agent: agentSourceEntry(root) },
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: DEVICE_IMAGE_TARGET,
      // A package's ES module build where it ships one: its named exports survive a lazy import().
      mainFields: ['module', 'main'],
      splitting: true,
      outdir,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      minifyWhitespace: true,
      minifySyntax: true,
      minifyIdentifiers: false,
      legalComments: 'none',
      metafile: true,
      write: false,
      logLevel: 'silent',
      banner: { js: BUILTINS_ONLY_REQUIRE },
      plugins: [RELEASE_SIDE_OUTSIDE_IMAGE],
    })
    .catch((err: unknown) => {
      throw invalid(`bundling the agent failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    });
  const files = new Map<string, Uint8Array>();
  for (const f of result.outputFiles)
    files.set(
      f.path
        .slice(outdir.length + 1)
        .split(sep)
        .join('/'),
      f.contents,
    );
  return { files, inputs: Object.keys(result.metafile.inputs) };
}

/** The last bundle of each source tree, with the size and mtime of every input it was made from. */
const bundles = new Map<string, { bundle: Bundle; stamps: Map<string, string> }>();

async function stampsOf(root: string, inputs: readonly string[]): Promise<Map<string, string>> {
  const stamps = new Map<string, string>();
  for (const input of inputs) {
    const info = await lstat(resolve(root, input)).catch(() => undefined);
    stamps.set(input, info ? `${info.size}:${info.mtimeMs}` : 'gone');
  }
  return stamps;
}

/**
 * The agent's bundle for `root`: esbuild's output, reused within this process while none of the
 * files it was made from has changed (tests and demos build many images of one tree).
 */
async function bundleAgent(root: string): Promise<Bundle> {
  const last = bundles.get(root);
  if (last) {
    const now = await stampsOf(root, last.bundle.inputs);
    if ([...now].every(([input, stamp]) => last.stamps.get(input) === stamp)) return last.bundle;
  }
  const bundle = await runEsbuild(root);
  bundles.set(root, { bundle, stamps: await stampsOf(root, bundle.inputs) });
  return bundle;
}

/**
 * The data files the agent reads at run time, from the source tree, by path inside the image:
 * the model schema and the built-in models (src/models finds them from the image's root).
 */
async function runtimeAssets(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  files.set('schemas/model.v1.schema.json', await readFile(join(root, 'schemas', 'model.v1.schema.json')));
  for (const name of (await readdir(join(root, 'models'))).filter((n) => n.endsWith('.model.json')).sort())
    files.set(`models/${name}`, await readFile(join(root, 'models', name)));
  return files;
}

/** npm's lockfile entries (package-lock.json, else the hidden node_modules/.package-lock.json) of a prefix. */
async function lockfileOf(prefix: string): Promise<Record<string, { integrity?: unknown; license?: unknown }>> {
  for (const file of ['package-lock.json', 'node_modules/.package-lock.json']) {
    try {
      const lock = JSON.parse(await readFile(join(prefix, file), 'utf8')) as { packages?: unknown };
      if (lock.packages && typeof lock.packages === 'object') return lock.packages as never;
    } catch {
      /* no lockfile here: try the next */
    }
  }
  return {};
}

/** A package folder by where it sits: the install prefix, and its key in the prefix's lockfile. */
function lockKeyOf(dir: string): { prefix: string; key: string } {
  const at = dir.indexOf('/node_modules/');
  return { prefix: dir.slice(0, at), key: dir.slice(at + 1) };
}

/** The npm packages among the bundle's inputs, each with its package.json's version and its lockfile integrity. */
async function bundledPackages(root: string, inputs: readonly string[]): Promise<RuntimePackage[]> {
  const dirs = new Map<string, string>();
  for (const input of inputs) {
    // Absolute: an installed package's dependencies may sit beside it (hoisted), outside its root.
    const abs = resolve(root, input).split(sep).join('/');
    const at = abs.lastIndexOf('/node_modules/');
    if (at < 0) continue;
    const rest = abs.slice(at + '/node_modules/'.length).split('/');
    const name = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    const dir = `${abs.slice(0, at)}/node_modules/${name}`;
    if (resolve(dir) !== resolve(root)) dirs.set(dir, name);
  }
  const locks = new Map<string, Awaited<ReturnType<typeof lockfileOf>>>();
  const out: RuntimePackage[] = [];
  for (const [dir, name] of dirs) {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      version?: unknown;
      license?: unknown;
    };
    if (typeof pkg.version !== 'string') throw invalid(`${name} has no version in its package.json`);
    const { prefix, key } = lockKeyOf(dir);
    if (!locks.has(prefix)) locks.set(prefix, await lockfileOf(prefix));
    const entry = locks.get(prefix)![key];
    const licence = typeof pkg.license === 'string' ? pkg.license : entry?.license;
    const license = typeof licence === 'string' ? { license: licence } : {};
    const integrity = typeof entry?.integrity === 'string' ? { integrity: entry.integrity } : {};
    if (!out.some((p) => p.name === name && p.version === pkg.version))
      out.push({ name, version: pkg.version, ...license, ...integrity });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));
}

/** True for a path an image may hold unchanged (see src/update's checkImagePath). */
function isImagePath(path: string): boolean {
  try {
    return checkImagePath(path) === path;
  } catch {
    return false;
  }
}

/**
 * The driver folder's regular files, by path inside the image (under driver/), within the limits.
 * Modes are not kept: every file of an image is 0644, and a unit unpacks none executable.
 */
async function driverFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  let bytes = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > imageBuildLimits.maxDriverDepth) throw invalid(`the driver folder is deeper than ${depth - 1} levels`);
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path, depth + 1);
      else if (!info.isFile()) throw invalid(`the driver folder holds ${path}, which is not a regular file`);
      else {
        bytes += info.size;
        if (files.size >= imageBuildLimits.maxDriverFiles || bytes > imageBuildLimits.maxDriverBytes)
          throw invalid(`the driver folder holds more than its limits allow (${JSON.stringify(imageBuildLimits)})`);
        if (!isImagePath(`driver/${path}`)) throw invalid(`the driver folder holds ${path}, a name an image refuses`);
        files.set(`driver/${path}`, await readFile(join(dir, path)));
      }
    }
  };
  await walk('', 1);
  if (files.size === 0) throw invalid(`the driver folder ${dir} holds no files`);
  return files;
}

/** Writes `contents` into a fresh folder and archives them, sorted, with a fixed time; returns the archive's size. */
async function writeArchive(out: string, contents: Map<string, Uint8Array>, gzip: boolean): Promise<number> {
  const tar = await loadTar();
  const work = await mkdtemp(join(tmpdir(), 'bulwark-image-'));
  try {
    for (const [path, data] of contents) {
      const p = checkImagePath(path);
      if (p === undefined) throw invalid('a file without a name');
      await mkdir(dirname(join(work, p)), { recursive: true });
      await writeFile(join(work, p), data);
      await chmod(join(work, p), 0o644);
    }
    const mtime = new Date('2020-01-01T00:00:00Z');
    const files = [...contents.keys()].sort();
    await tar.create({ file: out, cwd: work, portable: true, mtime, gzip, noDirRecurse: true }, files);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return (await lstat(out)).size;
}

/** The package root this module belongs to (a checkout or an installed package). */
function ownRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/**
 * Builds a device image (format version 2) at `out`: the bundled agent, the model file, the SBOM
 * and the driver folder. @throws ReleaseError 'RELEASE_IMAGE_INVALID'
 */
export async function buildDeviceImage(out: string, o: DeviceImageOptions): Promise<DeviceImageResult> {
  const root = resolve(o.sourceRoot ?? ownRoot());
  const model = resolveModel(o.model);
  const manifest = parseImageManifest({
    format: IMAGE_FORMAT,
    model: model.id,
    version: o.version,
    securityVersion: o.securityVersion,
    entry: 'agent.mjs',
    node: o.nodeRange ?? nodeRangeOfTarget(DEVICE_IMAGE_TARGET),
    sbom: 'sbom.cdx.json',
    ...(o.description ? { description: o.description } : {}),
  });
  o.onProgress?.('bundling the device agent');
  const bundle = await bundleAgent(root);
  if (!bundle.files.has(manifest.entry)) throw invalid(`the bundle has no ${manifest.entry}`);
  const packages = await bundledPackages(root, bundle.inputs);
  const builder = JSON.parse(await readFile(join(ownRoot(), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const sbom = buildBundleSbom({
    image: manifest,
    packages,
    builder: { name: builder.name, version: builder.version },
  });
  const contents = new Map<string, Uint8Array>([...bundle.files, ...(await runtimeAssets(root))]);
  const text = (v: string): Uint8Array => Buffer.from(v);
  contents.set(IMAGE_MANIFEST_FILE, text(JSON.stringify(manifest, null, 2) + '\n'));
  contents.set('model.json', text(canonicalModel(model) + '\n'));
  contents.set(manifest.sbom!, text(JSON.stringify(sbom, null, 2) + '\n'));
  if (o.driverDir) for (const [p, data] of await driverFiles(resolve(o.driverDir))) contents.set(p, data);
  for (const [p, data] of Object.entries(o.extraFiles ?? {})) {
    if (contents.has(p)) throw invalid(`${p} is already in the image`);
    contents.set(p, typeof data === 'string' ? text(data) : data);
  }
  o.onProgress?.(`archiving ${contents.size} files`);
  const archiveBytes = await writeArchive(out, contents, o.gzip ?? false);
  let unpackedBytes = 0;
  for (const data of contents.values()) unpackedBytes += data.length;
  return { manifest, files: [...contents.keys()].sort(), unpackedBytes, archiveBytes, packages };
}
