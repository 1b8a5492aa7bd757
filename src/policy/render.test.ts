import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPolicy, buildPolicyDocument } from './render.ts';
import { decide } from './decide.ts';
import { hasCode } from '../errors/index.ts';
import type { DeviceProfile } from './profile.ts';

const camera: DeviceProfile = {
  model: 'Indoor Camera',
  modelId: 'camera',
  maker: 'Example Devices Ltd',
  networkModels: ['listening', 'hub', 'cloud'],
  sensors: ['camera', 'microphone'],
  actuators: [],
  personalData: true,
  internetExposed: false,
  supportPeriodEnd: '2031-12-31',
  securityContact: 'mailto:security@example.com',
};
const bulb: DeviceProfile = {
  model: 'Bulb',
  modelId: 'bulb',
  networkModels: ['hub'],
  sensors: [],
  actuators: ['light'],
  personalData: false,
  internetExposed: false,
  supportPeriodEnd: '2029-06-30',
};

test('the Markdown policy has every section the brief asks for', () => {
  const md = renderPolicy(camera, decide(camera), { format: 'md' });
  for (const heading of [
    '# Security policy: Indoor Camera',
    '## 1. Scope',
    '## 2. Risk tier and why',
    '## 3. Support period',
    '## 4. Reporting a vulnerability',
    '## 5. Privacy and sensing',
    '## 6. Setting up securely',
    '## 7. Required controls (51)',
    '## 9. Standards coverage',
  ]) {
    assert.ok(md.includes(heading), `missing ${heading}`);
  }
  assert.ok(md.includes('risk tier 3'));
  assert.ok(md.includes('camera -> tier 3 -> setup-code pairing required'));
  assert.ok(md.includes('until at least 2031-12-31'));
  assert.ok(md.includes('within 5 days') && md.includes('every 14 days'));
  assert.ok(md.includes('[security@example.com](<mailto:security@example.com>)'));
  assert.ok(md.includes('### PAIR-PAKE-SENSITIVE: Setup-code pairing required for sensitive devices'));
  assert.ok(md.includes('| 5.7-1 | R |'), 'coverage table lists out-of-scope provisions too');
  assert.ok(md.includes('PSTI-1 Passwords'));
});

test('each required control shows statement, rationale, reasons and provisions', () => {
  const doc = buildPolicyDocument(camera, decide(camera));
  const i = doc.blocks.findIndex((b) => b.kind === 'heading' && b.id === 'control-auth-lockout');
  assert.ok(i > 0);
  const fields = doc.blocks[i + 2];
  assert.equal(fields?.kind, 'fields');
  const terms = fields?.kind === 'fields' ? fields.items.map(([t]) => t) : [];
  assert.deepEqual(terms, ['Why', 'Required because', 'Serves', 'Meets', 'Verified by']);
});

test('a device without optional facts still renders, flagging the missing security contact', () => {
  const md = renderPolicy(bulb, decide(bulb), { format: 'md' });
  assert.ok(md.includes('No security contact is set'));
  assert.ok(md.includes('Bulb has no sensors.'));
  assert.ok(md.includes('## 8. Controls not applicable'));
  assert.ok(md.includes('| AUTH-LOCKOUT |'));
});

test('the HTML policy escapes profile text and links controls to provisions', () => {
  const evil: DeviceProfile = {
    ...camera,
    model: '<img src=x onerror=alert(1)> & "Cam"',
    maker: '</style><script>alert(2)</script>',
  };
  const html = renderPolicy(evil, decide(evil), { format: 'html' });
  assert.ok(!/<script/i.test(html));
  assert.ok(!/<img/i.test(html));
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Cam&quot;'));
  assert.ok(html.includes('href="#etsi-5-1-5"'), 'controls link to their provisions');
  assert.ok(html.includes('<tr id="etsi-5-1-5">'));
  assert.ok(html.includes('href="#control-auth-lockout"'), 'provisions link back to controls');
  assert.ok(html.includes('id="control-auth-lockout"'));
  assert.ok(html.includes('<a href="mailto:security@example.com">security@example.com</a>'));
});

test('refuses unsafe disclosure timelines and unknown formats, naming the option', () => {
  assert.throws(
    () => renderPolicy(bulb, decide(bulb), { format: 'md', disclosure: { acknowledgeWithinDays: 0 } }),
    (err: unknown) =>
      hasCode(err, 'POLICY_OPTION_INVALID') && (err as { key: string }).key === 'disclosure.acknowledgeWithinDays',
  );
  assert.throws(
    () => renderPolicy(bulb, decide(bulb), { format: 'md', disclosure: { fixTargetDays: 1.5 } }),
    (err: unknown) => hasCode(err, 'POLICY_OPTION_INVALID'),
  );
  assert.throws(
    () => renderPolicy(bulb, decide(bulb), { format: 'pdf' as 'md' }),
    (err: unknown) => hasCode(err, 'POLICY_OPTION_INVALID'),
  );
  assert.ok(
    renderPolicy(bulb, decide(bulb), { format: 'md', disclosure: { acknowledgeWithinDays: 2 } }).includes(
      'within 2 days',
    ),
  );
});

test('rendering is deterministic', () => {
  assert.equal(
    renderPolicy(camera, decide(camera), { format: 'html' }),
    renderPolicy(camera, decide(camera), { format: 'html' }),
  );
});
