import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UserError } from './errors.ts';
import { hashPassword } from './password-hash.ts';
import {
  FIRST_OWNER_NAME,
  USER_LIST_BOUNDS,
  accessEnded,
  addUser,
  changeUserRole,
  cookieAccountOf,
  emptyUserList,
  findUser,
  normaliseUserName,
  parseUserExpiry,
  parseUserList,
  removeUser,
  requireCapability,
  requireRole,
  serialiseUserList,
  setUserPassword,
  type UserList,
  parseUserRole,
} from './roles.ts';

const NOW = Date.parse('2030-06-01T12:00:00Z');
const hash = await hashPassword('a-password-made-for-this-test');
const withPeople = (): UserList => {
  let list = addUser(emptyUserList(), { name: 'Bea', role: 'member', passwordHash: hash }, [FIRST_OWNER_NAME], NOW);
  list = addUser(list, { name: 'gus', role: 'guest', passwordHash: hash }, [FIRST_OWNER_NAME], NOW);
  return list;
};
const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

test('names are 1-32 safe characters, kept in lower case', () => {
  assert.equal(normaliseUserName('Bea.Smith-2'), 'bea.smith-2');
  assert.equal(normaliseUserName('x'.repeat(32)), 'x'.repeat(32));
  for (const bad of ['', 'x'.repeat(33), 'bea smith', '-bea', 'bé', 'a/b', '<script>'])
    assert.throws(() => normaliseUserName(bad), code('USER_NAME_INVALID'), bad);
});

test('names are unique ignoring case, the first owner’s included; the list is bounded', () => {
  const list = withPeople();
  assert.equal(findUser(list, 'BEA')?.role, 'member');
  const dup = { name: 'bEa', role: 'guest', passwordHash: hash } as const;
  assert.throws(() => addUser(list, dup, [FIRST_OWNER_NAME], NOW), code('USER_EXISTS'));
  const admin = { name: 'Admin', role: 'owner', passwordHash: hash } as const;
  assert.throws(() => addUser(list, admin, [FIRST_OWNER_NAME], NOW), code('USER_EXISTS'));
  let full = emptyUserList();
  for (let i = 0; i < USER_LIST_BOUNDS.maxUsers; i++)
    full = addUser(full, { name: `p${i}`, role: 'member', passwordHash: hash }, [], NOW);
  const more = { name: 'one-more', role: 'member', passwordHash: hash } as const;
  assert.throws(() => addUser(full, more, [], NOW), code('USER_LIMIT'));
});

test('a guest’s end date runs to the end of the day given; a past one or a member’s is refused', () => {
  assert.equal(parseUserExpiry('2030-06-02', 'guest', NOW), '2030-06-03T00:00:00.000Z');
  assert.equal(parseUserExpiry('', 'guest', NOW), undefined);
  assert.throws(() => parseUserExpiry('2030-05-31', 'guest', NOW), code('USER_EXPIRY_INVALID'));
  assert.throws(() => parseUserExpiry('2030-06-02', 'member', NOW), code('USER_EXPIRY_INVALID'));
  assert.throws(() => parseUserExpiry('soon', 'guest', NOW), code('USER_EXPIRY_INVALID'));
  const guest = { expiresAt: '2030-06-03T00:00:00.000Z' };
  assert.equal(accessEnded(guest, NOW), false);
  assert.equal(accessEnded(guest, Date.parse(guest.expiresAt)), true);
  assert.equal(accessEnded({}, NOW * 2), false, 'no end date: no end');
});

test('changing a role drops a guest’s end date; removing and re-adding makes new device-cookie binding', () => {
  let list = changeUserRole(withPeople(), 'gus', 'guest', '2031-01-01T00:00:00.000Z');
  assert.equal(findUser(list, 'gus')?.expiresAt, '2031-01-01T00:00:00.000Z');
  list = changeUserRole(list, 'gus', 'member');
  assert.equal(findUser(list, 'gus')?.expiresAt, undefined);
  assert.throws(() => changeUserRole(list, 'nobody', 'member'), code('USER_UNKNOWN'));
  const before = cookieAccountOf(findUser(list, 'bea')!);
  list = removeUser(list, 'BEA');
  assert.equal(findUser(list, 'bea'), undefined);
  assert.throws(() => removeUser(list, 'bea'), code('USER_UNKNOWN'));
  list = addUser(list, { name: 'bea', role: 'member', passwordHash: hash }, [], NOW);
  assert.notEqual(cookieAccountOf(findUser(list, 'bea')!), before, 'the old device cookies are void');
  const changed = setUserPassword(list, 'bea', hash, NOW + 1000);
  assert.equal(findUser(changed, 'bea')?.changedAt, new Date(NOW + 1000).toISOString());
});

test('a stored list round-trips; a tampered one is refused', () => {
  const list = withPeople();
  assert.deepEqual(parseUserList(serialiseUserList(list)), list);
  const tamper = (f: (o: { version: number; users: Array<Record<string, unknown>> }) => void): string => {
    const o = JSON.parse(serialiseUserList(list)) as { version: number; users: Array<Record<string, unknown>> };
    f(o);
    return JSON.stringify(o);
  };
  const bad = [
    'not json',
    tamper((o) => (o.version = 2)),
    tamper((o) => (o.users[0]!.role = 'root')),
    tamper((o) => (o.users[0]!.name = 'admin')),
    tamper((o) => (o.users[1]!.name = 'bea')),
    tamper((o) => (o.users[0]!.isAdmin = true)),
    tamper((o) => (o.users[0]!.passwordHash = 'plain')),
    tamper((o) => (o.users[0]!.expiresAt = '2031-01-01T00:00:00.000Z')),
  ];
  for (const text of bad) assert.throws(() => parseUserList(text), code('USER_STATE_INVALID'), text.slice(0, 60));
});

test('a member is refused what only an owner may do, a guest a sensitive or unknown capability', () => {
  const member = { name: 'bea', role: 'member' } as const;
  const guest = { name: 'gus', role: 'guest' } as const;
  const owner = { name: 'admin', role: 'owner' } as const;
  assert.throws(
    () => requireRole(member, 'owner', 'open the pairing window'),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'ROLE_REFUSED');
      assert.match(err.message, /^Only the owner can open the pairing window\. Signed in as bea \(member\)\.$/);
      return true;
    },
  );
  requireRole(owner, 'owner', 'x');
  requireRole(member, 'guest', 'x');
  assert.throws(() => requireRole(guest, 'member', 'x'), code('ROLE_REFUSED'));
  assert.throws(() => requireCapability(guest, 'bolt', true), code('ROLE_REFUSED'));
  assert.throws(() => requireCapability(guest, 'mystery', undefined), code('ROLE_REFUSED'));
  requireCapability(guest, 'power', false);
  requireCapability(member, 'bolt', true);
});

test('what the owner types into the People form is refused with a typed error, never anything else', () => {
  const typed = (f: () => unknown): void => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof UserError, String(err));
    }
  };
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.anything(), (text, value) => {
      typed(() => normaliseUserName(text));
      typed(() => parseUserRole(value));
      typed(() => parseUserExpiry(value, 'guest', NOW));
      typed(() => parseUserExpiry(text, 'guest', NOW));
      typed(() => parseUserList(text));
      const name = ((): string | undefined => {
        try {
          return normaliseUserName(text);
        } catch {
          return undefined;
        }
      })();
      if (name !== undefined) assert.match(name, /^[a-z0-9][a-z0-9._-]{0,31}$/);
    }),
    { numRuns: 500 },
  );
});
