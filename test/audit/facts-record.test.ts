// cloud.facts-record on a real cloud and release repository: the record the cloud serves for a plug unit's model and
// version is held field by field against the evidence. A consistent record passes; a record whose automatic-update
// default contradicts what the unit ships with (the firmware's default, or the --update-config its service starts it
// with), whose support date is not the one signed with the release, whose SBOM is not the repository's, or whose
// contact is not the cloud's security.txt fails, naming the field. With no record at all the product carries no
// label that leads to one: the check does not apply.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { factsFolder, publishFactsRecord, startCloud, type CloudService } from '../../src/cloud/index.ts';
import { buildReferenceImage, initRepository, publishImage, repositoryStatus } from '../../src/release/index.ts';
import {
  buildFactsRecord,
  loadExampleProfile,
  parseFactsRecord,
  serializeFactsRecord,
  type FactsInput,
  type FactsRecord,
} from '../../src/policy/index.ts';
import { getModel } from '../../src/models/index.ts';
import { runAudit, type AuditOptions } from '../../src/audit/index.ts';

const PLUG = fileURLToPath(new URL('../../src/policy/profiles/plug.yaml', import.meta.url));

let work: string;
let repoDir: string;
let unit: ProvisionedUnit;
let cloud: CloudService | undefined;
let release: FactsInput['release'];
let cloudCa: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-audit-facts-'));
  const factoryDir = join(work, 'factory');
  repoDir = join(work, 'releases');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir });
  const artifact = join(work, 'plug.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  release = (await repositoryStatus(repoDir)).images.find((i) => i.model === 'plug')!;
  unit = (await provisionUnits({ factoryDir, model: 'plug', count: 1, outDir: join(work, 'units') }))[0]!;
  cloud = await startCloud({ factoryDir, stateDir: join(work, 'cloud'), broker: { port: 0 }, api: { port: 0 } });
  cloudCa = join(work, 'cloud-ca.pem');
  await writeFile(cloudCa, cloud.credentials.caCertPem);
});
after(async () => {
  await cloud?.close();
});

/** The record the maker should publish for plug 1.1.0, with `change` applied. */
async function record(change: (r: FactsInput) => FactsInput = (r) => r): Promise<FactsRecord> {
  const base = cloud!.api.url;
  return buildFactsRecord(
    change({
      model: getModel('plug'),
      version: '1.1.0',
      profile: await loadExampleProfile('plug'),
      baseUrl: base,
      conformityUrl: 'https://example.com/conformity/plug.pdf',
      automaticUpdates: true,
      release,
      securityContacts: [`${base}/security/report`],
    }),
  );
}

/** Publishes `r` as the cloud's record of plug 1.1.0 (replacing the one before). */
async function publish(r: FactsRecord): Promise<void> {
  await publishFactsRecord(factsFolder(join(work, 'cloud')), Buffer.from(serializeFactsRecord(r)), parseFactsRecord);
}

/** cloud.facts-record's status, summary and evidence lines (findings marked !!) for an audit of the unit. */
async function factsCheck(extra: Partial<AuditOptions> = {}): Promise<{ status: string; text: string }> {
  const r = await runAudit({
    profile: PLUG,
    bundle: unit.dir,
    updateRepo: repoDir,
    cloudApi: cloud!.api.url,
    cloudApiCa: cloudCa,
    ...extra,
  });
  const c = r.checks.find((x) => x.id === 'cloud.facts-record');
  assert.ok(c, 'cloud.facts-record ran');
  const lines = c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`);
  return { status: c.status, text: `${c.summary}\n${lines.join('\n')}` };
}

test('with no record published the check does not apply (no label); without --cloud-api it is not tested', async () => {
  const none = await factsCheck();
  assert.equal(none.status, 'not-applicable', none.text);
  assert.match(none.text, /publishes no security facts record for plug 1\.1\.0 at \/facts\/plug\/1\.1\.0\.json/);
  assert.match(none.text, /^GET \/facts\/plug\/1\.1\.0\.json -> 404/m);
  const offline = await factsCheck({ cloudApi: undefined, cloudApiCa: undefined });
  assert.equal(offline.status, 'not-tested', offline.text);
});

test('a consistent record passes, each field held against its evidence', async () => {
  await publish(await record());
  const c = await factsCheck();
  assert.equal(c.status, 'pass', c.text);
  assert.match(
    c.text,
    /record support\.endsOn -> \d{4}-\d{2}-\d{2}; (signed with plug\/image\.tar 1\.1\.0|the unit's model)/,
  );
  assert.match(
    c.text,
    /record automaticUpdates\.default -> on; units ship with them on \(the firmware updater's default/,
  );
  assert.match(
    c.text,
    /record sbom -> available, CycloneDX at plug\/image\.cdx\.json; the release repository publishes/,
  );
  assert.match(
    c.text,
    /record vulnerabilityReporting\.contact -> https:\/\/127\.0\.0\.1:\d+\/security\/report; security/,
  );
  assert.match(c.text, /record declarationOfConformity\.url -> .* \(declared by the maker\)/);
  assert.doesNotMatch(c.text, /^!! /m);
});

test('a record saying automatic updates are off, for a unit that ships them on, fails naming the field', async () => {
  await publish(await record((r) => ({ ...r, automaticUpdates: false })));
  const c = await factsCheck();
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /contradicts the evidence: automaticUpdates\.default$/m);
  assert.match(c.text, /!! record automaticUpdates\.default -> off; units ship with them on/);
});

test('a unit whose service starts it with automatic updates off contradicts a record saying on', async () => {
  await publish(await record());
  const config = join(work, 'update-config.json');
  await writeFile(config, JSON.stringify({ autoUpdate: false }));
  const unitFile = join(work, 'bulwark-device.service');
  await writeFile(
    unitFile,
    `[Service]\nExecStart=/usr/bin/bulwark device run --bundle ${unit.dir} --state /var/lib/bulwark ` +
      `--update-config ${config}\n`,
  );
  const c = await factsCheck({ serviceUnit: unitFile });
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /!! record automaticUpdates\.default -> on; units ship with them off \(.*update-config\.json/);
  // The same service started with automatic updates on agrees with the record.
  await writeFile(config, JSON.stringify({ autoUpdate: true }));
  assert.equal((await factsCheck({ serviceUnit: unitFile })).status, 'pass');
});

test('a support date, SBOM or contact other than the evidence fails, naming each field', async () => {
  const good = await record();
  const later = `${Number(good.support.endsOn.slice(0, 4)) + 1}${good.support.endsOn.slice(4)}`;
  await publish({
    ...good,
    support: { endsOn: later },
    sbom: { available: false },
    vulnerabilityReporting: { ...good.vulnerabilityReporting, contact: ['mailto:nobody@example.com'] },
  });
  const c = await factsCheck();
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /contradicts the evidence: support\.endsOn, sbom, vulnerabilityReporting\.contact$/m);
  assert.match(c.text, new RegExp(`!! record support\\.endsOn -> ${later}; `));
  assert.match(c.text, /!! record sbom -> not available; the release repository publishes plug\/image\.cdx\.json/);
});

test("a record in the cloud's folder breaking its schema (written past the publisher) fails, naming it", async () => {
  const doc = JSON.parse(serializeFactsRecord(await record())) as { support: Record<string, unknown> };
  delete doc.support.endsOn;
  await writeFile(join(factsFolder(join(work, 'cloud')), 'plug', '1.1.0.json'), JSON.stringify(doc));
  const c = await factsCheck();
  assert.equal(c.status, 'fail', c.text);
  assert.match(c.text, /breaks its schema at support\.endsOn/);
  assert.match(c.text, /!! schema -> support\.endsOn: is required/);
});
