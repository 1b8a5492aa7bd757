// The owner's controls on the admin page: automatic updates are on by default, can be turned off
// or postponed, and the page shows the installed version, the latest, and the last check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
import type { WebClient } from '../support/device.ts';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess;

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

async function action(o: { client: WebClient; csrf: string }, id: string): Promise<string> {
  const r = await o.client.send('POST', `/api/actions/${id}`, {
    form: { csrf: o.csrf },
    headers: { accept: 'application/json' },
  });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { message: string }).message;
}

test(
  'automatic updates on by default; off, nothing installs itself; a manual check still updates; postponing journaled',
  { timeout: 120_000 },
  async () => {
    await publish(world, '1.0.0', 1);
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      restartDelayMs: 100,
    });
    device = new DeviceProcess({
      bundle: world.unit.dir,
      state: join(world.work, 'state'),
      updateUrl: server.url,
      configFile,
    });
    // On by default: the factory image updates itself to 1.0.0 without anyone asking.
    const updated = await device.waitFor(
      () => device.readies.find((r) => r.firmware === '1.0.0'),
      60_000,
      '1.0.0 to boot',
    );
    await device.waitFor(() => device.decision(/^update: healthy 1\.0\.0/), 30_000, 'its health report');
    const owner = await ownerClient(updated.url, world.unit);

    const page = (await owner.client.get('/')).body;
    assert.match(page, /Firmware<\/dt><dd>1\.0\.0 \(slot a, security version 1\)/);
    assert.match(page, /Latest available<\/dt><dd>1\.0\.0/);
    assert.match(page, /Automatic updates<\/dt><dd>on; next check around/);
    for (const id of ['update-check', 'update-postpone', 'update-auto-off'])
      assert.match(page, new RegExp(`/api/actions/${id}`));
    assert.doesNotMatch(page, /\/api\/actions\/update-auto-on/, 'one control for the setting: it is on');

    assert.match(await action(owner, 'update-auto-off'), /automatic updates are off/);
    await publish(world, '1.1.0', 1);
    await new Promise((r) => setTimeout(r, 3_500)); // three automatic check times pass
    assert.equal(device.readies.length, 2, 'nothing was installed while automatic updates were off');
    const offPage = (await owner.client.get('/')).body;
    assert.match(offPage, /Automatic updates<\/dt><dd>off \(turned off by you\)/);
    assert.match(offPage, /\/api\/actions\/update-auto-on/);
    assert.doesNotMatch(offPage, /\/api\/actions\/update-auto-off/);

    assert.match(await action(owner, 'update-check'), /firmware 1\.1\.0 installed; the device restarts into it now/);
    const manual = await device.ready(3);
    assert.equal(manual.firmware, '1.1.0');
    const again = await ownerClient(manual.url, world.unit);
    assert.match(await action(again, 'update-postpone'), /automatic updates postponed until/);
    assert.match(await action(again, 'update-auto-on'), /automatic updates are on/);
    const events = (await updateJournal(again)).map((e) => e.event);
    for (const e of ['auto-update-off', 'postponed', 'auto-update-on', 'installed', 'healthy'])
      assert.ok(events.includes(e), `journal has ${e}: ${events.join(', ')}`);
  },
);

test('a device told to stop in the middle of a download stops at once', { timeout: 60_000 }, async () => {
  await publish(world, '1.2.0', 1);
  server.attack(/\.image\.tar$/, (_req, res) => {
    res.writeHead(200, { 'content-length': 1_000_000 });
    const t = setInterval(() => {
      if (res.destroyed) {
        clearInterval(t);
        return;
      }
      res.write('x');
    }, 200);
    setTimeout(() => {
      clearInterval(t);
      res.destroy();
    }, 30_000).unref();
  });
  await device.waitFor(() => device.decision(/^update: downloading 1\.2\.0/), 30_000, 'the download');
  const started = Date.now();
  await device.kill('SIGTERM');
  assert.ok(Date.now() - started < 5_000, `stopped in ${Date.now() - started} ms`);
});
