import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, truncate, stat, readdir, symlink, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import { ConnectionJournal, JournalEntryError, JOURNAL_FILE_NAME, JOURNAL_MADE_EVENTS } from './index.ts';
import type { ConnectionJournalOptions, JournalRecordInput } from './index.ts';

const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const DAY = 86_400_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-journal-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A clock the test moves by hand. */
function manualClock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

function attempt(i: number, extra: Partial<JournalRecordInput> = {}): JournalRecordInput {
  return {
    surface: 'web',
    source: `192.0.2.${i % 250}:${40_000 + (i % 20_000)}`,
    event: 'login',
    identity: 'owner',
    result: i % 3 === 0 ? 'success' : 'failure',
    ...extra,
  };
}

async function openJournal(dir: string, options: Partial<ConnectionJournalOptions> = {}): Promise<ConnectionJournal> {
  return ConnectionJournal.open({
    stateDir: dir,
    privacyClass: 'standard',
    onError: (err) => {
      throw err;
    },
    ...options,
  });
}

async function fileLines(dir: string): Promise<string[]> {
  return (await readFile(join(dir, JOURNAL_FILE_NAME), 'utf8')).split('\n').filter((l) => l !== '');
}

test('never stores a password given in detail or identity', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    journal.record(attempt(1, { detail: 'login failed password=hunter2-horse' }));
    journal.record(attempt(2, { detail: 'Authorization: Basic b3duZXI6aHVudGVyMg==' }));
    journal.record(attempt(3, { identity: 'password: hunter2-horse' }));
    journal.record(attempt(4, { detail: 'setup code 1234-5678-9012 refused' }));
    journal.record(attempt(5, { identity: 'k7vq-3mxe-9bht-p2wa' }));
    assert.throws(
      () => journal.record({ ...attempt(6), password: 'hunter2-horse' } as JournalRecordInput),
      JournalEntryError,
    );
    await journal.close();
    const raw = await readFile(join(dir, JOURNAL_FILE_NAME), 'utf8');
    for (const secret of ['hunter2', 'b3duZXI6aHVudGVyMg', '1234-5678-9012', 'k7vq'])
      assert.ok(!raw.includes(secret), secret);
    assert.equal((await fileLines(dir)).length, 5);
  });
});

test('records every attempt with time, surface, source, identity and result, newest first', async () => {
  await withDir(async (dir) => {
    const clock = manualClock();
    const journal = await openJournal(dir, { now: clock.now });
    journal.record({ surface: 'web', source: '192.0.2.7:53412', event: 'tls-connect', result: 'info' });
    clock.advance(1_000);
    const login = journal.record({
      surface: 'web',
      source: '192.0.2.7:53412',
      event: 'login',
      identity: 'owner',
      result: 'success',
    });
    assert.deepEqual(login, {
      seq: 2,
      at: '2025-06-01T10:00:01.000Z',
      surface: 'web',
      source: '192.0.2.7:53412',
      event: 'login',
      identity: 'owner',
      result: 'success',
    });
    assert.deepEqual(
      journal.list().map((e) => e.event),
      ['login', 'tls-connect'],
    );
    await journal.close();
    const reopened = await openJournal(dir, { now: clock.now });
    assert.deepEqual(reopened.list()[0], login);
    await reopened.close();
  });
});

test('pages with before and filters by surface and result', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    for (let i = 1; i <= 30; i++) journal.record(attempt(i, { surface: i % 2 === 0 ? 'hub' : 'web' }));
    const first = journal.list({ limit: 10 });
    assert.deepEqual(
      first.map((e) => e.seq),
      [30, 29, 28, 27, 26, 25, 24, 23, 22, 21],
    );
    const second = journal.list({ limit: 10, before: first.at(-1)!.seq });
    assert.equal(second[0]!.seq, 20);
    assert.ok(journal.list({ limit: 100, surface: 'hub' }).every((e) => e.surface === 'hub'));
    assert.ok(journal.list({ limit: 100, result: 'success' }).every((e) => e.result === 'success'));
    for (const bad of [{ limit: 0 }, { limit: 1_001 }, { before: -1 }, { surface: 'ssh' }, { order: 'asc' }]) {
      assert.throws(
        () => journal.list(bad as never),
        (err: unknown) => hasCode(err, 'JOURNAL_QUERY_INVALID'),
      );
    }
    await journal.close();
  });
});

test('drops entries older than the retention, from the list at once and from the file', async () => {
  await withDir(async (dir) => {
    const clock = manualClock();
    const journal = await openJournal(dir, { now: clock.now, config: { maxAgeDays: 30, expirySweepMs: 60_000 } });
    journal.record(attempt(1, { detail: 'old' }));
    await journal.flush();
    clock.advance(29 * DAY);
    journal.record(attempt(2, { detail: 'recent' }));
    await journal.flush();
    clock.advance(2 * DAY);
    assert.deepEqual(
      journal.export().map((e) => e.detail),
      ['recent'],
    );
    journal.record(attempt(3, { detail: 'new' }));
    await journal.flush();
    const lines = await fileLines(dir);
    assert.ok(!lines.some((l) => l.includes('"old"')), 'the expired entry is purged from the file');
    assert.equal(lines.length, 2);
    await journal.close();
    clock.advance(29 * DAY + 1);
    const reopened = await openJournal(dir, { now: clock.now });
    assert.deepEqual(
      reopened.export().map((e) => e.detail),
      ['new'],
    );
    await reopened.close();
  });
});

test("keeps at most a tier's entries after reload, and the file never exceeds both tiers' bounds", async () => {
  await withDir(async (dir) => {
    const config = { securityMaxEntries: 100, securityMaxBytes: 16_384, connectionMaxEntries: 10 };
    const connection = { maxEntries: 10, maxBytes: 16_384 };
    const journal = await openJournal(dir, { config });
    let largest = 0;
    for (let i = 1; i <= 1_000; i++) {
      journal.record(attempt(i));
      if (i % 37 === 0) {
        await journal.flush();
        largest = Math.max(largest, (await stat(join(dir, JOURNAL_FILE_NAME))).size);
        assert.ok((await fileLines(dir)).length <= 100 + connection.maxEntries);
      }
    }
    await journal.close();
    assert.ok(largest <= 16_384 + connection.maxBytes, `file reached ${largest} bytes`);
    assert.ok(journal.stats().compactions > 0);
    const reopened = await openJournal(dir, { config });
    const entries = reopened.export();
    assert.ok(entries.length <= 100 && entries.length >= 80, `${entries.length} entries`);
    const logins = entries.filter((e) => e.event === 'login');
    assert.equal(logins.at(-1)!.source, attempt(1_000).source, 'the newest entries are the ones kept');
    assert.equal(entries.at(-1)!.event, 'journal-drop', 'losses still untold are told on close');
    assert.ok(
      entries.some((e) => e.event === 'journal-drop'),
      'the loss is stated in an entry',
    );
    assert.equal(reopened.record(attempt(1_001))!.seq, entries.at(-1)!.seq + 1);
    await reopened.close();
    // A smaller bound applies to an existing file at once.
    const smaller = await openJournal(dir, { config: { securityMaxEntries: 10 } });
    assert.equal(smaller.export().length, 10);
    await smaller.close();
    assert.ok((await fileLines(dir)).length <= 10);
  });
});

test('survives a truncated last line (a power cut mid-append) and appends cleanly after it', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    for (let i = 1; i <= 20; i++) journal.record(attempt(i));
    await journal.close();
    const path = join(dir, JOURNAL_FILE_NAME);
    const size = (await stat(path)).size;
    await truncate(path, size - 25);
    const reopened = await openJournal(dir);
    assert.equal(reopened.export().length, 19);
    assert.equal(reopened.stats().corruptLinesOnLoad, 1);
    assert.equal(reopened.record(attempt(21))!.seq, 20, 'the torn entry never became durable, so its seq is reused');
    await reopened.close();
    const again = await openJournal(dir);
    assert.equal(again.export().length, 20);
    assert.equal(again.stats().corruptLinesOnLoad, 0);
    await again.close();
  });
});

test('a corrupt line in the middle loses no older entry', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    for (let i = 1; i <= 10; i++) journal.record(attempt(i));
    await journal.close();
    const path = join(dir, JOURNAL_FILE_NAME);
    const lines = await fileLines(dir);
    lines.splice(5, 0, '{"seq":99,"at":"garbage', '\0\0\0\0', 'x'.repeat(10_000));
    await writeFile(path, lines.join('\n') + '\n');
    const reopened = await openJournal(dir);
    assert.deepEqual(
      reopened.export().map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(reopened.stats().corruptLinesOnLoad, 3);
    await reopened.close();
    assert.equal((await fileLines(dir)).length, 10, 'the file is rewritten without the bad lines');
  });
});

test('loads a file far larger than its bounds quickly, keeping only the newest entries', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    for (let i = 1; i <= 200; i++) journal.record(attempt(i));
    await journal.close();
    const path = join(dir, JOURNAL_FILE_NAME);
    const tail = await readFile(path);
    await writeFile(path, Buffer.concat([Buffer.alloc(8 * 1024 * 1024, 'z'), Buffer.from('\n'), tail]));
    const config = { securityMaxEntries: 50, securityMaxBytes: 16_384, connectionMaxBytes: 16_384 };
    const reopened = await openJournal(dir, { config });
    assert.equal(reopened.export().length, 50);
    assert.equal(reopened.export().at(-1)!.seq, 200);
    await reopened.close();
    assert.ok((await stat(path)).size <= 2 * 16_384);
  });
});

test('erase removes every entry durably', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    for (let i = 1; i <= 10; i++) journal.record(attempt(i));
    await journal.flush();
    await writeFile(join(dir, `.${JOURNAL_FILE_NAME}.0123456789ab.tmp`), 'left by a power cut');
    await journal.erase();
    assert.deepEqual(journal.export(), []);
    assert.deepEqual(await readdir(dir), []);
    journal.record(attempt(11, { detail: 'after reset' }));
    await journal.close();
    const reopened = await openJournal(dir);
    assert.deepEqual(
      reopened.export().map((e) => e.detail),
      ['after reset'],
    );
    await reopened.close();
  });
});

test('a sensitive journal stores no detail and only the network of each source', async () => {
  await withDir(async (dir) => {
    const standard = await openJournal(dir);
    standard.record(attempt(7, { detail: 'wrong password' }));
    await standard.close();
    const sensitive = await openJournal(dir, { privacyClass: 'sensitive' });
    const recorded = sensitive.record({
      surface: 'web',
      source: '[2001:db8:1:2::3]:443',
      event: 'login',
      identity: 'owner',
      result: 'success',
      detail: 'viewed stream',
    });
    assert.deepEqual(recorded?.source, '2001:db8:1::/48');
    assert.equal(recorded?.detail, undefined);
    await sensitive.close();
    const raw = await readFile(join(dir, JOURNAL_FILE_NAME), 'utf8');
    assert.ok(!raw.includes('wrong password') && !raw.includes('viewed stream') && !raw.includes('192.0.2.7'));
    assert.ok(raw.includes('192.0.2.0/24'));
  });
});

test('the file is private to the device user and a symlink in its place is refused', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    journal.record(attempt(1));
    await journal.close();
    assert.equal((await stat(join(dir, JOURNAL_FILE_NAME))).mode & 0o777, 0o600);
    await rm(join(dir, JOURNAL_FILE_NAME));
    await appendFile(join(dir, 'elsewhere'), '');
    await symlink(join(dir, 'elsewhere'), join(dir, JOURNAL_FILE_NAME));
    await assert.rejects(openJournal(dir), (err: unknown) => hasCode(err, 'JOURNAL_FILE_UNSAFE'));
  });
});

test('refuses an unbounded or unknown setting, naming the key', async () => {
  await withDir(async (dir) => {
    for (const [config, key] of [
      [{ securityMaxEntries: Infinity }, 'securityMaxEntries'],
      [{ connectionMaxEntries: 0 }, 'connectionMaxEntries'],
      [{ securityMaxBytes: 1e12 }, 'securityMaxBytes'],
      [{ connectionPerSource: 0 }, 'connectionPerSource'],
      [{ aggregateWindowMs: 10 }, 'aggregateWindowMs'],
      [{ maxAgeDays: Number.NaN }, 'maxAgeDays'],
      [{ maxEntry: 10 }, 'maxEntry'],
    ] as const) {
      await assert.rejects(openJournal(dir, { config: config as never }), (err: unknown) => {
        assert.ok(hasCode(err, 'JOURNAL_CONFIG_INVALID'));
        assert.equal((err as { key?: string }).key, key);
        return true;
      });
    }
  });
});

test('refuses to record after close', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir);
    await journal.close();
    await journal.close();
    assert.throws(
      () => journal.record(attempt(1)),
      (err: unknown) => hasCode(err, 'JOURNAL_CLOSED'),
    );
  });
});

test('batches appends: many records within the window cost one write', async () => {
  await withDir(async (dir) => {
    const journal = await openJournal(dir, { config: { flushDelayMs: 1_000 } });
    for (let i = 1; i <= 100; i++) journal.record(attempt(i));
    assert.equal(journal.stats().pendingEntries, 100);
    await journal.flush();
    assert.equal(journal.stats().pendingEntries, 0);
    assert.equal((await fileLines(dir)).length, 100);
    await journal.close();
  });
});

const surfaces = ['web', 'hub', 'pairing', 'cloud', 'button', 'update', 'ssh'];
const results = ['success', 'failure', 'refused', 'locked-out', 'info', 'ok'];
const anyInput = fc.oneof(
  fc.record(
    {
      surface: fc.constantFrom(...surfaces),
      source: fc.oneof(
        fc.ipV4().map((a) => `${a}:443`),
        fc.ipV6().map((a) => `[${a}]:8443`),
        fc.constantFrom('local', 'unknown'),
        fc.string({ maxLength: 70 }),
      ),
      event: fc.oneof(fc.constantFrom('login', 'tls-connect', 'pairing'), fc.string({ maxLength: 40 })),
      identity: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
      result: fc.constantFrom(...results),
      detail: fc.option(fc.string({ unit: 'grapheme', maxLength: 400 }), { nil: undefined }),
    },
    { requiredKeys: ['surface', 'source', 'event', 'result'] },
  ),
  fc.anything(),
);

test('property: random entries in, the journal never exceeds its bounds and throws only typed errors', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(anyInput, { maxLength: 150 }),
      fc.constantFrom<'standard' | 'sensitive'>('standard', 'sensitive'),
      async (inputs, privacyClass) => {
        await withDir(async (dir) => {
          const tier = { MaxEntries: 10, MaxBytes: 16_384 };
          const config = {
            securityMaxEntries: tier.MaxEntries,
            securityMaxBytes: tier.MaxBytes,
            connectionMaxEntries: tier.MaxEntries,
            connectionMaxBytes: tier.MaxBytes,
            flushDelayMs: 0,
          };
          const journal = await openJournal(dir, { config, privacyClass });
          for (const [i, input] of inputs.entries()) {
            try {
              journal.record(input as JournalRecordInput);
            } catch (err) {
              assert.ok(err instanceof JournalEntryError, `threw ${String(err)}`);
            }
            if (i % 40 === 0) await journal.flush();
            const s = journal.stats();
            assert.ok(s.entries <= 20 && s.bytes <= 2 * 16_384);
          }
          await journal.close();
          const path = join(dir, JOURNAL_FILE_NAME);
          const size = await stat(path).then(
            (s) => s.size,
            () => 0,
          );
          assert.ok(size <= 2 * 16_384);
          const reopened = await openJournal(dir, { config, privacyClass });
          const entries = reopened.export();
          assert.ok(entries.length <= 20);
          assert.equal(reopened.stats().corruptLinesOnLoad, 0);
          if (privacyClass === 'sensitive')
            assert.ok(
              entries.every(
                (e) => (JOURNAL_MADE_EVENTS.has(e.event) || e.detail === undefined) && !/:\d+$/.test(e.source),
              ),
            );
          await reopened.close();
        });
      },
    ),
    { numRuns: 40 },
  );
});
