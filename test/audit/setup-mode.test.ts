// A Bulwark camera in setup mode has no password yet: the audit recognises it, finds no default
// password to guess, and probes lockout on the setup form (its one guessable secret is the
// sticker's setup code) without setting anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceAgent } from '../../src/device/index.ts';
import { runAudit, type AuditReport } from '../../src/audit/index.ts';
import { makeFleet, startAgent, type TestFleet } from '../support/device.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let fleet: TestFleet;
let agent: DeviceAgent;
let report: AuditReport;

before(
  async () => {
    fleet = await makeFleet(['camera']);
    agent = await startAgent(fleet.units.camera!, join(fleet.work, 'state'));
    const unit = fleet.units.camera!;
    report = await runAudit({
      profile: join(ROOT, 'src/policy/profiles/camera.yaml'),
      urls: [agent.web.url],
      bundle: unit.dir,
      state: join(fleet.work, 'state'),
      manifest: join(dirname(unit.dir), 'manifest.json'),
    });
  },
  { timeout: 180_000 },
);
after(async () => {
  await agent?.close();
});

const check = (id: string) => report.checks.find((c) => c.id === id)!;

test('a camera waiting for its owner: no default password, lockout on the setup form, nothing set', () => {
  assert.match(report.scope.login, /setup mode/);
  assert.equal(check('login.default-credentials').status, 'pass');
  assert.match(check('login.default-credentials').summary, /no password yet/);
  const lockout = check('login.lockout');
  assert.equal(lockout.status, 'pass', lockout.summary);
  assert.ok(lockout.evidence.every((e) => /POST \/setup .* random wrong setup code/.test(e.sent)));
  assert.equal(existsSync(join(fleet.work, 'state', 'web', 'owner.json')), false, 'the audit must not set a password');
  assert.equal(report.controls.find((c) => c.id === 'AUTH-LOCKOUT')!.status, 'pass');
  assert.equal(check('bundle.hash-params').status, 'pass', "judged by the firmware's parameters for the first hash");
  assert.equal(check('journal.no-content').status, 'pass');
});

test('the journal of the camera is checked for the lockout the auditor caused on the setup form', (t) => {
  const events = check('journal.security-events');
  // The web service journals a locked-out login but not (yet) a locked-out setup attempt; the
  // audit reports whichever it finds, with evidence, rather than assuming.
  assert.ok(['pass', 'fail'].includes(events.status));
  assert.ok(events.evidence.some((e) => /lockout the auditor triggered/.test(e.sent)));
  t.diagnostic(
    `journal.security-events: ${events.status}: ${events.evidence
      .map((e) => `${e.sent} -> ${e.received}`)
      .join(' | ' + '')}`,
  );
});
