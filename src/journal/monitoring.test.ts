import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionJournal, JOURNAL_FILE_NAME, keptWhenMonitoringOff, MONITORING_EVENTS } from './index.ts';
import type { ConnectionJournalOptions, JournalRecordInput } from './index.ts';

const T0 = Date.parse('2026-12-06T10:04:00.000Z');

async function withJournal(
  options: Partial<ConnectionJournalOptions>,
  fn: (journal: ConnectionJournal, dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-monitoring-'));
  const journal = await ConnectionJournal.open({ stateDir: dir, privacyClass: 'standard', ...options });
  try {
    await fn(journal, dir);
  } finally {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const failedLogin = (i: number): JournalRecordInput => ({
  surface: 'web',
  source: `192.0.2.9:${40_000 + i}`,
  event: 'login',
  identity: 'owner',
  result: 'failure',
});
const handshake = (i: number): JournalRecordInput => ({
  surface: 'web',
  source: `192.0.2.9:${20_000 + i}`,
  event: 'tls-connect',
  result: 'success',
});

test('with monitoring off, connection records and plain information go; what protects the owner stays', () => {
  const off = (event: string, result: JournalRecordInput['result']): boolean =>
    keptWhenMonitoringOff({ surface: 'web', event, result });
  assert.equal(off('tls-connect', 'success'), false);
  assert.equal(off('records-aggregated', 'info'), false, "the connection tier's aggregates go too");
  assert.equal(off('connection-flood', 'info'), false);
  assert.equal(off('check', 'info'), false, 'an update check is plain information');
  assert.equal(off('driver-up', 'info'), false);
  assert.equal(off('login', 'failure'), true);
  assert.equal(off('login', 'locked-out'), true);
  assert.equal(off('login', 'success'), true, 'an owner action');
  assert.equal(off('control', 'success'), true);
  assert.equal(off('events-aggregated', 'info'), true, 'the count of failed logins past the per-source rate');
  assert.equal(off(MONITORING_EVENTS.on, 'info'), true);
  assert.equal(off(MONITORING_EVENTS.off, 'success'), true);
  assert.equal(off('factory-reset', 'info'), true);
});

test('turning monitoring off forgets the connection records kept, in memory and in the file', async () => {
  await withJournal({}, async (journal) => {
    for (let i = 0; i < 5; i++) journal.record(handshake(i));
    journal.record(failedLogin(0));
    await journal.flush();
    assert.equal(journal.monitoring, true, 'on by default');
    journal.setMonitoring(false);
    await journal.flush();
    assert.equal(journal.stats().tiers.connection.entries, 0);
    const lines = (await readFile(journal.path, 'utf8')).trim().split('\n');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { event: string }).event),
      ['login'],
      'only the security event is left in the file',
    );
    assert.equal(journal.path.endsWith(JOURNAL_FILE_NAME), true);
  });
});

test('with monitoring off, a flood from one address leaves failed logins and their aggregate only', async () => {
  let t = T0;
  const config = { securityPerSource: 10, aggregateWindowMs: 60_000 };
  await withJournal({ now: () => t, config }, (journal) => {
    journal.setMonitoring(false);
    for (let i = 0; i < 30; i++) {
      assert.equal(journal.record(handshake(i)), undefined, 'a connection record is not stored');
      journal.record(failedLogin(i));
      t += 100;
    }
    t += 60_000;
    const entries = journal.export();
    assert.equal(entries.filter((e) => e.event === 'login').length, 10, 'the per-source rate still applies');
    const aggregate = entries.find((e) => e.event === 'events-aggregated');
    assert.match(aggregate?.detail ?? '', /20/, 'the rest are counted, not lost');
    assert.deepEqual(new Set(entries.map((e) => e.event)), new Set(['login', 'events-aggregated']));
  });
});

test('turned on again, the journal records connections again; before it, none were even counted', async () => {
  let t = T0;
  const config = { connectionPerSource: 3, aggregateWindowMs: 60_000 };
  await withJournal({ now: () => t, config }, (journal) => {
    journal.setMonitoring(false);
    for (let i = 0; i < 10; i++) journal.record(handshake(i));
    journal.setMonitoring(true);
    journal.record(handshake(100));
    t += 61_000;
    const entries = journal.export();
    assert.deepEqual(
      entries.map((e) => e.event),
      ['tls-connect'],
      'the records made while off neither appear nor fill an aggregate',
    );
  });
});

test('refuses a monitoring choice that is not a boolean, and after close', async () => {
  await withJournal({}, async (journal) => {
    assert.throws(() => journal.setMonitoring('off' as unknown as boolean), { code: 'JOURNAL_CONFIG_INVALID' });
    await journal.close();
    assert.throws(() => journal.setMonitoring(true), { code: 'JOURNAL_CLOSED' });
  });
});
