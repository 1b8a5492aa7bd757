// Delta updates on a real unit: a unit installed from the repository keeps the image it installed
// and takes the next version as a delta from it; a tampered delta or a kept image that is not the
// delta's base is refused with a typed code, nothing is written to a slot for it, and the unit
// installs the full image instead. So is what a repository signs wrongly (its keys stolen, or a
// publisher's bug): a delta that rebuilds another image, an image signed for another model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, readFile, readdir, lstat, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  makeUpdateWorld,
  publish,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  ownerClient,
  updateJournal,
  resignTargets,
  type UpdateWorld,
} from './support.ts';
import { buildReferenceImage, makeDelta, type PublishResult } from '../../src/release/index.ts';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess;
/** Bytes served per request path under /targets/, in order. */
const served: Array<{ path: string; bytes: number }> = [];
/** Paths whose bytes the server flips one byte of (length unchanged, signed metadata intact). */
const tampered: RegExp[] = [];
const state = (): string => join(world.work, 'state');

/** Deterministic incompressible bytes: the bulk of an image that stays the same between versions. */
function noise(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Publishes plug `version`: 768 KiB shared by every version plus a small file of its own. */
function release(version: string): Promise<PublishResult> {
  const files = { 'lib/shared.bin': noise(786_432, 'shared'), 'lib/changes.txt': `fixed in ${version}\n` };
  return publish(world, version, 1, { files });
}

/** Changes one bit in the middle of `bytes`, keeping their length. */
function flipMiddleByte(bytes: Buffer): void {
  const i = bytes.length >> 1;
  bytes[i] = bytes[i]! ^ 0x01;
}

const DELTAS = /\/deltas\//;
const IMAGES = /\.image\.tar$/;

/** Serves every target from the repository folder, counting bytes and tampering where asked. */
function serveTargets(): void {
  server.attack(/\/targets\//, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const rel = path.slice(path.indexOf('/targets/') + '/targets/'.length);
    if (rel.includes('..')) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(world.repoDir, 'targets', rel)).then(
      (bytes) => {
        if (tampered.some((re) => re.test(path))) flipMiddleByte(bytes);
        served.push({ path, bytes: bytes.length });
        res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      },
      () => res.writeHead(404).end(),
    );
  });
}

/** Every file of both A/B slots and boot.json, with their hashes: what "nothing written" compares. */
async function slotSnapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) {
      const path = rel ? `${rel}/${name}` : name;
      if ((await lstat(join(dir, path))).isDirectory()) await walk(dir, path);
      else
        out[path] = createHash('sha256')
          .update(await readFile(join(dir, path)))
          .digest('hex');
    }
  };
  await walk(join(state(), 'firmware', 'slots'), '');
  out['boot.json'] = createHash('sha256')
    .update(await readFile(join(state(), 'firmware', 'boot.json')))
    .digest('hex');
  return out;
}

const running = (version: string): Promise<{ slot: string }> =>
  device.waitFor(() => device.readies.find((r) => r.firmware === version), 60_000, `firmware ${version}`);
const healthy = (version: string): Promise<string> =>
  device.waitFor(() => device.decision(new RegExp(`^update: healthy ${version}`)), 60_000, `${version} healthy`);
const downloadLine = (version: string): string | undefined =>
  device.decision(new RegExp(`^update: downloading ${version}`));

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
  serveTargets();
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

test('a unit on 1.1.0 from the repository gets 1.2.0 as a delta, downloading a small part of the image', async () => {
  const v1 = await release('1.1.0');
  const configFile = await writeUpdateConfig(world.work, {
    firstCheckDelayMs: 0,
    checkJitterMs: 0,
    checkIntervalMs: 1_000,
    restartDelayMs: 0,
    healthTimeoutMs: 30_000,
  });
  device = new DeviceProcess({ bundle: world.unit.dir, state: state(), updateUrl: server.url, configFile });
  assert.equal((await device.ready(1)).slot, 'factory');
  const slot1 = (await running('1.1.0')).slot;
  assert.match(downloadLine('1.1.0') ?? '', /: full image, /, 'the factory image keeps no base');
  assert.ok(!served.some((s) => s.path.includes('/deltas/')));
  const kept = join(state(), 'firmware', 'slots', slot1, '.slot.image.tar');
  assert.equal((await stat(kept)).size, v1.length, 'the slot keeps the archive it was installed from');
  await healthy('1.1.0');

  const before12 = served.length;
  const v2 = await release('1.2.0');
  assert.deepEqual(
    v2.deltas.map((d) => d.baseVersion),
    ['1.1.0'],
  );
  await running('1.2.0');
  assert.match(downloadLine('1.2.0') ?? '', /^update: downloading 1\.2\.0: delta from 1\.1\.0, \d+ KiB$/);
  const fetched = served.slice(before12);
  assert.ok(!fetched.some((s) => s.path.endsWith('.image.tar')), 'the full image is not downloaded');
  assert.ok(fetched.some((s) => s.path.includes('/deltas/')));
  const bytes = fetched.reduce((n, s) => n + s.bytes, 0);
  assert.ok(bytes < v2.length / 20, `${bytes} bytes downloaded for a ${v2.length}-byte image`);
  process.stderr.write(`delta-update: 1.2.0 by delta: ${bytes} bytes downloaded for a ${v2.length}-byte image\n`);
});

test('a tampered delta is refused (UPDATE_DELTA_INVALID), writing nothing; the full image installs', async () => {
  await healthy('1.2.0');
  tampered.push(DELTAS, IMAGES);
  const snapshot = await slotSnapshot();
  await release('1.3.0');
  await device.waitFor(() => device.decision(/^update: refused 1\.3\.0 UPDATE_IMAGE_HASH_MISMATCH/), 30_000, 'refusal');
  assert.match(downloadLine('1.3.0') ?? '', /full image, .*\(delta refused: UPDATE_DELTA_INVALID\)$/);
  assert.deepEqual(await slotSnapshot(), snapshot, 'the refusals wrote nothing to a slot or boot.json');

  tampered.splice(tampered.indexOf(IMAGES), 1);
  await running('1.3.0');
  assert.match(downloadLine('1.3.0') ?? '', /\(delta refused: UPDATE_DELTA_INVALID\)$/);
  const owner = await ownerClient(device.readies.at(-1)!.url, world.unit);
  const notes = (await updateJournal(owner)).filter((e) => e.event === 'delta').map((e) => e.detail);
  assert.ok(notes.includes('1.3.0: delta refused: UPDATE_DELTA_INVALID; full image'), JSON.stringify(notes));
});

test('a kept image that is not the delta base is refused (UPDATE_DELTA_BASE_MISMATCH) for the full image', async () => {
  const { slot } = await running('1.3.0');
  await healthy('1.3.0');
  tampered.length = 0;
  const kept = join(state(), 'firmware', 'slots', slot, '.slot.image.tar');
  const bytes = await readFile(kept);
  flipMiddleByte(bytes);
  await writeFile(kept, bytes);
  const before14 = served.length;
  const v4 = await release('1.4.0');
  await running('1.4.0');
  assert.match(downloadLine('1.4.0') ?? '', /full image, .*\(delta refused: UPDATE_DELTA_BASE_MISMATCH\)$/);
  assert.ok(!served.slice(before14).some((s) => s.path.includes('/deltas/')), 'the delta is never downloaded');
  assert.ok(served.slice(before14).some((s) => s.path.endsWith(`${v4.sha256}.image.tar`)));
});

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Holds the repository's timestamp back (503) until the returned function is called: the unit sees no release. */
function holdMetadata(): () => void {
  const hold: (typeof server.overrides)[number] = {
    path: /\/timestamp\.json$/,
    handle: (_req, res) => {
      res.writeHead(503).end();
    },
  };
  server.overrides.unshift(hold);
  return () => {
    server.overrides.splice(server.overrides.indexOf(hold), 1);
  };
}

test('a signed delta rebuilding another image is refused (UPDATE_DELTA_RESULT_MISMATCH), writing nothing', async () => {
  const { slot } = await running('1.4.0');
  await healthy('1.4.0');
  const release_ = holdMetadata();
  const base = await readFile(join(state(), 'firmware', 'slots', slot, '.slot.image.tar'));
  const v5 = await release('1.5.0');
  const other = join(world.work, 'not-1.5.0.tar');
  // The same length as 1.5.0 (one changed character), so only its hash tells it apart.
  const files = { 'lib/shared.bin': noise(786_432, 'shared'), 'lib/changes.txt': 'fixed in 9.9.9\n' };
  await buildReferenceImage(other, { model: 'plug', version: '1.5.0', securityVersion: 1, files });
  const wrong = await makeDelta(base, await readFile(other));
  assert.equal((await stat(other)).size, v5.length, 'the other image has the length of 1.5.0');
  await resignTargets(world, async (targets, m) => {
    const path = `plug/deltas/${sha256(base)}.zst`;
    const honest = targets[path];
    assert.ok(honest, 'the repository signed a delta from the running image');
    const folder = join(world.repoDir, 'targets', 'plug', 'deltas');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `${sha256(wrong)}.${sha256(base)}.zst`), wrong);
    const custom = honest.unrecognizedFields.custom!;
    targets[path] = new m.TargetFile({
      path,
      length: wrong.length,
      hashes: { sha256: sha256(wrong) },
      unrecognizedFields: { custom },
    });
  });
  tampered.push(IMAGES);
  const snapshot = await slotSnapshot();
  release_();
  await device.waitFor(() => device.decision(/^update: refused 1\.5\.0 UPDATE_IMAGE_HASH_MISMATCH/), 30_000, 'refusal');
  assert.match(downloadLine('1.5.0') ?? '', /full image, .*\(delta refused: UPDATE_DELTA_RESULT_MISMATCH\)$/);
  assert.deepEqual(await slotSnapshot(), snapshot, 'the refusals wrote nothing to a slot or boot.json');
  tampered.length = 0;
  await running('1.5.0');
});

test('an image signed for another model is refused before download (UPDATE_WRONG_MODEL), writing nothing', async () => {
  await healthy('1.5.0');
  const release_ = holdMetadata();
  await release('1.6.0');
  await resignTargets(world, (targets, m) => {
    const t = targets['plug/image.tar']!;
    const custom = { ...(t.unrecognizedFields.custom as Record<string, string>), model: 'bulb' };
    targets['plug/image.tar'] = new m.TargetFile({
      path: t.path,
      length: t.length,
      hashes: t.hashes,
      unrecognizedFields: { custom },
    });
  });
  const snapshot = await slotSnapshot();
  const before16 = served.length;
  release_();
  await device.waitFor(() => device.decision(/^update: refused 1\.6\.0 UPDATE_WRONG_MODEL/), 30_000, 'refusal');
  assert.ok(!served.slice(before16).some((s) => s.path.endsWith('.image.tar')), 'the image is never downloaded');
  assert.deepEqual(await slotSnapshot(), snapshot, 'nothing written to a slot or boot.json');
});
