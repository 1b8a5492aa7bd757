import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readImageArchive } from './archive.ts';

const limits = { maxEntries: 100, maxUnpackedBytes: 1 << 20 };

/** A hand-made ustar archive, so tests can say exactly what a hostile archive holds. */
function ustar(entries: Array<{ name: string; type?: string; data?: string; link?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const manifest = JSON.stringify({
  format: 'bulwark-image/1',
  model: 'plug',
  version: '1.0.0',
  securityVersion: 1,
  entry: 'agent.mjs',
});

async function work(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bulwark-archive-'));
}

test('a gzipped image is read too', async () => {
  const dir = await work();
  await writeFile(
    join(dir, 'i.tgz'),
    gzipSync(
      ustar([
        { name: 'image.json', data: manifest },
        { name: 'agent.mjs', data: '//' },
      ]),
    ),
  );
  assert.equal((await readImageArchive(join(dir, 'i.tgz'), limits)).manifest.model, 'plug');
});

/** An archive of a manifest and an agent, then `extra` entries. */
function imageWith(...extra: Parameters<typeof ustar>[0]): Buffer {
  return ustar([{ name: 'image.json', data: manifest }, { name: 'agent.mjs', data: '//' }, ...extra]);
}

const hostile: Array<[string, Buffer]> = [
  ['a path that climbs out', imageWith({ name: '../escape.js', data: 'x' })],
  ['an absolute path', imageWith({ name: '/etc/evil', data: 'x' })],
  [
    'a symbolic link',
    ustar([
      { name: 'image.json', data: manifest },
      { name: 'agent.mjs', type: '2', link: '/etc/passwd' },
    ]),
  ],
  ['a hard link', imageWith({ name: 'h', type: '1', link: 'agent.mjs' })],
  ['a device node', imageWith({ name: 'dev', type: '3' })],
  ['a duplicate path', imageWith({ name: 'agent.mjs', data: 'again' })],
  ['a hidden file', imageWith({ name: '.slot.json', data: '{}' })],
  ['no image.json', ustar([{ name: 'agent.mjs', data: '//' }])],
  ['a missing entry point', ustar([{ name: 'image.json', data: manifest }])],
  [
    'a malformed image.json',
    ustar([
      { name: 'image.json', data: '{"format":"bulwark-image/1"' },
      { name: 'agent.mjs', data: '//' },
    ]),
  ],
  ['garbage', Buffer.alloc(4096, 0x41)],
];

for (const [what, bytes] of hostile) {
  test(`refuses an archive with ${what}, leaving nothing behind`, async () => {
    const dir = await work();
    await writeFile(join(dir, 'x.tar'), bytes);
    await assert.rejects(readImageArchive(join(dir, 'x.tar'), limits, { into: join(dir, 'slot') }), {
      code: 'UPDATE_IMAGE_INVALID',
    });
    assert.equal(existsSync(join(dir, 'slot')), false);
    assert.equal(existsSync(join(dir, 'escape.js')), false);
    assert.deepEqual((await readdir(dir)).sort(), ['x.tar']);
  });
}

test('refuses more entries or more bytes than its limits', async () => {
  const dir = await work();
  const many = ustar([
    { name: 'image.json', data: manifest },
    { name: 'agent.mjs', data: '//' },
    ...Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, data: 'x' })),
  ]);
  await writeFile(join(dir, 'many.tar'), many);
  await assert.rejects(readImageArchive(join(dir, 'many.tar'), { maxEntries: 5, maxUnpackedBytes: 1 << 20 }), {
    code: 'UPDATE_IMAGE_INVALID',
  });
  const big = ustar([
    { name: 'image.json', data: manifest },
    { name: 'agent.mjs', data: 'x'.repeat(5000) },
  ]);
  await writeFile(join(dir, 'big.tar'), big);
  await assert.rejects(readImageArchive(join(dir, 'big.tar'), { maxEntries: 5, maxUnpackedBytes: 4096 }), {
    code: 'UPDATE_TOO_LARGE',
  });
});
