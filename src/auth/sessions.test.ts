import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  SessionStore,
  parseSessionState,
  serialiseSessionState,
  validateSessionConfig,
  emptySessionState,
  isWellFormedToken,
} from './index.ts';

const T0 = 1_750_000_000_000;
const MIN = 60_000;

test('creates sessions with 256-bit base64url ids and CSRF tokens, all distinct', () => {
  const store = new SessionStore();
  const ids = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const s = store.create('owner', T0);
    assert.ok(isWellFormedToken(s.id) && isWellFormedToken(s.csrfToken));
    assert.equal(Buffer.from(s.id, 'base64url').length, 32);
    assert.notEqual(s.id, s.csrfToken);
    ids.add(s.id);
  }
  assert.equal(ids.size, 8);
});

test('never stores the raw session id, only its SHA-256', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  const text = store.serialise();
  assert.ok(!text.includes(id));
  assert.ok(text.includes(createHash('sha256').update(id).digest('base64url')));
});

test('validates a live session and returns its user and CSRF token', () => {
  const store = new SessionStore();
  const s = store.create('owner', T0);
  const view = store.validate(s.id, T0 + MIN);
  assert.equal(view?.user, 'owner');
  assert.equal(view?.csrfToken, s.csrfToken);
  assert.equal(view?.absoluteExpiresAt, T0 + 12 * 60 * MIN);
});

test('ends a session after 15 minutes idle', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  assert.ok(store.validate(id, T0 + 15 * MIN - 1));
  assert.equal(store.validate(id, T0 + 15 * MIN), null);
  assert.deepEqual(store.touch(id, T0 + 15 * MIN), { session: null, changed: true });
  assert.equal(store.size, 0);
});

test('activity keeps a session alive, but never beyond 12 hours', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  let now = T0;
  while (now < T0 + 12 * 60 * MIN - 10 * MIN) {
    now += 10 * MIN;
    assert.ok(store.touch(id, now).session, `alive at ${(now - T0) / MIN} min`);
  }
  assert.equal(store.touch(id, T0 + 12 * 60 * MIN).session, null);
});

test('records activity at most once a minute, so not every request is a write', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  assert.equal(store.touch(id, T0 + 1_000).changed, false);
  assert.equal(store.touch(id, T0 + MIN).changed, true);
  assert.equal(store.touch(id, T0 + MIN + 1_000).changed, false);
});

test('ends sessions when the clock is set back before their login', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  assert.equal(store.validate(id, T0 - 1), null);
  assert.equal(store.validate(id, 0), null);
});

test('logout destroys the session', () => {
  const store = new SessionStore();
  const { id } = store.create('owner', T0);
  assert.equal(store.destroy(id), true);
  assert.equal(store.validate(id, T0), null);
  assert.equal(store.destroy(id), false);
});

test('a password change ends every session of that user and no other', () => {
  const store = new SessionStore();
  const a = store.create('owner', T0);
  const b = store.create('owner', T0);
  const c = store.create('guest', T0);
  assert.equal(store.destroyAllFor('owner'), 2);
  assert.equal(store.validate(a.id, T0), null);
  assert.equal(store.validate(b.id, T0), null);
  assert.ok(store.validate(c.id, T0));
});

test("accepts the session's own CSRF token and refuses any other", () => {
  const store = new SessionStore();
  const a = store.create('owner', T0);
  const b = store.create('owner', T0);
  assert.equal(store.verifyCsrf(a.id, a.csrfToken, T0), true);
  assert.equal(store.verifyCsrf(a.id, b.csrfToken, T0), false);
  assert.equal(store.verifyCsrf(a.id, '', T0), false);
  assert.equal(store.verifyCsrf(a.id, a.csrfToken + 'x', T0), false);
  assert.equal(store.verifyCsrf(a.id, a.csrfToken.slice(0, 42) + '=', T0), false);
  assert.equal(store.verifyCsrf(a.id, 42 as unknown as string, T0), false);
  assert.equal(store.verifyCsrf(b.csrfToken, a.csrfToken, T0), false);
  assert.equal(store.verifyCsrf(a.id, a.csrfToken, T0 + 15 * MIN), false);
});

test('refuses ids that are not shaped like ours without looking them up', () => {
  const store = new SessionStore();
  store.create('owner', T0);
  for (const id of [
    '',
    'x',
    'A'.repeat(42),
    'A'.repeat(44),
    'A'.repeat(42) + 'B',
    '../../etc/passwd',
    'A'.repeat(100_000),
  ]) {
    assert.equal(store.validate(id, T0), null);
    assert.equal(store.destroy(id), false);
  }
});

test('bounds sessions per user, ending the least recently used', () => {
  const store = new SessionStore({ maxSessionsPerUser: 3 });
  const first = store.create('owner', T0);
  const second = store.create('owner', T0 + 1);
  store.touch(first.id, T0 + 2 * MIN); // first is now more recent than second
  store.create('owner', T0 + 3 * MIN);
  const fourth = store.create('owner', T0 + 4 * MIN);
  assert.equal(store.validate(second.id, T0 + 4 * MIN), null);
  assert.ok(store.validate(first.id, T0 + 4 * MIN));
  assert.ok(store.validate(fourth.id, T0 + 4 * MIN));
  assert.equal(store.size, 3);
});

test('bounds sessions in all, ending the least recently used', () => {
  const store = new SessionStore({ maxSessionsPerUser: 2, maxSessions: 4 });
  const made = Array.from({ length: 6 }, (_, i) => store.create(`user${i}`, T0 + i));
  assert.equal(store.size, 4);
  assert.equal(store.validate(made[0]!.id, T0 + 10), null);
  assert.equal(store.validate(made[1]!.id, T0 + 10), null);
  assert.ok(store.validate(made[5]!.id, T0 + 10));
});

test('persists and restores the table', () => {
  const store = new SessionStore();
  const s = store.create('owner', T0);
  const restored = new SessionStore({}, parseSessionState(store.serialise()));
  assert.equal(restored.validate(s.id, T0 + MIN)?.csrfToken, s.csrfToken);
  assert.equal(restored.verifyCsrf(s.id, s.csrfToken, T0 + MIN), true);
});

test('refuses an unsafe session config, naming the key', () => {
  const cases: Array<[Record<string, number>, string]> = [
    [{ idleTimeoutMs: 0 }, 'idleTimeoutMs'],
    [{ idleTimeoutMs: 86_400_000 }, 'idleTimeoutMs'],
    [{ absoluteTimeoutMs: 60_000 }, 'absoluteTimeoutMs'],
    [{ absoluteTimeoutMs: 7 * 86_400_000 }, 'absoluteTimeoutMs'],
    [{ maxSessionsPerUser: 0 }, 'maxSessionsPerUser'],
    [{ maxSessions: 2 }, 'maxSessions'],
    [{ touchIntervalMs: 600_000 }, 'touchIntervalMs'],
  ];
  for (const [config, key] of cases) {
    assert.throws(
      () => validateSessionConfig(config),
      (e: unknown) => hasCode(e, 'SESSION_CONFIG_INVALID') && (e as { key: string }).key === key,
      key,
    );
  }
});

test('refuses malformed persisted state with SESSION_STATE_INVALID', () => {
  const good = new SessionStore();
  good.create('owner', T0);
  const record = good.state.sessions[0]!;
  const bad: unknown[] = [
    null,
    [],
    { version: 1 },
    { version: 2, sessions: [] },
    { version: 1, sessions: {} },
    { version: 1, sessions: [{ ...record, extra: 1 }] },
    { version: 1, sessions: [{ ...record, idHash: 'short' }] },
    { version: 1, sessions: [{ ...record, csrfToken: record.csrfToken.slice(0, 42) + '/' }] },
    { version: 1, sessions: [{ ...record, user: '' }] },
    { version: 1, sessions: [{ ...record, lastSeenAt: record.createdAt - 1 }] },
    { version: 1, sessions: [record, record] },
  ];
  for (const value of bad) {
    assert.throws(
      () => parseSessionState(JSON.stringify(value)),
      (e: unknown) => hasCode(e, 'SESSION_STATE_INVALID'),
      JSON.stringify(value),
    );
  }
  assert.throws(
    () => parseSessionState('not json'),
    (e: unknown) => hasCode(e, 'SESSION_STATE_INVALID'),
  );
});

test('parse(serialise(s)) round-trips any reachable table (property)', () => {
  const op = fc.record({
    kind: fc.constantFrom('create', 'touch', 'destroy', 'destroyAll', 'prune'),
    user: fc.constantFrom('owner', 'guest', 'admin'),
    pick: fc.nat(),
    dt: fc.integer({ min: 0, max: 20 * MIN }),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const store = new SessionStore({ maxSessionsPerUser: 3, maxSessions: 5 });
      const ids: string[] = [];
      let now = T0;
      for (const o of ops) {
        now += o.dt;
        const id = ids[o.pick % Math.max(ids.length, 1)] ?? 'none';
        if (o.kind === 'create') ids.push(store.create(o.user, now).id);
        else if (o.kind === 'touch') store.touch(id, now);
        else if (o.kind === 'destroy') store.destroy(id);
        else if (o.kind === 'destroyAll') store.destroyAllFor(o.user);
        else store.prune(now);
        assert.ok(store.size <= 5);
      }
      const state = parseSessionState(store.serialise());
      assert.deepEqual(state, store.state);
      assert.equal(serialiseSessionState(state), store.serialise());
      const restored = new SessionStore({ maxSessionsPerUser: 3, maxSessions: 5 }, state);
      for (const id of ids) assert.deepEqual(restored.validate(id, now), store.validate(id, now));
    }),
    { numRuns: 200 },
  );
});

test('random JSON given to parse is a typed error or a valid table, never a crash (property)', () => {
  const tokenish = fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/));
  const recordish = fc.record(
    {
      idHash: tokenish,
      user: fc.string(),
      csrfToken: tokenish,
      createdAt: fc.oneof(fc.integer(), fc.double()),
      lastSeenAt: fc.oneof(fc.integer(), fc.double()),
    },
    { requiredKeys: [] },
  );
  const stateish = fc.record(
    { version: fc.oneof(fc.constant(1), fc.jsonValue()), sessions: fc.oneof(fc.array(recordish), fc.jsonValue()) },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), stateish, fc.string()), (value) => {
      const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
      try {
        const state = parseSessionState(text);
        new SessionStore({}, state);
      } catch (e) {
        assert.ok(hasCode(e, 'SESSION_STATE_INVALID'), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('an empty state makes an empty store', () => {
  assert.equal(new SessionStore({}, emptySessionState()).size, 0);
});
