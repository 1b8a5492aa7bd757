// Fuzz targets for what a unit takes in when it updates by delta: the delta target's signed custom
// data and the delta bytes themselves. A repository that is compromised up to the signing keys'
// limits, or a mirror that corrupts a file, must get only a typed refusal out of the unit: never
// another exception, a hang, an allocation past the bounds, or a result that is not the signed image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createCipheriv } from 'node:crypto';
import { constants, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { applyDelta, parseDeltaTargetCustom, UpdateRefusedError } from '../../src/update/index.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** applyDelta decompresses: fewer runs, each bounded by the 64 KiB image. */
const DELTA_RUNS = Math.max(50, Math.floor(RUNS / 4));

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const noise = (length: number, seed: number): Buffer =>
  createCipheriv(
    'aes-128-ctr',
    createHash('sha256').update(`${seed}`).digest().subarray(0, 16),
    Buffer.alloc(16),
  ).update(Buffer.alloc(length));

const CUSTOM = {
  format: 'bulwark-delta/1',
  model: 'plug',
  version: '1.2.0',
  base: { sha256: 'a'.repeat(64), length: 1024, version: '1.1.0' },
  image: { path: 'plug/image.tar', sha256: 'b'.repeat(64), length: 2048 },
};

test('random and near-valid delta custom data: a value or UPDATE_METADATA_INVALID', () => {
  const nearValid = fc.oneof(
    fc.constantFrom(...Object.keys(CUSTOM)).map((k) => {
      const { [k as keyof typeof CUSTOM]: _gone, ...rest } = CUSTOM;
      return rest;
    }),
    fc.tuple(fc.constantFrom(...Object.keys(CUSTOM)), fc.jsonValue()).map(([k, v]) => ({ ...CUSTOM, [k]: v })),
    fc.tuple(fc.constantFrom('sha256', 'length', 'version', 'path'), fc.jsonValue()).map(([k, v]) => ({
      ...CUSTOM,
      base: { ...CUSTOM.base, [k]: v },
      image: { ...CUSTOM.image, [k]: v },
    })),
  );
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), nearValid), (value) => {
      try {
        const c = parseDeltaTargetCustom(value);
        assert.match(c.base.sha256, /^[0-9a-f]{64}$/);
        assert.ok(Number.isSafeInteger(c.image.length) && c.image.length >= 0);
      } catch (err) {
        assert.ok(err instanceof UpdateRefusedError && err.code === 'UPDATE_METADATA_INVALID', String(err));
      }
    }),
    { numRuns: RUNS },
  );
});

test('mutated and random delta bytes: the signed image exactly, or a typed UPDATE_DELTA_* refusal', async () => {
  const base = noise(64 * 1024, 1);
  const image = Buffer.concat([base.subarray(0, 30_000), Buffer.from('changed'), base.subarray(30_000)]);
  const delta = zstdCompressSync(image, {
    dictionary: base,
    params: {
      [constants.ZSTD_c_compressionLevel]: 12,
      [constants.ZSTD_c_enableLongDistanceMatching]: 1,
      [constants.ZSTD_c_windowLog]: 23,
      [constants.ZSTD_c_checksumFlag]: 1,
    },
  });
  const expected = { length: image.length, sha256: sha256(image), base: { length: base.length, sha256: sha256(base) } };
  assert.deepEqual(Buffer.from(await applyDelta(base, delta, expected)), image, 'the unmutated delta applies');
  const mutated = fc.oneof(
    fc.tuple(fc.nat({ max: delta.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const d = Buffer.from(delta);
      d[i] = d[i]! ^ x;
      return d;
    }),
    fc.nat({ max: delta.length - 1 }).map((n) => delta.subarray(0, n)),
    fc.uint8Array({ maxLength: 512 }).map((extra) => Buffer.concat([delta, extra])),
    fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
  );
  await fc.assert(
    fc.asyncProperty(mutated, async (bytes) => {
      try {
        const out = await applyDelta(base, bytes, expected);
        assert.equal(sha256(out), expected.sha256, 'anything returned is the signed image');
      } catch (err) {
        assert.ok(err instanceof UpdateRefusedError && /^UPDATE_DELTA_/.test(err.code), String(err));
      }
    }),
    { numRuns: DELTA_RUNS },
  );
});
