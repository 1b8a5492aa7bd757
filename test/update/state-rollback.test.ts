// A/B for the data as well as the code (issue 25): an image that writes a newer state format and then
// fails its trial leaves the older image state it can read. Image 1.2.0 is this checkout with the
// owner file at version 2 (a field added, with its migration up and down) and no health report; the
// unit installs it, 1.2.0 migrates owner.json to version 2 at its first start, fails its trial boots
// and the unit falls back to the factory image, which reads the copy 1.2.0 left for version 1: the
// owner's password still works, and nothing is moved aside.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  makeUpdateWorld,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  copyCheckout,
  type UpdateWorld,
} from './support.ts';
import { WebClient } from '../support/device.ts';
import { buildDeviceImage, publishImage } from '../../src/release/index.ts';

const OWNER_PASSWORD = 'violet-harbour-lantern-93';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess | undefined;

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

/** Replaces `from` by `to` in a file of the copy, and insists the text was there. */
async function patch(root: string, file: string, from: string | RegExp, to: string): Promise<void> {
  const path = join(root, file);
  const before = await readFile(path, 'utf8');
  const after = before.replace(from, to);
  assert.notEqual(after, before, `${file} no longer has ${String(from)}: update this test's patch`);
  await writeFile(path, after);
}

/** This checkout with owner.json at version 2 and no health report: the image that fails after a migration. */
async function newerFormatSource(): Promise<string> {
  const root = await copyCheckout(join(world.work, 'source-1.2.0'));
  const owner = 'src/web/owner-state.ts';
  // Only parseOwner's check: the monitoring choice's parser has the same words.
  await patch(root, owner, /(function parseOwner[^]*?)o\.version !== 1 \|\|/, '$1o.version !== 2 ||');
  await patch(root, owner, 'return { version: 1, username: o.username,', 'return { version: 2, username: o.username,');
  await patch(
    root,
    owner,
    'owner: { name: OWNER_FILE, version: 1, parse: parseOwner },',
    'owner: { name: OWNER_FILE, version: 2, parse: parseOwner, migrations: [{ ' +
      "up: (v: Record<string, unknown>) => ({ ...v, recoveryHint: 'none' }), " +
      'down: ({ recoveryHint: _h, ...v }: Record<string, unknown>) => v }] },',
  );
  // Never commits: its trial boots end at the health deadline.
  await patch(
    root,
    'src/update/updater-core.ts',
    'async reportHealthy(): Promise<void> {',
    'async reportHealthy(): Promise<void> {\n    await new Promise<void>(() => undefined);',
  );
  return root;
}

test(
  'an image that migrates owner.json to version 2 and fails its trial leaves the older image state it reads',
  { timeout: 240_000 },
  async () => {
    const unit = world.unit;
    const state = join(world.work, 'state');
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      restartDelayMs: 0,
      healthTimeoutMs: 8_000,
      maxTrialBoots: 2,
    });
    device = new DeviceProcess({ bundle: unit.dir, state, updateUrl: server.url, configFile });
    const first = await device.ready(1, 60_000);
    const c = await WebClient.for(first.url, unit);
    await c.login(unit.adminPassword!);
    assert.equal((await c.changePassword(unit.adminPassword!, OWNER_PASSWORD)).status, 303);

    const artifact = join(world.work, 'plug-1.2.0.tar');
    await buildDeviceImage(artifact, {
      model: 'plug',
      version: '1.2.0',
      securityVersion: 1,
      sourceRoot: await newerFormatSource(),
    });
    await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version: '1.2.0' });
    await device.waitFor(() => device!.readies.find((r) => r.firmware === '1.2.0'), 90_000, '1.2.0 to boot');
    await device.waitFor(() => device!.decision(/^update: rolled-back 1\.2\.0/), 90_000, 'the rollback of 1.2.0');
    // The rollback is decided as the factory image starts; its ready line follows.
    const back = await device.waitFor(
      () => (device!.readies.at(-1)?.slot === 'factory' ? device!.readies.at(-1) : undefined),
      60_000,
      'the factory image to be ready',
    );
    assert.deepEqual([back.firmware, back.slot], ['0.1.0', 'factory']);

    const ownerFile = JSON.parse(await readFile(join(state, 'web', 'owner.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([ownerFile.version, ownerFile.recoveryHint], [2, 'none'], '1.2.0 wrote its format');
    await stat(join(state, 'web', 'owner.v1.json'));
    const after = await WebClient.for(back.url, unit);
    assert.equal((await after.login(OWNER_PASSWORD)).status, 303, "the owner's password works on the older image");
    await stat(join(state, 'damaged')).then(
      () => assert.fail('nothing was moved aside'),
      () => undefined,
    );
  },
);
