// A unit's own cloud link on a real Mosquitto with birth certificates confined to enrolment: it
// enrols on the enrolment listener (enrolUrl) with its factory certificate, then connects to the
// device listener with its operational certificate, and its telemetry is stored. Without enrolUrl
// it cannot: the device listener refuses a birth certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { CloudLink } from '../../src/cloudlink/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, startMosquitto, waitFor, linkIdentity, type TestMosquitto } from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';

let broker: TestMosquitto | undefined;
let cloud: CloudService | undefined;
let work: string;
let units: ProvisionedUnit[];
const links: CloudLink[] = [];

async function openLink(unit: ProvisionedUnit, enrolUrl: string | undefined): Promise<CloudLink> {
  const link = await CloudLink.open({
    identity: await linkIdentity(unit),
    stateDir: join(work, 'link', unit.serial),
    config: {
      url: broker!.url,
      ...(enrolUrl ? { enrolUrl } : {}),
      reconnectBaseMs: 100,
      reconnectMaxMs: 1_000,
      enrolTimeoutMs: 5_000,
      enrolRetryBaseMs: 500,
      enrolRetryMaxMs: 2_000,
    },
    execute: () => Promise.resolve(undefined),
    state: () => ({ at: Date.now(), capabilities: [] }),
  });
  links.push(link);
  link.start();
  return link;
}

before(async () => {
  if (!toolAvailable('mosquitto')) return;
  const fleet = await makeUnits('plug', 2);
  ({ work, units } = fleet);
  broker = await startMosquitto({ factoryDir: fleet.factoryDir, dir: join(work, 'mosquitto'), instances: ['1'] });
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(work, 'cloud'),
    brokerUrl: broker.enrolmentUrl,
    manifests: [fleet.manifest],
    api: { port: 0 },
    broker: { birthCertificates: 'enrolment' },
    issuing: { minEnrolIntervalMs: 1_000 },
    mosquitto: { configDir: join(work, 'mosquitto'), pidFile: broker.pidFile! },
  });
});

after(async () => {
  for (const l of links) await l.close();
  await cloud?.close();
  await broker?.stop();
});

test('a unit enrols on the enrolment listener and works on the device listener', { timeout: 60_000 }, async (t) => {
  if (!needTool(t, 'mosquitto')) return;
  const unit = units[0]!;
  const link = await openLink(unit, broker!.enrolmentUrl);
  await waitFor(() => link.connected && link.identity.connectedWith === 'current', 30_000, 'the operational session');
  const seq = link.queueTelemetry({ power: 1 });
  await waitFor(
    async () => (await cloud!.store.telemetry(unit.serial, 0, 10)).some((r) => r.seq === seq),
    15_000,
    'it',
  );
  const file = JSON.parse(await readFile(join(work, 'link', unit.serial, 'operational-identity.json'), 'utf8')) as {
    current?: { certPem: string };
  };
  assert.ok(file.current?.certPem.includes('BEGIN CERTIFICATE'));
});

test('without enrolUrl the device listener refuses the birth certificate, so the unit never connects', async (t) => {
  if (!needTool(t, 'mosquitto')) return;
  const link = await openLink(units[1]!, undefined);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(link.connected, false);
  assert.equal(link.identity.kind, 'birth');
});
