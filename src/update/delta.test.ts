import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { constants, createZstdCompress, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { hasCode } from '../errors/index.ts';
import { applyDelta, deltaApplies, deltaWindowLog, type DeltaExpectation } from './delta.ts';
import { DELTA_FORMAT, deltaTargetPath, parseDeltaTargetCustom, type DeltaTargetCustom } from './image.ts';

/** Deterministic bytes that do not compress (AES-CTR over zeros), so a delta's size shows what it reuses. */
function noise(length: number, seed: number): Buffer {
  const key = createHash('sha256').update(`seed ${seed}`).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A patch-from delta as zstd makes one (src/release's makeDelta uses the same parameters). */
function patchFrom(base: Uint8Array, target: Uint8Array, windowLog = 23): Buffer {
  return zstdCompressSync(target, {
    dictionary: base,
    params: {
      [constants.ZSTD_c_compressionLevel]: 19,
      [constants.ZSTD_c_enableLongDistanceMatching]: 1,
      [constants.ZSTD_c_windowLog]: windowLog,
      [constants.ZSTD_c_checksumFlag]: 1,
    },
  });
}

/** A base of 1 MiB and a target with 5 bytes inserted and one 4 KiB block replaced. */
function pair(): { base: Buffer; target: Buffer; delta: Buffer; expected: DeltaExpectation } {
  const base = noise(1 << 20, 1);
  const target = Buffer.concat([
    base.subarray(0, 1000),
    Buffer.from('hello'),
    base.subarray(1000, 500_000),
    noise(4096, 2),
    base.subarray(504_096),
  ]);
  const delta = patchFrom(base, target);
  const expected = {
    length: target.length,
    sha256: sha256(target),
    base: { length: base.length, sha256: sha256(base) },
  };
  return { base, target, delta, expected };
}

test('rebuilds the image from the running base and a patch-from delta', async (t) => {
  const { base, target, delta, expected } = pair();
  const rebuilt = await applyDelta(base, delta, expected);
  assert.ok(Buffer.from(rebuilt).equals(target));
  t.diagnostic(`1 MiB base, 5 bytes inserted and 4 KiB replaced: delta ${delta.length} bytes`);
  assert.ok(delta.length < 4096 + 1024, `the delta (${delta.length} bytes) carries only what changed`);
});

test('refuses a delta when the unit does not run its base', async () => {
  const { base, delta, expected } = pair();
  const other = Buffer.from(base);
  other[12_345] = other[12_345]! ^ 0x01;
  await assert.rejects(applyDelta(other, delta, expected), (e) => hasCode(e, 'UPDATE_DELTA_BASE_MISMATCH'));
  await assert.rejects(applyDelta(base.subarray(1), delta, expected), (e) => hasCode(e, 'UPDATE_DELTA_BASE_MISMATCH'));
});

test('refuses a tampered delta, wherever the byte is changed', async () => {
  const { base, delta, expected } = pair();
  for (const at of [10, delta.length >> 1, delta.length - 1]) {
    const tampered = Buffer.from(delta);
    tampered[at] = tampered[at]! ^ 0x40;
    await assert.rejects(applyDelta(base, tampered, expected), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'), `byte ${at}`);
  }
  await assert.rejects(applyDelta(base, delta.subarray(0, delta.length - 8), expected), (e) =>
    hasCode(e, 'UPDATE_DELTA_INVALID'),
  );
});

test('refuses bytes that are not a zstd frame', async () => {
  const { base, expected } = pair();
  await assert.rejects(applyDelta(base, Buffer.from('BZh91AY&SY not zstd'), expected), (e) =>
    hasCode(e, 'UPDATE_DELTA_INVALID'),
  );
  await assert.rejects(applyDelta(base, new Uint8Array(0), expected), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'));
});

test("refuses a delta whose result is not the full image's signed SHA-256", async () => {
  const { base, target, expected } = pair();
  const impostor = Buffer.from(target);
  impostor[200_000] = impostor[200_000]! ^ 0xff;
  await assert.rejects(applyDelta(base, patchFrom(base, impostor), expected), (e) =>
    hasCode(e, 'UPDATE_DELTA_RESULT_MISMATCH'),
  );
});

test('refuses a delta that rebuilds more or fewer bytes than the signed length', async () => {
  const { base, delta, expected } = pair();
  for (const length of [expected.length - 1, expected.length + 1]) {
    await assert.rejects(applyDelta(base, delta, { ...expected, length }), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'));
  }
});

test('refuses a base or result over the configured limit before decompressing anything', async () => {
  const { base, delta, expected } = pair();
  const limits = { maxImageBytes: base.length - 1 };
  await assert.rejects(applyDelta(base, delta, expected, limits), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'));
  const small = { maxImageBytes: expected.length - 1 };
  await assert.rejects(applyDelta(base, delta, expected, { maxImageBytes: base.length }), (e) =>
    hasCode(e, 'UPDATE_DELTA_INVALID'),
  );
  await assert.rejects(applyDelta(base, delta, expected, small), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'));
  // Past a 2^27-byte window no delta applies, whatever the limit.
  const huge = { ...expected, length: 2 ** 27 + 1 };
  await assert.rejects(applyDelta(base, delta, huge, { maxImageBytes: 2 ** 30 }), (e) =>
    hasCode(e, 'UPDATE_DELTA_INVALID'),
  );
});

test("refuses a frame whose window is larger than the images' lengths need", async () => {
  const { base, target, expected } = pair();
  // Streamed without its size, zstd keeps the declared window: 2^25 bytes for a 1 MiB image.
  const stream = createZstdCompress({
    dictionary: base,
    params: { [constants.ZSTD_c_windowLog]: 25, [constants.ZSTD_c_contentSizeFlag]: 0 },
  });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(stream, 'end');
  for (let at = 0; at < target.length; at += 65_536) stream.write(target.subarray(at, at + 65_536));
  stream.end();
  await ended;
  const wide = Buffer.concat(chunks);
  assert.ok(Buffer.from(zstdDecompressSync(wide, { dictionary: base })).equals(target), 'the frame itself is sound');
  await assert.rejects(applyDelta(base, wide, expected), (e) => hasCode(e, 'UPDATE_DELTA_INVALID'));
});

test('the window covers the longer image, from 2^23 up to 2^27 bytes', () => {
  assert.equal(deltaWindowLog(1, 1), 23);
  assert.equal(deltaWindowLog(2 ** 23, 10), 23);
  assert.equal(deltaWindowLog(10, 2 ** 23 + 1), 24);
  assert.equal(deltaWindowLog(2 ** 27, 2 ** 26), 27);
  assert.equal(deltaWindowLog(2 ** 27 + 1, 1), undefined);
});

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const custom = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  format: DELTA_FORMAT,
  model: 'plug',
  version: '1.2.0',
  base: { sha256: SHA_A, length: 4096, version: '1.1.0' },
  image: { path: 'plug/image.tar', sha256: SHA_B, length: 5120 },
  ...over,
});

test("parses a delta target's signed custom data and names its target by the base's hash", () => {
  const parsed = parseDeltaTargetCustom(custom());
  assert.deepEqual(parsed, custom());
  assert.equal(deltaTargetPath('plug', SHA_A), `plug/deltas/${SHA_A}.zst`);
});

test("refuses a delta's custom data with a bad or unknown field, naming the key", () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [custom({ format: 'bulwark-delta/9' }), 'format'],
    [custom({ model: 'Plug!' }), 'model'],
    [custom({ version: '1.2' }), 'version'],
    [custom({ base: { sha256: 'A'.repeat(64), length: 4096, version: '1.1.0' } }), 'base.sha256'],
    [custom({ base: { sha256: SHA_A, length: 0, version: '1.1.0' } }), 'base.length'],
    [custom({ base: { sha256: SHA_A, length: 4096 } }), 'base.version'],
    [custom({ image: { path: 'bulb/image.tar', sha256: SHA_B, length: 5120 } }), 'image.path'],
    [custom({ image: { path: 'plug/image.tar', sha256: SHA_B, length: 2 ** 40 } }), 'image.length'],
    [custom({ image: null }), 'image'],
    [custom({ extra: 1 }), 'extra'],
  ];
  for (const [value, key] of bad) {
    assert.throws(
      () => parseDeltaTargetCustom(value),
      (e) => hasCode(e, 'UPDATE_METADATA_INVALID') && (e as { details: { key: string } }).details.key === key,
      key,
    );
  }
  assert.throws(
    () => parseDeltaTargetCustom([]),
    (e) => hasCode(e, 'UPDATE_METADATA_INVALID'),
  );
});

test('a delta applies only where the running image is its base and it rebuilds the current image', () => {
  const delta: DeltaTargetCustom = parseDeltaTargetCustom(custom());
  const running = { sha256: SHA_A, length: 4096 };
  const image = { path: 'plug/image.tar', sha256: SHA_B, length: 5120 };
  assert.equal(deltaApplies(delta, running, image), true);
  assert.equal(deltaApplies(delta, { ...running, sha256: SHA_B }, image), false);
  assert.equal(deltaApplies(delta, { ...running, length: 4097 }, image), false);
  assert.equal(deltaApplies(delta, running, { ...image, sha256: SHA_A }), false, 'a stale delta to an older image');
  assert.equal(deltaApplies(delta, running, { ...image, length: 1 }), false);
});
