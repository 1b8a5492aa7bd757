// The tables of the maker's security duties (disclosure reports, CRA cases, CSAF advisories) behave
// the same on SQLite and on PostgreSQL; the PostgreSQL half skips outside CI when it is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresDriver, openSqliteDriver, SqlStore } from '../../src/cloud/index.ts';
import { startPostgres } from './support.ts';
import { needTool } from '../support/tools.ts';

async function exercise(store: SqlStore): Promise<void> {
  for (let i = 0; i < 3; i++)
    await store.addDisclosureReport({
      id: `DR-${i}`,
      receivedAt: 1_000 + i,
      summary: `s${i}`,
      details: 'd\n<b>é</b>',
      product: 'p',
      version: '',
      contact: i === 0 ? null : 'mailto:r@example.com',
    });
  const reports = await store.disclosureReports(2);
  assert.deepEqual(
    reports.map((r) => [r.id, r.receivedAt, r.contact]),
    [
      ['DR-2', 1_002, 'mailto:r@example.com'],
      ['DR-1', 1_001, 'mailto:r@example.com'],
    ],
  );
  assert.equal(reports[0]!.details, 'd\n<b>é</b>', 'kept as sent');

  const base = { kind: 'vulnerability' as const, ref: 'CVE-2026-1', awareAt: 5_000, recordedAt: 6_000, facts: {} };
  const first = await store.openCraCase({ ...base, id: 'cra-000000000001' });
  const second = await store.openCraCase({ ...base, id: 'cra-000000000002', awareAt: 9_000 });
  assert.equal(first.created, true);
  assert.equal(second.created, false);
  assert.equal(second.record.id, 'cra-000000000001');
  assert.equal(await store.setCraFacts('cra-000000000001', { product: 'plug', memberStates: ['DE'] }), true);
  assert.equal(await store.setCraFix('cra-000000000001', 7_000), true);
  assert.equal(await store.recordCraSubmission('cra-000000000001', 'early-warning', 8_000, 'cli'), true);
  assert.equal(await store.recordCraSubmission('cra-000000000001', 'early-warning', 9_000, 'again'), true);
  assert.equal(await store.recordCraSubmission('cra-ffffffffffff', 'final', 9_000, 'cli'), false);
  const [c] = await store.craCases(10);
  assert.deepEqual(
    { fixAt: c!.fixAt, awareAt: c!.awareAt, facts: c!.facts, submitted: c!.submitted },
    {
      fixAt: 7_000,
      awareAt: 5_000,
      facts: { product: 'plug', memberStates: ['DE'] },
      submitted: { 'early-warning': { at: 8_000, by: 'cli' } },
    },
  );

  const a = {
    path: '2026/x.json',
    trackingId: 'X',
    currentReleaseAt: 1,
    document: '{"a":1}',
    sha512: 'aa',
    publishedAt: 2,
  };
  await store.putCsafAdvisory(a);
  await store.putCsafAdvisory({ ...a, currentReleaseAt: 3, document: '{"a":2}', sha512: 'bb' });
  await store.putCsafAdvisory({ ...a, path: '2025/y.json', trackingId: 'Y', currentReleaseAt: 2 });
  assert.deepEqual(
    (await store.csafAdvisories()).map((x) => [x.path, x.currentReleaseAt, x.document]),
    [
      ['2026/x.json', 3, ''],
      ['2025/y.json', 2, ''],
    ],
  );
  assert.equal((await store.csafAdvisory('2026/x.json'))!.document, '{"a":2}');
  assert.equal(await store.csafAdvisory('2026/z.json'), undefined);
}

test('the security tables work on SQLite', async () => {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  try {
    await exercise(store);
  } finally {
    await store.close();
  }
});

test('the security tables work the same on PostgreSQL', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'postgresql')) return;
  const pg = await startPostgres();
  const store = await SqlStore.open(await openPostgresDriver({ url: await pg.createDatabase('security') }));
  try {
    await exercise(store);
  } finally {
    await store.close();
    await pg.stop();
  }
});
