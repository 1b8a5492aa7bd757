// Fuzz targets for the cloud's security intake from outside: disclosure reports, the CRA facts,
// times, references and report names the maker API and the CLI take, CSAF uploads, and random
// requests into every security route (the maker's sign-in form included). Only the typed refusal
// (InvalidInputError, CraError, AdvisoryError; a 4xx on the wire) may come out, each run bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidInputError } from '../errors/index.ts';
import { createOwnerApp, openOwnerSite, validateOwnerApiConfig, makerTokenSha256 } from './api.ts';
import type { CommandCenter } from './commands.ts';
import { mergeCraFacts, parseAwareTime, parseCaseRef, parseReportKind, MAX_FACT_CHARS } from './cra-drafts.ts';
import { checkAdvisory } from './csaf-provider.ts';
import { parseDisclosureReport } from './disclosure.ts';
import { AdvisoryError, CraError } from './errors.ts';
import { defaultSecurityConfig } from './security-config.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const ROUTE_RUNS = Math.min(RUNS, 300);
/** Longest a single parse may take, ms. */
const MAX_PARSE_MS = 250;
const HOST = 'cloud.test';
const TOKEN = 'maker-token-0123456789-abcdefghijklmnop';
const NOW = Date.parse('2026-10-05T12:00:00Z');

/** Runs `parse`; its result, or undefined when it refused with `type`; any other exception fails the property. */
function parsedOrRefused<T>(type: new (...args: never[]) => Error, parse: () => T): T | undefined {
  const start = performance.now();
  try {
    return parse();
  } catch (err) {
    assert.ok(err instanceof type, `not a ${type.name}: ${String((err as Error)?.stack ?? err)}`);
    return undefined;
  } finally {
    assert.ok(performance.now() - start < MAX_PARSE_MS, 'a parse is bounded in time');
  }
}

const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', ' ', '<script>alert(1)</script>', '\u0000', '\u0085', 'x'.repeat(300), 'a\r\nb\tc'),
);
const value = fc.oneof(text, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(undefined, null, true, 0, -1));

test('random disclosure reports: bounded, printable fields or INVALID_INPUT, never another error', () => {
  const intake = defaultSecurityConfig.intake;
  const body = fc.oneof(
    fc.record({ summary: value, details: value, product: value, version: value, contact: value }, { requiredKeys: [] }),
    fc.dictionary(fc.string({ maxLength: 10 }), value, { maxKeys: 6 }),
    fc.record({
      summary: fc.string({ maxLength: 220 }),
      details: fc.string({ maxLength: 400 }),
      product: fc.string({ maxLength: 110 }),
    }),
  );
  fc.assert(
    fc.property(body, (b) => {
      const r = parsedOrRefused(InvalidInputError, () => parseDisclosureReport(b, intake));
      if (!r) return;
      assert.ok(r.summary && r.details && r.product, 'the required fields are there');
      assert.ok(r.summary.length <= intake.maxSummaryChars && r.details.length <= intake.maxDetailsChars);
      assert.ok(r.product.length <= intake.maxProductChars && r.version.length <= intake.maxVersionChars);
      // eslint-disable-next-line no-control-regex -- control characters are what must not pass
      for (const f of [r.summary, r.details, r.product, r.version]) assert.doesNotMatch(f, /[\u0000-\u0008\u007f]/);
    }),
    { numRuns: RUNS },
  );
});

test('random CRA times, references and report names: a value or CRA_CASE_INVALID, never another error', () => {
  const iso = fc
    .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString());
  const mutatedIso = fc
    .tuple(iso, fc.nat({ max: 23 }), fc.string({ maxLength: 3 }))
    .map(([s, i, r]) => s.slice(0, i) + r + s.slice(i + 1));
  fc.assert(
    fc.property(
      fc.oneof(iso, mutatedIso, value),
      value,
      fc.oneof(value, fc.constantFrom('final', 'notification')),
      (t, ref, k) => {
        const at = parsedOrRefused(CraError, () => parseAwareTime(t, 'knownAt', NOW));
        if (at !== undefined) assert.ok(Number.isFinite(at) && at <= NOW + 60_000, 'never a time in the future');
        const r = parsedOrRefused(CraError, () => parseCaseRef(ref, 'vuln'));
        if (r !== undefined) assert.ok(r.length >= 1 && r.length <= 120);
        const kind = parsedOrRefused(CraError, () => parseReportKind(k));
        if (kind !== undefined) assert.ok(['early-warning', 'notification', 'final'].includes(kind));
      },
    ),
    { numRuns: RUNS },
  );
});

test('random CRA facts merged into a case: bounded facts or CRA_CASE_INVALID, never another error', () => {
  const states = fc.oneof(
    value,
    fc.array(fc.constantFrom('DE', 'FR', 'gr', 'EL', 'XX', '', ' at ', 'UK'), { maxLength: 30 }),
    fc.array(fc.constantFrom('DE', 'FR', 'IT'), { maxLength: 5 }).map((l) => l.join(',')),
  );
  const input = fc.record(
    {
      product: value,
      nature: value,
      severity: fc.oneof(value, fc.string({ minLength: MAX_FACT_CHARS, maxLength: MAX_FACT_CHARS + 2 })),
      memberStates: states,
      suspectedMalicious: fc.oneof(value, fc.constantFrom('yes', 'No', 'TRUE', 'maybe')),
      rootCause: value,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(input, (i) => {
      const facts = parsedOrRefused(CraError, () => mergeCraFacts({}, i as Record<string, unknown>));
      if (!facts) return;
      for (const s of facts.memberStates ?? []) assert.match(s, /^[A-Z]{2}$/);
      for (const v of [facts.product, facts.nature, facts.severity, facts.rootCause])
        assert.ok(v === undefined || (typeof v === 'string' && v.length <= MAX_FACT_CHARS));
    }),
    { numRuns: RUNS },
  );
});

const ADVISORY = {
  document: {
    category: 'csaf_security_advisory',
    csaf_version: '2.0',
    title: 'Bulwark plug: lib overflow',
    publisher: { category: 'vendor', name: 'Example', namespace: 'https://example.com' },
    tracking: {
      id: 'BULWARK-2026-0001',
      status: 'final',
      version: '1',
      initial_release_date: '2026-01-02T00:00:00Z',
      current_release_date: '2026-01-03T00:00:00.000Z',
    },
  },
  vulnerabilities: [{ cve: 'CVE-2026-0001' }],
};

test('random and mutated CSAF uploads: a checked advisory or a CSAF_ADVISORY_* refusal, never another error', () => {
  const valid = Buffer.from(JSON.stringify(ADVISORY));
  const doc = fc.record(
    {
      category: fc.oneof(value, fc.constant('csaf_security_advisory')),
      csaf_version: fc.oneof(value, fc.constant('2.0')),
      tracking: fc.record(
        {
          id: fc.oneof(value, fc.string({ maxLength: 80 }), fc.constant('A/B C..D')),
          current_release_date: fc.oneof(
            value,
            fc.constant('2026-13-40T25:00:00Z'),
            fc.constant('2026-01-03T00:00:00Z'),
          ),
          initial_release_date: fc.oneof(value, fc.constant('0000-01-01T00:00:00Z')),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const c = Buffer.from(valid);
      c[i] = b;
      return c;
    }),
    fc.nat({ max: valid.length }).map((i) => valid.subarray(0, i)),
    doc.map((d) => Buffer.from(JSON.stringify({ document: d }))),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  );
  fc.assert(
    fc.property(bytes, (b) => {
      const a = parsedOrRefused(AdvisoryError, () => checkAdvisory(b, 4_096));
      if (!a) return;
      assert.match(a.path, /^\d{1,6}\/[a-z0-9_-]{1,52}\.json$/, 'a path the router serves');
      assert.equal(a.document, b.toString('utf8'), 'kept byte for byte');
    }),
    { numRuns: RUNS },
  );
});

async function cloudApp() {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const sink = { record: (): void => undefined };
  const c = validateOwnerApiConfig({ makerTokenSha256: makerTokenSha256(TOKEN) });
  const site = await openOwnerSite({
    store,
    commands: {} as CommandCenter,
    config: c,
    log: () => undefined,
    journal: sink,
  });
  const app = createOwnerApp(site, { limits: c.limits, log: () => undefined, journal: sink });
  app.allowHosts([HOST], 443);
  return app;
}

/** The sign-in form's pre-session cookie and CSRF token. */
async function signInForm(app: Awaited<ReturnType<typeof cloudApp>>): Promise<{ cookie: string; csrf: string }> {
  const form = await app.handle({ method: 'GET', url: '/maker/login', headers: { host: HOST } });
  const cookie = String(form.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(form.body.toString())![1]! };
}

const SECURITY_ROUTE = /^\/(maker|security|\.well-known|v1\/security|v1\/maker\/(cra|security|advisories))/;

test(
  "random requests into the security routes (the maker's sign-in too): never a 5xx, and the maker still signs in",
  { timeout: 180_000 },
  async () => {
    const app = await cloudApp();
    const routes = app.routes.filter((r) => SECURITY_ROUTE.test(r.path));
    assert.ok(routes.length >= 15, `the security routes are there (${routes.length})`);
    const statuses = new Map<number, number>();
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      fc
        .record({ vuln: value, incident: value, knownAt: value, report: value, token: value, summary: value })
        .map((v) => JSON.stringify(v)),
      fc.constantFrom(
        'token=x&csrf=y',
        'summary=a&details=b&product=c',
        `{"vuln":"CVE-1","knownAt":"2026-01-01T00:00Z"}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: routes.length - 1 }),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'application/octet-stream', ''),
        body,
        fc.constantFrom('bearer', 'form', 'none'),
        fc.constantFrom('cra-x', '..', '%2e%2e', '2026', 'x.json', 'a'.repeat(80)),
        fc.integer({ min: 1, max: 250 }),
        async (i, type, raw, auth, param, source) => {
          const r = routes[i]!;
          const form = auth === 'form' ? await signInForm(app) : undefined;
          const a = await app.handle({
            method: r.method,
            url: r.path.replace(/:[a-z]+/g, param),
            headers: {
              host: HOST,
              origin: `https://${HOST}`,
              ...(type ? { 'content-type': type } : {}),
              ...(auth === 'bearer' ? { authorization: `Bearer ${TOKEN}` } : {}),
              ...(form ? { cookie: form.cookie } : {}),
            },
            ...(r.method === 'POST' ? { body: form ? `${raw}&csrf=${form.csrf}` : raw } : {}),
            sourceAddress: `198.51.100.${source}`,
          });
          assert.ok(a.status < 500, `${r.method} ${r.path} answered ${a.status}: ${a.body.toString().slice(0, 200)}`);
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        },
      ),
      { numRuns: ROUTE_RUNS },
    );
    const seen = JSON.stringify([...statuses].sort());
    assert.ok(
      [200, 201].some((s) => statuses.has(s)) && statuses.has(400),
      `handlers reached, inputs refused: ${seen}`,
    );
    const { cookie, csrf } = await signInForm(app);
    const signIn = await app.handle({
      method: 'POST',
      url: '/maker/login',
      headers: { host: HOST, origin: `https://${HOST}`, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, token: TOKEN }).toString(),
      sourceAddress: '203.0.113.77',
    });
    assert.equal(signIn.status, 303);
  },
);
