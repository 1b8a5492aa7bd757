// Release notes: the owner's note (the risk a release fixes, what installing interrupts) is
// signed into the image's custom data, refused when malformed, and shown by the device as soon
// as it has seen the release.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  buildReferenceImage,
  publishImage,
  startRepositoryServer,
  type RepositoryServer,
} from '../../src/release/index.ts';
import { parseImageTargetCustom, ReleaseError } from '../../src/update/index.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { makeUpdateWorld } from './support.ts';

const NOTES = {
  risk: 'fixes a lockout bypass on the admin page',
  interruption: 'the plug restarts: about 10 s without switching',
};
let server: RepositoryServer | undefined;
let agent: DeviceAgent | undefined;
after(async () => {
  await agent?.close();
  await server?.close();
});

test(
  'a release carries its signed note; the device keeps it and shows it before it installs',
  { timeout: 120_000 },
  async () => {
    const world = await makeUpdateWorld();
    const artifact = join(world.work, 'img.tar');
    await buildReferenceImage(artifact, { model: 'plug', version: '9.0.0', securityVersion: 1 });
    await assert.rejects(
      publishImage({
        repoDir: world.repoDir,
        artifact,
        model: 'plug',
        version: '9.0.0',
        notes: { risk: '', interruption: 'x' },
      }),
      (err: unknown) => err instanceof ReleaseError && err.code === 'RELEASE_NOTES_INVALID',
    );
    await assert.rejects(
      publishImage({
        repoDir: world.repoDir,
        artifact,
        model: 'plug',
        version: '9.0.0',
        notes: { risk: 'line\nbreak', interruption: 'x' },
      }),
      (err: unknown) => err instanceof ReleaseError && err.code === 'RELEASE_NOTES_INVALID',
    );
    await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version: '9.0.0', notes: NOTES });
    assert.deepEqual(
      parseImageTargetCustom({
        format: 'bulwark-image/1',
        model: 'plug',
        version: '9.0.0',
        securityVersion: 1,
        notes: NOTES,
      }).notes,
      NOTES,
    );
    assert.throws(
      () =>
        parseImageTargetCustom({
          format: 'bulwark-image/1',
          model: 'plug',
          version: '9.0.0',
          securityVersion: 1,
          notes: { ...NOTES, extra: 1 },
        }),
      /notes/,
    );
    server = await startRepositoryServer({ repoDir: world.repoDir });
    agent = await startDeviceAgent({
      bundleDir: world.unit.dir,
      stateDir: join(world.work, 'state'),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      update: { config: { repositoryUrl: server.url } },
    });
    const r = await agent.updater.checkNow({ manual: true });
    // An agent without a supervisor cannot switch images; it has seen the release.
    assert.equal(r.outcome, 'up-to-date');
    assert.deepEqual(agent.updater.status().latest?.notes, NOTES);
    const latest = agent.updater.facts().find(([k]) => k === 'Latest available')?.[1] ?? '';
    assert.match(latest, /9\.0\.0 .*fixes a lockout bypass.*installing: the plug restarts/);
  },
);
