// Acceptance for the demo's sensitive devices: a lock paired with a hub by its setup code (bolt
// granted) and a camera waiting for its owner's setup, both connected to the cloud and updating
// from a release repository. Each is audited twice, as a release pipeline would (the first
// report is kept with the release, the second finds it): every required control passes on the
// second audit, hub controls (pairing window, setup-code-only pairing, mutual TLS, rights)
// included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { startCloud, factoryIssuer, writeRevokedIdentity, type CloudService } from '../../src/cloud/index.ts';
import { startHubService, type HubService } from '../../src/hub/index.ts';
import {
  initRepository,
  publishImage,
  buildReferenceImage,
  startRepositoryServer,
  type RepositoryServer,
} from '../../src/release/index.ts';
import { auditRunningDevice, type AuditReport } from '../../src/audit/index.ts';
import { releaseVulnsWithoutMatch } from './release-vulns.ts';
import { publishConsistentFacts } from './publish-facts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODELS = ['lock', 'camera'] as const;

let work: string;
const units: Record<string, ProvisionedUnit> = {};
const agents: Record<string, DeviceAgent> = {};
let cloud: CloudService | undefined;
let repo: RepositoryServer | undefined;
let hub: HubService | undefined;
const reports: Record<string, { gate: AuditReport; kept?: string; main: AuditReport }> = {};

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-audit-demo-'));
    const factoryDir = join(work, 'factory');
    await initFactory(factoryDir);
    for (const m of MODELS)
      units[m] = (await provisionUnits({ factoryDir, model: m, count: 1, outDir: join(work, 'units') }))[0]!;
    const manifest = join(work, 'units', 'manifest.json');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
      bulwark?: { securityVersion?: number };
    };
    const repoDir = join(work, 'releases');
    await initRepository({ repoDir, factoryDir });
    const sboms: string[] = [];
    for (const m of MODELS) {
      const artifact = join(work, `${m}.image.tar`);
      await buildReferenceImage(artifact, {
        model: m,
        version: pkg.version,
        securityVersion: pkg.bulwark?.securityVersion ?? 0,
      });
      const published = await publishImage({
        repoDir,
        artifact,
        model: m,
        version: pkg.version,
        notes: { risk: 'the first release: no known risk fixed', interruption: `the ${m} restarts: about 10 s` },
      });
      sboms.push(published.files.sbom);
    }
    // The maker's advisory match (release vulns), after the last image is published.
    await releaseVulnsWithoutMatch(repoDir, sboms[0]!, join(work, 'osv'));
    repo = await startRepositoryServer({ repoDir });
    cloud = await startCloud({
      factoryDir,
      stateDir: join(work, 'cloud'),
      manifests: [manifest],
      broker: { port: 0 },
      api: { port: 0 },
    });
    // Each model's facts record, consistent with the release and the units (cloud.facts-record).
    for (const m of MODELS) await publishConsistentFacts(cloud, join(work, 'cloud'), repoDir, m);
    for (const m of MODELS) {
      agents[m] = await startDeviceAgent({
        bundleDir: units[m]!.dir,
        stateDir: join(work, `state-${m}`),
        host: '127.0.0.1',
        webPort: 0,
        hubPort: 0,
        mode: 'development',
        cloudUrl: cloud.brokerUrl,
        update: { config: { repositoryUrl: repo.url, firstCheckDelayMs: 0, checkJitterMs: 0 } },
      });
      await agents[m].updater.reportHealthy();
      assert.ok(await agents[m].cloud!.waitConnected(20_000));
    }
    // The demo's hub step: the lock paired by its setup code, then its bolt granted.
    hub = await startHubService({ stateDir: join(work, 'hub'), web: false });
    agents.lock!.hub.openPairingWindow('button');
    const lock = await hub.hub.pair({
      address: `127.0.0.1:${agents.lock!.hub.port}`,
      setupCode: units.lock!.setupCode,
    });
    hub.hub.grant(lock.serial, 'bolt');
    for (const a of Object.values(agents)) {
      for (let i = 0; a.updater.status().lastCheck === null && i < 200; i++)
        await new Promise((r) => setTimeout(r, 50));
    }
    // A certificate from the factory's CA, revoked on the cloud: each audit must see the broker refuse it.
    const revoked = join(work, 'revoked');
    const live = cloud;
    await writeRevokedIdentity({
      issuer: await factoryIssuer(factoryDir),
      revoke: (input) => live.revocations.revoke(input, 'test'),
      outDir: revoked,
    });
    const cloudApiCa = join(work, 'cloud-ca.pem');
    await writeFile(cloudApiCa, cloud.credentials.caCertPem);
    for (const [i, m] of MODELS.entries()) {
      const common = {
        cloudApi: cloud.api.url,
        cloudApiCa,
        // Where the cloud's mail to the claim probe's test accounts arrives (their confirmation links).
        cloudMail: join(work, 'cloud', 'mail'),
        revoked,
        model: m,
        agent: agents[m]!,
        bundle: units[m]!.dir,
        state: join(work, `state-${m}`),
        manifest,
        cloudUrl: cloud.brokerUrl,
        updateRepo: repoDir,
        source: ROOT,
      };
      const gate = await auditRunningDevice({
        ...common,
        keepReport: true,
        factory: factoryDir,
        loopbackSourceBase: `127.0.${10 + i}.50`,
      });
      const main = await auditRunningDevice({ ...common, loopbackSourceBase: `127.0.${20 + i}.50` });
      reports[m] = { gate: gate.report, ...(gate.kept ? { kept: gate.kept } : {}), main: main.report };
    }
  },
  { timeout: 900_000 },
);
after(async () => {
  await hub?.close();
  for (const a of Object.values(agents)) await a.close();
  await cloud?.close();
  await repo?.close();
});

function problems(r: AuditReport): string {
  return r.controls
    .filter((c) => c.required && c.status !== 'pass')
    .map((c) => {
      const checks = r.checks.filter((k) => c.checks.includes(k.id) && k.status !== 'pass');
      return `${c.id} ${c.status}: ${checks
        .map(
          (k) =>
            `${k.id}: ${k.summary} [${k.evidence
              .filter((e) => e.finding)
              .map((e) => `${e.sent} -> ${e.received}`)
              .join(' | ')}]`,
        )
        .join('; ')}`;
    })
    .join('\n');
}

for (const m of MODELS) {
  test(`the demo's ${m}: every required control passes and the audit exits 0`, () => {
    const r = reports[m]!.main;
    assert.equal(r.tier, 3);
    assert.equal(r.summary.fail + r.summary.notTested, 0, problems(r));
    assert.equal(r.summary.exitCode, 0);
    assert.ok(reports[m]!.kept?.endsWith('.audit.json'), `the gate report was not kept: ${reports[m]!.kept ?? ''}`);
    for (const id of ['PAIR-WINDOW', 'PAIR-PAKE-SENSITIVE', 'CHANNEL-MUTUAL-TLS', 'HUB-LEAST-PRIVILEGE']) {
      assert.equal(r.controls.find((c) => c.id === id)?.status, 'pass', id);
    }
    const push = r.checks
      .find((c) => c.id === 'hub.pairing-window')!
      .evidence.map((e) => e.received)
      .join('\n');
    assert.match(push, /refused: PAIRING_PUSH_BUTTON_REFUSED/);
  });
}

test("paired lock: hub's setup-code pairing in hubs.json with its device bolt; hub works after the audit", async () => {
  const acl = reports.lock!.main.checks.find((c) => c.id === 'config.hub-acl')!;
  assert.match(acl.evidence.map((e) => e.received).join('\n'), /1 paired hub\(s\): setup-code \[bolt\]/);
  const serial = units.lock!.serial;
  assert.equal(await hub!.hub.call(serial, 'bolt', 'unlock'), 'unlocked');
});

test("the camera's journal keeps no content and coarse sources even with the auditor's hub probes in it", () => {
  assert.equal(reports.camera!.main.checks.find((c) => c.id === 'journal.no-content')?.status, 'pass');
});

for (const m of MODELS) {
  test(`EN 18031: the demo's ${m} gets PASS or NOT APPLICABLE on every requirement, each with its path`, () => {
    const e = reports[m]!.main.en18031;
    assert.deepEqual(
      e.parts.map((p) => p.applies),
      [true, true, false],
    );
    const bad = e.requirements.filter((r) => r.outcome !== 'pass' && r.outcome !== 'not-applicable');
    assert.deepEqual(
      bad.map((r) => `${r.id}/${r.part} ${r.outcome}: ${JSON.stringify(r.path.at(-1))}`),
      [],
    );
    for (const r of e.requirements.filter((q) => q.part !== 3)) assert.ok(r.path.length >= 2, r.id);
    // Its hub link is walked: the channel's mutual TLS answers ACM-1's hub node.
    const acm1 = e.requirements.find((r) => r.id === 'ACM-1' && r.part === 1)!;
    assert.ok(
      acm1.path.some((s) => s.evidence.some((v) => v.name === 'check channel.mutual-tls' && v.value === 'pass')),
    );
  });
}
