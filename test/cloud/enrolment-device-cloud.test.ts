// Birth and operational identities end to end (issue 19): the device's link against the cloud itself
// (startCloud: its issuing CA and enrolment handler), with the embedded broker confining birth
// certificates to enrolment. A unit with no operational identity enrols and its telemetry is stored;
// a renewal (the link's clock moved past the renewal time) brings a new key over the operational
// connection, and the old certificate stays on disk until the new one has connected; a power cut
// between receiving the new certificate and connecting with it (the state folder as it stood at that
// instant, opened by a new link) leaves a unit that connects with its new identity; a rotation of the
// issuing CA ({renew: true, before}) makes it renew at once, once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import {
  CloudLink,
  OPERATIONAL_IDENTITY_FILE,
  type CloudLinkEvent,
  type OperationalIdentityState,
} from '../../src/cloudlink/index.ts';
import { readDeviceBundle, type DeviceBundle } from '../../src/bundle/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, waitFor } from './support.ts';

let work: string;
let plug: ProvisionedUnit;
let bundle: DeviceBundle;
let cloud: CloudService;
const stored: Array<{ serial: string; seq: number }> = [];
const links: CloudLink[] = [];
let afterCut: TestLink | undefined;

before(async () => {
  const fleet = await makeUnits('plug', 1);
  work = fleet.work;
  plug = fleet.units[0]!;
  bundle = await readDeviceBundle(plug.dir);
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0, birthCertificates: 'enrolment' },
    api: { port: 0 },
    issuing: { minEnrolIntervalMs: 1_000 },
    onTelemetryStored: (rows) => stored.push(...rows.map((r) => ({ serial: r.serial, seq: r.seq }))),
  });
});

after(async () => {
  for (const link of links) await link.close();
  await cloud?.close();
});

interface TestLink {
  link: CloudLink;
  events: string[];
  stateDir: string;
  shift: { ms: number };
}

async function openLink(stateDir: string, onEvent?: (e: CloudLinkEvent) => void): Promise<TestLink> {
  const events: string[] = [];
  const shift = { ms: 0 };
  const link = await CloudLink.open({
    identity: { serial: plug.serial, ...bundle },
    stateDir,
    config: {
      url: cloud.brokerUrl,
      reconnectBaseMs: 100,
      reconnectMaxMs: 1_000,
      enrolTimeoutMs: 5_000,
      enrolRetryBaseMs: 500,
      enrolRetryMaxMs: 4_000,
      identityCheckIntervalMs: 100,
    },
    execute: () => Promise.resolve(undefined),
    state: () => ({ at: Date.now(), capabilities: [] }),
    // The link's clock only: the broker judges certificates at the real time.
    now: () => Date.now() + shift.ms,
    random: () => 0,
    onEvent: (e) => {
      events.push(`${e.event} ${e.result} ${e.detail ?? ''}`);
      onEvent?.(e);
    },
  });
  links.push(link);
  return { link, events, stateDir, shift };
}

async function identityFile(stateDir: string): Promise<OperationalIdentityState> {
  return JSON.parse(await readFile(join(stateDir, OPERATIONAL_IDENTITY_FILE), 'utf8')) as OperationalIdentityState;
}

const count = (t: TestLink, re: RegExp): number => t.events.filter((e) => re.test(e)).length;

test('enrols with the cloud, renews with a new key, and survives a power cut before the switch', async () => {
  const snapshots: string[] = [];
  const main: TestLink = await openLink(join(work, 'state'), (e) => {
    if (e.event !== 'certificate-received') return;
    const copy = join(work, `cut-${snapshots.length}`);
    cpSync(main.stateDir, copy, { recursive: true });
    snapshots.push(copy);
  });
  const early = main.link.queueTelemetry({ energy: 1 });
  main.link.start();
  await waitFor(() => count(main, /^identity-switched success/) >= 1, 20_000, 'the operational certificate');
  assert.match(main.events[0]!, /^connect success .*\(birth certificate\)/);
  await waitFor(() => main.link.connected, 10_000, 'the session');
  await waitFor(() => stored.some((r) => r.seq === early), 15_000, 'the reading queued before enrolment, stored');
  const first = (await identityFile(main.stateDir)).current!;
  assert.notEqual(first.keyPem, bundle.deviceKeyPem);
  assert.equal(main.link.identity.kind, 'operational');

  // Past the renewal time on the link's clock: it asks over its operational connection.
  main.shift.ms = main.link.identity.renewAt! - Date.now() + 1_000;
  await waitFor(() => count(main, /^identity-switched success/) >= 2, 20_000, 'the renewed certificate');
  main.shift.ms = 0;
  assert.ok(count(main, /^enrol-requested info renewal/) >= 1);
  const between = await identityFile(snapshots.at(-1)!);
  assert.equal(between.current?.certPem, first.certPem, 'the old certificate stays until the new one connects');
  assert.ok(between.next && between.next.keyPem !== first.keyPem, 'a new key');
  const renewed = (await identityFile(main.stateDir)).current!;
  assert.equal(renewed.certPem, between.next.certPem);
  await waitFor(() => main.link.connected, 10_000, 'the session on the renewed certificate');
  const later = main.link.queueTelemetry({ energy: 2 });
  await waitFor(() => stored.some((r) => r.seq === later), 15_000, 'a reading on the renewed certificate, stored');
  await main.link.close();

  // The power cut: what was on disk when the renewed certificate arrived, opened by a new process's link.
  const cutDir = join(work, 'restarted');
  cpSync(snapshots.at(-1)!, cutDir, { recursive: true });
  const again = await openLink(cutDir);
  again.link.start();
  await waitFor(() => again.link.connected, 15_000, 'a connection after the power cut');
  assert.equal((await identityFile(again.stateDir)).current?.certPem, between.next.certPem);
  assert.equal((await identityFile(again.stateDir)).next, undefined);
  afterCut = again;
});

test("a rotation of the cloud's issuing CA makes the connected unit renew at once", async () => {
  const t = afterCut!;
  const before = (await identityFile(t.stateDir)).current!;
  const switched = count(t, /^identity-switched success/);
  // The embedded broker trusts the new generation without being told by the test.
  await cloud.identities.rotate(cloud.broker);
  await waitFor(() => count(t, /^identity-switched success/) > switched, 20_000, 'the renewal the cloud asked for');
  assert.ok(count(t, /^enrol-requested info forced/) >= 1, 'asked as a forced renewal');
  const after = await identityFile(t.stateDir);
  assert.notEqual(after.current?.certPem, before.certPem);
  assert.equal(after.renew, undefined, 'the request is answered: no renewal loop');
  await waitFor(() => t.link.connected, 10_000, 'the session on the new generation');
});
