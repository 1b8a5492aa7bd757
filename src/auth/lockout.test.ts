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
  MAX_TRACKED_UNKNOWN_NAMES,
} from './index.ts';
import type { FailureRecord, LockoutState, LockoutAttempt } from './index.ts';

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

/** The decisions for `n` attempts at `account`, one address per `perSource` attempts, 100 ms apart. */
function decisionsFor(policy: LockoutPolicy, account: string, unknown: boolean, n: number, perSource: number) {
  let state = emptyLockoutState();
  const decisions = [];
  for (let i = 0; i < n; i++) {
    const attempt = { source: `10.1.${Math.floor(i / perSource)}.1`, account, unknown };
    const r = policy.admit(state, attempt, T0 + i * 100);
    decisions.push(r.decision);
    state = r.state;
  }
  return { decisions, state };
}

test('a name nobody has backs off exactly as a person does, on its own account', () => {
  const policy = new LockoutPolicy({ accountThreshold: 20 });
  const person = decisionsFor(policy, 'bea#1', false, 30, 4);
  const nobody = decisionsFor(policy, '?zzz', true, 30, 4);
  assert.deepEqual(nobody.decisions, person.decisions);
  assert.equal(person.decisions.filter((d) => !d.allowed).length, 10, 'the account ceiling holds after 20');
  assert.deepEqual(nobody.state.accounts, [], 'kept apart from the accounts');
  const counts = (records: readonly FailureRecord[]) => records.map((r) => [r.failures, r.lastFailureAt]);
  assert.deepEqual(counts(nobody.state.unknownNames), counts(person.state.accounts));
  // Another made-up name is its own account, as another person would be: the first one's ceiling is not its.
  const other = { source: '10.2.0.1', account: '?yyy', unknown: true };
  assert.deepEqual(policy.check(nobody.state, other, T0 + 3_100), { allowed: true });
});

test("spraying made-up names never evicts a person's record: their back-off stays", () => {
  const policy = new LockoutPolicy({ accountThreshold: 20, maxTrackedAccounts: 4 });
  let state = emptyLockoutState();
  for (const person of ['admin', 'bea#1', 'dee#2']) {
    for (let i = 0; i < 20; i++) state = policy.recordFailure(state, { source: `10.3.${i}.1`, account: person }, T0);
  }
  for (let i = 0; i < 3 * MAX_TRACKED_UNKNOWN_NAMES; i++) {
    state = policy.recordFailure(state, { source: `10.4.${i % 200}.1`, account: `?n${i}`, unknown: true }, T0 + i);
  }
  assert.deepEqual(
    state.accounts.map((r) => [r.key, r.failures]),
    [
      ['admin', 20],
      ['bea#1', 20],
      ['dee#2', 20],
    ],
  );
  assert.equal(state.unknownNames.length, MAX_TRACKED_UNKNOWN_NAMES, 'the table of names nobody has stays bounded');
  const d = policy.check(state, { source: '10.5.0.1', account: 'bea#1' }, T0 + 5_000);
  assert.equal(!d.allowed && d.scope, 'account');
});

test('a full table of names nobody has evicts the fewest failures first, never the name just charged', () => {
  const policy = new LockoutPolicy({ accountThreshold: 20 });
  const max = MAX_TRACKED_UNKNOWN_NAMES;
  const nobody = (account: string, i: number) => ({ source: `10.6.${i % 250}.1`, account, unknown: true });
  let state = emptyLockoutState();
  for (let i = 0; i < 20; i++) state = policy.recordFailure(state, nobody('?locked', i), T0 + i);
  for (let i = 0; i < 3; i++) state = policy.recordFailure(state, nobody('?thrice', i), T0 + 100 + i);
  // A spray of fresh names, each charged once, evicts only other fresh names.
  for (let i = 0; i < 2 * max; i++) state = policy.recordFailure(state, nobody(`?fresh${i}`, i), T0 + 1_000 + i);
  const kept = state.unknownNames.map((r) => r.key);
  assert.equal(kept.length, max);
  assert.deepEqual(kept.slice(0, 2), ['?locked', '?thrice']);
  const newest = Array.from({ length: max - 2 }, (_, i) => `?fresh${max + 2 + i}`);
  assert.deepEqual(kept.slice(2), newest, 'the newest fresh names');
  const d = policy.check(state, { source: '10.8.0.1', account: '?locked', unknown: true }, T0 + 9_000);
  assert.equal(!d.allowed && d.scope, 'account', 'the locked name is still locked');
  // When every other record has more failures, the name just charged is still kept; an older one goes.
  let full = emptyLockoutState();
  for (let k = 0; k < max; k++) {
    for (let i = 0; i < 2; i++) full = policy.recordFailure(full, nobody(`?two${k}`, i), T0 + k * 10 + i);
  }
  full = policy.recordFailure(full, nobody('?new', 0), T0 + max * 10);
  assert.equal(full.unknownNames.length, max);
  assert.equal(full.unknownNames.at(-1)?.key, '?new');
  assert.equal(full.unknownNames[0]?.key, '?two1', 'the oldest of the equals went');
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
  const withNobody = failTimes(policy, state, { source: '10.7.0.1', account: '?zzz', unknown: true }, 2, T0 + 9_000);
  assert.equal(withNobody.unknownNames.length, 1);
  assert.deepEqual(parseLockoutState(serialiseLockoutState(withNobody)), withNobody);
});

test('a state without names nobody has keeps the file shape older images read, and such a file parses', () => {
  const policy = new LockoutPolicy();
  const state = failTimes(policy, emptyLockoutState(), attacker, 2, T0);
  const text = serialiseLockoutState(state);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['version', 'sources', 'accounts']);
  const older = JSON.stringify({ version: 1, sources: state.sources, accounts: state.accounts });
  assert.deepEqual(parseLockoutState(older), state);
});

test('refuses tampered or malformed state with LOCKOUT_STATE_INVALID', () => {
  const good = { version: 1, sources: [{ key: 'a', failures: 1, lastFailureAt: 1 }], accounts: [] };
  const bad: unknown[] = [
    null,
    [],
    'x',
    { ...good, version: 2 },
    { ...good, extra: 1 },
    { ...good, unknownNames: {} },
    { ...good, unknownNames: [{ key: 'a', failures: 0, lastFailureAt: 1 }] },
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
  account: fc.oneof(
    fc.constantFrom('owner', 'admin'),
    fc.integer({ min: 0, max: 40 }).map((i) => `?n${i}`),
  ),
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
    const attempt = { source: op.source, account: op.account, unknown: op.account.startsWith('?') };
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
      assert.ok(
        state.accounts.every((r) => !r.key.startsWith('?')),
        'names nobody has stay out of the accounts',
      );
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
      unknownNames: fc.oneof(fc.array(recordish), fc.jsonValue()),
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
