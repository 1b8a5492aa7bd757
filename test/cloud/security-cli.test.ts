// The vulnerability-handling commands as processes (bin/bulwark.js, argv, no shell): `cloud cra
// exploited|incident|list` print each CRA deadline from the time the maker became aware; `release
// vulns --cloud-store` prints the units in the field per affected release; `release advisory`
// writes a CSAF advisory, `cloud advisory publish` stores it and a running `cloud run` serves it
// under /.well-known/csaf/ with the security.txt its --security-* options set; bad settings stop
// `cloud run` with CLOUD_CONFIG_INVALID and exit 78.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SqlStore, openSqliteDriver } from '../../src/cloud/index.ts';
import { buildReferenceImage, initRepository, publishImage } from '../../src/release/index.ts';
import { packagesOfCycloneDx, type SbomPackage } from '../../src/vulns/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, freePort } from './support.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const HOUR = 3_600_000;
const VULN = 'GHSA-cli0-test-0001';

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** Starts `cloud run`; resolves with the process and its owner URL once it prints its ready line. */
function startCloudProcess(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'cloud', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 20_000) stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line from cloud run: ${stderr}`));
    }, 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = /owners (https:\S+)/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cloud run exited ${code}: ${stderr}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

function get(url: string, ca: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();

let work: string;
let factoryDir: string;
let units: ProvisionedUnit[];
let manifest: string;
let repoDir: string;
let cloudState: string;
let target: SbomPackage;

before(async () => {
  ({ work, factoryDir, units, manifest } = await makeUnits('plug', 3));
  repoDir = join(work, 'releases');
  cloudState = join(work, 'cloud');
  await initRepository({ repoDir, factoryDir });
  const artifact = join(work, 'plug-1.1.0.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  const published = await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  const packages = packagesOfCycloneDx(JSON.parse(await readFile(published.files.sbom, 'utf8')));
  target = packages.find((p) => /^\d+\.\d+\.\d+$/.test(p.version))!;
  assert.ok(target, 'the published image lists npm packages');
  await mkdir(join(work, 'osv'));
  await writeFile(
    join(work, 'osv', `${VULN}.json`),
    JSON.stringify({
      schema_version: '1.6.0',
      id: VULN,
      aliases: ['CVE-2099-54321'],
      summary: `Prototype pollution in ${target.name}`,
      affected: [{ package: { ecosystem: 'npm', name: target.name }, versions: [target.version] }],
    }),
  );
});

test('cloud cra exploited, incident and list print each report deadline from the time of awareness', async () => {
  const state = join(work, 'cra');
  // A whole minute two hours ago: the clocks count from it, not from when the command ran.
  const aware = Math.floor((Date.now() - 2 * HOUR) / 60_000) * 60_000;
  const exploited = await bulwark([
    'cloud', 'cra', 'exploited', '--state', state, '--vuln', 'CVE-2099-54321', '--known-at', iso(aware),
    '--product', 'Bulwark plug', '--member-states', 'DE,FR',
  ]); // prettier-ignore
  assert.equal(exploited.code, 0, exploited.stderr);
  const caseId = /^opened: (cra-[0-9a-f]{12}) vulnerability CVE-2099-54321$/m.exec(exploited.stdout)?.[1];
  assert.ok(caseId, exploited.stdout);
  assert.match(exploited.stdout, new RegExp(`^  early-warning due ${iso(aware + 24 * HOUR)} \\(24 hours\\)$`, 'm'));
  assert.match(exploited.stdout, new RegExp(`^  notification due ${iso(aware + 72 * HOUR)} \\(72 hours\\)$`, 'm'));
  assert.match(exploited.stdout, /^ {2}final due 14 days after a corrective or mitigating measure is available$/m);
  const again = await bulwark([
    'cloud', 'cra', 'exploited', '--state', state, '--vuln', 'CVE-2099-54321', '--known-at', iso(aware),
  ]); // prettier-ignore
  assert.match(again.stdout, new RegExp(`^already open: ${caseId} `, 'm'), 'the same vulnerability is one case');

  const incidentAware = aware - 24 * HOUR;
  const incident = await bulwark([
    'cloud', 'cra', 'incident', '--state', state, '--incident', 'Cloud broker breach', '--known-at',
    iso(incidentAware).replace('Z', '+00:00'), '--suspected-malicious', 'yes', '--json',
  ]); // prettier-ignore
  assert.equal(incident.code, 0, incident.stderr);
  const opened = JSON.parse(incident.stdout) as {
    created: boolean;
    record: { id: string; kind: string };
    deadlines: Array<{ report: string; dueAt: number | null; provisional: boolean }>;
  };
  assert.equal(opened.record.kind, 'incident');
  const notificationDue = incidentAware + 72 * HOUR;
  // One calendar month later, the day kept or, past the month's end, its last day.
  const n = new Date(notificationDue);
  const lastDay = new Date(Date.UTC(n.getUTCFullYear(), n.getUTCMonth() + 2, 0)).getUTCDate();
  const monthLater = new Date(notificationDue);
  monthLater.setUTCDate(1);
  monthLater.setUTCMonth(n.getUTCMonth() + 1);
  monthLater.setUTCDate(Math.min(n.getUTCDate(), lastDay));
  assert.deepEqual(
    opened.deadlines.map((d) => [d.report, d.dueAt, d.provisional]),
    [
      ['early-warning', incidentAware + 24 * HOUR, false],
      ['notification', notificationDue, false],
      ['final', monthLater.getTime(), true],
    ],
  );

  const list = await bulwark(['cloud', 'cra', 'list', '--state', state]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n'), [
    `OVERDUE ${opened.record.id} Cloud broker breach: early-warning due ${iso(incidentAware + 24 * HOUR)} (24 hours)`,
    `DUE ${caseId} CVE-2099-54321: early-warning due ${iso(aware + 24 * HOUR)} (24 hours)`,
    `DUE ${opened.record.id} Cloud broker breach: notification due ${iso(notificationDue)} (72 hours)`,
    `DUE ${caseId} CVE-2099-54321: notification due ${iso(aware + 72 * HOUR)} (72 hours)`,
    `DUE ${opened.record.id} Cloud broker breach: final due ${iso(monthLater.getTime())} (provisional) ` +
      '(one month after the notification (if sent on time))',
    `WAITING ${caseId} CVE-2099-54321: final due 14 days after a corrective or mitigating measure is available`,
  ]);
  const json = JSON.parse((await bulwark(['cloud', 'cra', 'list', '--state', state, '--json'])).stdout) as {
    cases: Array<{
      id: string;
      drafts: Array<{ report: string; fields: Array<{ name: string; value: string | null }> }>;
    }>;
  };
  const warning = json.cases.find((c) => c.id === caseId)!.drafts.find((d) => d.report === 'early-warning')!;
  assert.deepEqual(
    warning.fields.map((f) => [f.name, f.value]),
    [
      ['vulnerability', 'CVE-2099-54321'],
      ['awareAt', iso(aware)],
      ['product', 'Bulwark plug'],
      ['memberStates', 'DE, FR'],
    ],
  );

  const future = await bulwark([
    'cloud', 'cra', 'exploited', '--state', state, '--vuln', 'CVE-2099-1', '--known-at', iso(Date.now() + 48 * HOUR),
  ]); // prettier-ignore
  assert.equal(future.code, 65, future.stderr);
  assert.match(future.stderr, /error CRA_CASE_INVALID: knownAt: is in the future/);
  const noOffset = await bulwark([
    'cloud', 'cra', 'incident', '--state', state, '--incident', 'x', '--known-at', '2026-01-01T10:00',
  ]); // prettier-ignore
  assert.equal(noOffset.code, 65, noOffset.stderr);
});

test('release vulns --cloud-store prints the units in the field running each affected release', async () => {
  const imported = await bulwark(['cloud', 'import', '--factory', factoryDir, '--state', cloudState, manifest]);
  assert.equal(imported.code, 0, imported.stderr);
  const store = await SqlStore.open(openSqliteDriver({ path: join(cloudState, 'cloud.db') }));
  try {
    // What the units' firmware reports record: two run the affected 1.1.0, one still runs 1.0.0.
    const running = (version: string) => ({ version, securityVersion: 1, slot: 'a' as const });
    const now = Date.now();
    await store.recordFirmware(units[0]!.serial, { at: now, running: running('1.1.0'), outcomes: [] }, now);
    await store.recordFirmware(units[1]!.serial, { at: now, running: running('1.1.0'), outcomes: [] }, now);
    await store.recordFirmware(units[2]!.serial, { at: now, running: running('1.0.0'), outcomes: [] }, now);
  } finally {
    await store.close();
  }
  const r = await bulwark([
    'release', 'vulns', '--repo', repoDir, '--advisories', join(work, 'osv'), '--cloud-store', cloudState,
  ]); // prettier-ignore
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1 advisories imported; 1 affect published releases$/m);
  assert.match(r.stdout, new RegExp(`^${VULN} \\[no statement\\] Prototype pollution`, 'm'));
  assert.match(
    r.stdout,
    new RegExp(`^  plug 1\\.1\\.0 \\(${target.name}@${target.version}\\): 2 units in the field$`, 'm'),
  );
  const json = JSON.parse(
    (await bulwark(['release', 'vulns', '--repo', repoDir, '--cloud-store', join(cloudState, 'cloud.db'), '--json']))
      .stdout,
  ) as { vulnerabilities: Array<{ id: string; releases: Array<{ version: string; devices: number }> }> };
  assert.deepEqual(
    json.vulnerabilities.map((v) => [v.id, v.releases.map((x) => [x.version, x.devices])]),
    [[VULN, [['1.1.0', 2]]]],
  );
  const missing = await bulwark(['release', 'vulns', '--repo', repoDir, '--cloud-store', join(work, 'nowhere')]);
  assert.equal(missing.code, 78, missing.stderr);
  assert.match(missing.stderr, /RELEASE_CONFIG_INVALID: cloudStore: no cloud database/);
});

test(
  'cloud advisory publish stores a CSAF advisory that cloud run serves under /.well-known/csaf/, ' +
    'with the security.txt its options set',
  { timeout: 120_000 },
  async () => {
    const vex = await bulwark(['release', 'vex', '--repo', repoDir, '--vuln', VULN, '--status', 'affected']);
    assert.equal(vex.code, 0, vex.stderr);
    const out = join(work, 'advisory.json');
    const written = await bulwark([
      'release', 'advisory', '--repo', repoDir, '--vuln', VULN, '--out', out,
      '--publisher-name', 'Acme Devices', '--publisher-namespace', 'https://acme.example',
    ]); // prettier-ignore
    assert.equal(written.code, 0, written.stderr);
    const bytes = await readFile(out);
    const doc = JSON.parse(bytes.toString('utf8')) as { document: { tracking: { id: string } } };
    const published = await bulwark(['cloud', 'advisory', 'publish', '--state', cloudState, '--file', out]);
    assert.equal(published.code, 0, published.stderr);
    const path = /^published: \/\.well-known\/csaf\/(\d{4}\/[a-z0-9_-]+\.json) /m.exec(published.stdout)?.[1];
    assert.ok(path, published.stdout);
    const same = await bulwark(['cloud', 'advisory', 'publish', '--state', cloudState, '--file', out]);
    assert.match(same.stdout, /^unchanged: /m, 'the same advisory again changes nothing');
    const junk = join(work, 'junk.json');
    await writeFile(junk, JSON.stringify({ document: { category: 'csaf_base', csaf_version: '2.0' } }));
    const refused = await bulwark(['cloud', 'advisory', 'publish', '--state', cloudState, '--file', junk]);
    assert.equal(refused.code, 65, refused.stderr);
    assert.match(refused.stderr, /error CSAF_ADVISORY_INVALID: document\.category/);

    const cloud = await startCloudProcess([
      '--factory', factoryDir, '--state', cloudState, '--mqtt-port', String(await freePort()),
      '--api-port', String(await freePort()),
      '--security-contact', 'mailto:psirt@acme.example,https://acme.example/psirt', '--security-expires-days', '30',
    ]); // prettier-ignore
    try {
      const ca = await readFile(join(cloudState, 'pki', 'ca-cert.pem'), 'utf8');
      const served = await get(`${cloud.url}/.well-known/csaf/${path}`, ca);
      assert.equal(served.status, 200);
      assert.equal(served.body, bytes.toString('utf8'), 'served byte for byte');
      const sha = await get(`${cloud.url}/.well-known/csaf/${path}.sha512`, ca);
      assert.equal(sha.body, `${createHash('sha512').update(bytes).digest('hex')}  ${path.split('/')[1]}\n`);
      assert.equal((await get(`${cloud.url}/.well-known/csaf/index.txt`, ca)).body, `${path}\n`);
      const meta = JSON.parse((await get(`${cloud.url}/.well-known/csaf/provider-metadata.json`, ca)).body) as {
        role: string;
        publisher: { name: string };
        distributions: Array<{ directory_url: string }>;
      };
      assert.equal(meta.role, 'csaf_provider');
      assert.equal(meta.publisher.name, 'Acme Devices');
      assert.equal(meta.distributions[0]!.directory_url, `${cloud.url}/.well-known/csaf/`);
      assert.ok(doc.document.tracking.id);
      const txt = await get(`${cloud.url}/.well-known/security.txt`, ca);
      assert.equal(txt.status, 200);
      assert.match(txt.body, /^Contact: mailto:psirt@acme\.example\nContact: https:\/\/acme\.example\/psirt$/m);
      const expires = Date.parse(/^Expires: (\S+)$/m.exec(txt.body)![1]!) - Date.now();
      assert.ok(expires > 29 * 24 * HOUR && expires <= 30 * 24 * HOUR, `Expires 30 days ahead (${expires} ms)`);
    } finally {
      await stop(cloud.child);
    }
  },
);

test('cloud run refuses bad security settings before it starts: CLOUD_CONFIG_INVALID, exit 78', async () => {
  const base = ['cloud', 'run', '--factory', factoryDir, '--state', join(work, 'refused'), '--api-port', '0'];
  const days = await bulwark([...base, '--mqtt-port', '0', '--security-expires-days', '400']);
  assert.equal(days.code, 78, days.stderr);
  assert.match(days.stderr, /error CLOUD_CONFIG_INVALID: security\.securityTxt\.expiresInDays: must be an integer/);
  const contact = await bulwark([...base, '--mqtt-port', '0', '--security-contact', 'http://plain.example']);
  assert.equal(contact.code, 78, contact.stderr);
  assert.match(contact.stderr, /security\.securityTxt\.contact/);
  const file = join(work, 'security.json');
  await writeFile(file, JSON.stringify({ intake: { reportsPerSource: 5, reportPerSource: 1 } }));
  const typo = await bulwark([...base, '--mqtt-port', '0', '--security-config', file]);
  assert.equal(typo.code, 78, typo.stderr);
  assert.match(typo.stderr, /security\.intake\.reportPerSource: is not a setting/);
  await writeFile(file, JSON.stringify({ intake: { reportsPerSource: 0 } }));
  const zero = await bulwark([...base, '--mqtt-port', '0', '--security-config', file]);
  assert.equal(zero.code, 78, zero.stderr);
  assert.match(zero.stderr, /security\.intake\.reportsPerSource: must be an integer from 1 to 100/);
  await writeFile(file, '{ not json');
  assert.equal((await bulwark([...base, '--mqtt-port', '0', '--security-config', file])).code, 78);
  assert.ok(!existsSync(join(work, 'refused')), 'nothing started, nothing written');
});
