import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, OUTBOX_FILE } from './outbox.ts';

async function dir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'outbox-'));
}

test('an entry stays until a receipt says it is stored; a missing one is sent again', async () => {
  const box = await Outbox.load(await dir());
  const a = box.add('telemetry', { v: 1 }),
    b = box.add('telemetry', { v: 2 });
  assert.ok(b > a);
  assert.deepEqual(
    box.pending().map((e) => e.seq),
    [a, b],
  );
  box.markSent(a, 100);
  box.markSent(b, 200);
  assert.deepEqual(
    box.unconfirmed(150).map((e) => e.seq),
    [a],
    'only those acknowledged before the cut',
  );
  const r = box.applyReceipt(new Set([a, b]), (s) => s === a);
  assert.deepEqual(r, { confirmed: 1, resend: 1 });
  assert.deepEqual(
    box.entries().map((e) => [e.seq, e.state]),
    [[b, 'pending']],
  );
});

test('bounded: the oldest telemetry goes first, a release is never dropped', async () => {
  const box = await Outbox.load(await dir(), { maxEntries: 5, maxBytes: 1_000_000 });
  const release = box.add('claim', { event: 'release', at: 1 });
  for (let i = 0; i < 10; i++) box.add('telemetry', { v: i });
  assert.equal(box.size, 5);
  assert.equal(box.dropped, 6);
  assert.ok(box.entries().some((e) => e.seq === release));
  const bytes = await Outbox.load(await dir(), { maxEntries: 1000, maxBytes: 2_000 });
  for (let i = 0; i < 100; i++) bytes.add('telemetry', { pad: 'x'.repeat(100) });
  assert.ok(bytes.size < 20 && bytes.size > 5, `${bytes.size} entries fit in 2000 bytes`);
});

test('persisted atomically with mode 0600; sequence numbers never repeat, even after the file is lost', async () => {
  const d = await dir();
  const box = await Outbox.load(d);
  const s1 = box.add('telemetry', { v: 1 });
  box.markSent(s1, 5);
  await box.save();
  assert.equal((await stat(join(d, OUTBOX_FILE))).mode & 0o777, 0o600);
  const again = await Outbox.load(d);
  assert.deepEqual(
    again.entries().map((e) => [e.seq, e.state]),
    [[s1, 'sent']],
  );
  assert.ok(again.add('telemetry', { v: 2 }) > s1);
  const fresh = await Outbox.load(await dir(), {}, Date.now() + 1_000);
  assert.ok(fresh.add('telemetry', {}) > s1, 'a lost outbox restarts above every earlier number (from the clock)');
  JSON.parse(await readFile(join(d, OUTBOX_FILE), 'utf8'));
});

test('factory reset clears the messages but keeps the counter', async () => {
  const box = await Outbox.load(await dir());
  const s = box.add('telemetry', {});
  box.clear();
  assert.equal(box.size, 0);
  assert.ok(box.add('claim', { event: 'release' }) > s);
});
