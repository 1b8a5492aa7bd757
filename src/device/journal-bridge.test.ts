import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJournal, type DeviceJournal } from './journal-bridge.ts';

async function withJournal(
  privacy: 'standard' | 'sensitive',
  run: (journal: DeviceJournal, warnings: string[]) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-journal-bridge-'));
  const warnings: string[] = [];
  const journal = await openJournal(dir, privacy, (m) => warnings.push(m));
  try {
    await run(journal, warnings);
  } finally {
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const entry = { surface: 'web', source: '192.0.2.7:50000', event: 'login', identity: 'owner', result: 'failure' };

test('an entry the journal refuses never throws into the request: it becomes a warning with its code', () =>
  withJournal('standard', async (journal, warnings) => {
    assert.doesNotThrow(() => journal.record({ ...entry, surface: 'not-a-surface' }));
    assert.doesNotThrow(() => journal.record({ ...entry, result: 'maybe' }));
    assert.equal(warnings.length, 2);
    for (const w of warnings) assert.match(w, /^journal entry refused: [A-Z_]+$/);
    assert.deepEqual(await journal.list({ limit: 10 }), []);
  }));

test('rows come newest first with only the fields that are set', () =>
  withJournal('standard', async (journal) => {
    journal.record(entry);
    journal.record({ surface: 'button', source: 'local', event: 'press', result: 'info' });
    const rows = await journal.list({ limit: 10 });
    assert.deepEqual(
      rows.map((r) => r.event),
      ['press', 'login'],
    );
    assert.equal('identity' in rows[0]!, false);
    assert.equal('detail' in rows[0]!, false);
    assert.equal(rows[1]!.identity, 'owner');
    assert.equal(rows[1]!.source, '192.0.2.7:50000');
  }));

test('the page asks for at least one row and at most 1000, whatever it passes', () =>
  withJournal('standard', async (journal) => {
    for (let i = 0; i < 3; i++) journal.record({ ...entry, event: `login-${i}` });
    assert.equal((await journal.list({ limit: 0 })).length, 1);
    assert.equal((await journal.list({ limit: -5 })).length, 1);
    assert.equal((await journal.list({ limit: 1e9 })).length, 3);
  }));

test('a sensitive device keeps only the network of a source and no detail', () =>
  withJournal('sensitive', async (journal) => {
    journal.record({ ...entry, detail: 'wrong password' });
    const [row] = await journal.list({ limit: 1 });
    assert.notEqual(row!.source, '192.0.2.7:50000');
    assert.equal(row!.detail, undefined);
  }));

test('an erased journal lists nothing', () =>
  withJournal('standard', async (journal) => {
    journal.record(entry);
    await journal.erase();
    assert.deepEqual(await journal.list({ limit: 10 }), []);
  }));
