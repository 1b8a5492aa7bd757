import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FirmwareMessage, FirmwareOutcome } from '../cloudprotocol/index.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';
import { FIRMWARE_HISTORY } from './firmware-sql.ts';
import { DeviceTraffic } from './ingest.ts';
import { createOwnerApp, openOwnerSite, validateOwnerApiConfig, makerTokenSha256 } from './api.ts';
import { deviceView, firmwareText } from './owner-devices.ts';
import type { CommandCenter } from './commands.ts';
import type { InboundPublish } from './service-mqtt.ts';

const PLUG_A = 'PLG-AAAAAAAAAA',
  PLUG_B = 'PLG-BBBBBBBBBB',
  LOCK = 'LCK-CCCCCCCCCC';

async function store(): Promise<SqlStore> {
  const s = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const unit = (serial: string, model: string): Parameters<SqlStore['importUnits']>[0][number] => ({
    serial,
    model,
    deviceCertFingerprint: 'sha256:' + 'b'.repeat(64),
    claimCodeHash: 'sha256:' + 'a'.repeat(64),
    createdAt: '2026-01-01T00:00:00Z',
  });
  await s.importUnits([unit(PLUG_A, 'plug'), unit(PLUG_B, 'plug'), unit(LOCK, 'lock')], 1);
  return s;
}

const report = (version: string, at: number, outcomes: FirmwareOutcome[] = []): FirmwareMessage => ({
  at,
  running: { version, securityVersion: 1, slot: 'a', sha256: 'e'.repeat(64) },
  outcomes,
});
const ROLLED_BACK: FirmwareOutcome = {
  n: 3,
  at: 30,
  outcome: 'rolled-back',
  version: '1.3.0',
  detail: 'not healthy within 3 boots',
};

test('a firmware report gives the device its running image and last outcome', async () => {
  const s = await store();
  assert.equal((await s.getDevice(PLUG_A))!.firmware, undefined, 'nothing before the first report');
  const installed: FirmwareOutcome = { n: 2, at: 20, outcome: 'installed', version: '1.3.0' };
  await s.recordFirmware(PLUG_A, report('1.2.0', 100, [installed, ROLLED_BACK]), 1_000);
  const fw = (await s.getDevice(PLUG_A))!.firmware!;
  assert.deepEqual(fw, {
    running: { version: '1.2.0', securityVersion: 1, slot: 'a', sha256: 'e'.repeat(64) },
    reportedAt: 1_000,
    lastOutcome: ROLLED_BACK,
  });
  assert.deepEqual(await s.firmwareOutcomes(PLUG_A, 10), [ROLLED_BACK, installed], 'newest first');
  assert.equal(firmwareText(fw), '1.2.0 - last update: 1.3.0 rolled back (not healthy within 3 boots)');
  const view = deviceView((await s.getDevice(PLUG_A))!).firmware as Record<string, unknown>;
  assert.equal(view.version, '1.2.0');
  assert.equal(view.imageSha256, 'e'.repeat(64));
  assert.equal((view.lastOutcome as Record<string, unknown>).outcome, 'rolled-back');
});

test('a redelivered or older report changes nothing; a repeated outcome moves in place', async () => {
  const s = await store();
  await s.recordFirmware(PLUG_A, report('1.2.0', 100, [ROLLED_BACK]), 1_000);
  await s.recordFirmware(PLUG_A, report('1.2.0', 100, [ROLLED_BACK]), 2_000);
  await s.recordFirmware(PLUG_A, report('1.1.0', 50, []), 3_000);
  const fw = (await s.getDevice(PLUG_A))!.firmware!;
  assert.equal(fw.running.version, '1.2.0', 'a report older than the stored one (device time) does not win');
  assert.equal((await s.firmwareOutcomes(PLUG_A, 10)).length, 1);
  const refused: FirmwareOutcome = { n: 4, at: 40, outcome: 'refused', version: '1.3.0', code: 'UPDATE_REJECTED' };
  await s.recordFirmware(PLUG_A, report('1.2.0', 200, [ROLLED_BACK, refused]), 4_000);
  await s.recordFirmware(PLUG_A, report('1.2.0', 300, [ROLLED_BACK, { ...refused, at: 99 }]), 5_000);
  const outcomes = await s.firmwareOutcomes(PLUG_A, 10);
  assert.deepEqual(
    outcomes.map((o) => [o.n, o.at]),
    [
      [4, 99],
      [3, 30],
    ],
  );
  assert.equal((await s.getDevice(PLUG_A))!.firmware!.lastOutcome!.at, 99);
});

test("a device's outcome history is kept to its newest outcomes", async () => {
  const s = await store();
  for (let n = 1; n <= FIRMWARE_HISTORY + 5; n++)
    await s.recordFirmware(PLUG_A, report('1.2.0', n, [{ n, at: n, outcome: 'found', version: '1.3.0' }]), n);
  const kept = await s.firmwareOutcomes(PLUG_A, 1_000);
  assert.equal(kept.length, FIRMWARE_HISTORY);
  assert.equal(kept[0]!.n, FIRMWARE_HISTORY + 5);
  assert.equal(kept.at(-1)!.n, 6);
});

async function fleet(): Promise<SqlStore> {
  const s = await store();
  const ok = (n: number): FirmwareOutcome[] => [
    { n, at: n, outcome: 'installed', version: '1.3.0' },
    { n: n + 1, at: n + 1, outcome: 'healthy', version: '1.3.0' },
  ];
  await s.recordFirmware(PLUG_A, report('1.3.0', 10, ok(1)), 10);
  await s.recordFirmware(PLUG_B, report('1.2.0', 10, [{ ...ROLLED_BACK, n: 1 }]), 10);
  await s.recordFirmware(PLUG_B, report('1.2.0', 11, [{ ...ROLLED_BACK, n: 1 }]), 11);
  await s.recordFirmware(LOCK, report('1.3.0', 10, []), 10);
  return s;
}

test('per release: units running it, installed, committed and rolled back, by model', async () => {
  const s = await fleet();
  assert.deepEqual(await s.releaseCounts(), [
    { model: 'lock', version: '1.3.0', running: 1, installed: 0, committed: 0, rolledBack: 0 },
    { model: 'plug', version: '1.2.0', running: 1, installed: 0, committed: 0, rolledBack: 0 },
    { model: 'plug', version: '1.3.0', running: 1, installed: 1, committed: 1, rolledBack: 1 },
  ]);
});

test('device traffic stores a firmware report and drops a malformed one', async () => {
  const s = await store();
  const traffic = new DeviceTraffic({ store: s, publish: () => Promise.resolve() });
  const publish = (serial: string, body: unknown): InboundPublish => ({
    type: 'publish',
    topic: `devices/${serial}/firmware`,
    payload: Buffer.from(JSON.stringify(body)),
    qos: 1,
    messageId: 1,
    dup: false,
    retain: false,
  });
  await traffic.handle([publish(PLUG_A, report('1.2.0', 5, [ROLLED_BACK])), publish(PLUG_B, { at: 5, running: {} })]);
  assert.equal((await s.getDevice(PLUG_A))!.firmware!.lastOutcome!.outcome, 'rolled-back');
  assert.equal((await s.getDevice(PLUG_B))!.firmware, undefined);
  assert.equal(traffic.counters.dropped, 1);
});

const HOST = 'cloud.test';
const TOKEN = 'maker-token-0123456789abcdef0123456789';

async function makerApp(token?: string): Promise<ReturnType<typeof createOwnerApp>> {
  const s = await fleet();
  const config = validateOwnerApiConfig(token ? { makerTokenSha256: makerTokenSha256(token) } : {});
  const site = await openOwnerSite({ store: s, commands: {} as CommandCenter, config, log: () => undefined });
  const app = createOwnerApp(site, { limits: config.limits, log: () => undefined });
  app.allowHosts([HOST], 443);
  return app;
}

test("the maker's release counts answer only to the maker's token, and not at all without one", async () => {
  const get = (app: Awaited<ReturnType<typeof makerApp>>, auth?: string) =>
    app.handle({
      method: 'GET',
      url: '/v1/maker/releases',
      headers: { host: HOST, ...(auth ? { authorization: auth } : {}) },
    });
  const off = await makerApp();
  assert.equal((await get(off, `Bearer ${TOKEN}`)).status, 404, 'no maker token configured: no maker routes');
  const on = await makerApp(TOKEN);
  assert.equal((await get(on)).status, 401);
  assert.equal((await get(on, `Bearer ${TOKEN}x`)).status, 401);
  const answer = await get(on, `Bearer ${TOKEN}`);
  assert.equal(answer.status, 200);
  const { releases } = JSON.parse(answer.body.toString()) as { releases: Array<Record<string, unknown>> };
  assert.deepEqual(
    releases.find((r) => r.model === 'plug' && r.version === '1.3.0'),
    { model: 'plug', version: '1.3.0', running: 1, installed: 1, committed: 1, rolledBack: 1 },
  );
  assert.throws(() => makerTokenSha256('short'), { code: 'CLOUD_CONFIG_INVALID' });
  assert.throws(() => validateOwnerApiConfig({ makerTokenSha256: 'x' }), { code: 'CLOUD_CONFIG_INVALID' });
});
