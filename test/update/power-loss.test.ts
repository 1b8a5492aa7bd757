// Power loss: the whole device (supervisor and agent, one process group) is killed with SIGKILL
// at random moments while it downloads, unpacks, switches to and first boots new images, at
// least 100 times. After every power-on the device must boot, and what it boots must be a
// published, signed image exactly as it was signed (old or new), never a mixture of two. A unit
// booted from a slot takes the next image as a delta, so some cuts land in delta installs too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, lstat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeUpdateWorld, UpdateServer, writeUpdateConfig, DeviceProcess, type Ready } from './support.ts';
import { buildReferenceImage, publishImage } from '../../src/release/index.ts';
import { readImageArchive, readBootState } from '../../src/update/index.ts';

/** Power cuts (the issue asks for at least 100). */
const CUTS = 100;
/** A bound on the whole test, ms (2 shared cores; measured alone: 345 s for 100 cuts). */
const BUDGET_MS = 600_000;
/** Image download rate the server allows, bytes per second: slow enough that cuts land inside downloads. */
const SERVE_RATE = 12 * 1_048_576;

type Target = 'downloading' | 'unpacking' | 'switching' | 'first boot' | 'anywhere';
const TARGETS: readonly Target[] = ['downloading', 'unpacking', 'switching', 'first boot', 'anywhere'];
/** After the target moment is seen, the cut comes within this many ms (uniformly at random). */
const EXTRA_MS: Record<Target, number> = {
  downloading: 90,
  unpacking: 60,
  switching: 5,
  'first boot': 300,
  anywhere: 1_000,
};

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path) as AsyncIterable<Buffer>) h.update(c);
  return h.digest('hex');
}

async function filesOf(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(dir, rel))) {
    const path = rel ? `${rel}/${name}` : name;
    const info = await lstat(join(dir, path));
    if (info.isDirectory()) out.push(...(await filesOf(dir, path)));
    else out.push(path);
  }
  return out;
}

test(
  `${CUTS} power cuts during download, unpack, switch and first boot: every boot runs one whole signed image`,
  { timeout: BUDGET_MS + 45_000 },
  async () => {
    const started = Date.now();
    const world = await makeUpdateWorld();
    const server = await UpdateServer.start(world.repoDir);
    // Images and deltas are served at a bounded rate (and only while the device reads), so downloads take a while.
    server.attack(/\/targets\/plug\/(?:deltas\/)?[0-9a-f]{64}\.[0-9a-f.]*(?:image\.tar|zst)$/, (req, res) => {
      const rel = (req.url ?? '').split('/targets/').pop()!;
      readFile(join(world.repoDir, 'targets', rel)).then(
        (bytes) => {
          res.writeHead(200, { 'content-length': bytes.length });
          let at = 0;
          const step = 65_536;
          const t = setInterval(
            () => {
              if (res.destroyed || at >= bytes.length) {
                clearInterval(t);
                res.end();
                return;
              }
              res.write(bytes.subarray(at, at + step));
              at += step;
            },
            Math.round((step / SERVE_RATE) * 1000),
          );
        },
        () => {
          res.writeHead(404);
          res.end();
        },
      );
    });
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      restartDelayMs: 0,
      healthTimeoutMs: 30_000,
      maxTrialBoots: 3,
    });
    const stateDir = join(world.work, 'state');
    const published = new Map<string, Map<string, string>>(); // version -> path -> sha256
    let n = 0;
    const publishNext = async (): Promise<string> => {
      const version = `1.0.${++n}`;
      const files: Record<string, Uint8Array> = { 'data/large.bin': randomBytes(1_048_576) };
      for (let i = 0; i < 40; i++) files[`data/part-${String(i).padStart(2, '0')}.bin`] = randomBytes(8_192);
      const artifact = join(world.work, `image-${version}.tar`);
      await buildReferenceImage(artifact, { model: 'plug', version, securityVersion: 1, files });
      const contents = await readImageArchive(artifact, { maxEntries: 1_000, maxUnpackedBytes: 64 * 1_048_576 });
      published.set(version, new Map(contents.files.map((f) => [f.path, f.sha256])));
      await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version });
      return version;
    };

    /** What a power-on must find: a readable boot state and a slot holding exactly one published image. */
    const assertBootable = async (r: Ready, cut: number): Promise<void> => {
      const boot = await readBootState(stateDir);
      assert.equal(boot.problem, undefined, `cut ${cut}: boot.json unreadable`);
      if (r.slot === 'factory') {
        assert.equal(r.firmware, '0.1.0', `cut ${cut}`);
        return;
      }
      const expected = published.get(r.firmware);
      assert.ok(expected, `cut ${cut}: firmware ${r.firmware} was never published`);
      const dir = join(stateDir, 'firmware', 'slots', r.slot);
      const found = (await filesOf(dir)).filter((p) => p !== '.slot.json' && p !== '.slot.image.tar').sort();
      assert.deepEqual(
        found,
        [...expected.keys()].sort(),
        `cut ${cut}: slot ${r.slot} holds other files than ${r.firmware}`,
      );
      for (const [path, sha] of expected)
        assert.equal(
          await sha256Of(join(dir, path)),
          sha,
          `cut ${cut}: ${path} in slot ${r.slot} is not ${r.firmware}'s`,
        );
    };

    const landed: Record<string, number> = {};
    let deltaCuts = 0;
    const booted = new Set<string>();
    let device: DeviceProcess | undefined;
    try {
      await publishNext();
      for (let cut = 1; cut <= CUTS; cut++) {
        const sofar = `${JSON.stringify(landed)}, ${deltaCuts} in delta installs`;
        assert.ok(Date.now() - started < BUDGET_MS, `over the time budget after ${cut - 1} cuts (${sofar})`);
        device = new DeviceProcess({ bundle: world.unit.dir, state: stateDir, updateUrl: server.url, configFile });
        const ready = await device.ready(1, 60_000);
        await assertBootable(ready, cut);
        booted.add(`${ready.firmware}@${ready.slot}`);
        const target = TARGETS[cut % TARGETS.length]!;
        const d = device;
        const from = d.lines.length;
        const trialsBefore = (d.stderr.match(/, on trial/g) ?? []).length;
        if (target === 'first boot') {
          await d
            .waitFor(
              () => (d.stderr.match(/, on trial/g) ?? []).length > trialsBefore || undefined,
              15_000,
              'a trial boot',
            )
            .catch(() => undefined);
        } else if (target !== 'anywhere') {
          await d
            .waitFor(() => d.lines.slice(from).find((l) => l.startsWith(`update: ${target}`)), 15_000, target)
            .catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, Math.random() * EXTRA_MS[target]));
        // Where the cut landed, as far as the device had said.
        const last =
          d.lines
            .slice(from)
            .filter((l) => l.startsWith('update: ') || l.includes(' ready: '))
            .at(-1) ?? '';
        const trialNow = (d.stderr.match(/, on trial/g) ?? []).length > trialsBefore && !/update: healthy/.test(last);
        const phase =
          trialNow && / ready: |restarting|installed|^update: up-to-date/.test(last)
            ? 'first boot'
            : (/^update: (\w+)/.exec(last)?.[1] ?? 'boot');
        landed[phase] = (landed[phase] ?? 0) + 1;
        const download = d.lines.slice(from).findLast((l) => l.startsWith('update: downloading')) ?? '';
        if (/: delta from /.test(download) && ['downloading', 'unpacking', 'switching'].includes(phase)) deltaCuts++;
        await d.kill('SIGKILL');
        await publishNext(); // a newer image is always waiting at the next power-on
      }
      // After the last cut the device still boots, and still updates itself to the newest image.
      device = new DeviceProcess({ bundle: world.unit.dir, state: stateDir, updateUrl: server.url, configFile });
      await assertBootable(await device.ready(1, 60_000), CUTS + 1);
      const newest = `1.0.${n}`;
      const d = device;
      const final = await d.waitFor(
        () => d.readies.find((r) => r.firmware === newest),
        60_000,
        `the newest image ${newest}`,
      );
      await assertBootable(final, CUTS + 2);
      await d.waitFor(
        () => d.decision(new RegExp(`^update: healthy ${newest.replace(/\./g, '\\.')}`)),
        60_000,
        'its health report',
      );
    } finally {
      await device?.kill('SIGTERM');
      await server.close();
    }
    process.stderr.write(
      `power-loss: ${CUTS} cuts in ${Math.round((Date.now() - started) / 1000)} s; ` +
        `landed in ${JSON.stringify(landed)} (${deltaCuts} in delta installs); ` +
        `booted ${booted.size} distinct image/slot pairs\n`,
    );
    assert.ok(deltaCuts >= 3, `cuts in delta installs: ${deltaCuts}`);
    for (const phase of ['downloading', 'unpacking', 'first boot'])
      assert.ok((landed[phase] ?? 0) >= 3, `cuts landed in ${phase}: ${landed[phase] ?? 0}`);
    assert.ok(
      (landed.switching ?? 0) + (landed.restarting ?? 0) + (landed.installed ?? 0) >= 3,
      `cuts around the switch: ${JSON.stringify(landed)}`,
    );
  },
);
