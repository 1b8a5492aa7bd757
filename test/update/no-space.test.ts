// Space for updates (issue 25): an image that would not fit on the unit's storage beside the space
// kept for the owner's data is refused before a byte of it is downloaded (UPDATE_NO_SPACE), on a
// small filesystem of the test's own; the unit keeps running its image and says why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeUpdateWorld, publish, UpdateServer, writeUpdateConfig, DeviceProcess } from './support.ts';
import { mountSmallDisk, type SmallDisk } from '../support/small-disk.ts';

let disk: SmallDisk | undefined;
let server: UpdateServer | undefined;
let device: DeviceProcess | undefined;

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
  await disk?.unmount();
});

test(
  'an image that would not fit beside the reserve is refused before its download starts',
  { timeout: 120_000 },
  async (t) => {
    const world = await makeUpdateWorld();
    disk = await mountSmallDisk(t, join(world.work, 'disk'), 6 * 1024 * 1024);
    if (!disk) return;
    server = await UpdateServer.start(world.repoDir);
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      reservedBytes: 1_048_576,
    });
    // 2.5 MiB of image: the download and its slot take 5 MiB, which with 1 MiB kept free does not fit in 6.
    await publish(world, '1.1.0', 1, { files: { 'padding.bin': randomBytes(2_621_440) } });
    device = new DeviceProcess({
      bundle: world.unit.dir,
      state: join(disk.path, 'state'),
      updateUrl: server.url,
      configFile,
    });
    assert.equal((await device.ready(1, 60_000)).firmware, '0.1.0');
    const refused = await device.waitFor(
      () => device!.decision(/^update: refused 1\.1\.0 UPDATE_NO_SPACE/),
      30_000,
      'the refusal for space',
    );
    assert.match(refused, /stays free for the owner's data/);
    assert.equal(
      server.requests.some((path) => /image\.tar$/.test(path)),
      false,
      'not one byte of the image was asked for',
    );
    assert.equal(device.readies.length, 1, 'the unit keeps running its image');
  },
);
