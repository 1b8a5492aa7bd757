import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const S = 'PLG-AAAAAAAAAA';
const HASH = 'sha256:' + 'a'.repeat(64);

async function store(): Promise<SqlStore> {
  const s = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  await s.importUnits(
    [
      {
        serial: S,
        model: 'plug',
        deviceCertFingerprint: 'sha256:' + 'b'.repeat(64),
        claimCodeHash: HASH,
        createdAt: '2026-01-01T00:00:00Z',
      },
    ],
    1,
  );
  await s.createAccount({ id: 'acct1', email: 'a@example.com', passwordHash: 'x', createdAt: 1 });
  await s.createAccount({ id: 'acct2', email: 'b@example.com', passwordHash: 'x', createdAt: 1 });
  return s;
}

test('a claim needs the right hash, an open window and a free device', async () => {
  const s = await store();
  assert.equal(await s.claimDevice('PLG-ZZZZZZZZZZ', 'acct1', HASH, 10), 'refused');
  assert.equal(await s.claimDevice(S, 'acct1', 'sha256:' + 'c'.repeat(64), 10), 'refused');
  assert.equal(await s.claimDevice(S, 'acct1', HASH, 10), 'window-closed');
  await s.openClaimWindow(S, 1_000, 5, 100);
  assert.equal(await s.claimDevice(S, 'acct1', HASH, 1_001), 'window-closed', "after the window's end");
  await s.openClaimWindow(S, 3_000, 6, 2_000);
  await s.openClaimWindow(S, 9_999_999, 6, 2_000);
  assert.equal((await s.getDevice(S))!.claimWindowUntil, 3_000, 'a redelivered window-open (same seq) changes nothing');
  assert.equal(await s.claimDevice(S, 'acct1', HASH, 2_500), 'claimed');
  assert.equal((await s.getDevice(S))!.claimWindowUntil, 0, 'the claim closes the window');
  assert.equal(await s.claimDevice(S, 'acct1', HASH, 2_500), 'already-yours');
  await s.openClaimWindow(S, 5_000, 7, 4_000);
  assert.equal(await s.claimDevice(S, 'acct2', HASH, 4_500), 'taken');
  await s.close();
});

test('telemetry is stored once per (serial, seq); a release applies once per seq, erasing owner data', async () => {
  const s = await store();
  await s.openClaimWindow(S, 1_000, 1, 0);
  assert.equal(await s.claimDevice(S, 'acct1', HASH, 10), 'claimed');
  const row = (seq: number) => ({ serial: S, seq, at: seq, receivedAt: 20 + seq, values: { energy: seq } });
  await s.storeTelemetry([row(10), row(11)], 50);
  await s.storeTelemetry([row(11), row(12)], 60);
  assert.deepEqual(
    (await s.telemetry(S, 0, 10)).map((r) => r.seq),
    [10, 11, 12],
  );
  assert.deepEqual(
    (
      await s.storedSeqs(
        S,
        [
          [9, 12],
          [1, 1],
        ],
        100,
      )
    ).sort(),
    [1, 10, 11, 12],
    'telemetry and claim events',
  );
  assert.equal(await s.releaseByDevice(S, 13, 70), true);
  assert.equal((await s.getDevice(S))!.ownerId, null);
  assert.deepEqual(await s.telemetry(S, 0, 10), []);
  await s.openClaimWindow(S, 1_000_000, 14, 80);
  assert.equal(await s.claimDevice(S, 'acct2', HASH, 90), 'claimed');
  assert.equal(
    await s.releaseByDevice(S, 13, 100),
    false,
    'the old release, redelivered, does not release the new claim',
  );
  assert.equal((await s.getDevice(S))!.ownerId, 'acct2');
  await s.close();
});

test('sessions are bounded per account; attempts count; account deletion takes everything', async () => {
  const s = await store();
  for (let i = 0; i < 5; i++)
    await s.createSession({ idHash: `h${i}`, accountId: 'acct1', csrfToken: 't', createdAt: i, lastSeenAt: i }, 3);
  assert.equal(await s.session('h0'), undefined);
  assert.ok(await s.session('h4'));
  await s.recordFailure(['k1', 'k2'], 5);
  await s.recordFailure(['k1'], 6);
  assert.deepEqual(Object.fromEntries(await s.attempts(['k1', 'k2', 'k3'])), {
    k1: { failures: 2, lastFailureAt: 6 },
    k2: { failures: 1, lastFailureAt: 5 },
  });
  await s.openClaimWindow(S, 1_000, 1, 0);
  await s.claimDevice(S, 'acct1', HASH, 10);
  await s.deleteAccount('acct1');
  assert.equal(await s.accountById('acct1'), undefined);
  assert.equal(await s.session('h4'), undefined);
  assert.equal((await s.getDevice(S))!.ownerId, null);
  await assert.rejects(s.createAccount({ id: 'x', email: 'b@example.com', passwordHash: 'x', createdAt: 1 }), {
    code: 'ACCOUNT_EXISTS',
  });
  await s.close();
});

test('a SQLite transaction in progress holds other statements back', async () => {
  const s = await store();
  // Many claims racing on one window: exactly one wins.
  await s.openClaimWindow(S, 1_000_000, 1, 0);
  const outcomes = await Promise.all(['acct1', 'acct2', 'acct1', 'acct2'].map((a) => s.claimDevice(S, a, HASH, 10)));
  assert.equal(outcomes.filter((o) => o === 'claimed').length, 1, outcomes.join());
  await s.close();
});

test('a claim flood flags a registered serial once and then counts each further wrong code', async () => {
  const s = await store();
  assert.equal(await s.flagClaimFlood(S, 10, 100), true, 'a new flag');
  assert.equal(await s.flagClaimFlood(S, 11, 200), false, 'already flagged: one more counted');
  assert.equal(await s.flagClaimFlood('PLG-ZZZZZZZZZZ', 10, 300), false, 'a made-up serial is not listed');
  assert.deepEqual(await s.claimFloods(10), [{ serial: S, flaggedAt: 100, lastAt: 200, failures: 11 }]);
  await s.close();
});
