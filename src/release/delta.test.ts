import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasCode } from '../errors/index.ts';
import { applyDelta } from '../update/index.ts';
import { makeDelta, validateDeltaBases } from './delta.ts';
import { buildReferenceImage } from './reference-image.ts';

const run = promisify(execFile);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes that do not compress (AES-CTR over zeros): a bundle's worth of "code". */
function noise(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** 40 files of 24 KiB (about 1 MiB), as a bundled agent's chunks would be; `changed` replaces one. */
function imageFiles(changed: boolean): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 40; i++) files[`chunks/chunk-${String(i).padStart(2, '0')}.mjs`] = noise(24_576, `chunk ${i}`);
  if (changed) files['chunks/chunk-17.mjs'] = noise(24_576, 'chunk 17, fixed');
  return files;
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-delta-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Two plain-tar builds of the plug: 1.1.0, and 1.2.0 where one file differs. */
async function twoBuilds(dir: string): Promise<{ base: Buffer; target: Buffer }> {
  const a = join(dir, 'plug-1.1.0.tar');
  const b = join(dir, 'plug-1.2.0.tar');
  await buildReferenceImage(a, { model: 'plug', version: '1.1.0', securityVersion: 1, files: imageFiles(false) });
  await buildReferenceImage(b, { model: 'plug', version: '1.2.0', securityVersion: 1, files: imageFiles(true) });
  return { base: await readFile(a), target: await readFile(b) };
}

const expectation = (base: Uint8Array, target: Uint8Array) => ({
  length: target.length,
  sha256: sha256(target),
  base: { length: base.length, sha256: sha256(base) },
});

test('two builds that differ by one file give a delta of at most 5% of the image, which rebuilds it', async (t) => {
  await withTemp(async (dir) => {
    const { base, target } = await twoBuilds(dir);
    const started = performance.now();
    const delta = await makeDelta(base, target);
    const ms = Math.round(performance.now() - started);
    const percent = (100 * delta.length) / target.length;
    t.diagnostic(
      `image ${target.length} bytes, delta ${delta.length} bytes (${percent.toFixed(2)}%), made in ${ms} ms`,
    );
    assert.ok(percent <= 5, `the delta is ${percent.toFixed(2)}% of the image`);
    assert.ok(delta.length >= 24_576, 'the changed file, which does not compress, is in the delta');
    const rebuilt = await applyDelta(base, delta, expectation(base, target));
    assert.equal(sha256(rebuilt), sha256(target));
  });
});

test('makeDelta refuses images past the largest window with a typed error', async () => {
  // calloc'd zero pages: no real memory is touched.
  const huge = Buffer.alloc(2 ** 27 + 1);
  const small = Buffer.from('small');
  await assert.rejects(makeDelta(huge, small), (e) => hasCode(e, 'RELEASE_DELTA_TOO_LARGE'));
  await assert.rejects(makeDelta(small, huge), (e) => hasCode(e, 'RELEASE_DELTA_TOO_LARGE'));
});

test('makeDelta refuses a base zstd would read as a trained dictionary rather than raw content', async () => {
  const base = Buffer.concat([Buffer.from([0x37, 0xa4, 0x30, 0xec]), noise(1024, 'dict')]);
  await assert.rejects(makeDelta(base, Buffer.from('target')), (e) => hasCode(e, 'RELEASE_IMAGE_INVALID'));
});

test('deltaBases accepts 0 to 10 and refuses anything else, naming the key', () => {
  assert.equal(validateDeltaBases(), 3);
  assert.equal(validateDeltaBases(0), 0);
  assert.equal(validateDeltaBases(10), 10);
  for (const bad of [-1, 11, 1.5, '3', null, Number.NaN]) {
    assert.throws(
      () => validateDeltaBases(bad),
      (e) => hasCode(e, 'RELEASE_CONFIG_INVALID') && (e as { key?: string }).key === 'deltaBases',
      String(bad),
    );
  }
});

/**
 * zstd when the host has it. test/support/tools.ts's rule, restated because src/ may not import
 * test/: outside CI a missing tool skips the test, in CI it fails it.
 */
async function zstdCli(t: { skip(message: string): void }): Promise<boolean> {
  const hidden = (process.env.BULWARK_TEST_HIDE_TOOLS ?? '').split(/[\s,]+/).includes('zstd');
  const found =
    !hidden &&
    (await run('zstd', ['--version']).then(
      () => true,
      () => false,
    ));
  if (found) return true;
  const ci = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
  const why = hidden ? 'hidden by BULWARK_TEST_HIDE_TOOLS' : 'not on PATH';
  if (ci) throw new Error(`zstd is required in CI but ${why} (apt-get install zstd)`);
  t.skip(`zstd ${why}: apt-get install zstd`);
  return false;
}

test('the zstd CLI applies our deltas with --patch-from, and ours apply its deltas', async (t) => {
  if (!(await zstdCli(t))) return;
  await withTemp(async (dir) => {
    const { base, target } = await twoBuilds(dir);
    const files = { base: join(dir, 'base.tar'), ours: join(dir, 'ours.zst'), theirs: join(dir, 'theirs.zst') };
    await writeFile(files.base, base);
    await writeFile(files.ours, await makeDelta(base, target));
    const out = join(dir, 'rebuilt.tar');
    await run('zstd', ['-q', '-d', `--patch-from=${files.base}`, files.ours, '-o', out]);
    assert.equal(sha256(await readFile(out)), sha256(target), 'zstd -d --patch-from rebuilds the image');

    await writeFile(join(dir, 'target.tar'), target);
    await run('zstd', ['-q', '-12', `--patch-from=${files.base}`, join(dir, 'target.tar'), '-o', files.theirs]);
    const theirs = await readFile(files.theirs);
    t.diagnostic(`zstd --patch-from -12 made ${theirs.length} bytes`);
    const rebuilt = await applyDelta(base, theirs, expectation(base, target));
    assert.equal(sha256(rebuilt), sha256(target), "applyDelta rebuilds the image from the CLI's delta");
  });
});
