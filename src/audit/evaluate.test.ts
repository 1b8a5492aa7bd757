import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECKS, CHECK_IDS, decide, getControl, parseProfile, type CheckId } from '../policy/index.ts';
import { getModel } from '../models/index.ts';
import {
  controlVerdict,
  evaluateControls,
  evaluateEtsi,
  evaluateFrameworks,
  evaluatePsti,
  countControls,
  exitCodeFor,
} from './evaluate.ts';
import { AUDIT_EXIT_CODES, type CheckResult, type CheckStatus } from './types.ts';

const profile = parseProfile(
  `model: plug
networkModels: [listening]
personalData: false
internetExposed: false
securityContact: mailto:security@example.test
`,
  getModel,
);

function results(
  statuses: Partial<Record<CheckId, CheckStatus>>,
  rest: CheckStatus = 'pass',
): Map<CheckId, CheckResult> {
  return new Map(
    CHECK_IDS.map((id) => [
      id,
      { id, kind: CHECKS[id].kind, status: statuses[id] ?? rest, summary: 's', evidence: [], durationMs: 0 },
    ]),
  );
}

test('a control fails when any of its checks fails', () => {
  const v = controlVerdict(
    getControl('AUTH-LOCKOUT'),
    results({ 'login.lockout': 'fail', 'config.lockout': 'not-tested' }),
  );
  assert.equal(v.status, 'fail');
  assert.match(v.summary, /login\.lockout/);
});

test('a control passes only when every check passed; one untested check makes it not tested', () => {
  assert.equal(controlVerdict(getControl('AUTH-LOCKOUT'), results({})).status, 'pass');
  const partly = controlVerdict(getControl('AUTH-LOCKOUT'), results({ 'config.lockout': 'not-tested' }));
  assert.equal(partly.status, 'not-tested');
  assert.match(partly.summary, /partly tested: login\.lockout passed; config\.lockout not tested/);
  assert.equal(
    controlVerdict(getControl('AUTH-LOCKOUT'), new Map()).status,
    'not-tested',
    'a missing result is not a pass',
  );
});

test('a not-applicable check is left out, but a control whose checks are all not applicable is not a pass', () => {
  assert.equal(
    controlVerdict(getControl('AUTH-LOCKOUT'), results({ 'config.lockout': 'not-applicable' })).status,
    'pass',
  );
  assert.equal(
    controlVerdict(getControl('AUTH-PASSWORD-HASHING'), results({ 'bundle.hash-params': 'not-applicable' })).status,
    'not-tested',
  );
});

test("controls the profile does not need: not applicable with the decision's reason, whatever the checks say", () => {
  const decision = decide(profile);
  const controls = evaluateControls(decision, results({}, 'fail'));
  const pake = controls.find((c) => c.id === 'PAIR-PAKE-SENSITIVE')!;
  assert.equal(pake.status, 'not-applicable');
  assert.equal(pake.required, false);
  assert.match(pake.because[0]!, /hub network model/);
  assert.equal(controls.length, decision.required.length + decision.notApplicable.length);
});

test('exit code: 0 only when every required control passed, 1 on a failure, 3 when some were not tested', () => {
  const decision = decide(profile);
  assert.equal(exitCodeFor(countControls(evaluateControls(decision, results({})))), AUDIT_EXIT_CODES.passed);
  assert.equal(
    exitCodeFor(
      countControls(evaluateControls(decision, results({ 'http.csrf': 'fail', 'build.sbom': 'not-tested' }))),
    ),
    AUDIT_EXIT_CODES.failed,
  );
  assert.equal(
    exitCodeFor(countControls(evaluateControls(decision, results({ 'build.sbom': 'not-tested' })))),
    AUDIT_EXIT_CODES.incomplete,
  );
  assert.deepEqual(AUDIT_EXIT_CODES, { passed: 0, failed: 1, incomplete: 3 });
});

test('a provision takes the worst verdict of its required controls; unmet ones keep their written reason', () => {
  const decision = decide(profile);
  const controls = evaluateControls(decision, results({ 'login.lockout': 'fail', 'build.sbom': 'not-tested' }));
  const etsi = evaluateEtsi(decision, controls);
  assert.equal(etsi.length, 68);
  const p515 = etsi.find((p) => p.id === '5.1-5')!;
  assert.equal(p515.verdict, 'fail');
  assert.ok(p515.controls.includes('AUTH-LOCKOUT'));
  assert.equal(etsi.find((p) => p.id === '5.6-6')!.verdict, 'not-tested'); // DEV-SBOM
  const secureBoot = etsi.find((p) => p.id === '5.7-1')!;
  assert.equal(secureBoot.verdict, 'out-of-scope');
  assert.ok((secureBoot.note ?? '').length > 20);
  for (const p of etsi) if (p.verdict === 'not-applicable' || p.verdict === 'out-of-scope') assert.ok(p.note, p.id);
  const psti = evaluatePsti(controls);
  assert.deepEqual(
    psti.map((p) => p.id),
    ['PSTI-1', 'PSTI-2', 'PSTI-3'],
  );
  assert.equal(psti.find((p) => p.id === 'PSTI-1')!.verdict, 'pass');
});

test('each framework provision takes the worst verdict of its required controls, or says why it has none', () => {
  const decision = decide(profile);
  const controls = evaluateControls(decision, results({ 'config.auto-update': 'fail' }));
  const frameworks = evaluateFrameworks(controls);
  assert.deepEqual(Object.keys(frameworks), ['cra', 'annex2', 'nist', 'psa', 'ioxt']);
  const verdict = (key: keyof typeof frameworks, id: string): string =>
    frameworks[key].provisions.find((p) => p.id === id)!.verdict;
  // Automatic updates off by default: one planted weakness, the matching item of each framework fails.
  assert.equal(verdict('cra', 'I.2(c)'), 'fail');
  assert.equal(verdict('annex2', '8(e)'), 'fail');
  assert.equal(verdict('nist', 'software-update'), 'fail');
  assert.equal(verdict('ioxt', 'automatically-applied-updates'), 'fail');
  assert.equal(verdict('nist', 'data-protection'), 'pass');
  assert.equal(verdict('psa', 'attestation'), 'out-of-scope');
  assert.equal(verdict('annex2', '8(f)'), 'out-of-scope');
  for (const f of Object.values(frameworks))
    for (const p of f.provisions) {
      if (p.verdict === 'not-applicable' || p.verdict === 'out-of-scope') assert.ok(p.note, p.id);
      else assert.ok(p.controls.length > 0, p.id);
    }
});

test("a control resting on the maker's statement is declared, never a pass; a failure or untested check wins", () => {
  const disclosure = getControl('VULN-DISCLOSURE'); // security.txt and the intake tested, the policy's promise declared
  const declared = controlVerdict(disclosure, results({ 'policy.disclosure': 'declared' }));
  assert.equal(declared.status, 'declared');
  assert.match(declared.summary, /passed: http\.security-txt, cloud\.disclosure-intake; declared by the maker/);
  assert.equal(
    controlVerdict(getControl('DOC-SECURE-SETUP'), results({ 'policy.setup-guidance': 'declared' })).status,
    'declared',
  );
  const untested = controlVerdict(
    disclosure,
    results({ 'policy.disclosure': 'declared', 'cloud.disclosure-intake': 'not-tested' }),
  );
  assert.equal(untested.status, 'not-tested');
  assert.match(untested.summary, /partly tested: http\.security-txt passed; policy\.disclosure declared; cloud/);
  assert.equal(
    controlVerdict(disclosure, results({ 'policy.disclosure': 'declared', 'http.security-txt': 'fail' })).status,
    'fail',
  );
});

test('declared controls are counted apart, never as passes, keep exit code 0, make their provisions declared', () => {
  const decision = decide(profile);
  const controls = evaluateControls(
    decision,
    results({ 'policy.disclosure': 'declared', 'policy.support-period': 'declared' }),
  );
  const counts = countControls(controls);
  const declared = controls.filter((c) => c.required && c.status === 'declared').map((c) => c.id);
  assert.deepEqual(declared.sort(), ['LIFECYCLE-SUPPORT-PERIOD', 'VULN-DISCLOSURE', 'VULN-HANDLING']);
  assert.equal(counts.declared, 3);
  assert.equal(counts.pass + counts.declared, decision.required.length, 'a declared control is not counted as a pass');
  assert.equal(exitCodeFor(counts), AUDIT_EXIT_CODES.passed);
  const etsi = evaluateEtsi(decision, controls);
  assert.equal(etsi.find((p) => p.id === '5.2-2')!.verdict, 'declared', 'acting on vulnerabilities is a promise');
  const psti = evaluatePsti(controls);
  assert.equal(psti.find((p) => p.id === 'PSTI-3')!.verdict, 'declared');
  assert.equal(psti.find((p) => p.id === 'PSTI-1')!.verdict, 'pass');
  const withFailure = countControls(
    evaluateControls(decision, results({ 'policy.disclosure': 'declared', 'http.csrf': 'fail' })),
  );
  assert.equal(exitCodeFor(withFailure), AUDIT_EXIT_CODES.failed);
});
