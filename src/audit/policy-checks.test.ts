import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, loadExampleProfile, type DeviceProfile } from '../policy/index.ts';
import { DEFAULT_AUDIT_LIMITS } from './config.ts';
import { AuditContext } from './context.ts';
import {
  checkCoverageJustified,
  checkDisclosurePolicy,
  checkPrivacyNotice,
  checkSetupGuidance,
  checkSupportPeriod,
} from './policy-checks.ts';

function contextFor(profile: DeviceProfile): AuditContext {
  return new AuditContext({ profile, decision: decide(profile), targets: [], limits: DEFAULT_AUDIT_LIMITS });
}

const CHECKS = [checkSupportPeriod, checkDisclosurePolicy, checkPrivacyNotice, checkSetupGuidance];

test("checks that read only the maker's policy and model say 'declared', never 'pass'", async () => {
  const ctx = contextFor(await loadExampleProfile('plug'));
  for (const check of [...CHECKS, checkCoverageJustified]) {
    const outcome = await check(ctx);
    assert.equal(outcome.status, 'declared', `${check.name}: ${outcome.summary}`);
    assert.ok(
      outcome.evidence.every((e) => e.finding !== true),
      check.name,
    );
  }
  assert.match((await checkSupportPeriod(ctx)).summary, /promises security updates until \d{4}-\d{2}-\d{2}/);
});

test('a promise that is missing or already broken still fails: a support period over, no contact', async () => {
  const plug = await loadExampleProfile('plug');
  const over = await checkSupportPeriod(contextFor({ ...plug, supportPeriodEnd: '2020-01-31' }));
  assert.equal(over.status, 'fail');
  assert.match(over.evidence[0]!.received, /2020-01-31 \(passed\)/);
  const { securityContact: _none, ...withoutContact } = plug;
  const silent = await checkDisclosurePolicy(contextFor(withoutContact));
  assert.equal(silent.status, 'fail');
  assert.equal(silent.evidence[0]!.received, 'missing');
});
