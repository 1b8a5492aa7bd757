// Fuzz targets for updates from a file: what the owner uploads (or hands to `device update --file`)
// comes from anywhere. update.json and the file's bytes must get only a typed refusal out of the unit:
// never another exception, a hang, a write outside the unpack folder, or a folder left behind.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseUpdateFileInfo, UpdateRefusedError } from '../../src/update/index.ts';
import { unpackUpdateFile } from '../../src/update/update-file.ts';
import { exportUpdateFile } from '../../src/release/index.ts';
import { makeUpdateWorld, publish } from '../update/support.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** Each file run writes and unpacks a file: fewer runs. */
const FILE_RUNS = Math.max(40, Math.floor(RUNS / 10));

const INFO = {
  format: 'bulwark-update-file/1',
  model: 'plug',
  version: '1.1.0',
  image: `targets/plug/${'a'.repeat(64)}.image.tar`,
  createdAt: '2026-12-06T00:00:00.000Z',
};

test('random and near-valid update.json: a value or UPDATE_FILE_INVALID', () => {
  const nearValid = fc.oneof(
    fc.constantFrom(...Object.keys(INFO)).map((k) => {
      const { [k as keyof typeof INFO]: _gone, ...rest } = INFO;
      return rest;
    }),
    fc.tuple(fc.constantFrom(...Object.keys(INFO)), fc.jsonValue()).map(([k, v]) => ({ ...INFO, [k]: v })),
    fc.string().map((image) => ({ ...INFO, image })),
  );
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), nearValid), (value) => {
      try {
        const info = parseUpdateFileInfo(value);
        assert.match(info.image, /^targets\/[a-z0-9-]+\/[0-9a-f]{64}\.image\.tar$/);
      } catch (err) {
        assert.ok(err instanceof UpdateRefusedError && err.code === 'UPDATE_FILE_INVALID', String(err));
      }
    }),
    { numRuns: RUNS },
  );
});

let good: Buffer;
let work: string;

before(async () => {
  const world = await makeUpdateWorld();
  work = world.work;
  await publish(world, '1.1.0', 1);
  const file = join(work, 'good.update');
  await exportUpdateFile({ repoDir: world.repoDir, model: 'plug', version: '1.1.0', out: file });
  good = await readFile(file);
});

test('mutated, cut and random update files: unpacked whole or a typed refusal, and nothing left behind', async () => {
  let n = 0;
  const mutated = fc.oneof(
    fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const b = Buffer.from(good);
      b[at] = b[at]! ^ x;
      return b;
    }),
    fc.nat({ max: good.length }).map((cut) => good.subarray(0, cut)),
    fc.uint8Array({ maxLength: 8_192 }).map((a) => Buffer.from(a)),
  );
  await fc.assert(
    fc.asyncProperty(mutated, async (bytes) => {
      const file = join(work, `fuzz-${++n}.update`);
      await writeFile(file, bytes);
      const into = join(await mkdtemp(join(work, 'unpack-')), 'from-file');
      try {
        const r = await unpackUpdateFile(file, into, 64 * 1_048_576);
        assert.equal(r.info.model, 'plug');
        assert.ok(existsSync(join(into, r.info.image)), 'the image it names is there');
      } catch (err) {
        assert.ok(
          err instanceof UpdateRefusedError && ['UPDATE_FILE_INVALID', 'UPDATE_TOO_LARGE'].includes(err.code),
          String(err),
        );
        assert.ok(!existsSync(into), 'a refused file leaves no unpacked folder');
      }
    }),
    { numRuns: FILE_RUNS },
  );
});
