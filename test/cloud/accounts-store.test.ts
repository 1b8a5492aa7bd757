// The account tables (confirmed addresses, single-use links, notifications, households) behave the
// same on SQLite and on PostgreSQL, and an account's deletion leaves none of its rows; the PostgreSQL
// half skips outside CI when it is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresDriver, openSqliteDriver, SqlStore } from '../../src/cloud/index.ts';
import { startPostgres } from './support.ts';
import { needTool } from '../support/tools.ts';

const account = (id: string, email: string) => ({ id, email, passwordHash: '$argon2id$x', createdAt: 1 });

async function exercise(store: SqlStore): Promise<void> {
  await store.createAccount(account('a', 'a@example.com'));
  await store.createAccount(account('b', 'b@example.com'));
  assert.equal((await store.accountById('a'))!.verifiedAt, null);
  await store.markVerified('a', 5);
  await store.markVerified('a', 9);
  assert.equal((await store.accountByEmail('a@example.com'))!.verifiedAt, 5, 'the first confirmation counts');

  const t = { id: 't1', secretSha256: 'ff', accountId: 'a', purpose: 'reset' as const, createdAt: 1, expiresAt: 100 };
  await store.createAccountToken({ ...t, usedAt: null, data: null });
  await store.createAccountToken({ ...t, id: 't2', purpose: 'invite', usedAt: null, data: { email: 'b@example.com' } });
  assert.deepEqual((await store.accountToken('t2'))!.data, { email: 'b@example.com' });
  assert.equal(await store.useAccountToken('t1', 100), false, 'expired at its end');
  assert.equal(await store.useAccountToken('t1', 50), true);
  assert.equal(await store.useAccountToken('t1', 51), false, 'once only');
  assert.equal((await store.accountToken('t1'))!.usedAt, 50);

  for (const [id, accountId] of [
    ['s1', 'a'],
    ['s2', 'a'],
    ['s3', 'b'],
  ] as const)
    await store.createSession({ idHash: id, accountId, csrfToken: 'c', createdAt: 1, lastSeenAt: 1 }, 8);
  assert.equal(await store.deleteSessionsOf('a', 's2'), 1, 'all but the one kept');
  assert.ok(await store.session('s2'));
  assert.equal(await store.deleteSessionsOf('a'), 1);
  assert.ok(await store.session('s3'), "another account's session stays");

  await store.addNotification({ id: 'n1', accountId: 'a', kind: 'claim', at: 3, detail: 'claimed X' });
  await store.addNotification({ id: 'n2', accountId: 'a', kind: 'sign-in', at: 4, detail: 'new sign-in' });
  assert.deepEqual(
    (await store.notifications('a', 10)).map((n) => n.kind),
    ['sign-in', 'claim'],
  );

  await store.putHouseholdMember({
    ownerId: 'a',
    memberId: 'b',
    role: 'guest',
    until: 77,
    addedAt: 2,
    localName: null,
  });
  const member = { ownerId: 'a', memberId: 'b', role: 'member', until: null, addedAt: 3, localName: 'bea' } as const;
  await store.putHouseholdMember(member);
  assert.deepEqual(await store.householdMembers('a'), [{ ...member, addedAt: 2 }]);
  assert.equal((await store.householdMemberships('b')).length, 1);

  for (let i = 0; i < 40; i++)
    await store.addPendingRemoval({
      serial: 'PLG-1',
      name: `p${String(i).padStart(2, '0')}`,
      ownerId: 'a',
      createdAt: i,
    });
  await store.addPendingRemoval({ serial: 'PLG-1', name: 'p39', ownerId: 'a', createdAt: 40 });
  const pending = await store.pendingRemovals('PLG-1');
  assert.equal(pending.length, 32, 'the newest 32 per device');
  assert.deepEqual([pending[0]!.name, pending.at(-1)!.name], ['p08', 'p39'], 'oldest first; a repeat is one row');
  await store.dropPendingRemoval('PLG-1', 'p08');
  assert.equal((await store.pendingRemovals('PLG-1'))[0]!.name, 'p09');

  const exported = (await store.exportAccount('a'))!;
  assert.equal(JSON.stringify(exported).includes('$argon2id'), false, 'no password hash');
  assert.equal(JSON.stringify(exported).includes('"ff"'), false, "no token's hash");
  assert.equal((exported.notifications as unknown[]).length, 2);
  assert.equal((exported.removalsNotYetDelivered as unknown[]).length, 31, 'the removals kept for its devices');

  await store.deleteAccount('a');
  assert.equal(await store.exportAccount('a'), undefined);
  assert.equal(await store.accountToken('t2'), undefined);
  assert.deepEqual(await store.notifications('a', 10), []);
  assert.deepEqual(await store.householdMemberships('b'), [], "b's place in a's household went with it");
  assert.ok(await store.accountById('b'));
  assert.equal(await store.removeHouseholdMember('a', 'b'), false);
  assert.deepEqual(await store.pendingRemovals('PLG-1'), [], "the owner's kept removals went too");
}

test('the account tables work on SQLite', async () => {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  try {
    await exercise(store);
  } finally {
    await store.close();
  }
});

test('the account tables work the same on PostgreSQL', { timeout: 120_000 }, async (t) => {
  if (!needTool(t, 'postgresql')) return;
  const pg = await startPostgres();
  const store = await SqlStore.open(await openPostgresDriver({ url: await pg.createDatabase('accounts') }));
  try {
    await exercise(store);
  } finally {
    await store.close();
    await pg.stop();
  }
});
