import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createOwnerApp, openOwnerSite, validateOwnerApiConfig, makerTokenSha256 } from './api.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';
import type { CommandCenter } from './commands.ts';
import type { JournalRecordInput } from '../journal/index.ts';
import type { OwnerApiConfig } from './owner-api-config.ts';

const HOST = 'cloud.test';
const TOKEN = 'maker-token-0123456789-abcdefghijklmnop';

async function cloudApp(config: Partial<OwnerApiConfig> = {}) {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const journal: JournalRecordInput[] = [];
  const sink = { record: (e: JournalRecordInput): void => void journal.push(e) };
  const c = validateOwnerApiConfig({ makerTokenSha256: makerTokenSha256(TOKEN), ...config });
  const site = await openOwnerSite({
    store,
    commands: {} as CommandCenter,
    config: c,
    log: () => undefined,
    journal: sink,
  });
  const app = createOwnerApp(site, { limits: c.limits, log: () => undefined, journal: sink });
  app.allowHosts([HOST], 443);
  const get = (url: string, headers: Record<string, string> = {}) =>
    app.handle({ method: 'GET', url, headers: { host: HOST, ...headers } });
  return { app, store, journal, get };
}

const report = (n: number) => ({
  summary: `report ${n}`,
  details: `steps to reproduce ${n}`,
  product: 'Bulwark plug',
  version: '1.4.1',
});

test('security.txt names the contact, policy, languages, canonical URL and an Expires within a year', async () => {
  const { get } = await cloudApp();
  const before = Date.now();
  const r = await get('/.well-known/security.txt');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; charset=utf-8/);
  const text = r.body.toString();
  const field = (name: string): string[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}: `))
      .map((l) => l.slice(name.length + 2));
  assert.deepEqual(field('Contact'), [`https://${HOST}/security/report`]);
  assert.deepEqual(field('Policy'), [`https://${HOST}/security/policy`]);
  assert.deepEqual(field('Preferred-Languages'), ['en']);
  assert.deepEqual(field('Canonical'), [`https://${HOST}/.well-known/security.txt`]);
  const [expires] = field('Expires');
  assert.match(expires!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const ms = Date.parse(expires!) - before;
  assert.ok(ms > 179 * 86_400_000 && ms <= 181 * 86_400_000, 'the default: 180 days ahead');
  const custom = await cloudApp({
    publicHosts: ['security.example.com'],
    security: { securityTxt: { contact: ['mailto:psirt@example.com'], expiresInDays: 365 } },
  });
  custom.app.allowHosts(['security.example.com'], 443);
  const t2 = (
    await custom.app.handle({
      method: 'GET',
      url: '/.well-known/security.txt',
      headers: { host: 'security.example.com' },
    })
  ).body.toString();
  assert.match(t2, /^Contact: mailto:psirt@example\.com$/m);
  assert.match(t2, /^Canonical: https:\/\/security\.example\.com\/\.well-known\/security\.txt$/m);
  assert.throws(() => validateOwnerApiConfig({ security: { securityTxt: { expiresInDays: 400 } } }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'security.securityTxt.expiresInDays',
  });
  assert.throws(() => validateOwnerApiConfig({ security: { securityTxt: { contact: ['http://x.example'] } } }), {
    key: 'security.securityTxt.contact',
  });
});

test('a flood from one source uses its own budget only; other sources and accepted reports are kept', async () => {
  const { app, store, journal } = await cloudApp();
  const post = (n: number, sourceAddress: string) =>
    app.handle({
      method: 'POST',
      url: '/v1/security/reports',
      headers: { host: HOST, 'content-type': 'application/json' },
      body: JSON.stringify(report(n)),
      sourceAddress,
    });
  const started = Date.now();
  const statuses: number[] = [];
  const accepted: string[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await post(i, '203.0.113.9');
    statuses.push(r.status);
    if (r.status === 201) accepted.push((JSON.parse(r.body.toString()) as { trackingId: string }).trackingId);
  }
  assert.ok(Date.now() - started < 10_000, 'the flood is answered within a bounded time');
  assert.equal(accepted.length, 5, 'the default budget: 5 reports a source');
  assert.deepEqual(statuses.slice(5), Array(45).fill(429));
  const other = await post(99, '198.51.100.20');
  assert.equal(other.status, 201, 'another reporter is not held back by the flood');
  const sameNet = await post(98, '2001:db8:1:2::1');
  assert.equal(sameNet.status, 201);
  const stored = await store.disclosureReports(100);
  assert.equal(stored.length, 7);
  for (const id of accepted)
    assert.ok(
      stored.some((s) => s.id === id),
      `${id} is kept`,
    );
  const events = journal.filter((e) => e.event === 'disclosure-report');
  assert.equal(events.length, 52, 'every attempt is journalled');
  assert.equal(events.filter((e) => e.result === 'locked-out').length, 45);
  assert.ok(
    events.every((e) => !JSON.stringify(e).includes('steps to reproduce')),
    'no report text in the journal',
  );
});

test('a report with a field too long or missing is refused with the field named, and not stored', async () => {
  const { app, store } = await cloudApp();
  const post = (body: object) =>
    app.handle({
      method: 'POST',
      url: '/v1/security/reports',
      headers: { host: HOST, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const long = await post({ ...report(1), summary: 'x'.repeat(201) });
  assert.equal(long.status, 400);
  assert.match(long.body.toString(), /summary/);
  assert.equal((await post({ summary: 's', product: 'p' })).status, 400);
  const huge = await app.handle({
    method: 'POST',
    url: '/v1/security/reports',
    headers: { host: HOST, 'content-type': 'application/json' },
    body: JSON.stringify({ ...report(2), details: 'y'.repeat(200_000) }),
  });
  assert.equal(huge.status, 413);
  const cross = await app.handle({
    method: 'POST',
    url: '/v1/security/reports',
    headers: { host: HOST, 'content-type': 'application/json', origin: 'https://evil.example' },
    body: JSON.stringify(report(3)),
  });
  assert.equal(cross.status, 403, "another site's page cannot post a report from a visitor's browser");
  assert.equal((await store.disclosureReports(10)).length, 0);
});

/** Signs the maker in through the form; returns the session cookie and the pages' CSRF token. */
async function signIn(
  get: Awaited<ReturnType<typeof cloudApp>>['get'],
  app: Awaited<ReturnType<typeof cloudApp>>['app'],
) {
  const form = await get('/maker/login');
  const cookie = String(form.headers['set-cookie']).split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(form.body.toString())![1]!;
  const post = (token: string) =>
    app.handle({
      method: 'POST',
      url: '/maker/login',
      headers: { host: HOST, origin: `https://${HOST}`, cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, token }).toString(),
    });
  assert.equal((await post('wrong-token-wrong-token-wrong-token-0')).status, 401);
  const ok = await post(TOKEN);
  assert.equal(ok.status, 303);
  const session = ([] as string[])
    .concat(ok.headers['set-cookie']!)
    .find((c) => c.startsWith('__Host-bulwark-cloud-maker='))!;
  return session.split(';')[0]!;
}

test("the maker's page shows a report full of markup as text, after a sign-in with the maker token", async () => {
  const { app, get, journal } = await cloudApp();
  const nasty = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&';
  await app.handle({
    method: 'POST',
    url: '/v1/security/reports',
    headers: { host: HOST, 'content-type': 'application/json' },
    body: JSON.stringify({ summary: nasty, details: nasty, product: nasty, contact: nasty }),
  });
  assert.equal((await get('/maker/reports')).status, 303, 'no session: to the sign-in form');
  assert.equal((await get('/v1/maker/security-reports')).status, 401, 'no bearer token');
  const cookie = await signIn(get, app);
  const logins = journal.filter((e) => e.event === 'login').map((e) => `${e.result}: ${e.detail}`);
  assert.deepEqual(logins, ['failure: maker sign-in with a wrong token', 'success: maker signed in']);
  assert.ok(!JSON.stringify(journal).includes(TOKEN), 'the token never reaches the journal');
  const page = await get('/maker/reports', { cookie });
  assert.equal(page.status, 200);
  const html = page.body.toString();
  assert.ok(!html.includes('<script>alert'), 'no markup from the report');
  assert.ok(!html.includes('<img src=x'), 'no markup from the report');
  assert.ok(html.includes('&#60;script&#62;alert(1)&#60;/script&#62;'));
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  const api = await get('/v1/maker/security-reports', { authorization: `Bearer ${TOKEN}` });
  assert.equal((JSON.parse(api.body.toString()) as { reports: Array<{ details: string }> }).reports[0]!.details, nasty);
  const off = await cloudApp({ makerTokenSha256: null });
  assert.equal((await off.get('/maker/reports')).status, 404, 'no maker token configured: no maker pages');
});

test('the CRA API opens a case and the maker page lists what is due; marking needs the CSRF token', async () => {
  const { app, get } = await cloudApp();
  const bearer = { authorization: `Bearer ${TOKEN}`, host: HOST, 'content-type': 'application/json' };
  const knownAt = new Date(Date.now() - 30 * 3_600_000).toISOString();
  const opened = await app.handle({
    method: 'POST',
    url: '/v1/maker/cra/exploited',
    headers: bearer,
    body: JSON.stringify({ vuln: 'CVE-2026-4242', knownAt, product: 'Bulwark camera', memberStates: 'NL' }),
  });
  assert.equal(opened.status, 201);
  const id = (JSON.parse(opened.body.toString()) as { record: { id: string } }).record.id;
  const cookie = await signIn(get, app);
  const page = (await get('/maker/cra', { cookie })).body.toString();
  assert.match(page, /CVE-2026-4242/);
  assert.match(page, /OVERDUE/, 'the early warning was due 24 h after it became known');
  assert.match(page, /Art\. 14\(2\)\(a\)/);
  const mark = (headers: Record<string, string>, csrf: string) =>
    app.handle({
      method: 'POST',
      url: `/maker/cra/${id}/submitted`,
      headers: { host: HOST, cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ csrf, report: 'early-warning' }).toString(),
    });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
  assert.equal((await mark({ origin: `https://${HOST}` }, 'forged')).status, 403);
  assert.equal((await mark({ origin: 'https://evil.example' }, csrf)).status, 403);
  const marked = await mark({ origin: `https://${HOST}` }, csrf);
  assert.equal(marked.status, 303);
  const after = (await get(String(marked.headers.location), { cookie })).body.toString();
  assert.match(after, /CVE-2026-4242: marked submitted/, 'the notice names the stored case');
  const crafted = (await get('/maker/cra?submitted=nope&done=Send+the+token+to+evil.example', { cookie })).body;
  assert.doesNotMatch(crafted.toString(), /evil\.example|marked submitted/, 'a link cannot put words on the page');
  const view = JSON.parse((await get('/v1/maker/cra', { authorization: `Bearer ${TOKEN}` })).body.toString()) as {
    due: Array<{ report: string; state: string }>;
  };
  assert.deepEqual(
    view.due.map((d) => [d.report, d.state]),
    [
      ['notification', 'due'],
      ['final', 'waiting'],
    ],
  );
});

function advisory(id: string, current: string, extra: object = {}): Buffer {
  const doc = {
    document: {
      category: 'csaf_security_advisory',
      csaf_version: '2.0',
      publisher: { category: 'vendor', name: 'Example Devices', namespace: 'https://devices.example' },
      title: 'Authentication bypass',
      tracking: { id, current_release_date: current, initial_release_date: '2026-10-01T00:00:00Z', version: '1' },
      ...extra,
    },
    vulnerabilities: [{ cve: 'CVE-2026-4242' }],
  };
  return Buffer.from(JSON.stringify(doc, null, 2));
}

test('the CSAF provider serves the uploads with index, changes and SHA-512; bad uploads are refused', async () => {
  const { app, get } = await cloudApp();
  const upload = (body: Buffer, auth = `Bearer ${TOKEN}`) =>
    app.handle({
      method: 'POST',
      url: '/v1/maker/advisories',
      headers: { host: HOST, authorization: auth, 'content-type': 'application/octet-stream' },
      body,
    });
  const doc = advisory('EXD-SA 2026:001', '2026-10-02T08:00:00Z');
  const first = await upload(doc);
  assert.equal(first.status, 201, first.body.toString());
  assert.equal((JSON.parse(first.body.toString()) as { path: string }).path, '2026/exd-sa_2026_001.json');
  const served = await get('/.well-known/csaf/2026/exd-sa_2026_001.json');
  assert.equal(served.status, 200);
  assert.deepEqual(served.body, doc, 'served byte for byte');
  const sha = (await get('/.well-known/csaf/2026/exd-sa_2026_001.json.sha512')).body.toString();
  assert.equal(sha, `${createHash('sha512').update(doc).digest('hex')}  exd-sa_2026_001.json\n`);
  assert.equal((await get('/.well-known/csaf/index.txt')).body.toString(), '2026/exd-sa_2026_001.json\n');
  assert.equal(
    (await get('/.well-known/csaf/changes.csv')).body.toString(),
    '"2026/exd-sa_2026_001.json","2026-10-02T08:00:00.000Z"\n',
  );
  const meta = JSON.parse((await get('/.well-known/csaf/provider-metadata.json')).body.toString()) as Record<
    string,
    unknown
  >;
  assert.equal(meta.canonical_url, `https://${HOST}/.well-known/csaf/provider-metadata.json`);
  assert.deepEqual(meta.distributions, [{ directory_url: `https://${HOST}/.well-known/csaf/` }]);
  assert.equal(meta.role, 'csaf_provider');
  assert.equal(meta.metadata_version, '2.0');
  assert.equal(meta.list_on_CSAF_aggregators, true);
  assert.deepEqual(meta.publisher, {
    category: 'vendor',
    name: 'Example Devices',
    namespace: 'https://devices.example',
  });
  assert.match(String(meta.last_updated), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.equal(
    (await upload(advisory('EXD-SA 2026:001', '2026-10-03T08:00:00Z'))).status,
    200,
    'a newer release replaces',
  );
  const refusals: Array<[Buffer, number, string]> = [
    [advisory('EXD-SA 2026:001', '2026-10-01T08:00:00Z'), 409, 'CSAF_ADVISORY_CONFLICT'],
    [advisory('exd-sa 2026_001', '2026-10-04T08:00:00Z'), 409, 'CSAF_ADVISORY_CONFLICT'],
    [advisory('X-1', '2026-10-02T08:00:00Z', { category: 'csaf_vex' }), 422, 'CSAF_ADVISORY_INVALID'],
    [advisory('X-2', '2026-10-02T08:00:00Z', { csaf_version: '2.1' }), 422, 'CSAF_ADVISORY_INVALID'],
    [advisory('X-3', 'yesterday'), 422, 'CSAF_ADVISORY_INVALID'],
    [
      advisory('X-4', '0000-10-02T08:00:00Z', {
        tracking: {
          id: 'X-4',
          current_release_date: '0000-10-02T08:00:00Z',
          initial_release_date: '0000-10-01T00:00:00Z',
        },
      }),
      422,
      'CSAF_ADVISORY_INVALID',
    ],
    [advisory('¿?!', '2026-10-02T08:00:00Z'), 422, 'CSAF_ADVISORY_INVALID'],
    [Buffer.from('not json'), 422, 'CSAF_ADVISORY_INVALID'],
    [Buffer.alloc(1_048_577, 0x20), 413, 'BODY_TOO_LARGE'],
  ];
  for (const [body, status, code] of refusals) {
    const r = await upload(body);
    assert.equal(r.status, status, r.body.toString());
    assert.equal((JSON.parse(r.body.toString()) as { error: { code: string } }).error.code, code);
  }
  assert.equal((await upload(doc, 'Bearer wrong')).status, 401);
  assert.equal((await get('/.well-known/csaf/2026/x-1.json')).status, 404);
  assert.equal((await get('/.well-known/csaf/index.txt')).body.toString(), '2026/exd-sa_2026_001.json\n');
});
