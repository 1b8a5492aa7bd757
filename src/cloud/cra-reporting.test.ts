import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addOneMonth, deadlinesOf, dueReports, type CraCaseRecord } from './cra-reporting.ts';
import { draftReport, mergeCraFacts, parseAwareTime } from './cra-drafts.ts';
import { addFacts, craOverview, markSubmitted, openCase, recordFix } from './cra-cases.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const T0 = Date.parse('2026-10-05T09:30:00Z');
const H = 3_600_000;

function vuln(over: Partial<CraCaseRecord> = {}): CraCaseRecord {
  return {
    id: 'cra-000000000001',
    kind: 'vulnerability',
    ref: 'CVE-2026-12345',
    awareAt: T0,
    recordedAt: T0 + H,
    fixAt: null,
    facts: {},
    submitted: {},
    ...over,
  };
}

const at = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

test('an exploited vulnerability is due in 24 h and 72 h, its final report 14 days after the fix', () => {
  const d = deadlinesOf(vuln(), T0 + 10 * H);
  assert.deepEqual(
    d.map((x) => [x.report, at(x.dueAt), x.state]),
    [
      ['early-warning', '2026-10-06T09:30:00.000Z', 'due'],
      ['notification', '2026-10-08T09:30:00.000Z', 'due'],
      ['final', null, 'waiting'],
    ],
  );
  const fixed = deadlinesOf(vuln({ fixAt: Date.parse('2026-10-09T12:00:00Z') }), T0 + 30 * H);
  assert.deepEqual(
    fixed.map((x) => [x.report, at(x.dueAt), x.state]),
    [
      ['early-warning', '2026-10-06T09:30:00.000Z', 'overdue'],
      ['notification', '2026-10-08T09:30:00.000Z', 'due'],
      ['final', '2026-10-23T12:00:00.000Z', 'due'],
    ],
  );
});

test("an incident's final report is due a month after its notification, provisional until it is sent", () => {
  const incident = vuln({ kind: 'incident', ref: 'broker breach' });
  const before = deadlinesOf(incident, T0);
  assert.equal(at(before[2]!.dueAt), '2026-11-08T09:30:00.000Z');
  assert.equal(before[2]!.provisional, true);
  const sent = Date.parse('2026-10-07T18:00:00Z');
  const after = deadlinesOf({ ...incident, submitted: { notification: { at: sent, by: 'cli' } } }, T0 + 60 * H);
  assert.deepEqual(
    after.map((x) => [x.report, at(x.dueAt), x.state, x.provisional]),
    [
      ['early-warning', '2026-10-06T09:30:00.000Z', 'overdue', false],
      ['notification', '2026-10-08T09:30:00.000Z', 'submitted', false],
      ['final', '2026-11-07T18:00:00.000Z', 'due', false],
    ],
  );
  assert.equal(at(addOneMonth(Date.parse('2027-01-31T10:00:00Z'))), '2027-02-28T10:00:00.000Z');
});

test('the reports due are listed overdue first, submitted ones left out, those waiting for a fix last', () => {
  const a = vuln({ id: 'cra-a', awareAt: T0 });
  const b = vuln({
    id: 'cra-b',
    ref: 'CVE-2026-2',
    awareAt: T0 - 30 * H,
    submitted: { 'early-warning': { at: T0, by: 'x' } },
  });
  const rows = dueReports([a, b], T0 + H);
  assert.deepEqual(
    rows.map((r) => [r.caseId, r.report, r.state]),
    [
      ['cra-a', 'early-warning', 'due'],
      ['cra-b', 'notification', 'due'],
      ['cra-a', 'notification', 'due'],
      ['cra-a', 'final', 'waiting'],
      ['cra-b', 'final', 'waiting'],
    ],
  );
});

test("each draft carries Article 14's items and names those still missing", () => {
  const facts = mergeCraFacts(
    {},
    {
      product: 'Bulwark plug',
      versions: '1.2.0 to 1.4.1',
      memberStates: 'de, FR,gr',
      nature: 'authentication bypass in the admin page',
      correctiveMeasures: 'the cloud blocks the request pattern',
      userMeasures: 'update to 1.4.2',
      sensitivity: 'TLP:AMBER',
    },
  );
  assert.deepEqual(facts.memberStates, ['DE', 'FR', 'EL']);
  const c = vuln({ facts });
  const early = draftReport(c, 'early-warning');
  assert.equal(early.legalBasis, 'Regulation (EU) 2024/2847, Art. 14(2)(a)');
  assert.deepEqual(
    early.fields.map((f) => [f.name, f.value]),
    [
      ['vulnerability', 'CVE-2026-12345'],
      ['awareAt', '2026-10-05T09:30:00.000Z'],
      ['product', 'Bulwark plug, versions 1.2.0 to 1.4.1'],
      ['memberStates', 'DE, FR, EL'],
    ],
  );
  const note = draftReport(c, 'notification');
  assert.deepEqual(
    note.fields.map((f) => f.name),
    ['product', 'nature', 'correctiveMeasures', 'userMeasures', 'sensitivity'],
  );
  assert.deepEqual(note.missing, []);
  const final = draftReport(c, 'final');
  assert.deepEqual(final.missing, ['description', 'maliciousActor', 'securityUpdate']);
  const incident = draftReport({ ...c, kind: 'incident', facts: { suspectedMalicious: true } }, 'early-warning');
  assert.equal(incident.fields.find((f) => f.name === 'suspectedMalicious')!.value, 'yes');
  assert.deepEqual(
    draftReport({ ...c, kind: 'incident' }, 'final').fields.map((f) => f.name),
    ['description', 'rootCause', 'mitigation'],
  );
  assert.throws(() => mergeCraFacts({}, { memberStates: 'DE,US' }), { code: 'CRA_CASE_INVALID' });
  assert.throws(() => parseAwareTime('2026-10-05 09:30', 'knownAt', T0), { code: 'CRA_CASE_INVALID' });
  assert.throws(() => parseAwareTime('2026-10-06T09:30:00Z', 'knownAt', T0), { code: 'CRA_CASE_INVALID' });
});

test('a case kept in the store follows the clock: opened, fixed, submitted, with its drafts', async () => {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const now = T0 + 2 * H;
  const opened = await openCase(store, 'vulnerability', { ref: 'CVE-2026-7', knownAt: '2026-10-05T09:30:00Z' }, now);
  assert.equal(opened.created, true);
  const again = await openCase(store, 'vulnerability', { ref: 'CVE-2026-7', knownAt: '2026-10-05T11:00:00Z' }, now);
  assert.equal(again.created, false);
  assert.equal(again.record.awareAt, T0, 'the first time it became known is kept');
  const id = opened.record.id;
  await addFacts(store, id, { product: 'Bulwark lock', severity: 'high' });
  await recordFix(store, id, '2026-10-07T09:30:00Z', now + 48 * H);
  await markSubmitted(store, id, 'early-warning', 'test', now);
  const { cases, due } = await craOverview(store, now + 48 * H);
  assert.equal(cases[0]!.facts.product, 'Bulwark lock');
  assert.deepEqual(
    cases[0]!.deadlines.map((d) => [d.report, at(d.dueAt), d.state]),
    [
      ['early-warning', '2026-10-06T09:30:00.000Z', 'submitted'],
      ['notification', '2026-10-08T09:30:00.000Z', 'due'],
      ['final', '2026-10-21T09:30:00.000Z', 'due'],
    ],
  );
  assert.deepEqual(
    due.map((d) => d.report),
    ['notification', 'final'],
  );
  await assert.rejects(markSubmitted(store, id, 'summary', 'test', now), { code: 'CRA_CASE_INVALID' });
  await assert.rejects(markSubmitted(store, 'cra-ffffffffffff', 'final', 'test', now), { code: 'NOT_FOUND' });
  await store.close();
});
