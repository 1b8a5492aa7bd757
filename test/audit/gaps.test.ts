// Devices and releases that lack what a control asks for fail it, with evidence: a hub port that
// speaks TLS 1.2 and greets key-less peers, a broker that admits anyone, a lock whose state holds a
// push-button hub with its bolt, a device without its anti-rollback counter or with a damaged
// slot, a release without notes, SBOM or kept report, a firmware source with a parser nobody
// fuzzed or listed, and a hub port whose pairing window is open (not tested, never a pass).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { mkdir, mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { runAudit, type AuditReport } from '../../src/audit/index.ts';
import { createHubIdentity } from '../../src/hub/index.ts';
import { initRepository, publishImage, buildReferenceImage } from '../../src/release/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { makeFleet, startAgent, type TestFleet } from '../support/device.ts';

const PROFILES = fileURLToPath(new URL('../../src/policy/profiles/', import.meta.url));
let fleet: TestFleet;
const servers: TlsServer[] = [];
const agents: DeviceAgent[] = [];

before(
  async () => {
    fleet = await makeFleet(['plug', 'lock']);
  },
  { timeout: 120_000 },
);
after(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  for (const a of agents) await a.close();
});

function check(r: AuditReport, id: string): { status: string; text: string } {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `${id} did not run`);
  return {
    status: c.status,
    text: `${c.summary}\n${c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`).join('\n')}`,
  };
}

async function listen(server: TlsServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

test('a hub port that speaks TLS 1.2 and greets a peer without a key fails channel.mutual-tls', async () => {
  const id = await createHubIdentity('weak hub port');
  const port = await listen(
    createTlsServer({ key: id.key, cert: id.cert, minVersion: 'TLSv1.2' }, (s) => {
      s.on('error', () => undefined);
    }),
  );
  const r = await runAudit({ profile: join(PROFILES, 'lock.yaml'), hub: `127.0.0.1:${port}` });
  const c = check(r, 'channel.mutual-tls');
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /!! TLS ClientHello offering only TLSv1\.2.*handshake completed/);
  assert.match(c.text, /!! TLS 1\.3 without a client certificate.*kept the connection open/);
  assert.equal(check(r, 'hub.pairing-window').status, 'not-tested');
});

test('a broker admitting a client without a certificate and one from any CA fails cloud.client-isolation', async () => {
  const id = await createHubIdentity('open broker');
  const port = await listen(
    createTlsServer({ key: id.key, cert: id.cert, minVersion: 'TLSv1.2' }, (s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    }),
  );
  const r = await runAudit({
    profile: join(PROFILES, 'plug.yaml'),
    cloud: `mqtts://127.0.0.1:${port}`,
    bundle: fleet.units.plug!.dir,
  });
  const c = check(r, 'cloud.client-isolation');
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /!! TLS 1\.3 to .* without a client certificate.*ACCEPTED \(CONNACK 0\)/);
  assert.match(c.text, /!! TLS 1\.3 with a certificate for CN=.* from a CA the auditor made just now.*ACCEPTED/);
  assert.match(c.text, /!! TLS 1\.2 .*handshake completed/);
  assert.match(c.text, /!! TLS 1\.3 with this unit's own certificate.*ACCEPTED under another device's client id/);
  const anchor = check(r, 'bundle.cloud-trust-anchor');
  assert.equal(anchor.status, 'fail', anchor.text);
  assert.match(anchor.text, /!! the broker at mqtts:.*NOT issued by the bundle's CA/);
});

test('a lock whose state has a push-button hub and its bolt fails config.pairing-mode, config.hub-acl', async () => {
  const state = join(fleet.work, 'lock-state');
  await mkdir(state, { recursive: true, mode: 0o700 });
  await writeFile(
    join(state, 'hubs.json'),
    JSON.stringify({
      version: 1,
      hubs: [
        { pin: `sha256:${'ab'.repeat(32)}`, mode: 'push-button', pairedAt: new Date().toISOString(), rights: ['bolt'] },
      ],
    }),
    { mode: 0o600 },
  );
  const r = await runAudit({ profile: join(PROFILES, 'lock.yaml'), bundle: fleet.units.lock!.dir, state });
  const mode = check(r, 'config.pairing-mode');
  assert.equal(mode.status, 'fail', mode.text);
  assert.match(mode.text, /!! hubs\.json in the state folder -> 1 paired hub\(s\), 1 by push button/);
  const acl = check(r, 'config.hub-acl');
  assert.equal(acl.status, 'fail', acl.text);
  assert.match(acl.text, /1 push-button hub\(s\) hold sensitive rights/);
});

test('a device without its anti-rollback counter, and one with a damaged slot, fail the update controls', async () => {
  const state = join(fleet.work, 'plug-no-counter');
  agents.push(await startAgent(fleet.units.plug!, state)); // never reports healthy: no counter
  const r = await runAudit({ profile: join(PROFILES, 'plug.yaml'), bundle: fleet.units.plug!.dir, state });
  const c = check(r, 'update.anti-rollback');
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /!! firmware\/security\.json -> missing/);
  // A slot whose file changed after it was installed, named as the active one.
  const damaged = join(fleet.work, 'plug-damaged');
  const slot = join(damaged, 'firmware', 'slots', 'a');
  await mkdir(slot, { recursive: true, mode: 0o700 });
  const image = { format: 'bulwark-image/1', model: 'plug', version: '1.1.0', securityVersion: 1, entry: 'agent.mjs' };
  await writeFile(join(slot, 'image.json'), JSON.stringify(image));
  await writeFile(join(slot, 'agent.mjs'), 'tampered');
  await writeFile(
    join(slot, '.slot.json'),
    JSON.stringify({
      format: 'bulwark-slot/1',
      target: { path: 'plug/image.tar', sha256: 'a'.repeat(64), length: 1 },
      image,
      files: { 'image.json': { sha256: 'b'.repeat(64), size: 1 }, 'agent.mjs': { sha256: 'c'.repeat(64), size: 1 } },
      installedAt: new Date().toISOString(),
    }),
  );
  await writeFile(
    join(damaged, 'firmware', 'boot.json'),
    JSON.stringify({ format: 'bulwark-boot/1', active: 'a', previous: 'factory', trial: null }),
  );
  await writeFile(
    join(damaged, 'firmware', 'security.json'),
    JSON.stringify({ format: 'bulwark-security-counter/1', securityVersion: 1, version: '1.1.0' }),
    { mode: 0o600 },
  );
  const d = await runAudit({ profile: join(PROFILES, 'plug.yaml'), bundle: fleet.units.plug!.dir, state: damaged });
  const slots = check(d, 'update.failsafe-slots');
  assert.equal(slots.status, 'fail', slots.text);
  assert.match(slots.text, /!! verify slot a.*FAILS: .*has changed since it was installed/);
});

test('release lacking notes/SBOM/kept report fails update.release-notes, build.sbom, build.audit-report', async () => {
  const repoDir = join(fleet.work, 'bare-releases');
  await initRepository({ repoDir, factoryDir: fleet.factoryDir });
  const artifact = join(fleet.work, 'bare.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  for (const f of await readdir(join(repoDir, 'targets', 'plug')))
    if (f.endsWith('.cdx.json')) await rm(join(repoDir, 'targets', 'plug', f));
  const r = await runAudit({
    profile: join(PROFILES, 'plug.yaml'),
    bundle: fleet.units.plug!.dir,
    updateRepo: repoDir,
  });
  const notes = check(r, 'update.release-notes');
  assert.equal(notes.status, 'fail', notes.text);
  assert.match(
    notes.text,
    /!! the signed custom data of plug\/image\.tar \(1\.1\.0\) -> no notes\.risk or notes\.interruption/,
  );
  const sbom = check(r, 'build.sbom');
  assert.equal(sbom.status, 'fail', sbom.text);
  assert.match(sbom.text, /!! the SBOM beside plug\/image\.tar.*missing/);
  const kept = check(r, 'build.audit-report');
  assert.equal(kept.status, 'fail', kept.text);
  assert.match(kept.text, /!! the reports kept in .* -> none/);
  assert.equal(check(r, 'update.signature-required').status, 'pass', 'the release is still properly signed');
});

test('a firmware source with a parser nobody listed or fuzzed fails build.fuzz-targets', async () => {
  const source = await mkdtemp(join(tmpdir(), 'bulwark-audit-source-'));
  await mkdir(join(source, 'src', 'widget'), { recursive: true });
  await writeFile(
    join(source, 'src', 'widget', 'parse.ts'),
    'export function parseWidget(text: string): number { return text.length; }\n',
  );
  const r = await runAudit({ profile: join(PROFILES, 'plug.yaml'), source });
  const c = check(r, 'build.fuzz-targets');
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /not in the inventory: widget\/parse\.ts parseWidget/);
  await rm(source, { recursive: true, force: true });
});

test('a lock whose pairing window is open is not tested for it, never passed', async () => {
  const agent = await startAgent(fleet.units.lock!, join(fleet.work, 'lock-open'));
  agents.push(agent);
  agent.hub.openPairingWindow('button');
  const r = await runAudit({ profile: join(PROFILES, 'lock.yaml'), hub: `127.0.0.1:${agent.hub.port}` });
  const c = check(r, 'hub.pairing-window');
  assert.equal(c.status, 'not-tested', c.text);
  assert.match(c.text, /the window is open; the auditor hung up \(no share sent, so no attempt counted\)/);
  assert.equal(agent.hub.pairingStatus().failures, 0);
  assert.equal(agent.hub.pairingStatus().open, true);
});
