// The release side through the `bulwark` command: factory keys, repository init, reference image,
// publish with its SBOM, refusals, refresh, key rotation (a device on the factory's first root
// follows the rotated roots), provisioning after a rotation, and the static server's limits.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { Updater } from 'tuf-js';
import { BIN } from './support.ts';
import { startRepositoryServer, repositoryStatus } from '../../src/release/index.ts';
import { readImageArchive } from '../../src/update/index.ts';

let work: string;
const f = (): string => join(work, 'factory');
const repo = (): string => join(work, 'releases');

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

async function ok(args: string[]): Promise<string> {
  const r = await bulwark(args);
  assert.equal(r.code, 0, `bulwark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-release-'));
  await ok(['factory', 'init', '--dir', f()]);
});

test('factory init makes update keys: three root keys, one per online role, all 0600, root metadata v1', async () => {
  for (const name of ['root-1.pem', 'root-2.pem', 'root-3.pem', 'targets.pem', 'snapshot.pem', 'timestamp.pem']) {
    assert.equal((await stat(join(f(), 'update-keys', name))).mode & 0o777, 0o600, name);
  }
  const root = JSON.parse(await readFile(join(f(), 'update-keys', 'root.json'), 'utf8')) as {
    signed: {
      version: number;
      consistent_snapshot: boolean;
      roles: Record<string, { keyids: string[]; threshold: number }>;
    };
    signatures: unknown[];
  };
  assert.equal(root.signed.version, 1);
  assert.equal(root.signed.consistent_snapshot, true);
  assert.deepEqual([root.signed.roles.root!.keyids.length, root.signed.roles.root!.threshold], [3, 2]);
  assert.equal(root.signatures.length, 3);
});

test('release init, build-image and publish: a signed image with the CycloneDX SBOM of what it holds', async () => {
  await ok(['release', 'init', '--repo', repo(), '--factory', f()]);
  const image = join(work, 'plug-1.1.0.tar');
  await ok([
    'release',
    'build-image',
    '--model',
    'plug',
    '--version',
    '1.1.0',
    '--security-version',
    '2',
    '--out',
    image,
  ]);
  const out = await ok([
    'release',
    'publish',
    '--repo',
    repo(),
    '--model',
    'plug',
    '--version',
    '1.1.0',
    '--artifact',
    image,
  ]);
  const sha = /sha256 ([0-9a-f]{64})/.exec(out)![1]!;
  const sbomPath = /SBOM {2}(\S+)/.exec(out)![1]!;
  const sbom = JSON.parse(await readFile(sbomPath, 'utf8')) as {
    bomFormat: string;
    specVersion: string;
    metadata: { component: { type: string; version: string; hashes: Array<{ alg: string; content: string }> } };
    components: Array<{ type: string; name: string; version?: string; purl?: string }>;
  };
  assert.equal(sbom.bomFormat, 'CycloneDX');
  assert.equal(sbom.specVersion, '1.5');
  assert.deepEqual([sbom.metadata.component.type, sbom.metadata.component.version], ['firmware', '1.1.0']);
  assert.deepEqual(sbom.metadata.component.hashes, [{ alg: 'SHA-256', content: sha }]);
  assert.ok(sbom.components.some((c) => c.type === 'file' && c.name === 'agent.mjs'));
  // The libraries are exactly those the image's own SBOM lists (what the bundler included), not the lockfile's.
  const inner = await readImageArchive(
    image,
    { maxEntries: 1_000, maxUnpackedBytes: 64 << 20 },
    {
      keep: { path: (p) => p === 'sbom.cdx.json', maxBytes: 1 << 20 },
    },
  );
  const innerSbom = JSON.parse(inner.kept.get('sbom.cdx.json')!.toString('utf8')) as typeof sbom;
  const libraries = (doc: typeof sbom): string[] =>
    doc.components.filter((c) => c.type === 'library').map((c) => `${c.name}@${c.version}`);
  assert.ok(
    libraries(sbom).some((l) => l.startsWith('tuf-js@')),
    'the bundled tuf-js is listed',
  );
  assert.deepEqual(libraries(sbom), libraries(innerSbom));
  assert.ok(!libraries(sbom).some((l) => l.startsWith('esbuild@')), 'a build tool the image does not hold is not');
  assert.ok(!sbom.components.some((c) => c.type === 'framework'), 'no installed runtime: the image runs its own code');
  const status = await repositoryStatus(repo());
  assert.deepEqual(
    status.images.map((i) => [i.model, i.version, i.securityVersion, i.sha256]),
    [['plug', '1.1.0', 2, sha]],
  );
});

test('publish refuses a version not newer, and an image whose image.json disagrees with its arguments', async () => {
  const image = join(work, 'plug-1.1.0.tar');
  const again = await bulwark([
    'release',
    'publish',
    '--repo',
    repo(),
    '--model',
    'plug',
    '--version',
    '1.1.0',
    '--artifact',
    image,
  ]);
  assert.equal(again.code, 65);
  assert.match(again.stderr, /RELEASE_DOWNGRADE_REFUSED/);
  const wrong = await bulwark([
    'release',
    'publish',
    '--repo',
    repo(),
    '--model',
    'plug',
    '--version',
    '1.2.0',
    '--artifact',
    image,
  ]);
  assert.equal(wrong.code, 65);
  assert.match(wrong.stderr, /RELEASE_IMAGE_MISMATCH/);
  const garbage = join(work, 'garbage.tar');
  await (await import('node:fs/promises')).writeFile(garbage, 'not a tarball');
  const bad = await bulwark([
    'release',
    'publish',
    '--repo',
    repo(),
    '--model',
    'plug',
    '--version',
    '1.2.0',
    '--artifact',
    garbage,
  ]);
  assert.match(bad.stderr, /RELEASE_IMAGE_INVALID/);
});

test('refresh re-signs the timestamp; rotation moves root forward and a device on root v1 follows it', async () => {
  const before = await repositoryStatus(repo());
  await ok(['release', 'refresh', '--repo', repo()]);
  assert.equal((await repositoryStatus(repo())).roles.timestamp.version, before.roles.timestamp.version + 1);
  await ok(['release', 'rotate', '--repo', repo(), '--role', 'timestamp']);
  const rotated = await ok(['release', 'rotate', '--repo', repo(), '--role', 'root']);
  assert.match(rotated, /root is now version 3/);
  assert.match(await ok(['release', 'status', '--repo', repo()]), /^root +v3 /m);
  const factoryRoot = JSON.parse(await readFile(join(f(), 'update-keys', 'root.json'), 'utf8')) as {
    signed: { version: number };
  };
  assert.equal(factoryRoot.signed.version, 3);

  // A device provisioned before the rotations still trusts only root v1: it walks v2 and v3.
  const server = await startRepositoryServer({ repoDir: repo() });
  try {
    const cache = join(work, 'device-cache');
    await mkdir(cache);
    await copyFile(join(f(), 'update-keys', 'roots', '1.root.json'), join(cache, 'root.json'));
    const u = new Updater({
      metadataDir: cache,
      metadataBaseUrl: `${server.url}/metadata`,
      targetBaseUrl: `${server.url}/targets`,
    });
    await u.refresh();
    assert.equal((await u.getTargetInfo('plug/image.tar'))?.custom.version, '1.1.0');
    const cached = JSON.parse(await readFile(join(cache, 'root.json'), 'utf8')) as { signed: { version: number } };
    assert.equal(cached.signed.version, 3);

    // The static server serves metadata and targets only, read-only.
    const status = (method: string, path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const url = new URL(server.url);
        const req = request({ host: url.hostname, port: url.port, method, path, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await status('GET', '/updates/metadata/timestamp.json'), 200);
    assert.equal(await status('GET', '/updates/release.json'), 404);
    assert.equal(await status('GET', '/updates/metadata/..%2Frelease.json'), 404);
    assert.equal(await status('GET', '/updates/metadata/.hidden'), 404);
    assert.equal(await status('PUT', '/updates/metadata/timestamp.json'), 405);
  } finally {
    await server.close();
  }

  // Units provisioned after the rotation carry the current root.
  await ok(['factory', 'provision', '--dir', f(), '--model', 'plug', '--out', join(work, 'units')]);
  const manifest = JSON.parse(await readFile(join(work, 'units', 'manifest.json'), 'utf8')) as {
    units: Array<{ serial: string }>;
  };
  const bundleRoot = JSON.parse(
    await readFile(join(work, 'units', manifest.units[0]!.serial, 'update-root.json'), 'utf8'),
  ) as { signed: { version: number } };
  assert.equal(bundleRoot.signed.version, 3);
});
