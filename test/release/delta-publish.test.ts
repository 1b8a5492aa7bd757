// Publishing writes delta images: one signed target per earlier image of the model (up to the
// release configuration's deltaBases), each rebuilding exactly the new full image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, MetadataKind, type Targets } from '@tufjs/models';
import { hasCode } from '../../src/errors/index.ts';
import { initFactory } from '../../src/identity/index.ts';
import { buildReferenceImage, initRepository, publishImage, type PublishResult } from '../../src/release/index.ts';
import { applyDelta, deltaTargetPath, parseDeltaTargetCustom } from '../../src/update/index.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic incompressible bytes: the bulk of an image that stays the same between versions. */
function noise(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

async function world(deltaBases?: number): Promise<{ work: string; repoDir: string }> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-release-delta-'));
  const factoryDir = join(work, 'factory');
  const repoDir = join(work, 'releases');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir, ...(deltaBases !== undefined ? { deltaBases } : {}) });
  return { work, repoDir };
}

/** Builds and publishes plug `version`: 256 KiB shared by every version plus a small file of its own. */
async function release(
  w: { work: string; repoDir: string },
  version: string,
  deltaBases?: number,
): Promise<PublishResult> {
  const artifact = join(w.work, `plug-${version}.tar`);
  const files = { 'lib/shared.bin': noise(262_144, 'shared'), 'lib/changes.txt': `fixed in ${version}\n` };
  await buildReferenceImage(artifact, { model: 'plug', version, securityVersion: 1, files });
  return publishImage({
    repoDir: w.repoDir,
    artifact,
    model: 'plug',
    version,
    ...(deltaBases !== undefined ? { deltaBases } : {}),
  });
}

/** The repository's current targets metadata, its signature checked against the latest root. */
async function signedTargets(repoDir: string): Promise<Metadata<Targets>> {
  const md = join(repoDir, 'metadata');
  const json = async (name: string): Promise<never> => JSON.parse(await readFile(join(md, name), 'utf8')) as never;
  const roots = (await readdir(md)).filter((n) => n.endsWith('.root.json')).map((n) => Number(n.split('.')[0]));
  const root = Metadata.fromJSON(MetadataKind.Root, await json(`${Math.max(...roots)}.root.json`));
  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, await json('timestamp.json'));
  const snapshot = Metadata.fromJSON(
    MetadataKind.Snapshot,
    await json(`${timestamp.signed.snapshotMeta.version}.snapshot.json`),
  );
  const version = snapshot.signed.meta['targets.json']!.version;
  const targets = Metadata.fromJSON(MetadataKind.Targets, await json(`${version}.targets.json`));
  root.verifyDelegate('targets', targets);
  return targets;
}

const deltaPaths = (t: Metadata<Targets>): string[] =>
  Object.keys(t.signed.targets)
    .filter((p) => p.startsWith('plug/deltas/'))
    .sort();

test('publishing three versions signs a delta from each earlier one, and each rebuilds the new image', async () => {
  const w = await world();
  const v1 = await release(w, '1.0.0');
  assert.deepEqual(v1.deltas, [], 'the first image has no base');
  const v2 = await release(w, '1.1.0');
  assert.deepEqual(
    v2.deltas.map((d) => d.baseVersion),
    ['1.0.0'],
  );
  const v3 = await release(w, '1.2.0');
  assert.deepEqual(
    v3.deltas.map((d) => d.baseVersion),
    ['1.1.0', '1.0.0'],
    'newest base first',
  );

  const targets = await signedTargets(w.repoDir);
  assert.deepEqual(
    deltaPaths(targets),
    [deltaTargetPath('plug', v1.sha256), deltaTargetPath('plug', v2.sha256)].sort(),
  );
  const image = await readFile(v3.files.image);
  for (const [base, written] of [
    [v2, v3.deltas[0]!],
    [v1, v3.deltas[1]!],
  ] as const) {
    const target = targets.signed.targets[written.targetPath]!;
    const custom = parseDeltaTargetCustom(target.custom);
    assert.deepEqual(custom.base, { sha256: base.sha256, length: base.length, version: base.version });
    assert.deepEqual(custom.image, { path: 'plug/image.tar', sha256: v3.sha256, length: v3.length });
    const delta = await readFile(written.file);
    assert.equal(target.length, delta.length);
    assert.equal(target.hashes.sha256, sha256(delta), 'the signed hash is the file served');
    assert.ok(written.file.endsWith(`/targets/plug/deltas/${sha256(delta)}.${base.sha256}.zst`));
    assert.ok(delta.length < image.length / 20, `delta ${delta.length} bytes for a ${image.length}-byte image`);
    const rebuilt = await applyDelta(await readFile(base.files.image), delta, { ...custom.image, base: custom.base });
    assert.ok(Buffer.from(rebuilt).equals(image));
  }
  assert.equal((await readdir(join(w.repoDir, 'images', 'plug'))).length, 3, 'three images kept as bases');
});

test('deltaBases bounds the deltas and the kept bases, and 0 writes none', async () => {
  const one = await world(1);
  await release(one, '1.0.0');
  const v2 = await release(one, '1.1.0');
  const v3 = await release(one, '1.2.0');
  assert.deepEqual(
    v3.deltas.map((d) => d.baseSha256),
    [v2.sha256],
  );
  assert.deepEqual(deltaPaths(await signedTargets(one.repoDir)), [deltaTargetPath('plug', v2.sha256)]);
  assert.deepEqual(await readdir(join(one.repoDir, 'images', 'plug')), [`${v3.sha256}.tar`]);

  const v4 = await release(one, '1.3.0', 0);
  assert.deepEqual(v4.deltas, []);
  assert.deepEqual(deltaPaths(await signedTargets(one.repoDir)), [], 'the earlier delta targets are gone');
  assert.deepEqual(await readdir(join(one.repoDir, 'images', 'plug')), []);

  const none = await world(0);
  await release(none, '1.0.0');
  assert.deepEqual((await release(none, '1.1.0')).deltas, []);
  assert.deepEqual(deltaPaths(await signedTargets(none.repoDir)), []);

  await assert.rejects(
    initRepository({ repoDir: join(none.work, 'other'), factoryDir: join(none.work, 'factory'), deltaBases: 11 }),
    (e) => hasCode(e, 'RELEASE_CONFIG_INVALID'),
  );
  await assert.rejects(release(none, '1.2.0', -1), (e) => hasCode(e, 'RELEASE_CONFIG_INVALID'));
});
