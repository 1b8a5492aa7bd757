// Issue 14 (4): anyone who knows a serial (it is on the label and in the web certificate) must not
// be able to keep its owner from claiming it. The owner presses the button (the claim window
// opens), three throwaway accounts send 10 wrong claim codes for that serial, then the owner's
// right code inside the window gets 201; the serial is flagged to the maker. Bounded: 10 wrong
// claims, one device, one cloud.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCloud } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton } from '../../src/device/index.ts';
import { makeUnits, ApiClient, waitFor } from '../cloud/support.ts';

const PASSWORD = 'marble falcon tundra 42 softly';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

test("10 wrong claims from 3 other accounts, then the owner's right claim: 201", { timeout: 120_000 }, async () => {
  const fleet = await makeUnits('plug', 1);
  const unit = fleet.units[0]!;
  const cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  closers.push(() => cloud.close());
  const devState = join(fleet.work, 'dev');
  const agent = await startDeviceAgent({
    bundleDir: unit.dir,
    stateDir: devState,
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
  });
  closers.push(() => agent.close());
  await waitFor(() => agent.cloud?.connected, 15_000, 'the device to connect');

  const owner = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  assert.equal((await owner.signUp(cloud.mail.maildir, 'owner@example.com', PASSWORD)).status, 200);
  assert.match(await pressButton(devState, 'press'), /claim window open/);
  const windowOpen = async (): Promise<boolean> =>
    ((await cloud.store.getDevice(unit.serial))?.claimWindowUntil ?? 0) > Date.now();
  await waitFor(windowOpen, 5_000, 'the claim window');

  const statuses: number[] = [];
  const perAccount = [4, 3, 3];
  for (let a = 0; a < perAccount.length; a++) {
    const stranger = new ApiClient(cloud.api.url, cloud.credentials.caCertPem, `127.0.0.${50 + a}`);
    assert.equal((await stranger.signUp(cloud.mail.maildir, `stranger${a}@example.com`, PASSWORD)).status, 200);
    for (let i = 0; i < perAccount[a]!; i++) {
      statuses.push((await stranger.claim(unit.serial, `WXYZ-WXYZ-WXYZ-WX${a + 2}${i + 2}`)).status);
    }
  }
  assert.deepEqual(statuses, Array(10).fill(403), 'every wrong code is refused');

  const claimed = await owner.claim(unit.serial, unit.claimCode);
  assert.equal(claimed.status, 201, `the owner's right code inside the window: ${claimed.body}`);
  assert.equal((await cloud.store.getDevice(unit.serial))!.ownerId !== null, true);
  const flood = (await cloud.store.claimFloods(10)).find((f) => f.serial === unit.serial);
  assert.ok(flood && flood.failures >= 10, 'the flood against the serial is flagged for the maker');
});
