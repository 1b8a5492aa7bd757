// The audit's controls for vulnerability handling, each passing on good evidence and failing on bad:
// build.sbom-complete on the SBOM a release publishes (and one missing a purl), build.known-vulnerabilities
// on a repository whose advisories were matched (and one never matched, one matched too long ago, one
// with an untriaged advisory matching the current image), and cloud.disclosure-intake on a running
// cloud (and a server without the intake, and one whose security.txt has expired).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory } from '../../src/identity/index.ts';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import {
  buildReferenceImage,
  initRepository,
  publishImage,
  recordVexStatement,
  reportVulnerabilities,
  type PublishResult,
} from '../../src/release/index.ts';
import { packagesOfCycloneDx, type SbomPackage } from '../../src/vulns/index.ts';
import { runAudit, type AuditReport } from '../../src/audit/index.ts';
import { selfSigned } from './weak-device.ts';

const PLUG = fileURLToPath(new URL('../../src/policy/profiles/plug.yaml', import.meta.url));
const DAY_MS = 86_400_000;

let work: string;
let repoDir: string;
let published: PublishResult;
let inImage: SbomPackage;
let cloud: CloudService | undefined;
const servers: Server[] = [];

function check(r: AuditReport, id: string): { status: string; text: string } {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `${id} did not run`);
  return {
    status: c.status,
    text: `${c.summary}\n${c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`).join('\n')}`,
  };
}

/** An OSV advisory for `pkg` affecting the versions below `fixed`. */
function osv(id: string, pkg: SbomPackage, fixed: string): Record<string, unknown> {
  return {
    schema_version: '1.6.0',
    id,
    modified: '2026-01-02T00:00:00Z',
    summary: `A flaw in ${pkg.name}`,
    affected: [
      {
        package: { ecosystem: 'npm', name: pkg.name },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }],
      },
    ],
  };
}

/** Writes advisories into a fresh folder and runs the release side's match on the repository. */
async function releaseVulns(name: string, advisories: Array<Record<string, unknown>>, now?: Date): Promise<void> {
  const dir = join(work, name);
  await mkdir(dir);
  for (const a of advisories) await writeFile(join(dir, `${String(a.id)}.json`), JSON.stringify(a));
  await reportVulnerabilities({ repoDir, advisories: dir, ...(now ? { now } : {}) });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-audit-vulns-'));
  const factoryDir = join(work, 'factory');
  repoDir = join(work, 'releases');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir });
  const artifact = join(work, 'plug.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  published = await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  const packages = packagesOfCycloneDx(JSON.parse(await readFile(published.files.sbom, 'utf8')));
  inImage = packages.find((p) => /^[1-9]\d*\.\d+\.\d+$/.test(p.version))!;
  assert.ok(inImage, 'the image lists an npm package with a plain version');
  cloud = await startCloud({ factoryDir, stateDir: join(work, 'cloud'), broker: { port: 0 }, api: { port: 0 } });
  await writeFile(join(work, 'cloud-ca.pem'), cloud.credentials.caCertPem);
});
after(async () => {
  await cloud?.close();
  for (const s of servers) await new Promise((r) => s.close(r));
});

test('a published SBOM passes build.sbom-complete; one whose library lost its purl fails, naming it', async () => {
  const good = await runAudit({ profile: PLUG, updateRepo: repoDir });
  const c = check(good, 'build.sbom-complete');
  assert.equal(c.status, 'pass', c.text);
  assert.match(
    c.text,
    /the signed SBOM of plug\/image\.tar \(1\.1\.0\) -> \d+ libraries, \d+ files: every one complete/,
  );
  assert.match(c.text, /carries the image's SHA-256/);
  // The same SBOM in a bundle folder, with one library's purl and another's hashes taken out.
  const bundle = join(work, 'bundle-bad-sbom');
  await mkdir(bundle);
  const sbom = JSON.parse(await readFile(published.files.sbom, 'utf8')) as {
    components: Array<{ type: string; name: string; purl?: string; hashes?: unknown }>;
  };
  await writeFile(join(bundle, 'sbom.cdx.json'), JSON.stringify(sbom));
  const local = check(await runAudit({ profile: PLUG, bundle }), 'build.sbom-complete');
  assert.equal(local.status, 'pass', local.text);
  const [first, second] = sbom.components.filter((x) => x.type === 'library');
  delete first!.purl;
  delete second!.hashes;
  await writeFile(join(bundle, 'sbom.cdx.json'), JSON.stringify(sbom));
  const bad = check(await runAudit({ profile: PLUG, bundle }), 'build.sbom-complete');
  assert.equal(bad.status, 'fail', bad.text);
  assert.match(bad.text, new RegExp(`!! read .*sbom\\.cdx\\.json -> .*2 incomplete: ${first!.name}.* \\(no purl\\)`));
  assert.match(bad.text, /\(no hash\)/);
});

test('build.known-vulnerabilities: never matched fails, matched with an unrelated advisory passes', async () => {
  const never = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(never.status, 'fail', never.text);
  assert.match(never.text, /!! the record of the last match .* -> none: `bulwark release vulns` has never run/);
  // An advisory for versions below the one the image holds: it matches nothing.
  await releaseVulns('osv-unrelated', [osv('GHSA-audt-0000-0001', inImage, inImage.version)]);
  const ok = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(ok.status, 'pass', ok.text);
  assert.match(ok.text, /ran \S+, 0\.0 days ago \(at most 30\.0 days allowed\)/);
  assert.match(ok.text, /the advisories kept in vulns\/advisories -> 1 \(1 OSV, 0 CSAF\)/);
  assert.match(ok.text, /no advisory affects them/);
});

test('build.known-vulnerabilities fails on a stale match, and on an untriaged match until stated', async () => {
  await releaseVulns('osv-none', [], new Date(Date.now() - 40 * DAY_MS));
  const stale = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(stale.status, 'fail', stale.text);
  assert.match(stale.text, /!! the record of the last match .* -> ran \S+, 40\.0 days ago/);
  const next = inImage.version.replace(/^(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c) => `${a}.${b}.${Number(c) + 1}`);
  await releaseVulns('osv-hit', [osv('GHSA-audt-0000-0002', inImage, next)]);
  const untriaged = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(untriaged.status, 'fail', untriaged.text);
  assert.match(
    untriaged.text,
    new RegExp(
      `!! GHSA-audt-0000-0002 -> affects plug 1\\.1\\.0 \\(${inImage.name} ${inImage.version}\\); no statement`,
    ),
  );
  await recordVexStatement({ repoDir, vuln: 'GHSA-audt-0000-0002', status: 'affected' });
  const affected = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(affected.status, 'fail', affected.text);
  assert.match(affected.text, /!! GHSA-audt-0000-0002 -> .*stated affected/);
  await recordVexStatement({
    repoDir,
    vuln: 'GHSA-audt-0000-0002',
    status: 'not_affected',
    justification: 'code_not_reachable',
  });
  const stated = check(await runAudit({ profile: PLUG, updateRepo: repoDir }), 'build.known-vulnerabilities');
  assert.equal(stated.status, 'pass', stated.text);
  assert.match(stated.text, /GHSA-audt-0000-0002 -> .*stated not_affected \(code_not_reachable\)/);
});

test("a running cloud's disclosure intake passes; nothing is stored in the maker's list", async () => {
  const r = await runAudit({ profile: PLUG, cloudApi: cloud!.api.url, cloudApiCa: join(work, 'cloud-ca.pem') });
  const c = check(r, 'cloud.disclosure-intake');
  assert.equal(c.status, 'pass', c.text);
  assert.match(c.text, /certificate verified against --cloud-api-ca/);
  assert.match(c.text, /GET \/security\/report -> 200 text\/html.*: a form that posts, with summary and details/);
  assert.match(c.text, /POST \/v1\/security\/reports \{\} .* -> 400 application\/json.*, error code INVALID_INPUT$/m);
  assert.deepEqual(await cloud!.store.disclosureReports(100), []);
  // Without a cloud API the check is not tested for a product with a cloud.
  assert.equal(check(await runAudit({ profile: PLUG }), 'cloud.disclosure-intake').status, 'not-tested');
});

/** An HTTPS server answering security.txt with `expires`, and (with `intake`) a form and a typed refusal. */
async function fakeCloud(expires: Date, intake: boolean): Promise<string> {
  const { key, cert } = await selfSigned();
  const server = createServer({ key, cert }, (req, res) => {
    if (req.url === '/.well-known/security.txt') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Contact: mailto:security@example.org\nExpires: ${expires.toISOString()}\n`);
    } else if (intake && req.url === '/security/report') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<form method="post"><input name="summary"><textarea name="details"></textarea></form>');
    } else if (intake && req.url === '/v1/security/reports') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"INPUT_INVALID","message":"field summary is missing"}}');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a cloud without the intake, or with an expired security.txt, fails cloud.disclosure-intake', async () => {
  const none = check(
    await runAudit({ profile: PLUG, cloudApi: await fakeCloud(new Date(Date.now() + 90 * DAY_MS), false) }),
    'cloud.disclosure-intake',
  );
  assert.equal(none.status, 'fail', none.text);
  assert.match(none.text, /!! GET \/security\/report -> 404/);
  assert.match(none.text, /!! POST \/v1\/security\/reports \{\} .* -> 404 text\/plain, no error code/);
  const expired = check(
    await runAudit({ profile: PLUG, cloudApi: await fakeCloud(new Date(Date.now() - DAY_MS), true) }),
    'cloud.disclosure-intake',
  );
  assert.equal(expired.status, 'fail', expired.text);
  assert.match(expired.text, /!! security\.txt Expires -> \S+ \(expired\)/);
  assert.doesNotMatch(expired.text, /!! (GET \/security|POST)/);
  const far = check(
    await runAudit({ profile: PLUG, cloudApi: await fakeCloud(new Date(Date.now() + 400 * DAY_MS), true) }),
    'cloud.disclosure-intake',
  );
  assert.match(far.text, /!! security\.txt Expires -> \S+ \(more than a year ahead\)/);
  // A certificate that does not chain to the CA given is refused before anything is judged.
  const wrongCa = check(
    await runAudit({
      profile: PLUG,
      cloudApi: await fakeCloud(new Date(Date.now() + 90 * DAY_MS), true),
      cloudApiCa: join(work, 'cloud-ca.pem'),
    }),
    'cloud.disclosure-intake',
  );
  assert.equal(wrongCa.status, 'fail', wrongCa.text);
  assert.match(wrongCa.text, /!! TLS to https:\/\/127\.0\.0\.1:\d+ -> refused: /);
});

test('the copy of a repository without its vulns folder is not mistaken for a checked one', async () => {
  const copy = join(work, 'releases-copy');
  await cp(repoDir, copy, { recursive: true, filter: (src) => !src.includes(`${join(repoDir, 'vulns')}`) });
  const r = check(await runAudit({ profile: PLUG, updateRepo: copy }), 'build.known-vulnerabilities');
  assert.equal(r.status, 'fail', r.text);
});
