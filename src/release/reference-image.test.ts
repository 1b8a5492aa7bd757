import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readImageArchive } from '../update/index.ts';
import { buildReferenceImage } from './reference-image.ts';

const limits = { maxEntries: 100, maxUnpackedBytes: 1 << 20 };

async function work(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bulwark-archive-'));
}

test('a reference image with its own entry unpacks whole, every file hashed and the manifest checked', async () => {
  const dir = await work();
  const tar = join(dir, 'image.tar');
  const files = { 'lib/extra.txt': 'hello' };
  const entrySource = 'export {};\n';
  await buildReferenceImage(tar, { model: 'plug', version: '1.2.3', securityVersion: 4, files, entrySource });
  const contents = await readImageArchive(tar, limits, { into: join(dir, 'slot') });
  assert.equal(contents.manifest.version, '1.2.3');
  assert.equal(contents.manifest.securityVersion, 4);
  assert.deepEqual(
    contents.files.map((f) => f.path),
    ['agent.mjs', 'image.json', 'lib/extra.txt', 'sbom.cdx.json'],
  );
  const extra = contents.files.find((f) => f.path === 'lib/extra.txt')!;
  assert.equal(extra.sha256, createHash('sha256').update('hello').digest('hex'));
  assert.equal(await readFile(join(dir, 'slot', 'lib', 'extra.txt'), 'utf8'), 'hello');
});

test('the same image built twice is byte-identical', async () => {
  const dir = await work();
  await buildReferenceImage(join(dir, 'a.tar'), { model: 'plug', version: '1.0.0', securityVersion: 1 });
  await buildReferenceImage(join(dir, 'b.tar'), { model: 'plug', version: '1.0.0', securityVersion: 1 });
  assert.deepEqual(await readFile(join(dir, 'a.tar')), await readFile(join(dir, 'b.tar')));
});
