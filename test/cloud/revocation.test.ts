// Revocation on the embedded broker, with real TLS clients (mqtt.js) and the real store: a unit
// revoked through the maker API, or with `bulwark cloud revoke` while the cloud runs, is
// disconnected within a second and refused from then on, while 200 other devices publishing at
// QoS 1 see no disconnect and lose no message; a revoked birth certificate cannot connect; a
// restart keeps every revocation; and the owner's view says the unit is blocked. Devices publish
// with operational certificates from the cloud's issuing CA (birth certificates only enrol).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import {
  startCloud,
  factoryIssuer,
  makerTokenSha256,
  type CloudService,
  type CertificateWithKey,
} from '../../src/cloud/index.ts';
import { certificateFingerprint, generateSerial, type ProvisionedUnit } from '../../src/identity/index.ts';
import { main } from '../../src/cli/main.ts';
import {
  makeUnits,
  deviceMqttOptions,
  operationalCertificate,
  waitFor,
  ApiClient,
  connectAccepted,
} from './support.ts';

const OTHERS = 200;
const MESSAGES_EACH = 5;
const MAKER_TOKEN = randomBytes(24).toString('hex');

interface Identity {
  readonly serial: string;
  /** The birth certificate, registered with the unit. */
  readonly cert: CertificateWithKey;
  /** What it connects with. */
  readonly operational: OperationalCertificate;
}

type OperationalCertificate = Awaited<ReturnType<typeof operationalCertificate>>;

let work: string;
let factoryDir: string;
let stateDir: string;
let caPem: string;
let A: ProvisionedUnit, B: ProvisionedUnit, C: ProvisionedUnit;
let others: Identity[];
/** The operational certificates of A and B, by serial. */
const operational: Record<string, OperationalCertificate> = {};
let cloud: CloudService;
const clients: MqttClient[] = [];

function cloudOptions(): Parameters<typeof startCloud>[0] {
  return {
    factoryDir,
    stateDir,
    broker: { port: 0 },
    api: { port: 0, makerTokenSha256: makerTokenSha256(MAKER_TOKEN) },
  };
}

/** Connects; resolves with the client once CONNACK says yes, rejects when refused or closed first. */
function connect(url: string, o: { ca: string; cert: string; key: string; clientId: string }): Promise<MqttClient> {
  return connectAccepted(url, o, clients);
}

function operationalOptions(serial: string, c: OperationalCertificate): Parameters<typeof connect>[1] {
  return { ca: c.caPem, cert: c.certPem, key: c.keyPem, clientId: serial };
}

function publishTelemetry(client: MqttClient, serial: string, seq: number): Promise<void> {
  const payload = JSON.stringify({ seq, at: Date.now(), values: { power: seq } });
  return new Promise((resolve, reject) =>
    client.publish(`devices/${serial}/telemetry`, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

async function makerPost(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const api = new ApiClient(cloud.api.url, caPem);
  const answer = await api.send('POST', path, { json: body, headers: { authorization: `Bearer ${MAKER_TOKEN}` } });
  return { status: answer.status, json: answer.json };
}

/** The journal's entries, as 'event result detail' lines. */
function journalLines(tier: 'security' | 'connection'): string[] {
  return cloud.journal.list({ limit: 1000, tier }).map((e) => `${e.event} ${e.result} ${e.detail ?? ''}`);
}

before(async () => {
  const fleet = await makeUnits('plug', 3);
  ({ work, factoryDir } = fleet);
  [A, B, C] = fleet.units as [ProvisionedUnit, ProvisionedUnit, ProvisionedUnit];
  stateDir = join(work, 'cloud');
  cloud = await startCloud({ ...cloudOptions(), manifests: [fleet.manifest] });
  caPem = cloud.credentials.caCertPem;
  const issuer = await factoryIssuer(factoryDir);
  others = [];
  for (let i = 0; i < OTHERS; i++) {
    const serial = generateSerial('PLG');
    others.push({
      serial,
      cert: await issuer.issueClient(serial),
      operational: await operationalCertificate(cloud, serial),
    });
  }
  for (const unit of [A, B]) operational[unit.serial] = await operationalCertificate(cloud, unit.serial);
  await cloud.store.importUnits(
    others.map((o) => ({
      serial: o.serial,
      model: 'plug',
      deviceCertFingerprint: certificateFingerprint(o.cert.certPem),
      claimCodeHash: randomBytes(32).toString('hex'),
      createdAt: new Date().toISOString(),
    })),
    Date.now(),
  );
});

after(async () => {
  for (const c of clients) c.end(true);
  await cloud?.close();
});

test(
  'a unit revoked on the maker API is dropped within 1 s and refused after, while 200 others publishing at QoS 1 ' +
    'see no disconnect and lose no message',
  { timeout: 120_000 },
  async (t) => {
    const url = cloud.brokerUrl;
    const fleet = await Promise.all(
      others.map(async (o) => ({
        id: o,
        client: await connect(url, operationalOptions(o.serial, o.operational)),
      })),
    );
    let disconnects = 0;
    for (const f of fleet) f.client.on('close', () => disconnects++);
    const victim = await connect(url, operationalOptions(A.serial, operational[A.serial]!));
    const victimClosed = new Promise<number>((resolve) => victim.once('close', () => resolve(Date.now())));

    // Every other device publishes through the revocation: one message every 100 ms, five each.
    const publishing = Promise.all(
      fleet.map(async (f) => {
        for (let seq = 1; seq <= MESSAGES_EACH; seq++) {
          await publishTelemetry(f.client, f.id.serial, seq);
          await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    const asked = Date.now();
    const answer = await makerPost('/v1/maker/revocations', { serial: A.serial, reason: 'key-compromise' });
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    const latency =
      (await Promise.race([victimClosed, new Promise<number>((r) => setTimeout(() => r(-1), 1_000))])) - asked;
    assert.ok(latency >= 0 && latency <= 1_000, `the revoked unit was not disconnected within 1 s (${latency} ms)`);
    t.diagnostic(`embedded broker: revoked unit disconnected ${latency} ms after the maker API call`);

    await publishing;
    assert.equal(disconnects, 0, 'no other device was disconnected');
    for (const f of fleet) {
      const rows = await cloud.store.telemetry(f.id.serial, 0, 100);
      assert.equal(rows.length, MESSAGES_EACH, `${f.id.serial}: every acknowledged message is stored once`);
    }
    await assert.rejects(
      connect(url, operationalOptions(A.serial, operational[A.serial]!)),
      'the revoked unit is refused on reconnecting',
    );
    await assert.rejects(connect(url, await deviceMqttOptions(A)), 'and so is its birth certificate');
    const journal = journalLines('security');
    assert.ok(journal.some((l) => l.startsWith('certificate-revoked info') && l.includes(A.serial)));
    assert.ok(journal.some((l) => l.startsWith('revoked-client-disconnected refused') && l.includes(A.serial)));
    for (const f of fleet) f.client.end(true);
  },
);

test('bulwark cloud revoke, run while the cloud runs, drops the unit within 1 s', { timeout: 30_000 }, async (t) => {
  const victim = await connect(cloud.brokerUrl, operationalOptions(B.serial, operational[B.serial]!));
  const closed = new Promise<number>((resolve) => victim.once('close', () => resolve(Date.now())));
  const asked = Date.now();
  const code = await main(['cloud', 'revoke', '--serial', B.serial, '--reason', 'stolen', '--state', stateDir]);
  assert.equal(code, 0);
  const latency = (await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 1_000))])) - asked;
  assert.ok(latency >= 0 && latency <= 1_000, `not disconnected within 1 s (${latency} ms)`);
  t.diagnostic(`embedded broker: unit revoked by the CLI disconnected after ${latency} ms`);
});

test('a revoked birth certificate cannot connect; the unit stays registered', { timeout: 30_000 }, async () => {
  const birth = certificateFingerprint((await deviceMqttOptions(C)).cert);
  const answer = await makerPost('/v1/maker/revocations', { certificate: birth, reason: 'clone' });
  assert.equal(answer.status, 201);
  assert.equal((answer.json.record as { serial: string }).serial, C.serial, 'linked to the unit it was issued to');
  await assert.rejects(connect(cloud.brokerUrl, await deviceMqttOptions(C)));
  assert.equal((await cloud.store.getDevice(C.serial))?.revoked?.reason, 'clone');
});

test('a malformed or unknown revocation is refused and changes nothing', async () => {
  const before = await cloud.store.revocationCount();
  assert.equal((await makerPost('/v1/maker/revocations', { serial: A.serial })).status, 422, 'no reason');
  assert.equal((await makerPost('/v1/maker/revocations', { serial: 'PLG-NOTAUNIT22', reason: 'other' })).status, 404);
  assert.equal((await makerPost('/v1/maker/revocations', { certificate: 'sha256:zz', reason: 'other' })).status, 422);
  const again = await makerPost('/v1/maker/revocations', { serial: A.serial, reason: 'other' });
  assert.equal(again.status, 200);
  assert.equal((again.json.record as { reason: string }).reason, 'key-compromise', 'the first reason stays');
  assert.equal(await cloud.store.revocationCount(), before);
});

test('revocations survive a restart of the cloud', { timeout: 60_000 }, async () => {
  await cloud.close();
  cloud = await startCloud(cloudOptions());
  for (const unit of [A, B, C]) await assert.rejects(connect(cloud.brokerUrl, await deviceMqttOptions(unit)));
  for (const unit of [A, B])
    await assert.rejects(connect(cloud.brokerUrl, operationalOptions(unit.serial, operational[unit.serial]!)));
  const still = others[0]!;
  const ok = await connect(cloud.brokerUrl, operationalOptions(still.serial, still.operational));
  ok.end(true);
  await waitFor(
    () => journalLines('connection').some((l) => l.startsWith('connection-refused') && l.includes('revoked')),
    5_000,
    'the refusals in the journal',
  );
});
