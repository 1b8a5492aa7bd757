// Readers of a report take the 'declared' verdict: the technical file parses a report that has it (plain and kept as
// a signed envelope's predicate) and links a declared control to its CRA Annex I item as declared, never as passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUDIT_REPORT_FORMAT,
  countControls,
  evaluateControls,
  evaluateEtsi,
  evaluateFrameworks,
  evaluatePsti,
  exitCodeFor,
  type AuditReport,
  type CheckResult,
} from '../../src/audit/index.ts';
import { CHECK_IDS, CHECKS, decide, loadExampleProfile } from '../../src/policy/index.ts';
import { buildAnnex1Table, controlVerdicts, parseAuditEvidence } from '../../src/techfile/index.ts';

/** A report of the plug whose checks passed, but those that read only the maker's statements, declared. */
async function declaredReport(): Promise<AuditReport> {
  const profile = await loadExampleProfile('plug');
  const decision = decide(profile);
  const checks: CheckResult[] = CHECK_IDS.map((id) => ({
    id,
    kind: CHECKS[id].kind,
    status: id.startsWith('policy.') ? 'declared' : 'pass',
    summary: 's',
    evidence: [],
    durationMs: 0,
  }));
  const controls = evaluateControls(decision, new Map(checks.map((c) => [c.id, c])));
  const counts = countControls(controls);
  return {
    format: AUDIT_REPORT_FORMAT,
    generatedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1,
    tool: { name: 'bulwark', version: '0.0.0' },
    profile,
    tier: decision.tier,
    reasons: decision.reasons,
    scope: { urls: [], targetKind: 'none', login: 'not probed' },
    checks,
    controls,
    etsi: evaluateEtsi(decision, controls),
    psti: evaluatePsti(controls),
    frameworks: evaluateFrameworks(controls),
    en18031: {
      model: 'not known',
      parts: [],
      requirements: [],
      summary: { pass: 0, fail: 0, notApplicable: 0, notTested: 0 },
    },
    summary: { ...counts, passed: true, exitCode: exitCodeFor(counts) },
  };
}

test("the technical file reads a report with declared controls, plain or as a kept envelope's predicate", async () => {
  const report = await declaredReport();
  assert.ok(report.summary.declared > 0);
  const plain = parseAuditEvidence(JSON.stringify(report), 'plug.json');
  assert.equal(plain.report.summary.declared, report.summary.declared);
  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'x', predicate: report };
  const envelope = {
    payloadType: 'application/vnd.in-toto+json',
    payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
    signatures: [{ keyid: 'k', sig: 'c2ln' }],
  };
  assert.equal(parseAuditEvidence(JSON.stringify(envelope), 'kept.audit.json').form, 'dsse');
});

test('a declared control links its CRA Annex I item as declared, not as passed', async () => {
  const report = await declaredReport();
  const rows = buildAnnex1Table(controlVerdicts(decide(report.profile), report));
  const setup = rows.find((r) => r.id === 'I.2(b)')!; // DOC-SECURE-SETUP: the policy's setup guidance
  assert.equal(setup.status, 'linked');
  const doc = setup.controls.find((c) => c.id === 'DOC-SECURE-SETUP')!;
  assert.equal(doc.status, 'declared');
  assert.deepEqual(doc.checks, ['policy.setup-guidance']);
  assert.ok(
    setup.controls.some((c) => c.status === 'pass'),
    'the tested controls beside it stay passed',
  );
});
