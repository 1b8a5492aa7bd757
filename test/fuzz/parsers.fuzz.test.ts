// Fuzz targets for the parsers of outside input that had none (the auditor's inventory,
// src/audit/fuzz-inventory.ts, found them): the label's QR-code URI, an image's image.json, a
// release's signed custom data and the image archive itself. Random and mutated inputs; only the
// parser's typed refusal may come out, never another exception, a hang or a file outside the
// unpack folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  parseStickerUri,
  stickerUri,
  generateSerial,
  generateSetupCode,
  generateClaimCode,
} from '../../src/identity/index.ts';
import {
  parseImageManifest,
  parseImageTargetCustom,
  readImageArchive,
  UpdateRefusedError,
} from '../../src/update/index.ts';
import { buildReferenceImage } from '../../src/release/index.ts';
import { InvalidInputError } from '../../src/errors/index.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const ARCHIVE_RUNS = Math.max(20, Math.floor(RUNS / 5));

function mutate(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(fc.nat({ max: text.length - 1 }), fc.string({ maxLength: 4 }))
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
    fc.nat({ max: text.length }).map((i) => text.slice(0, i)),
    fc
      .tuple(fc.nat({ max: text.length }), fc.string({ maxLength: 40 }))
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
  );
}

test('random and mutated sticker URIs: a payload or INVALID_INPUT', () => {
  const valid = stickerUri({
    model: 'plug',
    serial: generateSerial('PLG'),
    setupCode: generateSetupCode(),
    claimCode: generateClaimCode(),
  });
  assert.equal(parseStickerUri(valid).model, 'plug');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 600 }), fc.webUrl(), mutate(valid)), (uri) => {
      try {
        const p = parseStickerUri(uri);
        assert.match(p.serial, /^[A-Z]{3}-[A-Z2-9]{10}$/);
      } catch (err) {
        assert.ok(err instanceof InvalidInputError, String(err));
      }
    }),
    { numRuns: RUNS },
  );
});

const MANIFEST = { format: 'bulwark-image/1', model: 'plug', version: '1.1.0', securityVersion: 2, entry: 'agent.mjs' };
const CUSTOM = {
  format: 'bulwark-image/1',
  model: 'plug',
  version: '1.1.0',
  securityVersion: 2,
  sbom: 'plug/image.cdx.json',
};

function nearValid(base: Record<string, unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.tuple(fc.constantFrom(...Object.keys(base)), fc.anything()).map(([k, v]) => ({ ...base, [k]: v })),
    fc.constantFrom(...Object.keys(base)).map((k) => {
      const c: Record<string, unknown> = { ...base };
      delete c[k];
      return c;
    }),
    fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue()).map(([k, v]) => ({ ...base, [k]: v })),
  );
}

test('random/near-valid image.json, signed custom data: value or UPDATE_IMAGE_INVALID/UPDATE_METADATA_INVALID', () => {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), nearValid(MANIFEST), nearValid(CUSTOM)), (value) => {
      try {
        const m = parseImageManifest(value);
        assert.match(m.entry, /\.(mjs|js)$/);
      } catch (err) {
        assert.ok(err instanceof UpdateRefusedError && err.code === 'UPDATE_IMAGE_INVALID', String(err));
      }
      try {
        const c = parseImageTargetCustom(value);
        assert.ok(Number.isSafeInteger(c.securityVersion));
      } catch (err) {
        assert.ok(err instanceof UpdateRefusedError && err.code === 'UPDATE_METADATA_INVALID', String(err));
      }
    }),
    { numRuns: RUNS },
  );
});

let work: string;
let valid: Buffer;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-fuzz-archive-'));
  const file = join(work, 'valid.tar');
  await buildReferenceImage(file, {
    model: 'plug',
    version: '1.1.0',
    securityVersion: 2,
    files: { 'lib/a.txt': 'hello', 'lib/deep/b.bin': new Uint8Array(700) },
  });
  valid = await readFile(file);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test(
  'random and mutated image archives: contents or a refusal; an unpack never leaves its folder',
  { timeout: 300_000 },
  async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4_096 }).map((b) => Buffer.from(b)),
          fc
            .tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 30 }))
            .map(([i, b, k]) => {
              const c = Buffer.from(valid);
              for (let j = 0; j <= k && i + j * 97 < c.length; j++) c[i + j * 97] = b;
              return c;
            }),
          fc.nat({ max: valid.length }).map((i) => valid.subarray(0, i)),
        ),
        fc.boolean(),
        async (bytes, unpack) => {
          const file = join(work, `a${++n}.tar`);
          const into = join(work, `u${n}`);
          await writeFile(file, bytes);
          try {
            const c = await readImageArchive(
              file,
              { maxEntries: 50, maxUnpackedBytes: 65_536 },
              unpack ? { into } : {},
            );
            assert.equal(c.manifest.model, 'plug');
          } catch (err) {
            assert.ok(
              err instanceof UpdateRefusedError &&
                (err.code === 'UPDATE_IMAGE_INVALID' || err.code === 'UPDATE_TOO_LARGE'),
              `${(err as Error).name}: ${String(err)}`,
            );
          } finally {
            await rm(file, { force: true });
            await rm(into, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: ARCHIVE_RUNS },
    );
    assert.deepEqual((await readdir(work)).sort(), ['valid.tar'], 'nothing was written outside the unpack folders');
  },
);
