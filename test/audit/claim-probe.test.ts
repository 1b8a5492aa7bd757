// cloud.claim-window probes the deployed cloud through its owner API with test accounts while the
// auditor presses the unit's button (issue 23 part 7): a cloud that keeps the claim window open
// longer than the policy allows fails, although the cloud library's defaults (which the check used
// to run on an in-memory database) would pass; a cloud on those defaults passes on its own answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFleet } from '../support/device.ts';
import { OwnerApiClient, findMailedLink, startCloud, type CloudService } from '../../src/cloud/index.ts';
import { pressButton, startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { runAudit, type AuditReport } from '../../src/audit/index.ts';
import { waitFor } from '../cloud/support.ts';

const PLUG = fileURLToPath(new URL('../../src/policy/profiles/plug.yaml', import.meta.url));
const running: Array<{ close(): Promise<void> }> = [];

after(async () => {
  for (const r of running.reverse()) await r.close();
});

/** A plug connected to a cloud whose claim window lasts `claimWindowMs` (undefined: the library's default). */
async function plugOnCloud(claimWindowMs?: number): Promise<{
  cloud: CloudService;
  agent: DeviceAgent;
  bundle: string;
  state: string;
  ca: string;
}> {
  const fleet = await makeFleet(['plug']);
  const unit = fleet.units.plug!;
  const cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [join(fleet.work, 'units', 'manifest.json')],
    broker: { port: 0 },
    api: { port: 0 },
    ...(claimWindowMs !== undefined ? { ingest: { claimWindowMs } } : {}),
  });
  running.push(cloud);
  const state = join(fleet.work, 'state');
  const agent = await startDeviceAgent({
    bundleDir: unit.dir,
    stateDir: state,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
  });
  running.push(agent);
  assert.ok(await agent.cloud!.waitConnected(20_000), 'the plug connects to the cloud');
  for (let i = 0; agent.cloud!.identity.connectedWith !== 'current' && i < 400; i++)
    await new Promise((r) => setTimeout(r, 50));
  const ca = join(fleet.work, 'cloud-ca.pem');
  await writeFile(ca, cloud.credentials.caCertPem);
  return { cloud, agent, bundle: unit.dir, state, ca };
}

function claimCheck(report: AuditReport): { status: string; text: string } {
  const c = report.checks.find((k) => k.id === 'cloud.claim-window')!;
  return {
    status: c.status,
    text: c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`).join('\n'),
  };
}

async function audit(p: Awaited<ReturnType<typeof plugOnCloud>>): Promise<{ status: string; text: string }> {
  return claimCheck(
    await runAudit({
      profile: PLUG,
      bundle: p.bundle,
      state: p.state,
      cloud: p.cloud.brokerUrl,
      cloudApi: p.cloud.api.url,
      cloudApiCa: p.ca,
      cloudMail: p.cloud.mail.maildir,
    }),
  );
}

test(
  "a cloud on the library's defaults passes on its own answers, and the unit is left unclaimed",
  { timeout: 180_000 },
  async () => {
    const p = await plugOnCloud();
    const c = await audit(p);
    assert.equal(c.status, 'pass', c.text);
    assert.match(c.text, /the label's code, no window open -> 409 CLAIM_WINDOW_CLOSED/);
    assert.match(c.text, /the cloud keeps the window open 10 min \(the policy allows 10\)/);
    assert.match(c.text, /a wrong code inside the window -> 403 CLAIM_REFUSED/);
    assert.match(c.text, /the label's code inside the window -> 201/);
    assert.match(c.text, /another account with the label's code -> 409 DEVICE_CLAIMED/);
    assert.match(c.text, /wrong claim codes from one test account -> 429 after [1-5] failures/);
    const device = await p.cloud.store.getDevice(p.agent.bundle.unit.serial);
    assert.equal(device?.ownerId ?? null, null, 'the probe released the unit');
    // A claim press opens the cloud's window only: the unit's pairing window stayed shut.
    assert.equal(p.agent.hub.pairingStatus().open, false);
    assert.equal(p.agent.hub.pairingStatus().openedBy, undefined);
  },
);

test('a cloud whose claim window is longer than the policy allows fails the check', { timeout: 180_000 }, async () => {
  const p = await plugOnCloud(60 * 60_000);
  const c = await audit(p);
  assert.equal(c.status, 'fail', c.text);
  assert.match(
    c.text,
    /!! a claim press on the unit's button .* -> the cloud keeps the window open 60 min \(the policy allows 10\)/,
  );
});

test(
  'a unit whose claim window a press left open is let go at once and not tested; an owned unit is not probed',
  { timeout: 180_000 },
  async () => {
    const p = await plugOnCloud();
    const serial = p.agent.bundle.unit.serial;
    assert.match(await pressButton(p.state, 'press'), /cloud claim window open for 10 minutes/);
    const open = await audit(p);
    assert.equal(open.status, 'not-tested', open.text);
    assert.equal((await p.cloud.store.getDevice(serial))?.ownerId ?? null, null, 'the test account let it go');
    const owner = new OwnerApiClient(p.cloud.api.url, p.cloud.credentials.caCertPem);
    assert.equal((await owner.register('owner@example.com', 'marble falcon tundra 42 softly')).status, 202);
    const link = await waitFor(
      () => findMailedLink(p.cloud.mail.maildir, 'owner@example.com', '/verify'),
      10_000,
      'the confirmation message',
    );
    assert.equal((await owner.confirmAddress(new URL(link!).searchParams.get('token')!)).status, 200);
    assert.equal((await owner.login('owner@example.com', 'marble falcon tundra 42 softly')).status, 200);
    assert.match(await pressButton(p.state, 'claim'), /cloud claim window open/);
    const label = JSON.parse(await readFile(join(p.bundle, 'label.json'), 'utf8')) as { claimCode: string };
    assert.equal((await owner.claim(serial, label.claimCode)).status, 201);
    const owned = await audit(p);
    assert.equal(owned.status, 'not-tested', owned.text);
    assert.equal((await owner.devices()).body.devices.length, 1, 'the owner still has the unit');
  },
);
