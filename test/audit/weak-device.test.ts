// Acceptance: a deliberately weak HTTPS device (TLS 1.0 and CBC suites, admin/admin, no lockout,
// an unauthenticated settings page, no CSRF defence, no security.txt). The audit fails exactly
// the controls those weaknesses break, each with evidence, passes what the device does right,
// stays within its traffic bounds, and exits non-zero.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  runAudit,
  auditExitCode,
  AUDIT_EXIT_CODES,
  DEFAULT_AUDIT_LIMITS,
  type AuditReport,
} from '../../src/audit/index.ts';
import { startWeakDevice, WEAK_PROFILE, type WeakDevice } from './weak-device.ts';

/** Which weakness breaks which control, and through which check. */
const EXPECTED_FAILURES: Readonly<Record<string, readonly string[]>> = {
  'TLS-MODERN-CONFIG': ['tls.versions', 'tls.ciphers'], // TLS 1.0/1.1 and CBC suites at SECLEVEL=0
  'AUTH-UNIQUE-PASSWORD': ['login.default-credentials'], // admin/admin
  'AUTH-LOCKOUT': ['login.lockout'], // no lockout
  'AUTH-ALL-REQUESTS': ['http.auth-all-routes'], // GET /settings without a session
  'WEB-CSRF': ['http.csrf'], // the login form takes a cross-origin post
  'VULN-DISCLOSURE': ['http.security-txt'], // no security.txt
};

let weak: WeakDevice;
let report: AuditReport;
let work: string;

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-audit-weak-'));
    await writeFile(join(work, 'weak.yaml'), WEAK_PROFILE);
    weak = await startWeakDevice();
    report = await runAudit({ profile: join(work, 'weak.yaml'), urls: [weak.url] });
  },
  { timeout: 180_000 },
);
after(async () => {
  await weak?.close();
});

test('the audit fails exactly the controls the weaknesses break, through the expected checks', () => {
  assert.equal(report.scope.targetKind, 'other');
  assert.match(report.scope.login, /HTML login form at \/login/);
  const failed = report.controls
    .filter((c) => c.status === 'fail')
    .map((c) => c.id)
    .sort();
  assert.deepEqual(failed, Object.keys(EXPECTED_FAILURES).sort());
  for (const [control, checks] of Object.entries(EXPECTED_FAILURES)) {
    const failing = report.checks
      .filter((k) => k.status === 'fail' && report.controls.find((c) => c.id === control)!.checks.includes(k.id))
      .map((k) => k.id)
      .sort();
    assert.deepEqual(failing, [...checks].sort(), control);
  }
  assert.equal(auditExitCode(report), AUDIT_EXIT_CODES.failed);
  assert.equal(report.summary.exitCode, 1);
});

test('every failing check carries the evidence: what was sent and what came back', () => {
  const ev = (id: string): string =>
    report.checks
      .find((c) => c.id === id)!
      .evidence.filter((e) => e.finding)
      .map((e) => `${e.sent} => ${e.received}`)
      .join('\n');
  for (const k of report.checks.filter((c) => c.status === 'fail'))
    assert.ok(
      k.evidence.some((e) => e.finding === true),
      `${k.id} has no finding`,
    );
  assert.match(ev('tls.versions'), /only TLSv1 .* => handshake completed: TLSv1 /);
  assert.match(ev('tls.ciphers'), /CBC-mode .* => handshake completed: TLSv1\.2 \S+-SHA/);
  assert.match(
    ev('login.default-credentials'),
    /user name admin and password admin => 303; Location: \/; sets cookie session.* -> accepted/,
  );
  assert.match(ev('login.lockout'), /8 wrong passwords from one source => every one was judged/);
  assert.match(ev('http.auth-all-routes'), /GET \/settings .* => 200;.*content served without authentication/);
  assert.match(ev('http.csrf'), /Origin: https:\/\/attacker\.example.* => 401;.*processed/);
  assert.match(ev('http.security-txt'), /GET \/\.well-known\/security\.txt .* => 404/);
});

test('what the weak device does right passes, and what needs its internals is not tested', () => {
  const status = (id: string): string | undefined => report.checks.find((c) => c.id === id)?.status;
  for (const id of [
    'http.security-headers',
    'http.cookie-flags',
    'http.info-disclosure',
    'http.input-validation',
    'net.debug-ports',
  ])
    assert.equal(status(id), 'pass', id);
  for (const id of [
    'bundle.hash-params',
    'config.debug-off',
    'journal.connections',
    'tls.unique-certificates',
    'build.lint',
  ])
    assert.equal(status(id), 'not-tested', id);
  assert.match(report.checks.find((c) => c.id === 'config.debug-off')!.summary, /not available/);
  // No debug port is open: the scan found the well-known ports closed, and the process that
  // serves the device (this test's own) was found and has no other port to ask.
  const ports = report.checks.find((c) => c.id === 'net.debug-ports')!;
  assert.ok(ports.evidence.some((e) => /^TCP connect to 127\.0\.0\.1:9229 /.test(e.sent) && /closed/.test(e.received)));
  assert.ok(
    ports.evidence.some((e) => new RegExp(`process ${process.pid} \\(the auditor's own`).test(e.sent)),
    "the device's process was observed",
  );
});

test('the probes stay within their bounds: one default credential accepted, then no more guessing', () => {
  assert.equal(weak.acceptedLogins(), 1, 'the default-credential probe must stop at the first success');
  const lockoutAttempts = report.checks
    .find((c) => c.id === 'login.lockout')!
    .evidence.filter((e) => /^attempt /.test(e.sent)).length;
  assert.equal(lockoutAttempts, DEFAULT_AUDIT_LIMITS.maxLockoutAttempts);
  const { requests, connections } = weak.traffic();
  assert.ok(requests <= 80, `${requests} requests`);
  assert.ok(connections <= 90, `${connections} TLS connections`);
});

test(
  'a device that does not answer gets "not tested" for every probe, never a pass',
  { timeout: 120_000 },
  async () => {
    const down = await runAudit({
      profile: join(work, 'weak.yaml'),
      urls: ['https://127.0.0.1:1'],
      limits: { connectTimeoutMs: 500, requestTimeoutMs: 1_000 },
    });
    assert.equal(down.scope.targetKind, 'unreachable');
    const blackBox = down.checks.filter((c) => c.kind === 'black-box');
    assert.ok(blackBox.length >= 10);
    // The cloud's intake and facts record do not concern a product without a cloud: not applicable, never a pass.
    const cloudOnly = new Set(['cloud.disclosure-intake', 'cloud.facts-record']);
    for (const c of blackBox)
      assert.equal(c.status, cloudOnly.has(c.id) ? 'not-applicable' : 'not-tested', `${c.id}: ${c.summary}`);
    assert.equal(down.summary.fail, 0);
    assert.equal(auditExitCode(down), AUDIT_EXIT_CODES.incomplete);
  },
);

/**
 * EN 18031 requirements the weaknesses break, and through which evidence. TLS 1.0 and CBC suites: the channel's
 * integrity, secrecy and replay protection (SCM-2, SCM-3, SCM-4) and good-practice cryptography (CRY-1); admin/admin:
 * factory passwords (AUM-5-1); no lockout: brute-force protection (AUM-6); the unauthenticated settings page: access
 * control in front of assets and authentication on the network interface (ACM-1, AUM-1-1); the cross-site post:
 * access limited to allowed entities (ACM-2). No security.txt touches none: EN 18031 has no disclosure requirement.
 */
const EN18031_FAILURES: Readonly<Record<string, string>> = {
  'ACM-1': 'http.auth-all-routes',
  'ACM-2': 'http.csrf',
  'AUM-1-1': 'http.auth-all-routes',
  'AUM-5-1': 'login.default-credentials',
  'AUM-6': 'login.lockout',
  'SCM-2': 'tls.versions',
  'SCM-3': 'tls.ciphers',
  'SCM-4': 'tls.versions',
  'CRY-1': 'tls.ciphers',
};

test('EN 18031: the weak device fails exactly the requirements its weaknesses touch, each on the failing check', () => {
  const e = report.en18031;
  assert.deepEqual(
    e.parts.map((p) => [p.part, p.applies]),
    [
      [1, true],
      [2, false],
      [3, false],
    ],
  );
  const failed = e.requirements.filter((r) => r.outcome === 'fail');
  assert.deepEqual(failed.map((r) => r.id).sort(), Object.keys(EN18031_FAILURES).sort());
  for (const r of failed) {
    assert.equal(r.part, 1);
    const last = r.path.at(-1)!;
    assert.equal(last.then, 'fail');
    assert.ok(
      last.evidence.some((v) => v.name === `check ${EN18031_FAILURES[r.id]}` && v.value === 'fail'),
      `${r.id}: ${JSON.stringify(last)}`,
    );
  }
  for (const r of e.requirements.filter((q) => q.part !== 1)) assert.equal(r.outcome, 'not-applicable', r.id);
  // The weak unit's model is unknown to the auditor, so model facts are not guessed.
  assert.match(e.model, /^not known/);
  assert.equal(e.requirements.find((r) => r.id === 'AUM-1-2')!.outcome, 'not-tested');
});

test('the shared admin/admin password fails its item under ETSI, the CRA and NIST IR 8425 in one report', () => {
  const failingControls = (controls: readonly string[]): boolean => controls.includes('AUTH-UNIQUE-PASSWORD');
  const etsi = report.etsi.find((p) => p.id === '5.1-1')!;
  assert.equal(etsi.verdict, 'fail');
  assert.ok(failingControls(etsi.controls));
  const cra = report.frameworks.cra.provisions.find((p) => p.id === 'I.2(b)')!;
  assert.equal(cra.verdict, 'fail');
  assert.ok(failingControls(cra.controls));
  const nist = report.frameworks.nist.provisions.find((p) => p.id === 'interface-access-control')!;
  assert.equal(nist.verdict, 'fail');
  assert.ok(failingControls(nist.controls));
  const ioxt = report.frameworks.ioxt.provisions.find((p) => p.id === 'no-universal-password')!;
  assert.equal(ioxt.verdict, 'fail');
  assert.equal(report.psti.find((p) => p.id === 'PSTI-1')!.verdict, 'fail');
});
