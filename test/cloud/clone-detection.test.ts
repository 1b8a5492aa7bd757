// Clone detection on the embedded broker, with two real processes (identity-holder.ts: mqtt.js,
// reconnecting every second as a unit does) holding one unit's certificate and key: each takes the session from the
// other, and the unit is flagged to the maker within one reconnect cycle; with automatic
// revocation configured, it is revoked and both are refused. One process alone is never flagged.
// The identity held is an operational certificate from the cloud's issuing CA, as a unit uses once
// enrolled (birth certificates only enrol).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, operationalCertificate, waitFor } from './support.ts';

let work: string;
let factoryDir: string;
let units: ProvisionedUnit[];
const processes: ChildProcess[] = [];
const clouds: CloudService[] = [];
/** Per cloud and serial, the folder of the operational identity every copy of the unit holds. */
const identityFolders = new Map<CloudService, Map<string, string>>();

/** The unit's operational identity from `cloud`, issued once and written as a bundle names its files. */
async function identityFolder(cloud: CloudService, unit: ProvisionedUnit): Promise<string> {
  const folders = identityFolders.get(cloud) ?? new Map<string, string>();
  identityFolders.set(cloud, folders);
  const known = folders.get(unit.serial);
  if (known !== undefined) return known;
  const dir = join(work, 'operational', `${clouds.indexOf(cloud)}-${unit.serial}`);
  await mkdir(dir, { recursive: true });
  const c = await operationalCertificate(cloud, unit.serial);
  await writeFile(join(dir, 'ca-cert.pem'), c.caPem);
  await writeFile(join(dir, 'device-cert.pem'), c.certPem);
  await writeFile(join(dir, 'device-key.pem'), c.keyPem, { mode: 0o600 });
  folders.set(unit.serial, dir);
  return dir;
}

/** A process holding `unit`'s identity (identity-holder.ts), reconnecting every second when it loses the session. */
async function holdIdentity(cloud: CloudService, unit: ProvisionedUnit): Promise<ChildProcess> {
  const script = join(import.meta.dirname, 'identity-holder.ts');
  const dir = await identityFolder(cloud, unit);
  const child = spawn(process.execPath, [script, cloud.brokerUrl, dir, unit.serial], { stdio: 'ignore' });
  processes.push(child);
  return child;
}

function securityEvents(cloud: CloudService): string[] {
  return cloud.journal.list({ limit: 1000, tier: 'security' }).map((e) => `${e.event} ${e.detail ?? ''}`);
}

async function startedCloud(name: string, cloneDetection: Record<string, number> = {}): Promise<CloudService> {
  const cloud = await startCloud({
    factoryDir,
    stateDir: join(work, name),
    manifests: [join(work, 'units', 'manifest.json')],
    broker: { port: 0 },
    api: { port: 0 },
    cloneDetection,
  });
  clouds.push(cloud);
  return cloud;
}

before(async () => {
  const fleet = await makeUnits('plug', 3);
  ({ work, factoryDir, units } = fleet);
});

after(async () => {
  for (const p of processes) p.kill('SIGTERM');
  for (const c of clouds) await c.close();
});

test('two processes holding one identity are flagged to the maker within one reconnect cycle', async (t) => {
  const cloud = await startedCloud('flag');
  const [unit, alone] = units as [ProvisionedUnit, ProvisionedUnit];
  await holdIdentity(cloud, alone);
  await holdIdentity(cloud, unit);
  // The cloud's own client is connected too.
  await waitFor(() => cloud.broker!.connectedClients() === 3, 10_000, 'both units to connect');
  const second = Date.now();
  await holdIdentity(cloud, unit);
  const suspect = await waitFor(
    async () => (await cloud.store.cloneSuspects(10)).find((s) => s.serial === unit.serial),
    5_000,
    'the unit to be flagged',
  );
  t.diagnostic(`flagged ${suspect!.flaggedAt - second} ms after the second process started`);
  assert.ok(suspect!.takeovers >= 2);
  const events = securityEvents(cloud);
  assert.ok(events.some((e) => e.startsWith('identity-in-two-places') && e.includes(unit.serial)));
  assert.ok(events.some((e) => e.startsWith('clone-suspected') && e.includes(unit.serial)));
  assert.ok(!(await cloud.store.cloneSuspects(10)).some((s) => s.serial === alone.serial), 'one process alone is not');
  assert.equal(await cloud.store.revocationCount(), 0, 'nothing is revoked by default');
});

test('with automatic revocation configured, a cloned unit is revoked and neither copy gets back in', async () => {
  const cloud = await startedCloud('revoke', { flagAfter: 2, revokeAfter: 3 });
  const unit = units[2]!;
  await holdIdentity(cloud, unit);
  await waitFor(() => cloud.broker!.connectedClients() === 2, 10_000, 'the unit to connect');
  await holdIdentity(cloud, unit);
  const revoked = (await waitFor(() => cloud.store.unitRevocation(unit.serial), 10_000, 'the revocation'))!;
  assert.equal(revoked.reason, 'clone');
  assert.equal(revoked.by, 'clone-detection');
  // Both processes keep retrying every second; the broker refuses each from now on.
  await new Promise((r) => setTimeout(r, 2_500));
  assert.equal(cloud.broker!.connectedClients(), 1, "only the cloud's own client is connected");
  assert.ok(securityEvents(cloud).some((e) => e.startsWith('clone-revoked') && e.includes(unit.serial)));
});
