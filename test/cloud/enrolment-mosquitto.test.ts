// Operational identities on an external Mosquitto 2.0 written by `bulwark cloud broker-config`, with
// real TLS clients (mqtt.js) and the real cloud: a unit enrols with its birth certificate on the
// enrolment listener, then publishes telemetry with its operational certificate on the device
// listener, which refuses the birth certificate; after a CA rotation the running Mosquitto trusts the
// new generation (the cloud rewrites its CA bundle and CRLs and signals SIGHUP) and still the old one;
// a revoked unit's operational certificate is dropped and refused within 10 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { parseCertificateMessage, type CertificateMessage } from '../../src/cloudprotocol/index.ts';
import { createCertificateRequest, type ProvisionedUnit } from '../../src/identity/index.ts';
import {
  makeUnits,
  deviceMqttOptions,
  startMosquitto,
  waitFor,
  type TestMosquitto,
  connectAccepted,
} from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

const LIMIT_MS = 10_000;

let broker: TestMosquitto | undefined;
let cloud: CloudService | undefined;
let A: ProvisionedUnit, B: ProvisionedUnit;
const clients: MqttClient[] = [];

interface Operational {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Connects; resolves once CONNACK says yes, rejects when refused or closed first. */
function connect(url: string, o: { ca: string; cert: string; key: string; clientId: string }): Promise<MqttClient> {
  return connectAccepted(url, o, clients);
}

/** One request for `unit` on an open session; the answer to it. */
async function ask(client: MqttClient, answers: CertificateMessage[], unit: ProvisionedUnit) {
  const request = await createCertificateRequest(unit.serial);
  const id = randomBytes(12).toString('hex');
  const body = JSON.stringify({ id, csr: request.csrPem, reason: 'first' });
  await client.publishAsync(`devices/${unit.serial}/enrol`, body, { qos: 1 });
  const answer = await waitFor(() => answers.find((a) => 'id' in a && a.id === id), 10_000, 'the certificate');
  return { answer: answer!, keyPem: request.privateKeyPem };
}

/**
 * Enrols `unit` with its birth certificate on the enrolment listener; returns its operational identity.
 * A unit that enrolled moments ago (the cloud's minimum interval, 1 s here) asks again a little later.
 */
async function enrol(unit: ProvisionedUnit): Promise<Operational> {
  const client = await connect(broker!.enrolmentUrl, await deviceMqttOptions(unit));
  const answers: CertificateMessage[] = [];
  client.on('message', (_t, payload) => answers.push(parseCertificateMessage(JSON.parse(payload.toString()))));
  await client.subscribeAsync(`devices/${unit.serial}/certificate`, { qos: 1 });
  try {
    for (let attempt = 1; ; attempt++) {
      const { answer, keyPem } = await ask(client, answers, unit);
      if ('certificate' in answer) return { certPem: answer.certificate, keyPem };
      const tooSoon = 'error' in answer && answer.error.code === 'ENROL_TOO_SOON';
      assert.ok(tooSoon && attempt < 5, JSON.stringify(answer));
      await new Promise((r) => setTimeout(r, 1_100));
    }
  } finally {
    await client.endAsync();
  }
}

async function operationalOptions(
  unit: ProvisionedUnit,
  op: Operational,
): Promise<{ ca: string; cert: string; key: string; clientId: string }> {
  return { ...(await deviceMqttOptions(unit)), cert: op.certPem, key: op.keyPem };
}

async function publishTelemetry(client: MqttClient, serial: string, seq: number): Promise<void> {
  const payload = JSON.stringify({ seq, at: Date.now(), values: { power: seq } });
  await client.publishAsync(`devices/${serial}/telemetry`, payload, { qos: 1 });
}

before(async () => {
  if (!toolAvailable('mosquitto')) return;
  const fleet = await makeUnits('plug', 2);
  [A, B] = fleet.units as [ProvisionedUnit, ProvisionedUnit];
  const configDir = join(fleet.work, 'mosquitto');
  broker = await startMosquitto({ factoryDir: fleet.factoryDir, dir: configDir, instances: ['1'] });
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    instance: '1',
    brokerUrl: broker.enrolmentUrl,
    mosquitto: { configDir, pidFile: broker.pidFile! }, // the default: the device listener trusts no birth certificate
    manifests: [fleet.manifest],
    api: { port: 0 },
    issuing: { operationalDays: 30, minEnrolIntervalMs: 1_000 },
  });
});

after(async () => {
  for (const c of clients) c.end(true);
  await cloud?.close();
  await broker?.stop();
});

test(
  'a unit enrols on the enrolment listener, then its operational certificate publishes telemetry that is ' +
    'stored, while its birth certificate is refused on the device listener',
  { timeout: 60_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const op = await enrol(A);
    const client = await connect(broker!.url, await operationalOptions(A, op));
    await publishTelemetry(client, A.serial, 1);
    await waitFor(async () => (await cloud!.store.telemetry(A.serial, 0, 10)).length === 1, 10_000, 'stored');
    await client.endAsync();
    await assert.rejects(
      connect(broker!.url, await deviceMqttOptions(A)),
      'a birth certificate on the device listener',
    );
    const birth = await connect(broker!.enrolmentUrl, await deviceMqttOptions(A));
    await publishTelemetry(birth, A.serial, 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await cloud!.store.telemetry(A.serial, 0, 10)).length, 1, 'no telemetry from a birth certificate');
    await birth.endAsync();
  },
);

test(
  'after rotate-ca the running Mosquitto accepts the new generation and still the old one, dropping nobody',
  { timeout: 60_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const old = await enrol(B);
    const live = await connect(broker!.url, await operationalOptions(B, old));
    let closes = 0;
    live.on('close', () => closes++);
    const pid = broker!.pid;
    const generation = await cloud!.identities.rotate();
    assert.equal(generation, 2);
    const fresh = await waitFor(
      async () => {
        const op = await enrol(A);
        return new X509Certificate(op.certPem).issuer.includes(`Operational CA ${generation}`) ? op : undefined;
      },
      10_000,
      'a certificate of generation 2',
      1_100,
    );
    const deadline = Date.now() + LIMIT_MS;
    let accepted: MqttClient | undefined;
    while (!accepted && Date.now() < deadline) {
      accepted = await connect(broker!.url, await operationalOptions(A, fresh!)).catch(() => undefined);
      if (!accepted) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(accepted, 'the new generation is accepted without restarting Mosquitto');
    assert.equal(broker!.pid, pid, 'the same Mosquitto process');
    await publishTelemetry(accepted, A.serial, 3);
    await accepted.endAsync();
    await publishTelemetry(live, B.serial, 1);
    assert.equal(closes, 0, 'a live connection of the old generation was not dropped by the reload');
    live.end(true);
    // A new connection of the old generation (the same client id as `live`, so only once it is gone).
    const again = await connect(broker!.url, await operationalOptions(B, old));
    await again.endAsync();
  },
);

test(
  'a revoked unit is dropped and its operational certificate refused within 10 s',
  { timeout: 60_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const op = await enrol(B);
    const live = await connect(broker!.url, await operationalOptions(B, op));
    const closed = new Promise<number>((resolve) => live.once('close', () => resolve(Date.now())));
    const asked = Date.now();
    await cloud!.revocations.revoke({ serial: B.serial, reason: 'stolen' }, 'maker-api');
    const dropped =
      (await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), LIMIT_MS))])) - asked;
    assert.ok(dropped >= 0 && dropped <= LIMIT_MS, `not dropped within 10 s (${dropped} ms)`);
    await waitFor(
      async () =>
        !(await connect(broker!.url, await operationalOptions(B, op)).then(
          (c) => (c.end(true), true),
          () => false,
        )),
      LIMIT_MS,
      'the operational certificate to be refused',
      250,
    );
    const refused = Date.now() - asked;
    assert.ok(refused <= LIMIT_MS, `refused ${refused} ms after the revocation`);
    t.diagnostic(
      `Mosquitto: revoked unit dropped ${dropped} ms, its operational certificate refused ${refused} ms after`,
    );
    const other = await connect(broker!.url, await operationalOptions(A, await enrol(A)));
    await other.endAsync();
  },
);
