import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildBundleSbom, buildProjectSbom, buildSbom, bundledPackages, runtimeInventory } from './sbom.ts';
import { parseNpmPurl } from '../vulns/index.ts';

type Component = {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: Array<{ alg: string; content: string }>;
  licenses?: unknown[];
};

/** What makes a component complete: an npm one names its purl, SHA-512 and licence; a file its SHA-256. */
function incomplete(components: readonly Component[]): string[] {
  const out: string[] = [];
  for (const c of components) {
    const sha = (alg: string, hexLength: number): boolean =>
      (c.hashes ?? []).some((h) => h.alg === alg && new RegExp(`^[0-9a-f]{${hexLength}}$`).test(h.content));
    if (c.type === 'file') {
      if (!sha('SHA-256', 64)) out.push(`${c.name}: no SHA-256`);
      continue;
    }
    const purl = parseNpmPurl(c.purl);
    if (!c.version || purl?.name !== c.name || purl.version !== c.version) out.push(`${c.name}: purl ${c.purl}`);
    if (!sha('SHA-512', 128)) out.push(`${c.name}: no SHA-512`);
    if (!c.licenses?.length) out.push(`${c.name}: no licence`);
  }
  return out;
}

const integrity = (seed: string): string => `sha512-${Buffer.alloc(64, seed).toString('base64')}`;

test("an image's published SBOM is complete: npm packages with purl, SHA-512 and licence, files with SHA-256", () => {
  const inner = buildBundleSbom({
    image: { model: 'plug', version: '1.0.0', securityVersion: 1, entry: 'agent.mjs' },
    packages: [
      { name: '@tufjs/models', version: '4.1.1', integrity: integrity('a'), license: 'MIT' },
      { name: 'tar', version: '7.5.2', integrity: integrity('b') },
    ],
    builder: { name: 'bulwark', version: '0.1.0' },
  });
  const sbom = buildSbom({
    image: { format: 2, model: 'plug', version: '1.0.0', securityVersion: 1, entry: 'agent.mjs' } as never,
    imageSha256: 'c'.repeat(64),
    imageLength: 10,
    files: [{ path: 'agent.mjs', size: 10, sha256: 'd'.repeat(64) }] as never,
    tool: { name: 'bulwark', version: '0.1.0' },
    code: { bundled: bundledPackages(inner) },
  }) as { components: Component[] };
  assert.deepEqual(incomplete(sbom.components), []);
  const scoped = sbom.components.find((c) => c.name === '@tufjs/models')!;
  assert.equal(scoped.purl, 'pkg:npm/%40tufjs/models@4.1.1');
  assert.deepEqual(scoped.hashes, [{ alg: 'SHA-512', content: Buffer.alloc(64, 'a').toString('hex') }]);
  assert.deepEqual(
    sbom.components.find((c) => c.name === 'tar')!.licenses,
    [{ license: { name: 'NOASSERTION' } }],
    'a package without a licence says so',
  );
});

test("the project's own SBOM lists Bulwark and every production dependency of the lockfile, complete", async () => {
  const inventory = await runtimeInventory();
  const sbom = buildProjectSbom(inventory) as {
    specVersion: string;
    metadata: { component: Component };
    components: Component[];
  };
  const lock = JSON.parse(await readFile(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  const production = Object.entries(lock.packages).filter(
    ([p, v]) => p.startsWith('node_modules/') && !v.dev && !v.devOptional,
  ).length;
  assert.equal(sbom.specVersion, '1.5');
  assert.equal(sbom.metadata.component.purl, `pkg:npm/${inventory.name}@${inventory.version}`);
  assert.ok(sbom.components.length > 50 && sbom.components.length <= production);
  assert.deepEqual(incomplete(sbom.components), []);
  assert.deepEqual(buildProjectSbom(inventory), sbom, 'deterministic');
});
