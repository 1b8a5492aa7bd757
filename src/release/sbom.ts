/**
 * The CycloneDX 1.5 SBOMs of images. The one published beside every image lists the image itself
 * (a `firmware` component with its SHA-256), every file inside it, and what its code comes from:
 * for a version 2 image the npm packages its bundle holds, taken from the SBOM inside the image;
 * for a version 1 image the runtime it launches (the Bulwark package and its production
 * dependencies from package-lock.json, with their integrity hashes). The one inside an image
 * ({@link buildBundleSbom}) lists the packages the bundler included.
 */
import { randomUUID, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ArchiveFile, ImageManifest } from '../update/index.ts';
import { npmPurl } from '../vulns/index.ts';

/** One npm package of the runtime. */
export interface RuntimePackage {
  readonly name: string;
  readonly version: string;
  /** npm's Subresource Integrity string, e.g. 'sha512-...'. */
  readonly integrity?: string;
  readonly license?: string;
}

/** The runtime an image runs on. */
export interface RuntimeInventory {
  readonly name: string;
  readonly version: string;
  /** The package's own SPDX licence expression. */
  readonly license?: string;
  readonly packages: readonly RuntimePackage[];
}

/**
 * Reads the installed runtime's package.json and its lockfile's production packages (none when there is no lockfile).
 */
export async function runtimeInventory(
  packageRoot: URL = new URL('../../', import.meta.url),
): Promise<RuntimeInventory> {
  const pkg = JSON.parse(await readFile(new URL('package.json', packageRoot), 'utf8')) as {
    name?: string;
    version?: string;
    license?: unknown;
  };
  let packages: RuntimePackage[] = [];
  try {
    const lock = JSON.parse(await readFile(new URL('package-lock.json', packageRoot), 'utf8')) as {
      packages?: Record<
        string,
        { version?: string; integrity?: string; license?: string; dev?: boolean; devOptional?: boolean }
      >;
    };
    packages = Object.entries(lock.packages ?? {})
      .filter(
        ([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional && typeof p.version === 'string',
      )
      .map(([path, p]) => ({
        name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
        version: p.version!,
        ...(p.integrity ? { integrity: p.integrity } : {}),
        ...(p.license ? { license: p.license } : {}),
      }))
      .filter((p, i, all) => all.findIndex((q) => q.name === p.name && q.version === p.version) === i)
      .slice(0, 5_000);
  } catch {
    /* a published package has no lockfile: the SBOM then lists the runtime alone */
  }
  const license = typeof pkg.license === 'string' ? { license: pkg.license } : {};
  return { name: pkg.name ?? 'bulwark', version: pkg.version ?? '0.0.0', ...license, packages };
}

function purl(name: string, version: string): string {
  return npmPurl(name, version);
}

function integrityHashes(integrity: string | undefined): Array<{ alg: string; content: string }> {
  const m = integrity ? /^sha(256|384|512)-([A-Za-z0-9+/=]+)$/.exec(integrity) : null;
  return m ? [{ alg: `SHA-${m[1]}`, content: Buffer.from(m[2]!, 'base64').toString('hex') }] : [];
}

/** What the SBOM describes. */
export interface SbomInput {
  readonly image: ImageManifest;
  readonly imageSha256: string;
  readonly imageLength: number;
  readonly files: readonly ArchiveFile[];
  /** The tool that writes the SBOM (the publishing Bulwark). */
  readonly tool: { readonly name: string; readonly version: string };
  /**
   * What the image's code comes from: for a version 2 image, the packages its bundle holds (from
   * the SBOM inside it); for a version 1 image, the installed runtime it launches.
   */
  readonly code: { readonly bundled: readonly RuntimePackage[] } | { readonly runtime: RuntimeInventory };
  readonly supplier?: string;
  readonly now?: Date;
}

/** A package as a CycloneDX library component. */
function libraryComponent(p: RuntimePackage): Record<string, unknown> {
  return {
    type: 'library',
    'bom-ref': `npm:${p.name}@${p.version}`,
    name: p.name,
    version: p.version,
    purl: purl(p.name, p.version),
    ...(integrityHashes(p.integrity).length ? { hashes: integrityHashes(p.integrity) } : {}),
    licenses: licensesOf(p.license),
  };
}

/**
 * CycloneDX licences of a package: its SPDX expression, or SPDX's NOASSERTION when its package.json
 * states none (the component still says so, rather than leaving the field out).
 */
function licensesOf(license: string | undefined): Array<Record<string, unknown>> {
  return license ? [{ expression: license }] : [{ license: { name: 'NOASSERTION' } }];
}

/** The npm integrity string of a CycloneDX SHA-512/384/256 hash, read back from an image's own SBOM. */
function integrityOf(hashes: unknown): string | undefined {
  if (!Array.isArray(hashes)) return undefined;
  for (const h of hashes as Array<{ alg?: unknown; content?: unknown } | null>) {
    const m = typeof h?.alg === 'string' ? /^SHA-(512|384|256)$/.exec(h.alg) : null;
    if (m && typeof h?.content === 'string' && /^[0-9a-f]{64,128}$/.test(h.content))
      return `sha${m[1]}-${Buffer.from(h.content, 'hex').toString('base64')}`;
  }
  return undefined;
}

/** The components and dependencies of the image's code: its bundled packages, or the runtime and its packages. */
function codeComponents(code: SbomInput['code']): {
  components: Array<Record<string, unknown>>;
  imageDependsOn: string[];
  dependencies: Array<{ ref: string; dependsOn: string[] }>;
} {
  if ('bundled' in code) {
    const components = code.bundled.map(libraryComponent);
    return { components, imageDependsOn: components.map((c) => String(c['bom-ref'])), dependencies: [] };
  }
  const r = code.runtime;
  const runtimeRef = `runtime:${r.name}@${r.version}`;
  return {
    components: [
      {
        type: 'framework',
        'bom-ref': runtimeRef,
        name: r.name,
        version: r.version,
        purl: purl(r.name, r.version),
        licenses: licensesOf(r.license),
      },
      ...r.packages.map(libraryComponent),
    ],
    imageDependsOn: [runtimeRef],
    dependencies: [{ ref: runtimeRef, dependsOn: r.packages.map((p) => `npm:${p.name}@${p.version}`) }],
  };
}

/** The npm packages (name, version, purl) an image's code comes from, as its SBOM will list them. */
export function packagesOfCode(code: SbomInput['code']): Array<{ name: string; version: string; purl: string }> {
  const packages = 'bundled' in code ? code.bundled : [code.runtime, ...code.runtime.packages];
  return packages.map((p) => ({ name: p.name, version: p.version, purl: purl(p.name, p.version) }));
}

/** Builds the CycloneDX 1.5 JSON document published beside an image. */
export function buildSbom(o: SbomInput): Record<string, unknown> {
  const code = codeComponents(o.code);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (o.now ?? new Date()).toISOString(),
      tools: { components: [{ type: 'application', name: o.tool.name, version: o.tool.version }] },
      component: {
        type: 'firmware',
        'bom-ref': 'image',
        name: `${o.image.model}-firmware`,
        version: o.image.version,
        ...(o.supplier ? { supplier: { name: o.supplier } } : {}),
        hashes: [{ alg: 'SHA-256', content: o.imageSha256 }],
        properties: [
          { name: 'bulwark:model', value: o.image.model },
          { name: 'bulwark:securityVersion', value: String(o.image.securityVersion) },
          { name: 'bulwark:entry', value: o.image.entry },
          { name: 'bulwark:length', value: String(o.imageLength) },
          ...(o.image.node ? [{ name: 'bulwark:node', value: o.image.node }] : []),
        ],
      },
    },
    components: [
      ...o.files.map((f) => ({
        type: 'file',
        'bom-ref': `file:${f.path}`,
        name: f.path,
        hashes: [{ alg: 'SHA-256', content: f.sha256 }],
        properties: [{ name: 'bulwark:size', value: String(f.size) }],
      })),
      ...code.components,
    ],
    dependencies: [
      { ref: 'image', dependsOn: [...o.files.map((f) => `file:${f.path}`), ...code.imageDependsOn] },
      ...code.dependencies,
    ],
  };
}

/**
 * The npm packages an image's own SBOM lists (its `library` components).
 * @throws Error naming what is wrong when the document is not such an SBOM
 */
export function bundledPackages(sbom: unknown, maxPackages = 5_000): RuntimePackage[] {
  const doc = sbom as { bomFormat?: unknown; components?: unknown } | null;
  if (doc?.bomFormat !== 'CycloneDX' || !Array.isArray(doc.components)) throw new Error('not a CycloneDX document');
  if (doc.components.length > maxPackages) throw new Error(`more than ${maxPackages} components`);
  const packages: RuntimePackage[] = [];
  for (const c of doc.components as Array<Record<string, unknown> | null>) {
    if (c?.type !== 'library') continue;
    if (typeof c.name !== 'string' || typeof c.version !== 'string' || c.name.length > 214 || c.version.length > 64)
      throw new Error('a library component without a name and version');
    const license = (c.licenses as Array<{ expression?: unknown }> | undefined)?.[0]?.expression;
    const integrity = integrityOf(c.hashes);
    packages.push({
      name: c.name,
      version: c.version,
      ...(typeof license === 'string' ? { license } : {}),
      ...(integrity ? { integrity } : {}),
    });
  }
  return packages;
}

/** A name-based (version 5 layout) UUID from a SHA-256 hex digest: the same content, the same serial number. */
function contentUuid(digest: string): string {
  const hex = (from: number, to: number): string => digest.slice(from, to);
  return `${hex(0, 8)}-${hex(8, 12)}-5${hex(13, 16)}-a${hex(17, 20)}-${hex(20, 32)}`;
}

/**
 * The project's own SBOM: CycloneDX 1.5 of the Bulwark package (the application) and its production
 * dependencies from package-lock.json, each with its purl, SHA-512 from the lockfile and licence.
 * Deterministic (no timestamp, the serial number from the content); `npm run build` writes it to
 * dist/sbom.cdx.json, which the package ships.
 */
export function buildProjectSbom(r: RuntimeInventory): Record<string, unknown> {
  const components = [...r.packages]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1))
    .map(libraryComponent);
  const self = {
    type: 'application',
    'bom-ref': `npm:${r.name}@${r.version}`,
    name: r.name,
    version: r.version,
    purl: purl(r.name, r.version),
    licenses: licensesOf(r.license),
  };
  const digest = createHash('sha256')
    .update(JSON.stringify([self, components]))
    .digest('hex');
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${contentUuid(digest)}`,
    version: 1,
    metadata: {
      tools: { components: [{ type: 'application', name: r.name, version: r.version }] },
      component: self,
    },
    components,
    dependencies: [{ ref: self['bom-ref'], dependsOn: components.map((c) => c['bom-ref']) }],
  };
}

/** What the SBOM inside a bundled image describes: the image and the npm packages its bundle holds. */
export interface BundleSbomInput {
  readonly image: Pick<ImageManifest, 'model' | 'version' | 'securityVersion' | 'entry'>;
  /** The packages the bundler included (from its metafile), with their versions. */
  readonly packages: readonly RuntimePackage[];
  /** The tool that built the image (Bulwark's package name and version). */
  readonly builder: { readonly name: string; readonly version: string };
}

/**
 * Builds the CycloneDX 1.5 SBOM an image carries: deterministic (no timestamp; the serial number
 * is derived from the content), so the same build gives the same bytes.
 */
export function buildBundleSbom(o: BundleSbomInput): Record<string, unknown> {
  const packages = [...o.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const components = packages.map(libraryComponent);
  const digest = createHash('sha256')
    .update(JSON.stringify([o.image, components]))
    .digest('hex');
  const uuid = contentUuid(digest);
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuid}`,
    version: 1,
    metadata: {
      tools: { components: [{ type: 'application', name: o.builder.name, version: o.builder.version }] },
      component: {
        type: 'firmware',
        'bom-ref': 'image',
        name: `${o.image.model}-firmware`,
        version: o.image.version,
        properties: [
          { name: 'bulwark:model', value: o.image.model },
          { name: 'bulwark:securityVersion', value: String(o.image.securityVersion) },
          { name: 'bulwark:entry', value: o.image.entry },
        ],
      },
    },
    components,
    dependencies: [{ ref: 'image', dependsOn: components.map((c) => c['bom-ref']) }],
  };
}
