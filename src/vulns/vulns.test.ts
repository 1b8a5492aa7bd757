import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  advisoryInputLimits,
  buildVexDocument,
  checkStatement,
  compareSemVer,
  isAffectedVersion,
  matchAdvisories,
  npmPurl,
  parseAdvisoryDocument,
  parseCsafAdvisories,
  parseNpmPurl,
  parseOsvAdvisory,
  parseSemVer,
  parseFieldCounts,
  readAdvisories,
  type VexStatement,
} from './index.ts';

const cmp = (a: string, b: string): number => Math.sign(compareSemVer(parseSemVer(a)!, parseSemVer(b)!));

test('semver precedence follows SemVer 2.0: numeric parts, pre-releases below the release, build ignored', () => {
  const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11'];
  for (let i = 1; i < ordered.length; i++) assert.equal(cmp(ordered[i - 1]!, ordered[i]!), -1, ordered[i]);
  assert.equal(cmp('1.0.0-rc.1', '1.0.0'), -1);
  assert.equal(cmp('1.10.0', '1.9.9'), 1);
  assert.equal(cmp('2.0.0+build.7', '2.0.0'), 0);
  assert.equal(parseSemVer('1.2'), undefined);
  assert.equal(parseSemVer('01.2.3'), undefined);
});

test('npm purls encode a scope as the purl spec says and read back', () => {
  assert.equal(npmPurl('@tufjs/models', '4.1.1'), 'pkg:npm/%40tufjs/models@4.1.1');
  assert.equal(npmPurl('tar', '7.5.2'), 'pkg:npm/tar@7.5.2');
  assert.deepEqual(parseNpmPurl('pkg:npm/%40tufjs/models@4.1.1'), { name: '@tufjs/models', version: '4.1.1' });
  assert.deepEqual(parseNpmPurl('pkg:npm/@scope/x@1.0.0?foo=bar#sub'), { name: '@scope/x', version: '1.0.0' });
  assert.deepEqual(parseNpmPurl('pkg:npm/lodash'), { name: 'lodash' });
  assert.equal(parseNpmPurl('pkg:pypi/django@1.0'), undefined);
  assert.equal(parseNpmPurl('pkg:npm/a/b/c@1'), undefined);
});

const osv = (affected: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'GHSA-aaaa-bbbb-cccc',
  summary: 'a flaw',
  affected,
  ...extra,
});

test('OSV ranges: introduced and fixed, last_affected, several ranges and listed versions', () => {
  const a = parseOsvAdvisory(
    osv([
      {
        package: { ecosystem: 'npm', name: 'lib' },
        ranges: [
          { type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.3' }] },
          { type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { last_affected: '2.1.0' }] },
          { type: 'GIT', repo: 'https://example.org/r', events: [{ introduced: 'abc' }] },
        ],
        versions: ['3.0.0-beta.1'],
      },
      { package: { ecosystem: 'PyPI', name: 'lib' }, versions: ['1.0'] },
    ]),
  );
  assert.equal(a.affected.length, 1, 'other ecosystems are left aside');
  const p = a.affected[0]!;
  const affected = ['0.0.1', '1.2.2', '1.2.3-rc.1', '2.0.0', '2.1.0', '3.0.0-beta.1'];
  const unaffected = ['1.2.3', '1.9.0', '2.1.1', '3.0.0', 'not-a-version'];
  for (const v of affected) assert.equal(isAffectedVersion(p, v), true, v);
  for (const v of unaffected) assert.equal(isAffectedVersion(p, v), false, v);
});

test('an OSV advisory is matched by package name and version against release SBOM packages', () => {
  const a = parseOsvAdvisory(
    osv([
      {
        package: { ecosystem: 'npm', name: '@s/lib', purl: 'pkg:npm/%40s/lib' },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '1.0.0' }, { fixed: '1.4.0' }] }],
      },
    ]),
  );
  const release = (version: string, libVersion: string) => ({
    model: 'plug',
    version,
    sha256: version.replace(/\./g, '').padEnd(64, '0'),
    packages: [{ name: '@s/lib', version: libVersion, purl: npmPurl('@s/lib', libVersion) }],
  });
  const [m] = matchAdvisories([a], [release('1.0.0', '1.3.9'), release('1.1.0', '1.4.0')]);
  assert.deepEqual(
    m!.releases.map((r) => r.version),
    ['1.0.0'],
  );
  assert.deepEqual(m!.fixedVersions, { '@s/lib': ['1.4.0'] });
});

test('bad advisories are refused with VULN_ADVISORY_INVALID naming where', () => {
  const cases: Array<[string, unknown]> = [
    ['not an object', 'text'],
    ['no id', { affected: [] }],
    ['an id with a slash', osv([], { id: '../etc/passwd' })],
    ['affected not a list', osv({})],
    ['a range type', osv([{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'WEIRD', events: [] }] }])],
    [
      'an event version',
      osv([
        { package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [{ introduced: 'one' }] }] },
      ]),
    ],
    [
      'two kinds in one event',
      osv([
        {
          package: { ecosystem: 'npm', name: 'x' },
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }],
        },
      ]),
    ],
    ['no introduced', osv([{ package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'SEMVER', events: [] }] }])],
    ['purl disagrees', osv([{ package: { ecosystem: 'npm', name: 'x', purl: 'pkg:npm/y' }, versions: ['1.0.0'] }])],
    ['nothing affected', osv([{ package: { ecosystem: 'npm', name: 'x' } }])],
    ['a name with a lone surrogate', osv([{ package: { ecosystem: 'npm', name: 'a\uD800b' }, versions: ['1.0.0'] }])],
    ['neither format', { hello: 'world' }],
  ];
  for (const [why, doc] of cases)
    assert.throws(() => parseAdvisoryDocument(doc, 'f.json'), { code: 'VULN_ADVISORY_INVALID' }, why);
  const many = Array.from({ length: 101 }, () => ({ type: 'SEMVER', events: [{ introduced: '0' }] }));
  assert.throws(() => parseOsvAdvisory(osv([{ package: { ecosystem: 'npm', name: 'x' }, ranges: many }])), {
    code: 'VULN_ADVISORY_INVALID',
  });
});

/** A CSAF 2.0 document from a third party naming npm products by purl version and by vers range. */
const CSAF = {
  document: { csaf_version: '2.0', category: 'csaf_security_advisory', tracking: { id: 'ACME-2026-001' } },
  product_tree: {
    branches: [
      {
        category: 'vendor',
        name: 'npm',
        branches: [
          {
            category: 'product_version',
            name: '1.2.0',
            product: {
              product_id: 'P1',
              name: 'lib 1.2.0',
              product_identification_helper: { purl: 'pkg:npm/lib@1.2.0' },
            },
          },
          {
            category: 'product_version_range',
            name: 'vers:npm/>=2.0.0|<2.3.1',
            product: { product_id: 'P2', name: 'lib 2.x', product_identification_helper: { purl: 'pkg:npm/lib' } },
          },
          {
            category: 'product_version',
            name: '2.3.1',
            product: {
              product_id: 'P3',
              name: 'lib 2.3.1',
              product_identification_helper: { purl: 'pkg:npm/lib@2.3.1' },
            },
          },
        ],
      },
    ],
  },
  vulnerabilities: [
    { cve: 'CVE-2026-0001', title: 'lib overflow', product_status: { known_affected: ['P1', 'P2'], fixed: ['P3'] } },
  ],
};

test('CSAF 2.0 input: affected products by purl and vers range become an advisory per vulnerability', () => {
  const [a, ...rest] = parseCsafAdvisories(CSAF, 'acme.json');
  assert.equal(rest.length, 0);
  assert.equal(a!.id, 'CVE-2026-0001');
  assert.deepEqual(a!.aliases, ['ACME-2026-001']);
  assert.equal(a!.source, 'csaf');
  const p = a!.affected[0]!;
  assert.equal(p.name, 'lib');
  for (const v of ['1.2.0', '2.0.0', '2.3.0']) assert.equal(isAffectedVersion(p, v), true, v);
  for (const v of ['1.2.1', '1.9.9', '2.3.1']) assert.equal(isAffectedVersion(p, v), false, v);
  const bad = {
    ...CSAF,
    vulnerabilities: [{ title: 'no id' }],
    document: { csaf_version: '2.0', tracking: { id: 'has space' } },
  };
  assert.throws(() => parseCsafAdvisories(bad, 'x.json'), { code: 'VULN_ADVISORY_INVALID' });
  const badRange = structuredClone(CSAF);
  badRange.product_tree.branches[0]!.branches[1]!.name = 'vers:npm/>=two';
  assert.throws(() => parseCsafAdvisories(badRange, 'x.json'), { code: 'VULN_ADVISORY_INVALID' });
});

test('reading advisories: a folder of files, unreadable and oversized input with their own codes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-advisories-'));
  await writeFile(join(dir, 'a.json'), JSON.stringify(CSAF));
  await writeFile(
    join(dir, 'b.json'),
    JSON.stringify([osv([{ package: { ecosystem: 'npm', name: 'x' }, versions: ['1.0.0'] }])]),
  );
  await writeFile(join(dir, 'notes.txt'), 'not read');
  assert.deepEqual(
    (await readAdvisories(dir)).map((a) => a.id),
    ['CVE-2026-0001', 'GHSA-aaaa-bbbb-cccc'],
  );
  await assert.rejects(readAdvisories(join(dir, 'missing')), { code: 'VULN_INPUT_UNREADABLE' });
  await writeFile(join(dir, 'c.json'), '{ not json');
  await assert.rejects(readAdvisories(join(dir, 'c.json')), { code: 'VULN_ADVISORY_INVALID' });
  await writeFile(join(dir, 'd.json'), Buffer.alloc(advisoryInputLimits.maxFileBytes + 1, 0x20));
  await assert.rejects(readAdvisories(join(dir, 'd.json')), { code: 'VULN_INPUT_TOO_LARGE' });
});

test('a VEX statement: not_affected needs a standard justification, others refuse one', () => {
  const vuln = 'GHSA-aaaa-bbbb-cccc';
  assert.throws(() => checkStatement({ vuln, status: 'not_affected' }), { code: 'VULN_STATEMENT_INVALID' });
  assert.throws(() => checkStatement({ vuln, status: 'not_affected', justification: 'trust me' }), {
    code: 'VULN_STATEMENT_INVALID',
  });
  assert.throws(() => checkStatement({ vuln, status: 'affected', justification: 'code_not_present' }), {
    code: 'VULN_STATEMENT_INVALID',
  });
  assert.throws(() => checkStatement({ vuln, status: 'maybe' }), { code: 'VULN_STATEMENT_INVALID' });
  assert.throws(() => checkStatement({ vuln, status: 'affected', detail: 'x'.repeat(4_001) }), {
    code: 'VULN_STATEMENT_INVALID',
  });
  assert.deepEqual(checkStatement({ vuln, status: 'not_affected', justification: 'code_not_present' }), {
    status: 'not_affected',
    justification: 'code_not_present',
  });
});

test('the VEX document states each status in CycloneDX words with BOM-Links to the releases', () => {
  const release = { model: 'plug', version: '1.0.0', sha256: 'a'.repeat(64), sbomSerial: 'urn:uuid:1234' };
  const statement = (status: VexStatement['status']): VexStatement => ({
    vuln: `V-${status}`,
    aliases: ['CVE-2026-0002'],
    summary: 's',
    status,
    at: '2026-01-01T00:00:00.000Z',
    releases: [release],
    fixedIn: [{ ...release, version: '1.1.0', sbomSerial: 'urn:uuid:5678' }],
  });
  const doc = buildVexDocument({
    statements: [statement('affected'), statement('fixed'), statement('under_investigation')],
    subject: 'plug',
    tool: { name: 'bulwark', version: '0.1.0' },
  }) as { vulnerabilities: Array<{ analysis: { state: string; response?: string[] }; affects: unknown[] }> };
  assert.deepEqual(
    doc.vulnerabilities.map((v) => v.analysis.state),
    ['exploitable', 'resolved', 'in_triage'],
  );
  assert.deepEqual(doc.vulnerabilities[1]!.affects, [
    { ref: 'urn:cdx:1234/1#image', versions: [{ version: '1.0.0', status: 'affected' }] },
    { ref: 'urn:cdx:5678/1#image', versions: [{ version: '1.1.0', status: 'unaffected' }] },
  ]);
  assert.deepEqual(doc.vulnerabilities[1]!.analysis.response, ['update']);
});

test("the maker API's release counts are read strictly", () => {
  assert.deepEqual(parseFieldCounts({ releases: [{ model: 'plug', version: '1.0.0', running: 3, installed: 4 }] }), [
    { model: 'plug', version: '1.0.0', running: 3 },
  ]);
  assert.throws(() => parseFieldCounts({ releases: [{ model: 'plug', version: '1.0.0' }] }), {
    code: 'VULN_FIELD_UNAVAILABLE',
  });
  assert.throws(() => parseFieldCounts({}), { code: 'VULN_FIELD_UNAVAILABLE' });
});
