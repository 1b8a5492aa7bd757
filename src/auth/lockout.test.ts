import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  LockoutPolicy,
  emptyLockoutState,
  parseLockoutState,
  serialiseLockoutState,
  validateLockoutConfig,
  sourceKeyFor,
} from './index.ts';
import type { LockoutState, LockoutAttempt } from './index.ts';

const T0 = 1_750_000_000_000;
const attacker: LockoutAttempt = { source: '127.0.0.1', account: 'owner' };
const owner: LockoutAttempt = { source: '127.0.0.2', account: 'owner' };

/** `n` attempts by `attempt` against `state`, one per second from `now`. */
type AttemptRun = [policy: LockoutPolicy, state: LockoutState, attempt: LockoutAttempt, n: number, now: number];

/** Makes `n` admitted, failed attempts, one per second from `now`. */
function failTimes(...[policy, state, attempt, n, now]: AttemptRun): LockoutState {
  let s = state;
  for (let i = 0; i < n; i++) {
    const r = policy.admit(s, attempt, now + i * 1_000);
    assert.equal(r.decision.allowed, true, `attempt ${i + 1} should be admitted`);
    s = r.state;
  }
  return s;
}

/** Records `n` failures one second apart (as a caller that checks, then records, would). */
function recordFailures(...[policy, state, attempt, n, now]: AttemptRun): LockoutState {
  let s = state;
  for (let i = 0; i < n; i++) s = policy.recordFailure(s, attempt, now + i * 1_000);
  return s;
}

test('locks a source out after 5 failures, before any hash is computed', () => {
  const policy = new LockoutPolicy();
  let state = failTimes(policy, emptyLockoutState(), attacker, 5, T0);
  const now = T0 + 5_000;
  const r = policy.admit(state, attacker, now);
  assert.deepEqual(r.decision, { allowed: false, retryAfterSeconds: 29, scope: 'source' });
  state = r.state;
  // A refused attempt is not charged: it did not get to guess.
  assert.equal(state.sources.find((x) => x.key === attacker.source)?.failures, 5);
});

test('backs off 30 s after the 5th failure, doubling with each further failure, capped at 1 hour', () => {
  const policy = new LockoutPolicy();
  let state = emptyLockoutState();
  let now = T0;
  const waits: number[] = [];
  for (let i = 0; i < 14; i++) {
    const r = policy.admit(state, attacker, now);
    if (!r.decision.allowed) {
      waits.push(r.decision.retryAfterSeconds);
      now += r.decision.retryAfterSeconds * 1_000;
      i--;
      continue;
    }
    state = r.state;
  }
  assert.deepEqual(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
});

test('does not lock the owner out from another address', () => {
  const policy = new LockoutPolicy();
  let state = failTimes(policy, emptyLockoutState(), attacker, 5, T0);
  assert.equal(policy.check(state, attacker, T0 + 6_000).allowed, false);
  const r = policy.admit(state, owner, T0 + 6_000);
  assert.equal(r.decision.allowed, true);
  state = policy.recordSuccess(r.state, owner, T0 + 6_500);
  assert.equal(policy.check(state, owner, T0 + 7_000).allowed, true);
  assert.equal(policy.check(state, attacker, T0 + 7_000).allowed, false);
});

test('bounds the total guessing rate against an account across many addresses', () => {
  const policy = new LockoutPolicy({ accountThreshold: 20 });
  let state = emptyLockoutState();
  for (let i = 0; i < 20; i++) state = failTimes(policy, state, { source: `10.0.0.${i}`, account: 'owner' }, 1, T0 + i);
  const d = policy.check(state, { source: '10.0.1.1', account: 'owner' }, T0 + 100);
  assert.equal(d.allowed, false);
  assert.equal(d.allowed === false && d.scope, 'account');
});

test('a success resets the source counter', () => {
  const policy = new LockoutPolicy();
  let state = failTimes(policy, emptyLockoutState(), owner, 4, T0);
  const r = policy.admit(state, owner, T0 + 4_000);
  state = policy.recordSuccess(r.state, owner, T0 + 4_100);
  assert.equal(
    state.sources.find((x) => x.key === owner.source),
    undefined,
  );
  state = failTimes(policy, state, owner, 4, T0 + 5_000);
  assert.equal(policy.check(state, owner, T0 + 10_000).allowed, true);
});

test('a success refunds only its own charge on the account', () => {
  const policy = new LockoutPolicy();
  let state = failTimes(policy, emptyLockoutState(), attacker, 3, T0);
  const r = policy.admit(state, owner, T0 + 3_000);
  state = policy.recordSuccess(r.state, owner, T0 + 3_100);
  assert.equal(state.accounts.find((x) => x.key === 'owner')?.failures, 3);
});

test('counts concurrent attempts from one source as they are admitted', () => {
  const policy = new LockoutPolicy();
  let state = emptyLockoutState();
  let admitted = 0;
  for (let i = 0; i < 20; i++) {
    const r = policy.admit(state, attacker, T0); // all at the same instant, none finished yet
    state = r.state;
    if (r.decision.allowed) admitted++;
  }
  assert.equal(admitted, 5);
});

test('forgets a source after the configured quiet period', () => {
  const policy = new LockoutPolicy({ forgetAfterMs: 7_200_000 });
  let state = recordFailures(policy, emptyLockoutState(), attacker, 7, T0);
  state = policy.prune(state, T0 + 7_200_000 + 7_000);
  assert.deepEqual(state.sources, []);
  assert.deepEqual(state.accounts, []);
});

test('caps the number of tracked sources, evicting the oldest', () => {
  const policy = new LockoutPolicy({ maxTrackedSources: 16 });
  let state = emptyLockoutState();
  for (let i = 0; i < 40; i++)
    state = policy.recordFailure(state, { source: `198.51.100.${i}`, account: 'owner' }, T0 + i);
  assert.equal(state.sources.length, 16);
  assert.deepEqual(
    state.sources.map((r) => r.key),
    Array.from({ length: 16 }, (_, i) => `198.51.100.${i + 24}`),
  );
});

test('a clock that jumps backwards never locks for longer than the cap', () => {
  const policy = new LockoutPolicy();
  const state = recordFailures(policy, emptyLockoutState(), attacker, 20, T0 + 86_400_000);
  const d = policy.check(state, attacker, T0);
  assert.ok(!d.allowed && d.retryAfterSeconds <= 3_600);
});

test('refuses a config that disables or weakens lockout, naming the key', () => {
  const cases: Array<[Record<string, number>, string]> = [
    [{ sourceThreshold: 0 }, 'sourceThreshold'],
    [{ sourceThreshold: 21 }, 'sourceThreshold'],
    [{ accountThreshold: 4 }, 'accountThreshold'],
    [{ accountThreshold: 1_000_000 }, 'accountThreshold'],
    [{ baseDelayMs: 0 }, 'baseDelayMs'],
    [{ maxDelayMs: 10_000 }, 'maxDelayMs'],
    [{ forgetAfterMs: 60_000 }, 'forgetAfterMs'],
    [{ maxTrackedSources: 0 }, 'maxTrackedSources'],
    [{ sourceThreshold: 2.5 }, 'sourceThreshold'],
  ];
  for (const [config, key] of cases) {
    assert.throws(
      () => validateLockoutConfig(config),
      (e: unknown) => hasCode(e, 'LOCKOUT_CONFIG_INVALID') && (e as { key: string }).key === key,
      key,
    );
  }
});

test('refuses bad attempt keys and times with INVALID_INPUT', () => {
  const policy = new LockoutPolicy();
  assert.throws(
    () => policy.check(emptyLockoutState(), { source: '', account: 'owner' }, T0),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => policy.check(emptyLockoutState(), { source: 'x'.repeat(129), account: 'owner' }, T0),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
  assert.throws(
    () => policy.check(emptyLockoutState(), attacker, Number.NaN),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
});

test('keys IPv4 sources by address and IPv6 sources by /64', () => {
  assert.equal(sourceKeyFor('127.0.0.2'), '127.0.0.2');
  assert.equal(sourceKeyFor('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(sourceKeyFor('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(sourceKeyFor('2001:db8:1:2::ffff'), sourceKeyFor('2001:DB8:1:2:aaaa::1'));
  assert.notEqual(sourceKeyFor('2001:db8:1:2::1'), sourceKeyFor('2001:db8:1:3::1'));
  assert.equal(sourceKeyFor('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.throws(
    () => sourceKeyFor('localhost'),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
});

test('round-trips state through serialise and parse', () => {
  const policy = new LockoutPolicy();
  const state = failTimes(policy, emptyLockoutState(), attacker, 3, T0);
  assert.deepEqual(parseLockoutState(serialiseLockoutState(state)), state);
});

test('refuses tampered or malformed state with LOCKOUT_STATE_INVALID', () => {
  const good = { version: 1, sources: [{ key: 'a', failures: 1, lastFailureAt: 1 }], accounts: [] };
  const bad: unknown[] = [
    null,
    [],
    'x',
    { ...good, version: 2 },
    { ...good, extra: 1 },
    { version: 1, sources: [] },
    { ...good, sources: [{ key: 'a', failures: 0, lastFailureAt: 1 }] },
    { ...good, sources: [{ key: 'a', failures: 1.5, lastFailureAt: 1 }] },
    { ...good, sources: [{ key: 'a', failures: 1, lastFailureAt: -1 }] },
    { ...good, sources: [{ key: 'a', failures: 1, lastFailureAt: 1, x: 1 }] },
    { ...good, sources: [{ key: '', failures: 1, lastFailureAt: 1 }] },
    {
      ...good,
      sources: [
        { key: 'a', failures: 1, lastFailureAt: 1 },
        { key: 'a', failures: 2, lastFailureAt: 2 },
      ],
    },
  ];
  for (const value of bad) {
    assert.throws(
      () => parseLockoutState(JSON.stringify(value)),
      (e: unknown) => hasCode(e, 'LOCKOUT_STATE_INVALID'),
      JSON.stringify(value),
    );
  }
  assert.throws(
    () => parseLockoutState('{'),
    (e: unknown) => hasCode(e, 'LOCKOUT_STATE_INVALID'),
  );
  assert.throws(
    () => parseLockoutState('{"__proto__":{"x":1},"version":1,"sources":[],"accounts":[]}'),
    (e: unknown) => hasCode(e, 'LOCKOUT_STATE_INVALID'),
  );
});

const opArb = fc.record({
  kind: fc.constantFrom('admit', 'fail', 'success', 'prune'),
  source: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '2001:db8::/64', 'x'),
  account: fc.constantFrom('owner', 'admin', '*unknown*'),
  dt: fc.integer({ min: 0, max: 4_000_000 }),
});

function run(
  policy: LockoutPolicy,
  ops: Array<{ kind: string; source: string; account: string; dt: number }>,
): LockoutState {
  let state = emptyLockoutState();
  let now = T0;
  for (const op of ops) {
    now += op.dt;
    const attempt = { source: op.source, account: op.account };
    if (op.kind === 'admit') state = policy.admit(state, attempt, now).state;
    else if (op.kind === 'fail') state = policy.recordFailure(state, attempt, now);
    else if (op.kind === 'success') state = policy.recordSuccess(state, attempt, now);
    else state = policy.prune(state, now);
  }
  return state;
}

test('parse(serialise(s)) round-trips any reachable state, which stays within its bounds (property)', () => {
  const policy = new LockoutPolicy({ maxTrackedSources: 16, maxTrackedAccounts: 2 });
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const state = run(policy, ops);
      assert.deepEqual(parseLockoutState(serialiseLockoutState(state)), state);
      assert.ok(state.sources.length <= 16 && state.accounts.length <= 2);
    }),
    { numRuns: 300 },
  );
});

test('admits at most 5 attempts from one source within 30 s, whatever the interleaving (property)', () => {
  const policy = new LockoutPolicy();
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 29_999 }), { minLength: 1, maxLength: 60 }), (offsets) => {
      let state = emptyLockoutState();
      let admitted = 0;
      for (const t of [...offsets].sort((a, b) => a - b)) {
        const r = policy.admit(state, attacker, T0 + t);
        state = r.state;
        if (r.decision.allowed) admitted++;
      }
      assert.ok(admitted <= 5);
    }),
    { numRuns: 200 },
  );
});

test('random JSON given to parse is a typed error or a valid state, never a crash (property)', () => {
  const recordish = fc.record(
    {
      key: fc.string(),
      failures: fc.oneof(fc.integer(), fc.double()),
      lastFailureAt: fc.oneof(fc.integer(), fc.double()),
    },
    { requiredKeys: [] },
  );
  const stateish = fc.record(
    {
      version: fc.oneof(fc.constant(1), fc.jsonValue()),
      sources: fc.oneof(fc.array(recordish), fc.jsonValue()),
      accounts: fc.oneof(fc.array(recordish), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), stateish), (value) => {
      const text = JSON.stringify(value) ?? 'null';
      try {
        const state = parseLockoutState(text);
        assert.deepEqual(parseLockoutState(serialiseLockoutState(state)), state);
      } catch (e) {
        assert.ok(hasCode(e, 'LOCKOUT_STATE_INVALID'), String(e));
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      try {
        parseLockoutState(text);
      } catch (e) {
        assert.ok(hasCode(e, 'LOCKOUT_STATE_INVALID'), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
