// Revocation on an external Mosquitto 2.0 written by `bulwark cloud broker-config`, with real TLS
// clients (mqtt.js): a unit revoked through the cloud is dropped (dynamic-security disableClient)
// and refused (CRL reloaded on SIGHUP) within 10 s, while 200 other devices publishing at QoS 1 see
// no disconnect and every acknowledged message is stored once; a restarted cloud applies every
// revocation again, even to a broker whose CRL was reset. Devices connect with operational
// certificates from the cloud's issuing CA: the device listener trusts no birth certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import {
  startCloud,
  factoryIssuer,
  writeMosquittoCrl,
  signalMosquittoReload,
  type CloudService,
  type CertificateWithKey,
} from '../../src/cloud/index.ts';
import {
  certificateFingerprint,
  generateSerial,
  loadCaSigner,
  readRevocationList,
  type ProvisionedUnit,
} from '../../src/identity/index.ts';
import {
  makeUnits,
  deviceMqttOptions,
  operationalCertificate,
  startMosquitto,
  waitFor,
  type TestMosquitto,
  connectAccepted,
} from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

const OTHERS = 200;
const MESSAGES_EACH = 10;
const PUBLISH_EVERY_MS = 200;
const LIMIT_MS = 10_000;

interface Identity {
  readonly serial: string;
  /** The birth certificate, registered with the unit. */
  readonly cert: CertificateWithKey;
  /** What it connects with. */
  readonly operational: Awaited<ReturnType<typeof operationalCertificate>>;
}

let work: string;
let factoryDir: string;
let caPem: string;
let victim: ProvisionedUnit;
let victimOperational: Identity['operational'];
const others: Identity[] = [];
let broker: TestMosquitto | undefined;
let cloud: CloudService | undefined;
const clients: MqttClient[] = [];
const log: string[] = [];

function cloudOptions(): Parameters<typeof startCloud>[0] {
  return {
    factoryDir,
    stateDir: join(work, 'cloud'),
    instance: '1',
    // The cloud's certificate is the manufacturer CA's: it connects to the enrolment listener, where the
    // dynamic-security plugin its admin identity talks to is.
    brokerUrl: broker!.enrolmentUrl,
    mosquitto: { configDir: join(work, 'mosquitto'), pidFile: broker!.pidFile! },
    api: { port: 0 },
    log: (line) => {
      if (log.length < 1_000) log.push(line);
    },
  };
}

/** Connects; resolves with the client once CONNACK says yes, rejects when refused or closed first. */
function connect(o: { ca: string; cert: string; key: string; clientId: string }): Promise<MqttClient> {
  return connectAccepted(broker!.url, o, clients);
}

function otherOptions(o: Identity): { ca: string; cert: string; key: string; clientId: string } {
  return { ca: o.operational.caPem, cert: o.operational.certPem, key: o.operational.keyPem, clientId: o.serial };
}

function victimOptions(): { ca: string; cert: string; key: string; clientId: string } {
  return { ca: caPem, cert: victimOperational.certPem, key: victimOperational.keyPem, clientId: victim.serial };
}

function publishTelemetry(client: MqttClient, serial: string, seq: number): Promise<void> {
  const payload = JSON.stringify({ seq, at: Date.now(), values: { power: seq } });
  return new Promise((resolve, reject) =>
    client.publish(`devices/${serial}/telemetry`, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

before(async () => {
  if (!toolAvailable('mosquitto')) return;
  const fleet = await makeUnits('plug', 1);
  ({ work, factoryDir } = fleet);
  victim = fleet.units[0]!;
  broker = await startMosquitto({ factoryDir, dir: join(work, 'mosquitto'), instances: ['1'] });
  cloud = await startCloud({ ...cloudOptions(), manifests: [fleet.manifest] });
  caPem = cloud.credentials.caCertPem;
  const issuer = await factoryIssuer(factoryDir);
  for (let i = 0; i < OTHERS; i++) {
    const serial = generateSerial('PLG');
    others.push({
      serial,
      cert: await issuer.issueClient(serial),
      operational: await operationalCertificate(cloud, serial),
    });
  }
  victimOperational = await operationalCertificate(cloud, victim.serial);
  await cloud.store.importUnits(
    others.map((o) => ({
      serial: o.serial,
      model: 'plug',
      deviceCertFingerprint: certificateFingerprint(o.cert.certPem),
      deviceCertSerialNumber: new X509Certificate(o.cert.certPem).serialNumber.toLowerCase(),
      claimCodeHash: randomBytes(32).toString('hex'),
      createdAt: new Date().toISOString(),
    })),
    Date.now(),
  );
});

after(async () => {
  for (const c of clients) c.end(true);
  await cloud?.close();
  await broker?.stop();
});

test(
  'a unit revoked while connected to Mosquitto is dropped and refused within 10 s, while 200 others ' +
    'publishing at QoS 1 see no disconnect and lose no message',
  { timeout: 180_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const fleet = await Promise.all(others.map(async (o) => ({ id: o, client: await connect(otherOptions(o)) })));
    let disconnects = 0;
    for (const f of fleet) f.client.on('close', () => disconnects++);
    const live = await connect(victimOptions());
    const victimClosed = new Promise<number>((resolve) => live.once('close', () => resolve(Date.now())));

    const publishing = Promise.all(
      fleet.map(async (f) => {
        for (let seq = 1; seq <= MESSAGES_EACH; seq++) {
          await publishTelemetry(f.client, f.id.serial, seq);
          await new Promise((r) => setTimeout(r, PUBLISH_EVERY_MS));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 3 * PUBLISH_EVERY_MS));
    const asked = Date.now();
    await cloud!.revocations.revoke({ serial: victim.serial, reason: 'stolen' }, 'maker-api');
    const dropped =
      (await Promise.race([victimClosed, new Promise<number>((r) => setTimeout(() => r(-1), LIMIT_MS))])) - asked;
    assert.ok(dropped >= 0 && dropped <= LIMIT_MS, `the revoked unit was not disconnected within 10 s (${dropped} ms)`);
    await assert.rejects(connect(victimOptions()), 'the revoked unit is refused on reconnecting');
    const refused = Date.now() - asked;
    assert.ok(refused <= LIMIT_MS, `refused ${refused} ms after the revocation`);
    t.diagnostic(
      `Mosquitto: revoked unit disconnected ${dropped} ms, a reconnect refused ${refused} ms after revoke()`,
    );

    await publishing;
    assert.equal(disconnects, 0, 'no other device was disconnected');
    const expected = OTHERS * MESSAGES_EACH;
    let stored = 0;
    await waitFor(
      async () => {
        stored = 0;
        for (const f of fleet) stored += (await cloud!.store.telemetry(f.id.serial, 0, 100)).length;
        return stored >= expected;
      },
      30_000,
      `${expected} telemetry rows (have ${stored})`,
      500,
    );
    for (const f of fleet) {
      const seqs = (await cloud!.store.telemetry(f.id.serial, 0, 100)).map((r) => r.seq).sort((a, b) => a - b);
      assert.deepEqual(
        seqs,
        Array.from({ length: MESSAGES_EACH }, (_, i) => i + 1),
        `${f.id.serial}: each once`,
      );
    }
    for (const f of fleet) f.client.end(true);
  },
);

test('a restarted cloud applies every revocation again, even to a broker whose CRL was reset', async (t) => {
  if (!needTool(t, 'mosquitto')) return;
  const crlFile = join(work, 'mosquitto', 'crl.pem');
  const listed = await readRevocationList(await readFile(crlFile, 'utf8'), caPem);
  const victimNumber = new X509Certificate((await deviceMqttOptions(victim)).cert).serialNumber.toLowerCase();
  assert.deepEqual(listed.serialNumbers, [victimNumber], 'the CRL lists the revoked birth certificate only');

  await cloud!.close();
  cloud = undefined;
  // As if the broker's folder had been restored from before the revocation.
  const ca = await loadCaSigner(caPem, await readFile(join(factoryDir, 'ca', 'ca-key.pem'), 'utf8'));
  await writeMosquittoCrl(crlFile, ca, []);
  await signalMosquittoReload(broker!.pidFile!);
  const reset = await readRevocationList(await readFile(crlFile, 'utf8'), caPem);
  assert.deepEqual(reset.serialNumbers, []);

  cloud = await startCloud(cloudOptions());
  await assert.rejects(connect(victimOptions()), 'still refused after the restart');
  const ok = await connect(otherOptions(others[0]!));
  ok.end(true);
  assert.ok(
    // The victim's birth certificate and its operational one.
    log.some((l) => /Mosquitto: CRL of 2 certificates loaded, 1 units disabled/.test(l)),
    log.join('\n'),
  );
});
