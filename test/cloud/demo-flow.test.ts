// The demo's cloud steps, with only the public building blocks the demo uses: cloud up, the plug
// connects, an owner registers and confirms the address from the maildir, a claim by serial alone is
// refused, the real claim succeeds after the button, and the owner switches the plug from the cloud.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCloud, OwnerApiClient, findMailedLink } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton } from '../../src/device/index.ts';
import { makeUnits, waitFor } from './support.ts';

test("the demo's cloud steps work with the exported building blocks", { timeout: 60_000 }, async () => {
  const { work, factoryDir, units, manifest } = await makeUnits('plug', 1);
  const plug = units[0]!;
  const cloud = await startCloud({
    factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  const state = join(work, 'state', plug.serial);
  const agent = await startDeviceAgent({
    bundleDir: plug.dir,
    stateDir: state,
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
  });
  try {
    assert.equal(await agent.cloud!.waitConnected(10_000), true, 'the plug connects over mutual TLS');
    const owner = new OwnerApiClient(cloud.api.url, cloud.credentials.caCertPem);
    assert.equal((await owner.register('owner@example.com', 'marble falcon tundra 42 softly')).status, 202);
    const link = await waitFor(
      () => findMailedLink(cloud.mail.maildir, 'owner@example.com', '/verify'),
      10_000,
      'the confirmation message in the maildir',
    );
    assert.equal((await owner.confirmAddress(new URL(link!).searchParams.get('token')!)).status, 200);
    assert.equal((await owner.login('owner@example.com', 'marble falcon tundra 42 softly')).status, 200);
    const alone = await owner.claim(plug.serial);
    assert.equal(alone.status, 400);
    assert.equal(alone.error?.code, 'INVALID_INPUT');
    const early = await owner.claim(plug.serial, plug.claimCode);
    assert.equal(early.error?.code, 'CLAIM_WINDOW_CLOSED');
    assert.match(await pressButton(state, 'press'), /claim window open/);
    let claimed = await owner.claim(plug.serial, plug.claimCode);
    // The window-open message may still be on its way to the cloud: one retry is what a person would do.
    for (let i = 0; i < 20 && claimed.error?.code === 'CLAIM_WINDOW_CLOSED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      claimed = await owner.claim(plug.serial, plug.claimCode);
    }
    assert.equal(claimed.status, 201);
    const on = await owner.command(plug.serial, 'power', 'on');
    assert.equal(on.body.command.status, 'done');
    assert.equal(agent.capabilities.list().find((c) => c.id === 'power')!.value, true);
  } finally {
    await agent.close();
    await cloud.close();
  }
});
