// A new image that does not report healthy within its first boots is abandoned by the
// supervisor, which goes back to the previous slot by itself; the device then refuses that
// image for good. And a slot whose files change after installation is not booted at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  makeUpdateWorld,
  publish,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  ownerClient,
  updateJournal,
  type UpdateWorld,
} from './support.ts';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess;
let configFile: string;
const state = (): string => join(world.work, 'state');

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
  configFile = await writeUpdateConfig(world.work, {
    firstCheckDelayMs: 0,
    checkJitterMs: 0,
    checkIntervalMs: 1_000,
    restartDelayMs: 0,
    healthTimeoutMs: 2_500,
    maxTrialBoots: 3,
  });
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

test(
  'an image that crashes on every boot is rolled back to the factory image after 3 boots, and never installed again',
  { timeout: 120_000 },
  async () => {
    const bad = await publish(world, '1.1.0', 1, {
      entrySource: 'process.stderr.write("self-test failed\\n");\nprocess.exit(1);\n',
    });
    device = new DeviceProcess({ bundle: world.unit.dir, state: state(), updateUrl: server.url, configFile });
    assert.equal((await device.ready(1)).firmware, '0.1.0');
    await device.waitFor(() => device.decision(/^update: installed 1\.1\.0/), 30_000, 'the install');
    const back = await device.ready(2, 60_000);
    assert.deepEqual([back.firmware, back.slot], ['0.1.0', 'factory']);
    assert.equal(
      (device.stderr.match(/trial boot of firmware 1\.1\.0 failed/g) ?? []).length,
      3,
      'exactly three trial boots',
    );
    assert.match(device.decision(/^update: rolled-back/) ?? '', /rolled-back 1\.1\.0: not healthy within 3 boots/);
    await device.waitFor(
      () => device.decision(/^update: refused 1\.1\.0 UPDATE_PREVIOUSLY_FAILED/),
      30_000,
      'the refusal of the failed image',
    );

    const owner = await ownerClient(back.url, world.unit);
    const entries = await updateJournal(owner);
    const rolled = entries.find((e) => e.event === 'rolled-back');
    assert.equal(rolled?.result, 'failure');
    assert.match(
      rolled?.detail ?? '',
      /firmware 1\.1\.0 abandoned: not healthy within 3 boots; running 0\.1\.0 from the factory image/,
    );
    const rejected = JSON.parse(await readFile(join(state(), 'firmware', 'rejected.json'), 'utf8')) as {
      images: Array<{ sha256: string }>;
    };
    assert.deepEqual(
      rejected.images.map((i) => i.sha256),
      [bad.sha256],
    );
  },
);

test(
  'an image that never reports healthy is ended at its health deadline and the previous slot boots again',
  { timeout: 120_000 },
  async () => {
    await publish(world, '1.1.1', 1);
    const good = await device.waitFor(
      () => device.readies.find((r) => r.firmware === '1.1.1'),
      60_000,
      '1.1.1 to boot',
    );
    assert.equal(good.slot, 'a');
    await device.waitFor(() => device.decision(/^update: healthy 1\.1\.1/), 30_000, '1.1.1 to report healthy');
    // Listens on nothing and says nothing: alive, but never healthy.
    await publish(world, '1.2.0', 1, { entrySource: 'setInterval(() => undefined, 1000);\n' });
    await device.waitFor(() => device.decision(/^update: installed 1\.2\.0/), 30_000, 'the install of 1.2.0');
    // 1.2.0's trial boots print no ready line: the next one is the fallback's, after boot.json says so.
    const readiesBefore = device.readies.length;
    await device.waitFor(() => device.decision(/^update: rolled-back 1\.2\.0/), 60_000, 'the rollback of 1.2.0');
    const back = await device.waitFor(() => device.readies[readiesBefore], 60_000, 'the fallback to be ready');
    assert.deepEqual([back.firmware, back.slot], ['1.1.1', 'a'], 'back on the previous slot, not the factory image');
    assert.equal((device.stderr.match(/firmware 1\.2\.0 did not report healthy within 2500 ms/g) ?? []).length, 3);
    const boot = JSON.parse(await readFile(join(state(), 'firmware', 'boot.json'), 'utf8')) as {
      active: string;
      trial: unknown;
      fallback: { from: string; to: string; reported: boolean };
    };
    assert.equal(boot.active, 'a');
    assert.equal(boot.trial, null);
    assert.deepEqual([boot.fallback.from, boot.fallback.to, boot.fallback.reported], ['b', 'a', true]);
  },
);

test('a slot whose files changed after installation is not booted (verified boot)', { timeout: 120_000 }, async () => {
  await device.kill('SIGTERM');
  await appendFile(join(state(), 'firmware', 'slots', 'a', 'agent.mjs'), '\n// changed on disk\n');
  device = new DeviceProcess({ bundle: world.unit.dir, state: state(), updateUrl: server.url, configFile });
  const r = await device.ready(1);
  assert.deepEqual([r.firmware, r.slot], ['0.1.0', 'factory']);
  assert.match(device.stderr, /slot a: agent\.mjs has changed since it was installed/);
  await device.waitFor(() => device.decision(/^update: rolled-back 1\.1\.1/), 30_000, 'the journal of the fallback');
});
