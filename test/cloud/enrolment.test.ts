// Operational identities on the embedded broker, with real TLS clients (mqtt.js) and the real cloud:
// a birth certificate may only enrol; the cloud issues an operational certificate for the key in
// the unit's request (checked: its own serial, a valid signature), with which the unit then does
// everything; a request for another serial is refused; a unit that enrols from scratch while it
// holds a certificate in date is flagged; and `bulwark cloud rotate-ca` makes the running broker
// trust the new generation without a restart and asks the fleet to renew.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { parseCertificateMessage, type CertificateMessage } from '../../src/cloudprotocol/index.ts';
import { createCertificateRequest, type ProvisionedUnit } from '../../src/identity/index.ts';
import { main } from '../../src/cli/main.ts';
import { makeUnits, deviceMqttOptions, waitFor } from './support.ts';

let cloud: CloudService;
let stateDir: string;
let A: ProvisionedUnit, B: ProvisionedUnit;
const clients: MqttClient[] = [];

interface Session {
  readonly client: MqttClient;
  readonly answers: CertificateMessage[];
  closed: boolean;
}

/** Connects with a certificate and key, subscribed to the unit's certificate topic. */
async function session(unit: ProvisionedUnit, cert?: { certPem: string; keyPem: string }): Promise<Session> {
  const base = await deviceMqttOptions(unit);
  const client = mqtt.connect(cloud.brokerUrl, {
    ...base,
    ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
  });
  clients.push(client);
  const s: Session = { client, answers: [], closed: false };
  client.on('close', () => (s.closed = true));
  client.on('message', (_topic, payload) => s.answers.push(parseCertificateMessage(JSON.parse(payload.toString()))));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(`devices/${unit.serial}/certificate`, { qos: 1 });
  return s;
}

/** Sends an enrolment request for `serial` and waits for the answer to it. */
async function enrol(
  s: Session,
  unit: ProvisionedUnit,
  o: { serial?: string; reason?: 'first' | 'renewal' | 'forced' } = {},
): Promise<{ answer: CertificateMessage; keyPem: string }> {
  const request = await createCertificateRequest(o.serial ?? unit.serial);
  const id = randomBytes(12).toString('hex');
  const body = JSON.stringify({ id, csr: request.csrPem, reason: o.reason ?? 'first' });
  await s.client.publishAsync(`devices/${unit.serial}/enrol`, body, { qos: 1 });
  const answer = await waitFor(() => s.answers.find((a) => 'id' in a && a.id === id), 5_000, 'the answer');
  return { answer: answer!, keyPem: request.privateKeyPem };
}

function certificateOf(answer: CertificateMessage): string {
  assert.ok('certificate' in answer, JSON.stringify(answer));
  return answer.certificate;
}

before(async () => {
  const fleet = await makeUnits('plug', 2);
  [A, B] = fleet.units as [ProvisionedUnit, ProvisionedUnit];
  stateDir = join(fleet.work, 'cloud');
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir,
    manifests: [fleet.manifest],
    broker: { port: 0 }, // the default: birth certificates may only enrol
    api: { port: 0 },
    issuing: { operationalDays: 30, minEnrolIntervalMs: 1_000 },
  });
});

after(async () => {
  for (const c of clients) c.end(true);
  await cloud?.close();
});

test('a birth certificate may only enrol: anything else closes its connection', async () => {
  const birth = await session(A);
  // The broker closes the connection instead of acknowledging: the callback may never come.
  birth.client.publish(`devices/${A.serial}/telemetry`, '{"seq":1,"at":1,"values":{}}', { qos: 1 }, () => undefined);
  await waitFor(() => birth.closed, 5_000, 'the broker to close the connection');
  assert.equal((await cloud.store.telemetry(A.serial, 0, 10)).length, 0);
});

test('the cloud issues an operational certificate for the key in the request; with it the unit does all', async () => {
  const birth = await session(A);
  const { answer, keyPem } = await enrol(birth, A);
  const certPem = certificateOf(answer);
  const cert = new X509Certificate(certPem);
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), "issued for the unit's new key");
  assert.match(cert.subject, new RegExp(`CN=${A.serial}`));
  assert.match(cert.issuer, /Operational CA 1/);
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30.01, `valid ${days} days`);
  birth.client.end(true);

  const operational = await session(A, { certPem, keyPem });
  await operational.client.publishAsync(
    `devices/${A.serial}/telemetry`,
    JSON.stringify({ seq: 1, at: Date.now(), values: { power: 1 } }),
    { qos: 1 },
  );
  await waitFor(async () => (await cloud.store.telemetry(A.serial, 0, 10)).length === 1, 5_000, 'the telemetry');
  const issued = await cloud.store.operationalCertificates(A.serial, 10);
  assert.equal(issued.length, 1);
  assert.equal(issued[0]!.serialNumber, cert.serialNumber.toLowerCase());
  operational.client.end(true);
});

test("a request for another unit's serial is refused, and nothing is issued", async () => {
  const birth = await session(B);
  const { answer } = await enrol(birth, B, { serial: A.serial });
  assert.ok('error' in answer && answer.error.code === 'REQUEST_INVALID', JSON.stringify(answer));
  assert.equal((await cloud.store.operationalCertificates(B.serial, 10)).length, 0);
  birth.client.end(true);
});

test('a unit that enrols from scratch while holding a certificate in date is flagged as a clone suspect', async () => {
  await new Promise((r) => setTimeout(r, 1_100)); // the least interval between two certificates
  const birth = await session(A);
  certificateOf((await enrol(birth, A)).answer);
  const suspects = await cloud.store.cloneSuspects(10);
  assert.ok(suspects.some((s) => s.serial === A.serial && /birth certificate/.test(s.lastSources)));
  birth.client.end(true);
});

test('rotate-ca: the running broker trusts the new generation at once and every unit is asked to renew', async () => {
  const birth = await session(B);
  const first = await enrol(birth, B);
  birth.client.end(true);
  const unit = await session(B, { certPem: certificateOf(first.answer), keyPem: first.keyPem });
  assert.equal(await main(['cloud', 'rotate-ca', '--state', stateDir]), 0);
  const renew = await waitFor(() => unit.answers.find((a) => 'renew' in a), 5_000, 'the renewal request');
  assert.ok(renew && 'renew' in renew && renew.before > 0);
  await new Promise((r) => setTimeout(r, 1_100));
  const second = await enrol(unit, B, { reason: 'forced' });
  const certPem = certificateOf(second.answer);
  assert.match(new X509Certificate(certPem).issuer, /Operational CA 2/);
  const renewed = await session(B, { certPem, keyPem: second.keyPem });
  assert.equal(renewed.closed, false, 'generation 2 is trusted without a restart');
  const older = await session(B, { certPem: certificateOf(first.answer), keyPem: first.keyPem });
  assert.equal(older.closed, false, 'generation 1 stays trusted until its certificates expire');
});
