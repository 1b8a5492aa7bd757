// One source for the maker, the security contact and the support end: a factory of another maker than the example
// profiles name provisions a plug; its policy, its audit report, its sticker and the security.txt its running agent
// serves must all name that factory's maker and contact and the model's support end, and a profile naming another
// maker is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, loadFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { getModel } from '../../src/models/index.ts';
import { decide, loadProfileFile, renderPolicy, withMakerFacts } from '../../src/policy/index.ts';
import { renderAuditHtml, runAudit, type AuditReport } from '../../src/audit/index.ts';
import { hasCode } from '../../src/errors/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { startAgent, WebClient } from '../support/device.ts';

const MAKER = 'Example Heating Ltd';
const CONTACT = 'mailto:security@heating.example';
const EXAMPLE_PLUG = fileURLToPath(new URL('../../src/policy/profiles/plug.yaml', import.meta.url));

let work: string;
let unit: ProvisionedUnit;
let profilePath: string;
let agent: DeviceAgent | undefined;

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-one-maker-'));
    const factoryDir = join(work, 'factory');
    await initFactory(factoryDir, { maker: MAKER, securityContact: CONTACT });
    [unit] = (await provisionUnits({ factoryDir, model: 'plug', count: 1, outDir: join(work, 'units') })) as [
      ProvisionedUnit,
    ];
    // A profile that leaves the maker and the contact to the factory.
    profilePath = join(work, 'plug.yaml');
    await writeFile(
      profilePath,
      'model: plug\nnetworkModels: [listening, cloud]\npersonalData: true\ninternetExposed: false\n',
    );
  },
  { timeout: 120_000 },
);
after(async () => {
  await agent?.close();
  await rm(work, { recursive: true, force: true });
});

/** The policy as the factory's maker publishes it: the profile with the factory's and the model's facts. */
async function factoryPolicy(): Promise<string> {
  const { config } = await loadFactory(join(work, 'factory'));
  const facts = {
    maker: config.maker,
    securityContact: config.securityContact,
    supportPeriodEnd: getModel('plug').supportPeriod.endsOn,
  };
  const profile = withMakerFacts(await loadProfileFile(profilePath), facts, 'the factory (factory.json)');
  return renderPolicy(profile, decide(profile), { format: 'md' });
}

/** What the running unit's security.txt names: its contact, maker and support end. */
async function servedSecurityTxt(): Promise<{ contact: string; maker: string; end: string }> {
  agent = await startAgent(unit, join(work, 'state'));
  const client = await WebClient.for(agent.web.url, unit);
  const answer = await client.get('/.well-known/security.txt');
  assert.equal(answer.status, 200);
  const contact = /^Contact: (.+)$/m.exec(answer.body)?.[1];
  const about = /^# (.+) Smart Plug: security updates until (\d{4}-\d{2}-\d{2})$/m.exec(answer.body);
  assert.ok(contact !== undefined && about !== null, answer.body);
  return { contact, maker: about[1]!, end: about[2]! };
}

test('the policy, the audit report, the sticker and security.txt of a unit name one maker, contact, end', async () => {
  const served = await servedSecurityTxt();
  assert.deepEqual(served, { contact: CONTACT, maker: MAKER, end: getModel('plug').supportPeriod.endsOn });

  const policy = await factoryPolicy();
  assert.ok(policy.includes(`- **Manufacturer:** ${served.maker}\n`), 'the policy names the maker');
  assert.ok(policy.includes(`- **Security updates until:** ${served.end}\n`), 'the policy names the support end');
  assert.ok(policy.includes(`until at least ${served.end}`));
  assert.ok(policy.includes(`(<${served.contact}>)`), 'the policy links the contact security.txt names');

  const report: AuditReport = await runAudit({ profile: profilePath, bundle: unit.dir });
  assert.equal(report.profile.maker, served.maker);
  assert.equal(report.profile.securityContact, served.contact);
  assert.equal(report.profile.supportPeriodEnd, served.end);
  const html = renderAuditHtml(report);
  assert.ok(html.includes(`<th scope="row">Maker</th><td>${served.maker}</td>`));
  assert.ok(html.includes(`<th scope="row">Security updates until</th><td>${served.end}</td>`));

  const sticker = await readFile(join(unit.dir, 'sticker.svg'), 'utf8');
  assert.ok(sticker.includes(served.maker), 'the sticker names the maker');
});

test("an audit whose profile names another maker than the unit's factory is refused with a typed error", async () => {
  await assert.rejects(
    runAudit({ profile: EXAMPLE_PLUG, bundle: unit.dir }),
    (err: unknown) =>
      hasCode(err, 'PROFILE_INVALID') &&
      (err as { key?: string }).key === 'maker' &&
      (err as Error).message.includes(MAKER),
  );
});
