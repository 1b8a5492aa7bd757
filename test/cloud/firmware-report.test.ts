// Update outcomes in the cloud, with real parts: the embedded broker and the cloud's store and owner
// app, the device's updater and its cloud link. A rollback the supervisor made before the link was
// up reaches the cloud when the link connects; a new outcome reaches it while connected; the owner's
// app says both in words; the maker's view counts the release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  startCloud,
  makerTokenSha256,
  openPostgresDriver,
  SqlStore,
  FIRMWARE_HISTORY,
  type CloudService,
} from '../../src/cloud/index.ts';
import { startAgentCloudLink } from '../../src/cloudlink/index.ts';
import { readDeviceBundle } from '../../src/bundle/index.ts';
import { firmwarePaths, prepareBoot, startUpdater, type DeviceUpdater } from '../../src/update/index.ts';
import { pressButton } from '../../src/device/index.ts';
import { makeUnits, ApiClient, waitFor, startPostgres } from './support.ts';
import { needTool } from '../support/tools.ts';
import { makeUpdateWorld, publish, UpdateServer, writeUpdateConfig, DeviceProcess } from '../update/support.ts';

const PASSWORD = 'marble falcon tundra 42 softly';
const MAKER_TOKEN = 'maker-token-for-the-firmware-test-0123456789';

/** The state a supervisor leaves after the third failed trial boot of 1.3.0 in slot a: its own decision, written. */
async function rolledBackState(stateDir: string): Promise<void> {
  const fw = firmwarePaths(stateDir);
  await mkdir(fw.dir, { recursive: true, mode: 0o700 });
  const trial = { boots: 3, version: '1.3.0', targetSha256: 'f'.repeat(64) };
  const boot = { format: 'bulwark-boot/1', active: 'a', previous: 'factory', trial };
  await writeFile(fw.boot, JSON.stringify(boot), { mode: 0o600 });
  const plan = await prepareBoot(stateDir, { maxTrialBoots: 3, maxImageEntries: 1_000 });
  assert.equal(plan.boot, 'factory', 'the supervisor falls back to the factory image');
}

async function deviceUpdater(unitDir: string, stateDir: string): Promise<DeviceUpdater> {
  const bundle = await readDeviceBundle(unitDir);
  const journal = { record: (): void => undefined };
  return startUpdater({ stateDir, bundle, journal, slot: 'factory' });
}

const noCapabilities = { list: () => [], invoke: () => Promise.resolve(undefined), onChange: () => undefined };

async function claim(cloud: CloudService, serial: string, code: string, open: () => Promise<boolean>) {
  const owner = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
  assert.equal((await owner.signUp(cloud.mail.maildir, 'owner@example.com', PASSWORD)).status, 200);
  assert.equal(await open(), true, 'the claim window opens');
  await waitFor(
    async () => ((await cloud.store.getDevice(serial))?.claimWindowUntil ?? 0) > Date.now(),
    5_000,
    'the claim window to open',
  );
  assert.equal((await owner.claim(serial, code)).status, 201);
  return owner;
}

test(
  "a rollback found at boot and a later refusal reach the cloud's store, the owner's app and the maker's counts",
  { timeout: 60_000 },
  async () => {
    const { work, factoryDir, units, manifest } = await makeUnits('plug', 1);
    const plug = units[0]!;
    const stateDir = join(work, 'state', plug.serial);
    await rolledBackState(stateDir);
    // The updater finds the rollback at its start, before any cloud link exists.
    const updater = await deviceUpdater(plug.dir, stateDir);
    assert.equal(updater.outcomes().at(-1)?.outcome, 'rolled-back');
    const cloud = await startCloud({
      factoryDir,
      stateDir: join(work, 'cloud'),
      manifests: [manifest],
      broker: { port: 0 },
      api: { port: 0, makerTokenSha256: makerTokenSha256(MAKER_TOKEN) },
    });
    const bundle = await readDeviceBundle(plug.dir);
    const agentLink = await startAgentCloudLink({
      identity: { serial: plug.serial, ...bundle },
      stateDir,
      url: cloud.brokerUrl,
      capabilities: noCapabilities,
      firmware: updater,
    });
    try {
      const fw = (await waitFor(
        async () => (await cloud.store.getDevice(plug.serial))?.firmware,
        15_000,
        'the firmware report',
      ))!;
      assert.equal(fw.running.version, updater.running.version);
      assert.equal(fw.running.slot, 'factory');
      assert.deepEqual(
        [fw.lastOutcome?.outcome, fw.lastOutcome?.version, fw.lastOutcome?.detail],
        ['rolled-back', '1.3.0', 'not healthy within 3 boots'],
      );

      const owner = await claim(cloud, plug.serial, plug.claimCode, () => agentLink.link.openClaimWindow());
      const page = await owner.send('GET', `/app/devices/${plug.serial}`);
      assert.equal(page.status, 200);
      assert.match(
        page.body,
        new RegExp(
          `<dt>Firmware</dt><dd>${updater.running.version} - last update: 1\\.3\\.0 rolled back ` +
            `\\(not healthy within 3 boots\\)</dd>`,
        ),
      );
      const api = await owner.send('GET', `/v1/devices/${plug.serial}`);
      const device = api.json.device as { firmware: { version: string; lastOutcome: { outcome: string } } };
      assert.equal(device.firmware.lastOutcome.outcome, 'rolled-back');

      // A new outcome while connected: an update file that is not one is refused, and the cloud hears it.
      const junk = join(work, 'junk.bin');
      await writeFile(junk, 'not an update file');
      const refused = await updater.installFile(junk);
      assert.equal(refused.outcome, 'refused');
      const last = (await waitFor(
        async () => {
          const o = (await cloud.store.getDevice(plug.serial))?.firmware?.lastOutcome;
          return o?.outcome === 'refused' ? o : undefined;
        },
        10_000,
        'the refusal to reach the cloud',
      ))!;
      assert.equal(last.code, refused.code);
      const history = await cloud.store.firmwareOutcomes(plug.serial, 10);
      assert.deepEqual(
        history.map((o) => o.outcome),
        ['refused', 'rolled-back'],
      );

      const maker = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
      maker.token = MAKER_TOKEN;
      const releases = (await maker.send('GET', '/v1/maker/releases')).json.releases as Array<Record<string, unknown>>;
      assert.deepEqual(
        releases.find((r) => r.version === '1.3.0'),
        {
          model: 'plug',
          version: '1.3.0',
          running: 0,
          installed: 0,
          committed: 0,
          rolledBack: 1,
        },
      );
      assert.equal(releases.find((r) => r.version === updater.running.version)?.running, 1);
    } finally {
      await agentLink.close();
      await updater.close();
      await cloud.close();
    }
  },
);

// Needs the agent to hand its updater to the cloud link: `firmware: parts.updater` in src/device/agent.ts's startCloud.
test(
  'a release that fails its trial boots on a supervised unit shows as rolled back, with why, in the cloud and the app',
  { timeout: 180_000 },
  async () => {
    const world = await makeUpdateWorld();
    const server = await UpdateServer.start(world.repoDir);
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      restartDelayMs: 0,
      healthTimeoutMs: 2_500,
      maxTrialBoots: 3,
    });
    await publish(world, '1.1.0', 1, {
      entrySource: 'process.stderr.write("self-test failed\\n");\nprocess.exit(1);\n',
    });
    const cloud = await startCloud({
      factoryDir: world.fleet.factoryDir,
      stateDir: join(world.work, 'cloud'),
      manifests: [join(world.work, 'units', 'manifest.json')],
      broker: { port: 0 },
      api: { port: 0 },
    });
    const state = join(world.work, 'state');
    const serial = world.unit.serial;
    const device = new DeviceProcess({
      bundle: world.unit.dir,
      state,
      updateUrl: server.url,
      configFile,
      extraArgs: ['--cloud', cloud.brokerUrl],
    });
    try {
      assert.equal((await device.ready(1)).firmware, '0.1.0');
      const back = await device.ready(2, 90_000);
      assert.deepEqual([back.firmware, back.slot], ['0.1.0', 'factory'], 'the unit fell back by itself');
      const last = (await waitFor(
        async () => {
          const fw = (await cloud.store.getDevice(serial))?.firmware;
          return fw?.lastOutcome?.outcome === 'rolled-back' ? fw : undefined;
        },
        20_000,
        'the rollback to reach the cloud',
      ))!;
      assert.equal(last.running.version, '0.1.0');
      assert.equal(last.lastOutcome!.version, '1.1.0');
      assert.equal(last.lastOutcome!.detail, 'not healthy within 3 boots');
      const owner = await claim(cloud, serial, world.unit.claimCode, async () =>
        /claim window open/.test(await pressButton(state, 'press')),
      );
      const page = await owner.send('GET', `/app/devices/${serial}`);
      assert.match(page.body, /<dd>0\.1\.0 - last update: 1\.1\.0 rolled back \(not healthy within 3 boots\)<\/dd>/);
      const releases = await cloud.store.releaseCounts();
      assert.deepEqual(
        releases.find((r) => r.version === '1.1.0'),
        { model: 'plug', version: '1.1.0', running: 0, installed: 1, committed: 0, rolledBack: 1 },
      );
    } finally {
      await device.kill('SIGTERM');
      await server.close();
      await cloud.close();
    }
  },
);

test('the firmware tables work the same on PostgreSQL', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'postgresql')) return;
  const pg = await startPostgres();
  const store = await SqlStore.open(await openPostgresDriver({ url: await pg.createDatabase('firmware') }));
  try {
    const unit = (serial: string): Parameters<SqlStore['importUnits']>[0][number] => ({
      serial,
      model: 'plug',
      deviceCertFingerprint: 'sha256:' + 'b'.repeat(64),
      claimCodeHash: 'sha256:' + 'a'.repeat(64),
      createdAt: '2026-01-01T00:00:00Z',
    });
    const [a, b] = ['PLG-AAAAAAAAAA', 'PLG-BBBBBBBBBB'];
    await store.importUnits([unit(a), unit(b)], 1);
    const running = (version: string) => ({ version, securityVersion: 1, slot: 'a' as const });
    const rolledBack = { n: 1, at: 1, outcome: 'rolled-back' as const, version: '1.3.0', detail: 'not healthy' };
    await store.recordFirmware(a, { at: 10, running: running('1.2.0'), outcomes: [rolledBack] }, 10);
    await store.recordFirmware(a, { at: 5, running: running('1.1.0'), outcomes: [rolledBack] }, 11);
    const healthy = { n: 2, at: 2, outcome: 'healthy' as const, version: '1.3.0' };
    await store.recordFirmware(b, { at: 10, running: running('1.3.0'), outcomes: [healthy] }, 10);
    const fw = (await store.getDevice(a))!.firmware!;
    assert.equal(fw.running.version, '1.2.0', 'an older report does not win');
    assert.deepEqual(fw.lastOutcome, rolledBack);
    assert.equal((await store.listDevices('nobody')).length, 0);
    assert.deepEqual(await store.releaseCounts(), [
      { model: 'plug', version: '1.2.0', running: 1, installed: 0, committed: 0, rolledBack: 0 },
      { model: 'plug', version: '1.3.0', running: 1, installed: 0, committed: 1, rolledBack: 1 },
    ]);
    for (let n = 3; n <= FIRMWARE_HISTORY + 5; n++)
      await store.recordFirmware(b, { at: 10 + n, running: running('1.3.0'), outcomes: [{ ...healthy, n }] }, n);
    const kept = await store.firmwareOutcomes(b, 1_000);
    assert.equal(kept.length, FIRMWARE_HISTORY);
    assert.equal(kept[0]!.n, FIRMWARE_HISTORY + 5);
  } finally {
    await store.close();
    await pg.stop();
  }
});
