// Updates from a file, for units that never reach the internet: `bulwark release export` writes the
// current image with its signed metadata; `bulwark device update --file` installs it on a stopped
// unit with the checks of an online update. Every refusal is typed, journalled and writes no slot.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, makeUpdateWorld, publish, type UpdateWorld } from './support.ts';
import { installUpdateFile } from '../../src/device/index.ts';
import { exportUpdateFile, initRepository } from '../../src/release/index.ts';
import { provisionUnits } from '../../src/identity/index.ts';
import { ConnectionJournal } from '../../src/journal/index.ts';
import { loadTar, readBootState } from '../../src/update/index.ts';
import { raiseSecurityCounter } from '../../src/update/slots.ts';

let world: UpdateWorld;
let file110: string;

before(async () => {
  world = await makeUpdateWorld();
  await publish(world, '1.1.0', 1);
  file110 = join(world.work, 'plug-1.1.0.update');
  await exportUpdateFile({ repoDir: world.repoDir, model: 'plug', version: '1.1.0', out: file110 });
});

let states = 0;
/** A stopped unit's empty state folder: it runs its factory image. */
async function freshState(): Promise<string> {
  const dir = join(world.work, `state-${++states}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function install(stateDir: string, file: string) {
  return installUpdateFile({ bundleDir: world.unit.dir, stateDir, file });
}

/** The unit's update journal entries, oldest first. */
async function journal(stateDir: string): Promise<Array<{ source: string; event: string; detail?: string }>> {
  const j = await ConnectionJournal.open({ stateDir, privacyClass: 'standard' });
  try {
    return j
      .list({ limit: 200, surface: 'update' })
      .reverse()
      .map((e) => ({ source: e.source, event: e.event, ...(e.detail ? { detail: e.detail } : {}) }));
  } finally {
    await j.close();
  }
}

/** Nothing was written to a slot and the boot state still names the factory image. */
async function assertUntouched(stateDir: string): Promise<void> {
  const slots = await readdir(join(stateDir, 'firmware', 'slots')).catch(() => []);
  assert.deepEqual(slots, [], 'no slot was written');
  assert.equal((await readBootState(stateDir)).state.active, 'factory');
}

/** Rewrites the update file through `edit` on its unpacked files. */
async function repack(from: string, to: string, edit: (dir: string) => Promise<void>): Promise<void> {
  const tar = await loadTar();
  const dir = await mkdtemp(join(world.work, 'repack-'));
  await tar.extract({ file: from, cwd: dir });
  await edit(dir);
  const names = ['update.json', 'metadata', 'targets'];
  await tar.create({ file: to, cwd: dir, portable: true }, names);
  await rm(dir, { recursive: true, force: true });
}

test('release export writes the image and its metadata chain; the stopped unit installs it on trial', async () => {
  const listing: string[] = [];
  const tar = await loadTar();
  await tar.list({ file: file110, onReadEntry: (e) => listing.push(e.path) });
  assert.equal(listing[0], 'update.json');
  assert.ok(listing.includes('metadata/1.root.json') && listing.includes('metadata/timestamp.json'));
  assert.ok(listing.some((p) => /^targets\/plug\/[0-9a-f]{64}\.image\.tar$/.test(p)));
  const state = await freshState();
  const r = await install(state, file110);
  assert.equal(r.outcome, 'installed', JSON.stringify(r));
  const boot = (await readBootState(state)).state;
  assert.deepEqual([boot.active, boot.trial?.version], ['a', '1.1.0']);
  const image = JSON.parse(await readFile(join(state, 'firmware', 'slots', 'a', 'image.json'), 'utf8')) as {
    version: string;
  };
  assert.equal(image.version, '1.1.0');
  const entries = await journal(state);
  assert.ok(entries.every((e) => e.source === 'local'));
  assert.ok(entries.some((e) => e.event === 'file' && /an update file for plug 1\.1\.0/.test(e.detail ?? '')));
  assert.ok(entries.some((e) => e.event === 'installed' && /1\.1\.0 installed in slot a/.test(e.detail ?? '')));
  assert.deepEqual(await readdir(join(state, 'update')).then((n) => n.includes('from-file')), false, 'cleaned up');
});

test('a tampered image in the file is refused by its signed hash, and nothing is written to a slot', async () => {
  const tampered = join(world.work, 'tampered-image.update');
  await writeFile(tampered, await readFile(file110));
  const size = (await stat(tampered)).size;
  // The image is the last entry: two blocks before the end marker lie wholly inside its data.
  const h = await open(tampered, 'r+');
  const at = size - 1024 - 512 - 100;
  const b = Buffer.alloc(1);
  await h.read(b, 0, 1, at);
  b[0] = b[0]! ^ 0x01;
  await h.write(b, 0, 1, at);
  await h.close();
  const state = await freshState();
  const r = await install(state, tampered);
  assert.deepEqual([r.outcome, r.code], ['refused', 'UPDATE_IMAGE_HASH_MISMATCH'], JSON.stringify(r));
  await assertUntouched(state);
  assert.ok((await journal(state)).some((e) => e.event === 'refused' && /UPDATE_IMAGE_HASH_MISMATCH/.test(e.detail!)));
});

test('tampered metadata in the file is refused by the TUF walk from the pinned root', async () => {
  const tampered = join(world.work, 'tampered-metadata.update');
  await repack(file110, tampered, async (dir) => {
    const md = join(dir, 'metadata');
    const name = (await readdir(md)).find((n) => n.endsWith('.targets.json'))!;
    const text = await readFile(join(md, name), 'utf8');
    await writeFile(join(md, name), text.replace('"1.1.0"', '"9.9.9"'));
  });
  const state = await freshState();
  const r = await install(state, tampered);
  assert.equal(r.outcome, 'refused');
  assert.match(r.code!, /^UPDATE_METADATA_/);
  await assertUntouched(state);
});

test('an older file than what has run on the unit is refused as a downgrade', async () => {
  const state = await freshState();
  await raiseSecurityCounter(state, 1, '1.2.0');
  const r = await install(state, file110);
  assert.deepEqual([r.outcome, r.code], ['refused', 'UPDATE_DOWNGRADE'], JSON.stringify(r));
  assert.match(r.detail!, /1\.1\.0 is older than 1\.2\.0/);
  await assertUntouched(state);
});

test('a truncated file and one over the bound are refused before any check, with typed codes', async () => {
  const truncated = join(world.work, 'truncated.update');
  const bytes = await readFile(file110);
  await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const state = await freshState();
  const t = await install(state, truncated);
  assert.deepEqual([t.outcome, t.code], ['refused', 'UPDATE_FILE_INVALID'], JSON.stringify(t));
  // Sparse: the size is what counts, and nothing of it is read.
  const huge = join(world.work, 'huge.update');
  const h = await open(huge, 'w');
  await h.truncate(600 * 1_048_576);
  await h.close();
  const o = await install(state, huge);
  assert.deepEqual([o.outcome, o.code], ['refused', 'UPDATE_TOO_LARGE'], JSON.stringify(o));
  const garbage = join(world.work, 'garbage.update');
  await writeFile(garbage, Buffer.alloc(4096, 0x41));
  const g = await install(state, garbage);
  assert.deepEqual([g.outcome, g.code], ['refused', 'UPDATE_FILE_INVALID'], JSON.stringify(g));
  await assertUntouched(state);
});

test('metadata expired while the unit was offline is accepted, journalled; older than the unit, refused', async () => {
  const repoDir = join(world.work, 'short-lived');
  await initRepository({ repoDir, factoryDir: world.fleet.factoryDir });
  await publish({ ...world, repoDir }, '1.1.0', 1, { expiry: { timestampSeconds: 1 } });
  const file = join(world.work, 'expired.update');
  const r = await exportUpdateFile({ repoDir, model: 'plug', version: '1.1.0', out: file });
  await new Promise((res) => setTimeout(res, Math.max(0, Date.parse(r.expires) - Date.now()) + 1_100));
  const state = await freshState();
  const done = await install(state, file);
  assert.equal(done.outcome, 'installed', JSON.stringify(done));
  const note = (await journal(state)).find((e) => /accepted metadata that expired/.test(e.detail ?? ''));
  assert.ok(note, 'the journal records the expired metadata it accepted');

  // A unit made after that metadata expired never trusted anything it could be as new as: refused.
  // The file cannot move the time it is judged by: a planted "metadata" file with an early expiry changes nothing.
  const [later] = await provisionUnits({
    factoryDir: world.fleet.factoryDir,
    model: 'plug',
    count: 1,
    outDir: join(world.work, 'later-units'),
  });
  const planted = join(world.work, 'expired-planted.update');
  await repack(file, planted, async (dir) => {
    await writeFile(join(dir, 'metadata', 'x.json'), JSON.stringify({ signed: { expires: '1970-01-02T00:00:00Z' } }));
  });
  for (const f of [file, planted]) {
    const fresh = await freshState();
    const r2 = await installUpdateFile({ bundleDir: later!.dir, stateDir: fresh, file: f });
    assert.deepEqual([r2.outcome, r2.code], ['refused', 'UPDATE_METADATA_EXPIRED'], JSON.stringify(r2));
    await assertUntouched(fresh);
  }
});

test('the CLI: export refuses a version not current; device update refuses a file for another model', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (e, out, err) =>
        resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
      );
    });
  const old = await run([
    'release',
    'export',
    '--repo',
    world.repoDir,
    '--model',
    'plug',
    '--version',
    '1.0.9',
    '--out',
    join(world.work, 'x.update'),
  ]);
  assert.notEqual(old.code, 0);
  assert.match(old.err, /RELEASE_VERSION_NOT_CURRENT: the current plug image is 1\.1\.0, not 1\.0\.9/);
  const bulbFile = join(world.work, 'bulb.update');
  await repack(file110, bulbFile, async (dir) => {
    const info = JSON.parse(await readFile(join(dir, 'update.json'), 'utf8')) as { model: string };
    await writeFile(join(dir, 'update.json'), JSON.stringify({ ...info, model: 'bulb' }));
  });
  const state = await freshState();
  const wrong = await run(['device', 'update', '--bundle', world.unit.dir, '--state', state, '--file', bulbFile]);
  assert.equal(wrong.code, 65, wrong.err);
  assert.match(wrong.err, /UPDATE_WRONG_MODEL: update file refused: the file is for bulb, this unit is a plug/);
  const ok = await run(['device', 'update', '--bundle', world.unit.dir, '--state', state, '--file', file110]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /installed 1\.1\.0: the unit boots it on trial at its next start/);
});
