// Vulnerability handling end to end on a real repository: an OSV advisory written here for a
// package version inside a published device image is reported with the release; once the maker
// marks it affected, publishing a new image that still holds it is refused and nothing is
// written; "not affected" needs a CycloneDX justification, and with one it is signed into the
// repository and fetched verified by tuf-js (as the device fetches targets), a tampered copy
// refused; the CSAF advisory written passes the BSI validator's mandatory tests; a model past
// its support period is refused at the release clock.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Updater } from 'tuf-js';
import { initFactory } from '../../src/identity/index.ts';
import {
  buildReferenceImage,
  initRepository,
  publishImage,
  recordVexStatement,
  reportVulnerabilities,
  startRepositoryServer,
  writeCsafAdvisory,
  type PublishResult,
} from '../../src/release/index.ts';
import { packagesOfCycloneDx, type SbomPackage } from '../../src/vulns/index.ts';

/** The BSI validator (JavaScript, no types): strict validate, its mandatory tests and the CSAF 2.0 strict schema. */
interface CsafValidation {
  readonly isValid: boolean;
  readonly tests: ReadonlyArray<{ readonly name: string; readonly errors: readonly unknown[] }>;
}
async function validateMandatory(doc: unknown): Promise<CsafValidation> {
  const lib = '@secvisogram/csaf-validator-lib';
  const { default: validateStrict } = (await import(`${lib}/validateStrict.js`)) as {
    default: (tests: unknown[], doc: unknown) => Promise<CsafValidation>;
  };
  const mandatory = (await import(`${lib}/mandatoryTests.js`)) as Record<string, unknown>;
  const { csaf_2_0_strict } = (await import(`${lib}/schemaTests.js`)) as { csaf_2_0_strict: unknown };
  return validateStrict([csaf_2_0_strict, ...Object.values(mandatory)], doc);
}

/** The parts of a CycloneDX VEX document the tests read. */
interface VexDocument {
  bomFormat: string;
  specVersion: string;
  vulnerabilities: Array<{ id: string; analysis: { state: string; justification?: string }; affects: unknown[] }>;
}

/** The parts of a CSAF advisory the tests read. */
interface CsafDocument {
  document: {
    publisher: { name: string };
    tracking: { version: string; revision_history: Array<{ summary: string }> };
  };
  vulnerabilities: Array<{ cve?: string; product_status: unknown; remediations?: unknown[] }>;
}

let work: string;
let repoDir: string;
let factoryDir: string;
let first: PublishResult;
let target: SbomPackage;
const VULN = 'GHSA-test-vex0-0001';

/** The next patch version of a semver (what the advisory names as fixed). */
const nextPatch = (v: string): string =>
  v.replace(/^(\d+)\.(\d+)\.(\d+).*$/, (_, a, b, c) => `${a}.${b}.${Number(c) + 1}`);

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length));
  return out.sort();
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-vulns-'));
  factoryDir = join(work, 'factory');
  repoDir = join(work, 'releases');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir });
  const artifact = join(work, 'plug-1.1.0.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  first = await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
  const sbom = JSON.parse(await readFile(first.files.sbom, 'utf8')) as {
    components: Array<{ type: string; name: string; hashes?: Array<{ alg: string }>; licenses?: unknown[] }>;
  };
  // A real device image's SBOM is complete: each bundled npm package with SHA-512 (from the lockfile) and licence.
  for (const c of sbom.components.filter((x) => x.type === 'library')) {
    assert.equal(c.hashes?.[0]?.alg, 'SHA-512', `${c.name} has its lockfile hash`);
    assert.ok(c.licenses?.length, `${c.name} has a licence`);
  }
  const packages = packagesOfCycloneDx(sbom);
  target = packages.find((p) => /^\d+\.\d+\.\d+$/.test(p.version))!;
  assert.ok(target, 'the published image lists npm packages');
  const osv = {
    schema_version: '1.6.0',
    id: VULN,
    aliases: ['CVE-2099-12345'],
    modified: '2026-01-02T00:00:00Z',
    summary: `Prototype pollution in ${target.name}`,
    details: 'A crafted input pollutes Object.prototype.',
    references: [{ type: 'ADVISORY', url: 'https://example.org/advisories/1' }],
    affected: [
      {
        package: { ecosystem: 'npm', name: target.name, purl: target.purl.replace(/@[^@/]+$/, '') },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: nextPatch(target.version) }] }],
      },
    ],
  };
  await mkdir(join(work, 'osv'));
  await writeFile(join(work, 'osv', `${VULN}.json`), JSON.stringify(osv));
  await writeFile(
    join(work, 'osv', 'unrelated.json'),
    JSON.stringify({
      ...osv,
      id: 'GHSA-none-0000-0000',
      aliases: [],
      affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, versions: ['1.0.0'] }],
    }),
  );
});

test('an OSV advisory for a package version in a published image is reported with the affected release', async () => {
  const at = new Date('2026-03-04T05:06:07.000Z');
  const r = await reportVulnerabilities({ repoDir, advisories: join(work, 'osv'), now: at });
  assert.equal(r.imported, 2);
  // The run is recorded for an auditor: when, against which images, how many advisories and what matched.
  const record = JSON.parse(await readFile(join(repoDir, 'vulns', 'last-check.json'), 'utf8')) as unknown;
  assert.deepEqual(record, {
    format: 'bulwark.vulns-check/v1',
    at: at.toISOString(),
    advisories: { osv: 2, csaf: 0 },
    imported: 2,
    images: [{ model: 'plug', version: '1.1.0', sha256: first.sha256 }],
    matches: [{ vuln: VULN, images: 1 }],
  });
  assert.deepEqual(
    r.reports.map((x) => [
      x.match.advisory.id,
      x.match.releases.map((y) => `${y.model} ${y.version} ${y.package.name}`),
    ]),
    [[VULN, [`plug 1.1.0 ${target.name}`]]],
  );
  assert.deepEqual(r.reports[0]!.match.fixedVersions[target.name], [nextPatch(target.version)]);
  assert.equal(r.reports[0]!.statement, undefined);
});

test('"not affected" without a CycloneDX justification is refused and records nothing', async () => {
  await assert.rejects(recordVexStatement({ repoDir, vuln: VULN, status: 'not_affected' }), {
    code: 'VULN_STATEMENT_INVALID',
  });
  await assert.rejects(recordVexStatement({ repoDir, vuln: VULN, status: 'not_affected', justification: 'because' }), {
    code: 'VULN_STATEMENT_INVALID',
  });
  await assert.rejects(recordVexStatement({ repoDir, vuln: 'GHSA-nope-nope-nope', status: 'affected' }), {
    code: 'VULN_UNKNOWN',
  });
  assert.ok(!(await tree(repoDir)).some((p) => p.includes('statements.json') || p.endsWith('.vex.cdx.json')));
});

test('a new image that still holds a vulnerability marked affected is refused, nothing written', async () => {
  await recordVexStatement({ repoDir, vuln: 'CVE-2099-12345', status: 'affected' });
  const artifact = join(work, 'plug-1.2.0.tar');
  await buildReferenceImage(artifact, { model: 'plug', version: '1.2.0', securityVersion: 1 });
  const before = await tree(repoDir);
  const release = await readFile(join(repoDir, 'release.json'), 'utf8');
  await assert.rejects(publishImage({ repoDir, artifact, model: 'plug', version: '1.2.0' }), (err: Error) => {
    assert.equal((err as { code?: string }).code, 'RELEASE_KNOWN_VULNERABILITY');
    assert.match(err.message, new RegExp(`${VULN} \\(${target.name.replace(/[/.]/g, '\\$&')} ${target.version}`));
    return true;
  });
  assert.deepEqual(await tree(repoDir), before);
  assert.equal(await readFile(join(repoDir, 'release.json'), 'utf8'), release);
});

test('a justified "not affected" is signed and fetched verified by tuf-js; a tampered copy is refused', async () => {
  const r = await recordVexStatement({
    repoDir,
    vuln: VULN,
    status: 'not_affected',
    justification: 'code_not_reachable',
    detail: 'The agent never passes outside input to the affected function.',
  });
  assert.deepEqual(
    r.targets.map((t) => t.path),
    ['plug/vex.cdx.json'],
  );
  const server = await startRepositoryServer({ repoDir });
  try {
    const fetch = async (name: string): Promise<VexDocument> => {
      const cache = join(work, name);
      await mkdir(join(cache, 'targets'), { recursive: true });
      await copyFile(join(factoryDir, 'update-keys', 'root.json'), join(cache, 'root.json'));
      const u = new Updater({
        metadataDir: cache,
        metadataBaseUrl: `${server.url}/metadata`,
        targetBaseUrl: `${server.url}/targets`,
        targetDir: join(cache, 'targets'),
        config: { prefixTargetsWithHash: true },
      });
      await u.refresh();
      const info = await u.getTargetInfo('plug/vex.cdx.json');
      assert.ok(info, 'the VEX document is a signed target');
      assert.equal((await u.getTargetInfo('plug/image.cdx.json'))?.custom.version, '1.1.0');
      return JSON.parse(await readFile(await u.downloadTarget(info), 'utf8')) as VexDocument;
    };
    const vex = await fetch('device-a');
    assert.equal(vex.bomFormat, 'CycloneDX');
    assert.equal(vex.specVersion, '1.5');
    const v = vex.vulnerabilities[0]!;
    assert.equal(v.id, VULN);
    assert.deepEqual([v.analysis.state, v.analysis.justification], ['not_affected', 'code_not_reachable']);
    const { serialNumber } = JSON.parse(await readFile(first.files.sbom, 'utf8')) as { serialNumber: string };
    const serial = serialNumber.replace('urn:uuid:', '');
    assert.deepEqual(v.affects, [
      { ref: `urn:cdx:${serial}/1#image`, versions: [{ version: '1.1.0', status: 'unaffected' }] },
    ]);
    // The served copy changed after signing: the device's client refuses it.
    const text = await readFile(r.targets[0]!.file, 'utf8');
    await writeFile(r.targets[0]!.file, text.replace('not_affected', 'not_affectes'));
    await assert.rejects(fetch('device-b'), { message: /^Expected hash [0-9a-f]{64} but got [0-9a-f]{64}$/ });
  } finally {
    await server.close();
  }
});

test('the CSAF advisory written passes the mandatory tests of the BSI validator', async () => {
  const out = join(work, 'csaf', 'advisory.json');
  await mkdir(join(work, 'csaf'));
  const { document } = await writeCsafAdvisory({
    repoDir,
    vuln: VULN,
    out,
    publisher: { name: 'Acme Devices', namespace: 'https://acme.example' },
  });
  const written = JSON.parse(await readFile(out, 'utf8')) as CsafDocument;
  assert.deepEqual(written, document);
  const result = await validateMandatory(written);
  const failed = result.tests.filter((t) => t.errors.length > 0).map((t) => [t.name, t.errors]);
  assert.deepEqual(failed, []);
  assert.equal(result.isValid, true);
  assert.equal(written.document.tracking.version, '2');
  assert.deepEqual(written.vulnerabilities[0]!.product_status, { known_not_affected: ['CSAFPID-plug-1.1.0'] });
  assert.equal(written.vulnerabilities[0]!.cve, 'CVE-2099-12345');
});

test('an image publishes once the maker states not affected; a model past its support period is refused', async () => {
  const artifact = join(work, 'plug-1.2.0.tar');
  const r = await publishImage({ repoDir, artifact, model: 'plug', version: '1.2.0' });
  assert.equal(r.version, '1.2.0');
  const later = join(work, 'plug-1.3.0.tar');
  await buildReferenceImage(later, { model: 'plug', version: '1.3.0', securityVersion: 1 });
  const before = await tree(repoDir);
  await assert.rejects(
    publishImage({ repoDir, artifact: later, model: 'plug', version: '1.3.0', now: new Date('2037-01-01T00:00:00Z') }),
    { code: 'RELEASE_SUPPORT_ENDED' },
  );
  assert.deepEqual(await tree(repoDir), before);
  // The last day of the support period (2036-12-31 for the built-in plug) still publishes.
  const ok = await publishImage({
    repoDir,
    artifact: later,
    model: 'plug',
    version: '1.3.0',
    now: new Date('2036-12-31T23:59:00Z'),
  });
  assert.equal(ok.version, '1.3.0');
});

test('a later release without the package is the fix: "fixed" names it as the CSAF remediation', async () => {
  const clean = join(work, 'plug-1.4.0.tar');
  // An image whose SBOM lists no npm package: the advisory does not match it.
  await buildReferenceImage(clean, {
    model: 'plug',
    version: '1.4.0',
    securityVersion: 1,
    entrySource: 'export {};\n',
  });
  await publishImage({
    repoDir,
    artifact: clean,
    model: 'plug',
    version: '1.4.0',
    now: new Date('2036-12-31T23:59:30Z'),
  });
  const r = await recordVexStatement({ repoDir, vuln: VULN, status: 'fixed', now: new Date('2036-12-31T23:59:40Z') });
  assert.deepEqual(
    r.statement.fixedIn.map((x) => x.version),
    ['1.4.0'],
  );
  const out = join(work, 'csaf', 'fixed.json');
  const document = (await writeCsafAdvisory({ repoDir, vuln: VULN, out })).document as unknown as CsafDocument;
  const result = await validateMandatory(document);
  assert.deepEqual(
    result.tests.filter((t) => t.errors.length > 0).map((t) => [t.name, t.errors]),
    [],
  );
  const v = document.vulnerabilities[0]!;
  assert.deepEqual(v.product_status, {
    known_affected: ['CSAFPID-plug-1.1.0', 'CSAFPID-plug-1.2.0', 'CSAFPID-plug-1.3.0'],
    fixed: ['CSAFPID-plug-1.4.0'],
  });
  assert.deepEqual(v.remediations, [
    {
      category: 'vendor_fix',
      details: 'Update the plug firmware to version 1.4.0 or later.',
      product_ids: ['CSAFPID-plug-1.1.0', 'CSAFPID-plug-1.2.0', 'CSAFPID-plug-1.3.0'],
    },
  ]);
  assert.equal(document.document.publisher.name, 'Acme Devices', 'the publisher given once is remembered');
  assert.deepEqual(
    document.document.tracking.revision_history.map((x) => x.summary),
    ['Status: affected.', 'Status: not affected (code not reachable).', 'Status: fixed.'],
  );
});

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

test('release vulns lists the releases as JSON; release vex refuses an unjustified "not affected"', async () => {
  const vulns = await bulwark(['release', 'vulns', '--repo', repoDir, '--json']);
  assert.equal(vulns.code, 0, vulns.stderr);
  const listed = JSON.parse(vulns.stdout) as {
    imported: number;
    vulnerabilities: Array<{ id: string; status: string; releases: Array<{ model: string; version: string }> }>;
  };
  assert.equal(listed.imported, 0);
  assert.deepEqual(
    listed.vulnerabilities.map((v) => [v.id, v.status, v.releases.map((r) => r.version)]),
    [[VULN, 'fixed', ['1.1.0', '1.2.0', '1.3.0']]],
  );
  const refused = await bulwark(['release', 'vex', '--repo', repoDir, '--vuln', VULN, '--status', 'not_affected']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /VULN_STATEMENT_INVALID/);
  const bad = join(work, 'bad.json');
  await writeFile(bad, JSON.stringify({ id: 'GHSA-x', affected: [{ package: { ecosystem: 'npm', name: 'x' } }] }));
  const invalid = await bulwark(['release', 'vulns', '--repo', repoDir, '--advisories', bad]);
  assert.equal(invalid.code, 65);
  assert.match(invalid.stderr, /VULN_ADVISORY_INVALID/);
});
