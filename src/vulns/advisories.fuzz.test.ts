// Fuzz targets for the parsers of advisories from outside (OSV files as GitHub and OSV.dev publish
// them, third parties' CSAF 2.0 documents) and of the maker API's field counts: random and mutated
// inputs give VulnError or a well-formed result, never another exception, and each run is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  VULN_ID,
  VulnError,
  compareSemVer,
  isAffectedVersion,
  npmPurl,
  parseAdvisoryDocument,
  parseCsafAdvisories,
  parseFieldCounts,
  parseNpmPurl,
  parseOsvAdvisory,
  parseSemVer,
  parseVers,
  type Advisory,
} from './index.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
/** Longest a single parse may take, ms: a parser that goes superlinear on a small input fails. */
const MAX_PARSE_MS = 250;

const OSV = {
  schema_version: '1.6.0',
  id: 'GHSA-abcd-efgh-ijkl',
  aliases: ['CVE-2026-1234'],
  summary: 'Prototype pollution',
  details: 'A crafted input pollutes Object.prototype.',
  references: [{ type: 'ADVISORY', url: 'https://example.org/a' }],
  affected: [
    {
      package: { ecosystem: 'npm', name: '@scope/lib', purl: 'pkg:npm/%40scope/lib' },
      ranges: [
        { type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.3' }] },
        { type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { last_affected: '2.1.0' }] },
      ],
      versions: ['1.0.0', '2.0.0-beta.1'],
    },
  ],
};

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
            product: { product_id: 'P1', name: 'lib', product_identification_helper: { purl: 'pkg:npm/lib@1.2.0' } },
          },
          {
            category: 'product_version_range',
            name: 'vers:npm/>=2.0.0|<2.3.1',
            product: { product_id: 'P2', name: 'lib 2', product_identification_helper: { purl: 'pkg:npm/lib' } },
          },
        ],
      },
    ],
    full_product_names: [{ product_id: 'P3', name: 'x', product_identification_helper: { purl: 'pkg:npm/x@1.0.0' } }],
  },
  vulnerabilities: [
    {
      cve: 'CVE-2026-0001',
      ids: [{ system_name: 'GHSA', text: 'GHSA-aaaa-bbbb-cccc' }],
      title: 'lib overflow',
      product_status: { known_affected: ['P1', 'P2', 'P3'] },
    },
  ],
};

/** Every path to a value inside `doc` (objects and arrays walked). */
function pathsOf(doc: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [at];
  if (Array.isArray(doc)) doc.forEach((v, i) => out.push(...pathsOf(v, [...at, i])));
  else if (typeof doc === 'object' && doc !== null)
    for (const [k, v] of Object.entries(doc)) out.push(...pathsOf(v, [...at, k]));
  return out;
}

/** A copy of `doc` with the value at one path replaced by `value`, or removed when `value` is undefined. */
function replaced(doc: unknown, path: ReadonlyArray<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined && !Array.isArray(node)) delete node[last];
  else node[last] = value;
  return copy;
}

/** Structure-aware mutations of a valid document: one value swapped for a random one or dropped. */
function mutatedDocument(doc: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(doc);
  const junk = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      undefined,
      null,
      '',
      '0',
      'vers:npm/',
      'vers:npm/|',
      'pkg:npm/',
      'pkg:npm/%',
      '1.2',
      -1,
      Infinity,
      'a\uD800b',
    ),
    fc.constantFrom('vers:npm/>=1.0.0||<2.0.0', 'vers:npm/<1.0.0|>', 'vers:npm/*', 'pkg:npm/@a/b/c@1.0.0', 'v1.0.0'),
  );
  return fc.tuple(fc.nat({ max: paths.length - 1 }), junk).map(([i, v]) => replaced(doc, paths[i]!, v));
}

/** Runs `parse`; returns its result, or undefined when it refused with VulnError; anything else fails. */
function parsedOrRefused<T>(parse: () => T): T | undefined {
  const start = performance.now();
  try {
    return parse();
  } catch (err) {
    assert.ok(err instanceof VulnError, `not a VulnError: ${String((err as Error)?.stack ?? err)}`);
    assert.match(err.code, /^VULN_/);
    return undefined;
  } finally {
    assert.ok(performance.now() - start < MAX_PARSE_MS, 'a parse is bounded in time');
  }
}

/** What every advisory that comes out must be: usable ids, npm packages with parsed versions. */
function assertWellFormed(advisories: readonly Advisory[]): void {
  for (const a of advisories) {
    assert.match(a.id, VULN_ID);
    for (const alias of a.aliases) assert.match(alias, VULN_ID);
    for (const p of a.affected) {
      assert.ok(p.name.length > 0);
      assert.ok(p.purl.startsWith('pkg:npm/'));
      for (const v of p.versions) assert.ok(parseSemVer(v), `listed version ${v}`);
      // Matching never throws on what the parser let through, whatever version a SBOM names.
      for (const v of ['0.0.1', '1.2.3', '2.0.0-beta.1', 'not-a-version']) isAffectedVersion(p, v);
    }
  }
}

test('random and mutated OSV advisories: an advisory or VULN_ADVISORY_INVALID, never another error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        mutatedDocument(OSV),
        mutatedDocument(OSV).chain((d) => mutatedDocument(d)),
        fc.jsonValue(),
      ),
      (doc) => {
        const a = parsedOrRefused(() => parseOsvAdvisory(doc, 'fuzz.json'));
        if (a) assertWellFormed([a]);
      },
    ),
    { numRuns: RUNS },
  );
});

test('random and mutated CSAF 2.0 documents: advisories or VULN_ADVISORY_INVALID, never another error', () => {
  const mutated = fc.oneof(
    mutatedDocument(CSAF),
    mutatedDocument(CSAF).chain((d) => mutatedDocument(d)),
  );
  fc.assert(
    fc.property(fc.oneof(mutated, fc.jsonValue()), (doc) => {
      const a = parsedOrRefused(() => parseCsafAdvisories(doc, 'fuzz.json'));
      if (a) assertWellFormed(a);
    }),
    { numRuns: RUNS },
  );
});

test('random text read as an advisory file: advisories or a VulnError, lists of documents included', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    fc.array(fc.oneof(mutatedDocument(OSV), mutatedDocument(CSAF)), { maxLength: 4 }).map((l) => JSON.stringify(l)),
  );
  fc.assert(
    fc.property(text, (t) => {
      let doc: unknown;
      try {
        doc = JSON.parse(t);
      } catch {
        return; // readAdvisories refuses text that is not JSON before any parser sees it
      }
      const a = parsedOrRefused(() => parseAdvisoryDocument(doc, 'fuzz.json'));
      if (a) assertWellFormed(a);
    }),
    { numRuns: RUNS },
  );
});

test('random vers: ranges give constraints on semantic versions or VULN_ADVISORY_INVALID', () => {
  const op = fc.constantFrom('', '<', '<=', '>', '>=', '=', '!=', '~', '^');
  const version = fc.oneof(
    fc.constantFrom('1.0.0', '0', '2.3.1-rc.1', '1.0', '', '*', '%zz', '%31.0.0', 'v1.2.3'),
    fc.string({ maxLength: 12 }),
  );
  const constraint = fc.tuple(op, version).map(([o, v]) => o + v);
  const vers = fc.oneof(
    fc
      .tuple(fc.constantFrom('vers:npm/', 'vers:semver/', 'vers:pypi/', 'vers:npm', ''), fc.array(constraint))
      .map(([scheme, parts]) => scheme + parts.join('|')),
    fc.string({ maxLength: 60 }),
  );
  fc.assert(
    fc.property(vers, (text) => {
      const r = parsedOrRefused(() => parseVers(text, 'fuzz'));
      if (r?.kind === 'constraints') for (const c of r.constraints) assert.ok(parseSemVer(c.version), c.version);
    }),
    { numRuns: RUNS },
  );
});

test('npm purls: parseNpmPurl never throws, and reads back every purl npmPurl writes', () => {
  const name = fc.oneof(
    fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/),
    fc
      .tuple(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/))
      .map(([s, n]) => `@${s}/${n}`),
  );
  const version = fc.option(fc.stringMatching(/^\d{1,3}\.\d{1,3}\.\d{1,3}(-[0-9A-Za-z.+-]{1,10})?$/), {
    nil: undefined,
  });
  fc.assert(
    fc.property(name, version, (n, v) => {
      assert.deepEqual(parseNpmPurl(npmPurl(n, v)), v === undefined ? { name: n } : { name: n, version: v });
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 80 }).map((s) => `pkg:npm/${s}`),
        fc.anything(),
      ),
      (purl) => {
        const p = parseNpmPurl(purl);
        if (p) assert.ok(typeof p.name === 'string' && p.name.length > 0);
      },
    ),
    { numRuns: RUNS },
  );
});

test('semantic versions: parseSemVer never throws, and its order is antisymmetric', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.stringMatching(/^v?\d{1,17}\.\d{1,3}\.\d{1,3}(-[0-9A-Za-z.-]{1,12})?(\+[0-9A-Za-z.-]{1,5})?$/),
    fc.anything(),
  );
  fc.assert(
    fc.property(text, text, (a, b) => {
      const x = parseSemVer(a);
      const y = parseSemVer(b);
      if (x && y) assert.equal(Math.sign(compareSemVer(x, y)), -Math.sign(compareSemVer(y, x)) || 0);
      if (x) assert.ok(x.core.every((n) => Number.isSafeInteger(n) && n >= 0));
    }),
    { numRuns: RUNS },
  );
});

test('random maker API answers: field counts or VULN_FIELD_UNAVAILABLE, never another error', () => {
  const release = fc.record(
    {
      model: fc.oneof(fc.string(), fc.anything()),
      version: fc.oneof(fc.string(), fc.anything()),
      running: fc.anything(),
    },
    { requiredKeys: [] },
  );
  const answer = fc.oneof(fc.anything(), fc.record({ releases: fc.oneof(fc.array(release), fc.anything()) }));
  fc.assert(
    fc.property(answer, (body) => {
      const counts = parsedOrRefused(() => parseFieldCounts(body));
      for (const c of counts ?? []) assert.ok(Number.isSafeInteger(c.running) && typeof c.model === 'string');
    }),
    { numRuns: RUNS },
  );
});
