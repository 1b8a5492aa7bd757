// Birth and operational identities, the device's side (issue 19), against a real embedded broker that
// lets birth certificates only enrol. A small issuer in this file stands in for the cloud's handler
// (enrolment-device-cloud.test.ts runs the real one) because these cases need what the cloud would not
// do on cue: a certificate from an issuing CA the broker does not trust yet, and a refusal on every
// request. It is a service client that reads devices/+/enrol and answers on devices/<serial>/certificate
// with a certificate from an issuing CA (or an error). The unit enrols,
// then sends telemetry with its operational certificate; a renewal (the link's clock moved) brings a
// new key that replaces the old one only once it has connected, and one the broker refuses leaves the
// old in use; a power cut between receiving a certificate and connecting with it (the state folder as
// it stood at that instant, opened by a new link) leaves the unit able to connect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, factoryIssuer, type EmbeddedBroker } from '../../src/cloud/index.ts';
import {
  CloudLink,
  OPERATIONAL_IDENTITY_FILE,
  type CloudLinkEvent,
  type OperationalIdentityState,
} from '../../src/cloudlink/index.ts';
import { parseEnrol } from '../../src/cloudprotocol/index.ts';
import {
  createCertificateAuthority,
  issueFromRequest,
  loadCaSigner,
  type CaSigner,
  type ProvisionedUnit,
} from '../../src/identity/index.ts';
import { readDeviceBundle, type DeviceBundle } from '../../src/bundle/index.ts';
import { makeUnits, waitFor } from './support.ts';

let work: string;
let plug: ProvisionedUnit;
let bundle: DeviceBundle;
let broker: EmbeddedBroker;
let service: MqttClient;
let caA: { certPem: string; signer: CaSigner };
let caB: { certPem: string; signer: CaSigner };
/** What the stand-in issuer does with the next requests. */
let issuing: { with: 'A' | 'B' } | { error: string } = { with: 'A' };
const enrols: Array<{ serial: string; reason: string; at: number }> = [];
const telemetry: Array<{ serial: string; seq: number }> = [];
const links: CloudLink[] = [];

async function issuingCa(name: string): Promise<{ certPem: string; signer: CaSigner }> {
  const ca = await createCertificateAuthority(name, { validityDays: 3650 });
  return { certPem: ca.certPem, signer: await loadCaSigner(ca.certPem, ca.privateKeyPem) };
}

async function answer(topic: string, payload: Buffer): Promise<void> {
  const serial = topic.split('/')[1]!;
  if (topic.endsWith('/telemetry')) {
    telemetry.push({ serial, seq: (JSON.parse(payload.toString()) as { seq: number }).seq });
    return;
  }
  const req = parseEnrol(JSON.parse(payload.toString()));
  enrols.push({ serial, reason: req.reason, at: Date.now() });
  const how = issuing;
  const body =
    'error' in how
      ? { id: req.id, error: { code: how.error, message: 'the unit is revoked' } }
      : {
          id: req.id,
          // CA 2's certificates last longer, so one renewed at the moved clock is not due again at once.
          certificate: (
            await issueFromRequest((how.with === 'A' ? caA : caB).signer, req.csr, serial, {
              validityDays: how.with === 'A' ? 365 : 730,
            })
          ).certPem,
        };
  service.publish(`devices/${serial}/certificate`, JSON.stringify(body), { qos: 1 });
}

before(async () => {
  const fleet = await makeUnits('plug', 2);
  work = fleet.work;
  plug = fleet.units[0]!;
  bundle = await readDeviceBundle(plug.dir);
  const factory = await factoryIssuer(fleet.factoryDir);
  [caA, caB] = [await issuingCa('Bulwark Issuing CA 1'), await issuingCa('Bulwark Issuing CA 2')];
  const server = await factory.issueServer(['localhost']);
  broker = await startEmbeddedBroker({
    caCertPem: factory.caCertPem,
    issuingCaPems: [caA.certPem],
    certPem: server.certPem,
    keyPem: server.keyPem,
    config: { port: 0, birthCertificates: 'enrolment' },
  });
  const cloud = await factory.issueClient('bulwark-cloud-1');
  service = mqtt.connect(broker.url, {
    ca: factory.caCertPem,
    cert: cloud.certPem,
    key: cloud.keyPem,
    clientId: 'bulwark-cloud-1',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    service.once('connect', () => resolve());
    service.once('error', reject);
  });
  await service.subscribeAsync(['devices/+/enrol', 'devices/+/telemetry'], { qos: 1 });
  service.on('message', (topic, payload) => void answer(topic, payload));
});

after(async () => {
  for (const link of links) await link.close();
  service?.end(true);
  await broker?.close();
});

interface TestLink {
  link: CloudLink;
  events: string[];
  stateDir: string;
  /** Moves the link's clock (not the broker's). */
  shift: { ms: number };
}

async function openLink(
  stateDir: string,
  onEvent?: (e: CloudLinkEvent) => void,
  unit: { serial: string; dir: string } = plug,
): Promise<TestLink> {
  const events: string[] = [];
  const shift = { ms: 0 };
  const b = unit === plug ? bundle : await readDeviceBundle(unit.dir);
  const link = await CloudLink.open({
    identity: {
      serial: unit.serial,
      caCertPem: b.caCertPem,
      deviceCertPem: b.deviceCertPem,
      deviceKeyPem: b.deviceKeyPem,
    },
    stateDir,
    config: {
      url: broker.url,
      reconnectBaseMs: 100,
      reconnectMaxMs: 500,
      enrolTimeoutMs: 5_000,
      enrolRetryBaseMs: 500,
      enrolRetryMaxMs: 4_000,
      identityCheckIntervalMs: 100,
      syncIntervalMs: 1_000,
    },
    execute: () => Promise.resolve(undefined),
    state: () => ({ at: Date.now(), capabilities: [] }),
    now: () => Date.now() + shift.ms,
    // No jitter: a renewed certificate is never due again at the moved clock.
    random: () => 0,
    onEvent: (e) => {
      events.push(`${e.event} ${e.result} ${e.detail ?? ''}`);
      onEvent?.(e);
    },
  });
  links.push(link);
  return { link, events, stateDir, shift };
}

async function stored(stateDir: string): Promise<OperationalIdentityState> {
  return JSON.parse(await readFile(join(stateDir, OPERATIONAL_IDENTITY_FILE), 'utf8')) as OperationalIdentityState;
}

const has = (t: TestLink, re: RegExp): boolean => t.events.some((e) => re.test(e));

let main: TestLink;
const snapshots: string[] = [];

test('a unit with no operational identity enrols with its birth certificate, then sends telemetry', async () => {
  main = await openLink(join(work, 'state-main'), (e) => {
    // A power cut right after the certificate is stored: the folder as it stands now is what a restart finds.
    if (e.event === 'certificate-received') {
      const copy = join(work, `snapshot-${snapshots.length}`);
      cpSync(main.stateDir, copy, { recursive: true });
      snapshots.push(copy);
    }
  });
  const queued = main.link.queueTelemetry({ energy: 1 });
  main.link.start();
  await waitFor(() => has(main, /^identity-switched success/), 20_000, 'the switch to the operational certificate');
  assert.ok(has(main, /^enrol-requested info first/));
  assert.ok(enrols.some((r) => r.serial === plug.serial && r.reason === 'first'));
  assert.equal(main.link.identity.kind, 'operational');
  await waitFor(() => main.link.connected, 10_000, 'the session on the operational certificate');
  await waitFor(() => telemetry.some((m) => m.seq === queued), 10_000, 'the telemetry queued before enrolment');
  const state = await stored(main.stateDir);
  assert.ok(state.current && !state.next, 'proven: current only');
  assert.equal((await stat(join(main.stateDir, OPERATIONAL_IDENTITY_FILE))).mode & 0o777, 0o600);
  assert.notEqual(state.current.keyPem, bundle.deviceKeyPem, 'a new key, not the birth key');
  const status = main.link.identity;
  assert.equal(status.connectedWith, 'current');
  assert.ok(status.renewAt! > Date.now() && status.renewAt! < status.notAfter!);
});

test('a renewal the broker refuses leaves the old certificate in use; a renewal it accepts replaces it', async () => {
  const old = (await stored(main.stateDir)).current!;
  const renewAt = main.link.identity.renewAt!;
  issuing = { with: 'B' }; // not trusted by the broker yet
  main.shift.ms = renewAt - Date.now() + 1_000;
  await waitFor(() => has(main, /^identity-switched refused/), 20_000, 'the refusal of the new certificate');
  assert.ok(has(main, /^renewal-due info renewal/));
  assert.ok(enrols.some((r) => r.reason === 'renewal'));
  const snapshot = await readFile(join(snapshots.at(-1)!, OPERATIONAL_IDENTITY_FILE), 'utf8');
  const between = JSON.parse(snapshot) as OperationalIdentityState;
  assert.equal(between.current?.certPem, old.certPem, 'the old certificate stays while the new one is unproven');
  assert.ok(between.next && between.next.keyPem !== old.keyPem, 'the new one has a new key');
  assert.equal((await stored(main.stateDir)).current?.certPem, old.certPem, 'still the old one after the refusal');
  await waitFor(() => main.link.connected, 10_000, 'the session on the old certificate again');
  const seq = main.link.queueTelemetry({ energy: 2 });
  await waitFor(() => telemetry.some((m) => m.seq === seq), 10_000, 'telemetry on the old certificate');

  broker.trustIssuingCas([caA.certPem, caB.certPem]);
  await waitFor(() => main.events.filter((e) => /^identity-switched success/.test(e)).length >= 2, 20_000, 'a switch');
  const renewed = (await stored(main.stateDir)).current!;
  assert.notEqual(renewed.certPem, old.certPem);
  assert.notEqual(renewed.keyPem, old.keyPem);
  assert.ok(main.link.identity.renewAt! > Date.now() + main.shift.ms, 'not due again at once');
  await waitFor(() => main.link.connected, 10_000, 'the session on the renewed certificate');
  const after = main.link.queueTelemetry({ energy: 3 });
  await waitFor(() => telemetry.some((m) => m.seq === after), 10_000, 'telemetry on the renewed certificate');
  await main.link.close();
});

test('after a power cut between receiving a certificate and connecting with it, the unit connects', async () => {
  // The folder as it stood when the second renewal's certificate arrived: the old certificate and the new.
  const cut = snapshots.at(-1)!;
  const both = await stored(cut);
  assert.ok(both.current && both.next, 'both were on disk at the cut');
  const untrusting = join(work, 'after-cut-refused');
  cpSync(cut, untrusting, { recursive: true });
  broker.trustIssuingCas([caA.certPem]);
  const a = await openLink(untrusting);
  a.link.start();
  await waitFor(() => a.link.connected, 15_000, 'a connection with the old certificate');
  assert.equal(a.link.identity.connectedWith, 'current');
  assert.equal((await stored(untrusting)).current?.certPem, both.current.certPem);
  await a.link.close();

  broker.trustIssuingCas([caA.certPem, caB.certPem]);
  const trusting = join(work, 'after-cut-accepted');
  cpSync(cut, trusting, { recursive: true });
  const b = await openLink(trusting);
  b.link.start();
  await waitFor(() => has(b, /^identity-switched success/), 15_000, 'a connection with the new certificate');
  await waitFor(() => b.link.connected, 10_000, 'its session');
  const after = await stored(trusting);
  assert.equal(after.current?.certPem, both.next.certPem);
  assert.equal(after.next, undefined);
  await b.link.close();
});

test('a refusal from the cloud is journalled and asked again later, each wait longer', async () => {
  issuing = { error: 'UNIT_REVOKED' };
  const other = await makeUnits('plug', 1, work);
  const unit = other.units[0]!;
  const t = await openLink(join(work, 'state-revoked'), undefined, unit);
  t.link.start();
  await waitFor(() => t.events.filter((e) => /^enrol-refused refused UNIT_REVOKED/.test(e)).length >= 3, 20_000, '3');
  const times = enrols.filter((r) => r.serial === unit.serial).map((r) => r.at);
  const gaps = times.slice(1).map((at, i) => at - times[i]!);
  assert.ok(gaps[0]! >= 450, `first wait ${gaps[0]} ms`);
  assert.ok(gaps[1]! >= 950 && gaps[1]! > gaps[0]!, `second wait ${gaps[1]} ms`);
  assert.equal(t.link.connected, false, 'a birth certificate gets no session');
  assert.equal(t.link.identity.kind, 'birth');
  await t.link.close();
});
