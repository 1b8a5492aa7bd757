// Acceptance: an audit of running Bulwark plugs (two units of one batch) with everything the
// auditor can use: their bundle, state and manifest, this checkout as the firmware source, the
// device's hub port, the manufacturer cloud they are connected to, and the release repository
// they update from (with a signed note, the SBOM and the audit report kept with the release).
// Every required control passes and the audit exits 0; the audit is polite (the owner still
// logs in, nothing of the device changed, the cloud link was not disturbed, no secret in the
// report).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { startCloud, factoryIssuer, writeRevokedIdentity, type CloudService } from '../../src/cloud/index.ts';
import {
  initRepository,
  publishImage,
  buildReferenceImage,
  startRepositoryServer,
  type RepositoryServer,
} from '../../src/release/index.ts';
import {
  auditRunningDevice,
  renderAuditHtml,
  auditExitCode,
  AUDIT_EXIT_CODES,
  KEPT_AUDITS_DIR,
  type AuditReport,
} from '../../src/audit/index.ts';
import { WebClient } from '../support/device.ts';
import { releaseVulnsWithoutMatch } from './release-vulns.ts';
import { publishConsistentFacts } from './publish-facts.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let work: string;
let units: ProvisionedUnit[];
const agents: DeviceAgent[] = [];
let cloud: CloudService | undefined;
const sessionsBeforeAudit: number[] = [];
let repo: RepositoryServer | undefined;
let repoDir: string;
let report: AuditReport;
let gate: { report: AuditReport; kept?: string };

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-audit-'));
    const factoryDir = join(work, 'factory');
    await initFactory(factoryDir);
    units = await provisionUnits({ factoryDir, model: 'plug', count: 2, outDir: join(work, 'units') });
    const manifest = join(work, 'units', 'manifest.json');
    // The release the plugs run: the installed runtime's version, signed with its owner's note.
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
      bulwark?: { securityVersion?: number };
    };
    repoDir = join(work, 'releases');
    await initRepository({ repoDir, factoryDir });
    const artifact = join(work, 'plug.image.tar');
    await buildReferenceImage(artifact, {
      model: 'plug',
      version: pkg.version,
      securityVersion: pkg.bulwark?.securityVersion ?? 0,
    });
    const published = await publishImage({
      repoDir,
      artifact,
      model: 'plug',
      version: pkg.version,
      notes: {
        risk: 'the first release: no known risk fixed',
        interruption: 'the plug restarts: about 10 s without switching',
      },
    });
    // The maker's advisory match (release vulns): an advisory for versions below the one the image holds.
    await releaseVulnsWithoutMatch(repoDir, published.files.sbom, join(work, 'osv'));
    repo = await startRepositoryServer({ repoDir });
    cloud = await startCloud({
      factoryDir,
      stateDir: join(work, 'cloud'),
      manifests: [manifest],
      broker: { port: 0 },
      api: { port: 0 },
    });
    // The label's facts record, consistent with the release and the unit (cloud.facts-record).
    await publishConsistentFacts(cloud, join(work, 'cloud'), repoDir, 'plug');
    // One by one, so after() closes whatever started even if a later start fails.
    for (const [i, unit] of units.entries()) {
      const agent = await startDeviceAgent({
        bundleDir: unit.dir,
        stateDir: join(work, `state-${i}`),
        host: '127.0.0.1',
        webPort: 0,
        hubPort: 0,
        mode: 'development',
        cloudUrl: cloud.brokerUrl,
        update: { config: { repositoryUrl: repo.url, firstCheckDelayMs: 0, checkJitterMs: 0 } },
      });
      agents.push(agent);
      // What agent-main does once every surface is up: the health report (it records the anti-rollback counter).
      await agent.updater.reportHealthy();
      assert.ok(await agent.cloud!.waitConnected(20_000), 'the plug connects to the cloud');
    }
    for (const agent of agents) {
      for (let i = 0; agent.updater.status().lastCheck === null && i < 200; i++)
        await new Promise((r) => setTimeout(r, 50));
      // Enrolment takes two sessions (birth, then operational); the audit must add none.
      for (let i = 0; agent.cloud!.identity.connectedWith !== 'current' && i < 400; i++)
        await new Promise((r) => setTimeout(r, 50));
      sessionsBeforeAudit.push(agent.cloud!.connections);
    }
    // A certificate from the factory's CA, revoked on the cloud: the audit must see the broker refuse it.
    const revoked = join(work, 'revoked');
    const live = cloud;
    await writeRevokedIdentity({
      issuer: await factoryIssuer(factoryDir),
      revoke: (input) => live.revocations.revoke(input, 'test'),
      outDir: revoked,
    });
    const cloudApiCa = join(work, 'cloud-ca.pem');
    await writeFile(cloudApiCa, cloud.credentials.caCertPem);
    const common = {
      model: 'plug',
      manifest,
      cloudUrl: cloud.brokerUrl,
      cloudApi: cloud.api.url,
      cloudApiCa,
      // Where the cloud's mail to the claim probe's test accounts arrives (their confirmation links).
      cloudMail: join(work, 'cloud', 'mail'),
      revoked,
      updateRepo: repoDir,
      source: ROOT,
    };
    // The release gate: the second unit, audited and its passing report kept with the release...
    gate = await auditRunningDevice({
      ...common,
      agent: agents[1]!,
      bundle: units[1]!.dir,
      state: join(work, 'state-1'),
      peers: [agents[0]!.web.url],
      keepReport: true,
      factory: factoryDir,
    });
    // ... then the audit this test is about, of the first unit.
    const main = await auditRunningDevice({
      ...common,
      agent: agents[0]!,
      bundle: units[0]!.dir,
      state: join(work, 'state-0'),
      peers: [agents[1]!.web.url],
    });
    report = main.report;
    await writeFile(join(work, 'audit.json'), JSON.stringify(report, null, 2));
    await writeFile(join(work, 'audit.html'), renderAuditHtml(report));
  },
  { timeout: 600_000 },
);
after(async () => {
  for (const a of agents) await a.close();
  await cloud?.close();
  await repo?.close();
});

/** A verdict that is not a shortfall: a pass, or what the maker declares (counted apart, never as a pass). */
const clear = (status: string): boolean => status === 'pass' || status === 'declared';

function problems(r: AuditReport): string {
  return r.controls
    .filter((c) => c.required && !clear(c.status))
    .map((c) => {
      const checks = r.checks.filter((k) => c.checks.includes(k.id) && !clear(k.status));
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

test('every required control passes on a running Bulwark plug, and the audit exits 0', () => {
  assert.equal(report.scope.targetKind, 'bulwark');
  const required = report.controls.filter((c) => c.required);
  assert.equal(report.summary.fail + report.summary.notTested, 0, problems(report));
  // What rests on the maker's published policy is declared, counted apart from the passes.
  const onPolicy = required.filter((c) => c.checks.some((k) => k.startsWith('policy.'))).map((c) => c.id);
  assert.deepEqual(
    required.filter((c) => c.status === 'declared').map((c) => c.id),
    onPolicy,
  );
  assert.equal(report.summary.declared, onPolicy.length);
  assert.equal(report.summary.pass, required.length - onPolicy.length);
  assert.equal(auditExitCode(report), AUDIT_EXIT_CODES.passed);
  assert.equal(report.summary.exitCode, 0);
  assert.deepEqual(
    report.checks.filter((c) => c.status !== (c.id.startsWith('policy.') ? 'declared' : 'pass')).map((c) => c.id),
    [],
    "every check it ran passed, and those that read only the maker's policy say declared",
  );
  assert.deepEqual(report.scope.firmware && { model: report.scope.firmware.model, slot: report.scope.firmware.slot }, {
    model: 'plug',
    slot: 'factory',
  });
});

test('the controls that were stubs before the hub, the cloud and updates landed pass on their own evidence', () => {
  const byId = new Map(report.checks.map((c) => [c.id, c]));
  const evidence = (id: string): string =>
    byId
      .get(id as never)!
      .evidence.map((e) => `${e.sent} -> ${e.received}`)
      .join('\n');
  assert.match(evidence('update.signature-required'), /every signature, threshold, version and hash verifies/);
  assert.match(evidence('update.signature-required'), /timestamp verified; snapshot verified; targets verified/);
  assert.match(evidence('update.anti-rollback'), /refuses it and boots factory/);
  assert.match(evidence('update.failsafe-slots'), /goes back to slot a/);
  assert.match(evidence('update.release-notes'), /a note: "the first release/);
  assert.match(evidence('config.auto-update'), /update-postpone without a session.* 401: the owner's control exists/);
  assert.match(evidence('cloud.client-isolation'), /CONNACK 2 \(identifier rejected\)/);
  assert.match(evidence('cloud.client-isolation'), /from a CA the auditor made just now.*-> refused/);
  assert.match(evidence('cloud.claim-window'), /the label's code, no window open -> 409 CLAIM_WINDOW_CLOSED/);
  assert.match(evidence('cloud.claim-window'), /the cloud keeps the window open 10 min/);
  assert.match(
    evidence('bundle.cloud-trust-anchor'),
    /against a broker on loopback whose certificate comes from another CA -> refused/,
  );
  assert.match(evidence('config.service-unit'), /all set: User=bulwark/);
  assert.match(evidence('build.fuzz-targets'), /all \d+ fuzzed/);
  assert.match(
    evidence('build.sbom'),
    /CycloneDX 1\.5, \d+ components, signed as a target \(hash verified\), naming the image/,
  );
  assert.match(evidence('build.audit-report'), /a passing report of plug/);
  assert.match(evidence('build.sbom-complete'), /the signed SBOM of plug\/image\.tar .* every one complete/);
  assert.match(evidence('build.known-vulnerabilities'), /1 \(1 OSV, 0 CSAF\).*no advisory affects them/s);
  assert.match(evidence('cloud.disclosure-intake'), /verified against --cloud-api-ca.*error code INVALID_INPUT/s);
  assert.match(evidence('state.factory-reset'), /the label's password logs in again/);
  assert.match(evidence('state.factory-reset'), /the release is queued for the cloud/);
  assert.match(evidence('state.data-export'), /bulwark-export\/1: .*journal.*no secret/);
  assert.match(evidence('config.offline-operation'), /doubling to a cap, up to 50% off at random/);
});

test("release gate: unit 2's passing report was kept with the release, under its audited firmware", async () => {
  assert.ok(gate.kept !== undefined && existsSync(gate.kept), `not kept: ${gate.kept ?? ''}\n${problems(gate.report)}`);
  const names = await readdir(join(repoDir, KEPT_AUDITS_DIR, 'plug'));
  assert.equal(names.length, 1);
  // The gate's own run could not yet find a kept report: that control alone falls short of a pass.
  const notPassing = gate.report.controls.filter((c) => c.required && !clear(c.status)).map((c) => c.id);
  assert.deepEqual(notPassing, ['RELEASE-GATE'], problems(gate.report));
  assert.equal(gate.report.checks.find((c) => c.id === 'build.lint')?.status, 'pass');
});

test('certificates of the two units are compared, and every TLS probe got its answer', () => {
  const certs = report.checks.find((c) => c.id === 'tls.unique-certificates')!;
  assert.equal(certs.status, 'pass');
  assert.match(certs.summary, /2 units present 2 different certificates/);
  const versions = report.checks.find((c) => c.id === 'tls.versions')!;
  assert.deepEqual(
    versions.evidence.map((e) => /^refused/.test(e.received)),
    [true, true, false, false],
  );
});

test("the auditor's lockout and CSRF refusal are in the device journal (LOG-SECURITY-EVENTS, white-box)", () => {
  const events = report.checks.find((c) => c.id === 'journal.security-events')!;
  assert.equal(events.status, 'pass');
  assert.ok(events.evidence.some((e) => /locked-out/.test(e.received)));
  assert.ok(events.evidence.some((e) => /refused CSRF/.test(e.received)));
  const lockout = report.checks.find((c) => c.id === 'login.lockout')!;
  assert.match(lockout.summary, /attempt [1-6]\b/);
});

test('polite audit: owner can log in, device unchanged, cloud link undisturbed, no secret in the report', async () => {
  const owner = await WebClient.for(agents[0]!.web.url, units[0]!);
  assert.equal((await owner.login(units[0]!.adminPassword!)).status, 303);
  assert.equal(existsSync(join(work, 'state-0', 'web', 'owner.json')), false, 'the audit changed the owner password');
  assert.equal(existsSync(join(work, 'state-0', 'hubs.json')), false, 'the audit paired a hub');
  for (const a of agents) {
    assert.equal(a.cloud!.connected, true);
    assert.equal(a.cloud!.connections, sessionsBeforeAudit[agents.indexOf(a)], 'the cloud session was never displaced');
    assert.equal(a.hub.pairingStatus().failures, 0, 'no pairing attempt was counted');
  }
  const journal = await readFile(join(work, 'state-0', 'connection-journal.jsonl'), 'utf8');
  assert.ok(!/factory-reset/.test(journal), 'the real device was never reset (only its copy)');
  const text = (await readFile(join(work, 'audit.json'), 'utf8')) + (await readFile(join(work, 'audit.html'), 'utf8'));
  for (const u of units) {
    for (const secret of [u.adminPassword!, u.setupCode, u.claimCode])
      assert.ok(!text.includes(secret), 'a sticker secret is in the report');
    const key = (await readFile(join(u.dir, 'device-key.pem'), 'utf8')).split('\n')[1]!;
    assert.ok(!text.includes(key), 'a device key is in the report');
  }
  assert.ok(!/bulwark-audit-canary-/.test(text), 'a canary password is in the report');
  const loginProbes = report.checks.filter((c) => c.id.startsWith('login.')).flatMap((c) => c.evidence);
  assert.ok(loginProbes.length <= 10 + 8 + 2, `too many login attempts: ${loginProbes.length}`);
});

test('EN 18031: the plug gets PASS or NOT APPLICABLE on every requirement of every part, each with its path', () => {
  const e = report.en18031;
  assert.deepEqual(
    e.parts.map((p) => [p.part, p.applies]),
    [
      [1, true],
      [2, true], // the plug keeps an energy history: personal data
      [3, false], // it handles no money
    ],
  );
  const bad = e.requirements.filter((r) => r.outcome !== 'pass' && r.outcome !== 'not-applicable');
  assert.deepEqual(
    bad.map((r) => `${r.id}/${r.part} ${r.outcome}: ${JSON.stringify(r.path.at(-1))}`),
    [],
  );
  for (const r of e.requirements) assert.ok(r.path.length >= (r.part === 3 ? 1 : 2), `${r.id} has no path`);
  // No hub: the hub nodes are answered "no" from the profile, not from a probe that did not run.
  const acm1 = e.requirements.find((r) => r.id === 'ACM-1' && r.part === 1)!;
  assert.ok(acm1.path.some((s) => s.node === 'DN-4' && s.answer === 'no'));
  assert.equal(e.requirements.find((r) => r.id === 'NMM-1')!.outcome, 'not-applicable');
});
