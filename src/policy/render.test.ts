import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPolicy, buildPolicyDocument } from './render.ts';
import { decide } from './decide.ts';
import { hasCode } from '../errors/index.ts';
import type { DeviceProfile } from './profile.ts';
import { getModel } from '../models/index.ts';
import { initFactory, provisionUnits } from '../identity/index.ts';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
    `## 7. Required controls (${decide(camera).required.length})`,
    '## 9. Standards coverage',
    '## 10. Asset inventory',
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

test('the policy shows the asset inventory as tables, in Markdown and HTML, with the support end date', () => {
  const md = renderPolicy(camera, decide(camera), { format: 'md' });
  const inventory = md.slice(md.indexOf('## 10. Asset inventory'));
  assert.ok(inventory.includes('| File | Kept in | What it is | Protection | Security property |'));
  assert.ok(inventory.includes('| device-key.pem | unit bundle |'));
  assert.ok(
    inventory.includes('| Interface | Protocol | Direction | Port or socket | Authentication | On by default |'),
  );
  assert.ok(inventory.includes('| HTTPS admin page |'));
  assert.ok(inventory.includes('| sensor: camera | images (image sensor data) | sensitive |'));
  assert.ok(inventory.includes('until 2031-12-31'));
  assert.ok(md.includes('- **Security updates until:** 2031-12-31'), 'the scope states the support end date');
  const html = renderPolicy(camera, decide(camera), { format: 'html' });
  assert.ok(html.includes('<caption>Security assets: where each is kept'));
  assert.ok(html.includes('<tr id="asset-admin-page"><th scope="row">HTTPS admin page</th>'));
  assert.ok(html.includes('<dt>Security updates until</dt><dd>2031-12-31</dd>'));
  assert.ok(html.includes('href="#assets"'), 'the contents list the inventory');
});

test("the inventory follows the given model and the unit's driver", () => {
  const model = { ...getModel('camera'), networks: ['ethernet' as const] };
  const md = renderPolicy(camera, decide(camera), { format: 'md', model, driver: 'socket' });
  assert.ok(md.includes('- **Networks the unit joins:** ethernet'));
  assert.ok(md.includes("| Hardware driver (the maker's) | JSON-RPC 2.0, one message a line | local |"));
  assert.ok(!renderPolicy(camera, decide(camera), { format: 'md' }).includes('Hardware driver'));
});

test("without the maker's model the inventory section says it is missing; another model is refused", () => {
  const md = renderPolicy(bulb, decide(bulb), { format: 'md' });
  assert.ok(md.includes('> **Note:** The asset inventory needs the product model file of bulb'));
  assert.ok(!md.includes('| File | Kept in |'));
  assert.throws(
    () => renderPolicy(camera, decide(camera), { format: 'md', model: getModel('plug') }),
    (err: unknown) => hasCode(err, 'POLICY_OPTION_INVALID') && (err as { key: string }).key === 'model',
  );
});

test('no secret of a provisioned unit appears in its policy', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-policy-'));
  try {
    await initFactory(join(work, 'factory'));
    const [unit] = await provisionUnits({ factoryDir: join(work, 'factory'), model: 'camera', count: 1, outDir: work });
    const docs = [
      renderPolicy(camera, decide(camera), { format: 'md', driver: 'socket' }),
      renderPolicy(camera, decide(camera), { format: 'html', driver: 'socket' }),
    ].join('\n');
    const secrets = [unit!.setupCode, unit!.claimCode];
    for (const file of await readdir(unit!.dir)) {
      if (!file.endsWith('.pem') && !file.endsWith('.json')) continue;
      const text = await readFile(join(unit!.dir, file), 'utf8');
      // Every base64 line of a key or certificate, and every long value of a JSON file.
      secrets.push(...(text.match(/[A-Za-z0-9+/=_-]{24,}/g) ?? []));
    }
    assert.ok(secrets.length > 20, `${secrets.length} secrets gathered`);
    assert.ok(!/-----BEGIN|PRIVATE KEY/.test(docs));
    for (const secret of secrets) assert.ok(!docs.includes(secret), `${secret.slice(0, 12)}... is in the policy`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('the privacy section tells the owner they can turn connection monitoring off, and what is kept either way', () => {
  const md = renderPolicy(camera, decide(camera), { format: 'md' });
  const privacy = md.slice(md.indexOf('## 5. Privacy and sensing'), md.indexOf('## 6.'));
  assert.match(privacy, /can turn this connection monitoring off on the admin page/);
  assert.match(privacy, /Either way the device keeps what protects the owner: failed and successful logins, lockouts/);
});
