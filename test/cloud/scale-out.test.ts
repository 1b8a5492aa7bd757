// Two cloud instances against one Mosquitto (from broker-config) and one PostgreSQL: they share
// the device stream through a shared subscription, every telemetry message is stored exactly
// once, and an owner's command sent through either instance reaches the device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { CloudLink } from '../../src/cloudlink/index.ts';
import type { ScalarValue } from '../../src/cloudprotocol/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import {
  makeUnits,
  startPostgres,
  startMosquitto,
  linkIdentity,
  ApiClient,
  waitFor,
  type TestPostgres,
  type TestMosquitto,
} from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

const DEVICES = 10;
const PER_DEVICE = 60;
let pgServer: TestPostgres | undefined;
let broker: TestMosquitto | undefined;
let dbUrl: string;
let units: ProvisionedUnit[];
const clouds: CloudService[] = [];
const links: CloudLink[] = [];
const executed: Array<{ serial: string; capability: string; action: string }> = [];

before(async () => {
  if (!toolAvailable('postgresql') || !toolAvailable('mosquitto')) return;
  const fleet = await makeUnits('plug', DEVICES);
  units = fleet.units;
  pgServer = await startPostgres();
  dbUrl = await pgServer.createDatabase('scaleout');
  broker = await startMosquitto({
    factoryDir: fleet.factoryDir,
    dir: join(fleet.work, 'mosquitto'),
    instances: ['1', '2'],
  });
  for (const instance of ['1', '2']) {
    clouds.push(
      await startCloud({
        factoryDir: fleet.factoryDir,
        stateDir: join(fleet.work, `cloud-${instance}`),
        instance,
        brokerUrl: broker.url,
        databaseUrl: dbUrl,
        manifests: [fleet.manifest],
        api: { port: 0 },
      }),
    );
  }
  for (const u of units) {
    const serial = u.serial;
    const link = await CloudLink.open({
      identity: await linkIdentity(u),
      stateDir: join(fleet.work, 'dev', serial),
      config: { url: broker.url, reconnectBaseMs: 100, reconnectMaxMs: 1_000, syncIntervalMs: 2_000, syncAgeMs: 500 },
      execute: (capability, action) => {
        executed.push({ serial, capability, action });
        return Promise.resolve(action === 'on');
      },
      state: () => ({ at: Date.now(), capabilities: [{ id: 'power', value: false }] }),
    });
    link.start();
    links.push(link);
  }
  await waitFor(() => links.every((l) => l.connected), 15_000, 'devices to connect');
});

after(async () => {
  for (const l of links) await l.close();
  for (const c of clouds) await c.close();
  await broker?.stop();
  await pgServer?.stop();
});

test(
  'two instances share the device stream: every telemetry message is stored exactly once',
  { timeout: 90_000 },
  async (t) => {
    if (!needTool(t, 'postgresql') || !needTool(t, 'mosquitto')) return;
    const produced = new Set<string>();
    for (let i = 0; i < PER_DEVICE; i++) {
      for (const [k, link] of links.entries()) {
        const values: Record<string, ScalarValue> = { energy: i, power: i % 2 === 0 };
        produced.add(`${units[k]!.serial}/${link.queueTelemetry(values)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      await waitFor(
        async () =>
          Number((await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM telemetry')).rows[0]!.n) >= produced.size,
        30_000,
        'every message to be stored',
      );
      const rows = (await db.query('SELECT serial, seq FROM telemetry')).rows as Array<{ serial: string; seq: number }>;
      const stored = rows.map((r) => `${r.serial}/${r.seq}`);
      assert.equal(stored.length, produced.size, 'no more rows than messages');
      assert.equal(new Set(stored).size, stored.length, 'none twice');
      assert.deepEqual(new Set(stored), produced, 'every one');
    } finally {
      await db.end();
    }
    const counts = clouds.map((c) => c.traffic.counters.telemetry);
    assert.equal(
      counts[0]! + counts[1]!,
      produced.size,
      `each message went to one instance only (${counts.join(' + ')})`,
    );
    assert.ok(counts[0]! > 0 && counts[1]! > 0, `both instances took a share (${counts.join(' + ')})`);
  },
);

test("an owner's command sent through either instance reaches the device", { timeout: 60_000 }, async (t) => {
  if (!needTool(t, 'postgresql') || !needTool(t, 'mosquitto')) return;
  const u = units[0]!;
  const first = new ApiClient(clouds[0]!.api.url, clouds[0]!.credentials.caCertPem);
  assert.equal(
    (await first.signUp(clouds[0]!.mail.maildir, 'scale@example.com', 'marble falcon tundra 42 softly')).status,
    200,
  );
  assert.ok(await links[0]!.openClaimWindow(), 'the button opens the window');
  await waitFor(
    async () => ((await clouds[1]!.store.getDevice(u.serial))?.claimWindowUntil ?? 0) > Date.now(),
    10_000,
    'the window to open',
  );
  assert.equal((await first.claim(u.serial, u.claimCode)).status, 201);
  const second = new ApiClient(clouds[1]!.api.url, clouds[1]!.credentials.caCertPem);
  second.token = first.token; // the session lives in the shared database: either instance honours it
  for (const [client, action] of [
    [first, 'on'],
    [second, 'off'],
    [second, 'on'],
    [first, 'off'],
  ] as const) {
    const r = await client.send('POST', `/v1/devices/${u.serial}/commands`, { json: { capability: 'power', action } });
    assert.equal(r.status, 200, r.body);
    assert.equal((r.json.command as { status: string }).status, 'done');
  }
  assert.deepEqual(
    executed.filter((e) => e.serial === u.serial).map((e) => e.action),
    ['on', 'off', 'on', 'off'],
    'each command ran once, in order',
  );
});
