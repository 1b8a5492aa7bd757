// Acceptance: an audit of running Bulwark plugs (two units of one batch) with their bundle,
// state, manifest and this checkout as the firmware source. Every required control the auditor
// can test on them passes; the rest are "not tested" for a stated reason (the probes of hub,
// cloud and updater are not written yet), and the list below must shrink as they land.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { runAudit, renderAuditHtml, auditExitCode, AUDIT_EXIT_CODES, type AuditReport } from '../../src/audit/index.ts';
import { startAgent, WebClient } from '../support/device.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLUG_PROFILE = join(ROOT, 'src/policy/profiles/plug.yaml');

/**
 * Required controls of the plug the auditor cannot show yet, each with the probe that is
 * missing. Hub, cloud and updates have landed in src/ since; their probes are the next checks
 * to write (one function each in src/audit/registry.ts). When one lands, its control passes and
 * this list must lose it (the test says so).
 */
const NOT_TESTED_YET: Readonly<Record<string, string>> = {
  'CRYPTO-REVIEWED-IMPLEMENTATIONS': 'build.sbom: the image SBOM lives in the update repository, which the audit is not given; build.crypto-allowlist passes',
  'CLOUD-PINNED-CA': 'bundle.cloud-trust-anchor: no probe of the cloud link with a foreign CA yet',
  'CLOUD-DEVICE-ISOLATION': 'cloud.client-isolation: no probe of the broker yet',
  'CLOUD-SECURE-CLAIM': 'cloud.claim-window: no probe of the claim yet',
  'RESILIENCE-OUTAGES': 'config.offline-operation: no probe that cuts the links yet',
  'DEV-INPUT-VALIDATION': 'build.fuzz-targets: no parser inventory to compare fuzz targets with; http.input-validation passes',
  'DEV-PARSER-FUZZING': 'build.fuzz-targets, as above',
  'DEV-SBOM': 'build.sbom, as above',
  'RELEASE-GATE': 'build.audit-report: releases do not keep an audit report yet; build.lint passes',
  'RUNTIME-HARDENED': 'config.service-unit: the firmware does not generate its systemd unit yet',
  'UPDATE-SIGNED': 'update.signature-required: the updater is not driven with bad metadata yet; bundle.update-trust-anchor passes',
  'UPDATE-ANTI-ROLLBACK': 'update.anti-rollback: no probe of the updater yet',
  'UPDATE-FAILSAFE-INSTALL': 'update.failsafe-slots: no probe of the slots yet',
  'UPDATE-AUTO-DEFAULT': 'config.auto-update: the owner\'s switch is not observable without credentials',
  'UPDATE-USER-NOTICE': 'update.release-notes: no probe of the release notes yet',
  'VULN-HANDLING': 'build.sbom, as DEV-SBOM; policy.disclosure passes',
  'PRIVACY-FACTORY-RESET': 'state.factory-reset: the auditor does not press the reset button (destructive)',
  'PRIVACY-DATA-EXPORT-ERASURE': 'state.data-export: no probe of the export yet',
};

let work: string;
let units: ProvisionedUnit[];
const agents: DeviceAgent[] = [];
let report: AuditReport;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-audit-'));
  await initFactory(join(work, 'factory'));
  units = await provisionUnits({ factoryDir: join(work, 'factory'), model: 'plug', count: 2, outDir: join(work, 'units') });
  // One by one, so after() closes whatever started even if a later start fails.
  agents.push(await startAgent(units[0]!, join(work, 'state-0')));
  agents.push(await startAgent(units[1]!, join(work, 'state-1')));
  report = await runAudit({
    profile: PLUG_PROFILE,
    urls: agents.map((a) => a.web.url),
    bundle: units[0]!.dir, state: join(work, 'state-0'), manifest: join(work, 'units', 'manifest.json'), source: ROOT,
  });
  await writeFile(join(work, 'audit.json'), JSON.stringify(report, null, 2));
  await writeFile(join(work, 'audit.html'), renderAuditHtml(report));
}, { timeout: 180_000 });
after(async () => { for (const a of agents) await a.close(); });

function failures(r: AuditReport): string {
  return r.controls.filter((c) => c.required && c.status === 'fail').map((c) => {
    const checks = r.checks.filter((k) => c.checks.includes(k.id) && k.status === 'fail');
    return `${c.id}: ${checks.map((k) => `${k.id}: ${k.summary} [${k.evidence.filter((e) => e.finding).map((e) => `${e.sent} -> ${e.received}`).join(' | ')}]`).join('; ')}`;
  }).join('\n');
}

test('every required control the auditor can test on a running Bulwark plug passes', () => {
  assert.equal(report.scope.targetKind, 'bulwark');
  assert.equal(report.summary.fail, 0, failures(report));
  const required = report.controls.filter((c) => c.required);
  const notTested = required.filter((c) => c.status === 'not-tested').map((c): string => c.id).sort();
  const expected = Object.keys(NOT_TESTED_YET).sort();
  const nowTested = expected.filter((id) => !notTested.includes(id));
  assert.deepEqual(nowTested, [], `these controls are tested now; remove them from NOT_TESTED_YET: ${nowTested.join(', ')}`);
  assert.deepEqual(notTested, expected, `unexpectedly not tested: ${notTested.filter((id) => !expected.includes(id)).map((id) => `${id} (${required.find((c) => c.id === id)?.summary})`).join('; ')}`);
  assert.equal(report.summary.pass, required.length - expected.length);
  // Not tested is not a pass: the gate says "incomplete", never 0.
  assert.equal(auditExitCode(report), AUDIT_EXIT_CODES.incomplete);
  assert.equal(report.summary.exitCode, AUDIT_EXIT_CODES.incomplete);
});

test('each not-tested check says why, and the controls the brief names are among the passes', () => {
  for (const c of report.checks.filter((k) => k.status === 'not-tested')) assert.ok(c.summary.length > 20, `${c.id} gives no reason`);
  const passed = new Set(report.controls.filter((c) => c.status === 'pass').map((c) => c.id));
  for (const id of ['AUTH-UNIQUE-PASSWORD', 'AUTH-LOCKOUT', 'AUTH-ALL-REQUESTS', 'WEB-CSRF', 'WEB-SECURITY-HEADERS', 'TLS-MODERN-CONFIG',
    'TLS-UNIQUE-CERTIFICATE', 'NET-MINIMAL-SURFACE', 'RUNTIME-DEBUG-OFF', 'VULN-DISCLOSURE', 'LOG-CONNECTIONS', 'LOG-SECURITY-EVENTS',
    'AUTH-PASSWORD-HASHING', 'STORE-SECRETS-PROTECTED', 'IDENT-UNIQUE-CREDENTIALS', 'DEV-NO-SHELL', 'LOG-PRIVACY-LIMITS']) {
    assert.ok(passed.has(id as never), `${id} did not pass`);
  }
});

test('certificates of the two units are compared, and every TLS probe got its answer', () => {
  const certs = report.checks.find((c) => c.id === 'tls.unique-certificates')!;
  assert.equal(certs.status, 'pass');
  assert.match(certs.summary, /2 units present 2 different certificates/);
  const versions = report.checks.find((c) => c.id === 'tls.versions')!;
  assert.deepEqual(versions.evidence.map((e) => /^refused/.test(e.received)), [true, true, false, false]);
});

test('the lockout and the CSRF refusal the auditor caused are in the device\'s journal (LOG-SECURITY-EVENTS, white-box)', () => {
  const events = report.checks.find((c) => c.id === 'journal.security-events')!;
  assert.equal(events.status, 'pass');
  assert.ok(events.evidence.some((e) => /locked-out/.test(e.received)));
  assert.ok(events.evidence.some((e) => /refused CSRF/.test(e.received)));
  const lockout = report.checks.find((c) => c.id === 'login.lockout')!;
  assert.match(lockout.summary, /attempt [1-6]\b/);
});

test('the audit is polite: the owner can still log in, nothing was changed, no secret is in the report', async () => {
  const owner = await WebClient.for(agents[0]!.web.url, units[0]!);
  assert.equal((await owner.login(units[0]!.adminPassword!)).status, 303);
  assert.equal(existsSync(join(work, 'state-0', 'web', 'owner.json')), false, 'the audit changed the owner password');
  const text = await readFile(join(work, 'audit.json'), 'utf8') + await readFile(join(work, 'audit.html'), 'utf8');
  for (const u of units) {
    for (const secret of [u.adminPassword!, u.setupCode, u.claimCode]) assert.ok(!text.includes(secret), 'a sticker secret is in the report');
  }
  assert.ok(!/bulwark-audit-canary-/.test(text), 'a canary password is in the report');
  const loginProbes = report.checks.filter((c) => c.id.startsWith('login.')).flatMap((c) => c.evidence);
  assert.ok(loginProbes.length <= 10 + 8 + 2, `too many login attempts: ${loginProbes.length}`);
});
