import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_IDS, CHECKS, decide, loadExampleProfile, type CheckId } from '../policy/index.ts';
import { evaluateControls } from './evaluate.ts';
import type { CheckResult, CheckStatus } from './types.ts';
import { passesReleaseGate } from './update-checks.ts';

/** Every check with `status`, some with their own. */
function results(rest: CheckStatus, own: Partial<Record<CheckId, CheckStatus>>): CheckResult[] {
  return CHECK_IDS.map((id) => ({
    id,
    kind: CHECKS[id].kind,
    status: own[id] ?? rest,
    summary: 's',
    evidence: [],
    durationMs: 0,
  }));
}

async function gateOn(own: Partial<Record<CheckId, CheckStatus>>): Promise<boolean> {
  const decision = decide(await loadExampleProfile('plug'));
  const checks = results('pass', own);
  const controls = evaluateControls(decision, new Map(checks.map((c) => [c.id, c])));
  return passesReleaseGate({ controls, checks });
}

const DECLARED = {
  'policy.support-period': 'declared',
  'policy.disclosure': 'declared',
  'policy.privacy-notice': 'declared',
} as const;

test("the release gate lets the maker's declarations through: they are not failures", async () => {
  assert.equal(await gateOn(DECLARED), true);
  assert.equal(await gateOn({ ...DECLARED, 'build.audit-report': 'fail' }), true, 'its own check aside');
});

test('the release gate still stops a failure or an untested control beside a declaration', async () => {
  assert.equal(await gateOn({ ...DECLARED, 'http.csrf': 'fail' }), false);
  assert.equal(await gateOn({ ...DECLARED, 'config.session': 'not-tested' }), false);
});
