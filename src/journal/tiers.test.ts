import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { ConnectionJournal } from './index.ts';
import type { ConnectionJournalOptions, JournalRecordInput } from './index.ts';
import { aggregationKey } from './entry.ts';

const T0 = Date.parse('2026-12-06T10:04:00.000Z');

async function withJournal(
  options: Partial<ConnectionJournalOptions>,
  fn: (journal: ConnectionJournal, dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-tiers-'));
  const journal = await ConnectionJournal.open({ stateDir: dir, privacyClass: 'standard', ...options });
  try {
    await fn(journal, dir);
  } finally {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function failedLogin(i: number): JournalRecordInput {
  return { surface: 'web', source: `192.0.2.9:${40_000 + i}`, event: 'login', identity: 'owner', result: 'failure' };
}

function handshake(i: number): JournalRecordInput {
  return { surface: 'web', source: `127.0.0.${1 + (i % 50)}:${20_000 + i}`, event: 'tls-connect', result: 'success' };
}

test('no number of connection records evicts a security event, and their loss is stated', async () => {
  let t = T0;
  const config = { connectionMaxEntries: 200, connectionPerSource: 64, aggregateWindowMs: 60_000 };
  await withJournal({ now: () => t, config }, async (journal, dir) => {
    for (let i = 0; i < 20; i++) journal.record(failedLogin(i));
    for (let i = 0; i < 6_000; i++) {
      journal.record(handshake(i));
      t += 5; // 30 s of flood
    }
    const entries = journal.export();
    assert.equal(entries.filter((e) => e.event === 'login').length, 20, 'every failed login is still there');
    const notices = entries.filter((e) => e.event === 'journal-drop');
    assert.equal(notices.length, 1, 'one notice per window, not one per lost entry');
    assert.match(notices[0]!.detail ?? '', /^dropped [\d,]+ connection entries from 2026-12-06 10:04:\d\d to /);
    const { tiers } = journal.stats();
    assert.ok(tiers.connection.dropped > 0 && tiers.connection.entries <= 200);
    assert.equal(tiers.security.dropped, 0);
    await journal.close();
    const reopened = await ConnectionJournal.open({ stateDir: dir, privacyClass: 'standard', config });
    assert.equal(reopened.export().filter((e) => e.event === 'login').length, 20, 'and after a restart');
    await reopened.close();
  });
});

test("a source's records beyond its rate become one aggregated entry per window, with the count", async () => {
  let t = T0;
  const config = { connectionPerSource: 10, aggregateWindowMs: 60_000 };
  await withJournal({ now: () => t, config }, (journal) => {
    const written = [];
    for (let i = 0; i < 1_000; i++) {
      written.push(journal.record({ ...handshake(0), source: `127.0.0.77:${30_000 + i}` }));
      t += 10;
    }
    assert.equal(written.filter(Boolean).length, 10, 'the first ten are written one by one');
    assert.equal(journal.list({ limit: 1_000 }).length, 10, 'nothing more until the window ends');
    t = T0 + 61_000;
    const [aggregate] = journal.list({ limit: 1 });
    assert.equal(aggregate?.event, 'records-aggregated');
    assert.equal(aggregate?.source, '127.0.0.77');
    assert.match(aggregate?.detail ?? '', /^990 more in \d+ s \(10:04:00-10:05:01 UTC\): 990 tls-connect success$/);
  });
});

test("failed logins from one stranger are aggregated too, so they cannot flush other sources' evidence", async () => {
  let t = T0;
  const config = { securityMaxEntries: 100, securityPerSource: 20 };
  await withJournal({ now: () => t, config }, (journal) => {
    journal.record({ ...failedLogin(0), source: '192.0.2.50:5000', identity: 'neighbour' });
    for (let i = 0; i < 5_000; i++) journal.record(failedLogin(i));
    t += 120_000;
    const entries = journal.export();
    assert.ok(entries.some((e) => e.identity === 'neighbour'));
    assert.ok(entries.some((e) => e.event === 'events-aggregated' && /^4,980 more/.test(e.detail ?? '')));
    assert.equal(journal.stats().tiers.security.dropped, 0);
  });
});

test('a caller cannot forge a drop notice or an aggregate', async () => {
  await withJournal({}, (journal) => {
    for (const input of [
      { ...handshake(1), event: 'journal-drop' },
      { ...handshake(1), event: 'records-aggregated' },
      { ...handshake(1), surface: 'journal' },
    ]) {
      assert.throws(
        () => journal.record(input as JournalRecordInput),
        (err: unknown) => hasCode(err, 'JOURNAL_ENTRY_INVALID'),
      );
    }
  });
});

test('a sensitive device keeps the counts of its notices but no address beyond the network', async () => {
  let t = T0;
  const config = { connectionMaxEntries: 10, connectionPerSource: 50 };
  await withJournal({ now: () => t, config, privacyClass: 'sensitive' }, (journal) => {
    for (let i = 0; i < 100; i++) journal.record({ ...handshake(i), detail: 'a private detail' });
    t += 61_000;
    const made = journal.export().filter((e) => e.event === 'journal-drop' || e.event === 'records-aggregated');
    assert.ok(made.length > 1 && made.every((e) => /^(dropped|\d+ more)/.test(e.detail ?? '')));
    assert.ok(journal.export().every((e) => e.detail !== 'a private detail' && !/:\d+$/.test(e.source)));
  });
});

test('IPv6 sources are counted by /64, IPv4 by address, without the port', () => {
  assert.deepEqual(aggregationKey('[2001:db8:1:2:aaaa::3]:443'), {
    address: '2001:db8:1:2:aaaa::3',
    key: '2001:db8:1:2::/64',
  });
  assert.deepEqual(aggregationKey('192.0.2.7:53412'), { address: '192.0.2.7', key: '192.0.2.7' });
  assert.deepEqual(aggregationKey('192.0.2.0/24'), { address: '192.0.2.0/24', key: '192.0.2.0/24' });
});
