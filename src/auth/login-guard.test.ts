import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginGuard, emptyDeviceCookieState, emptyLockoutState } from './index.ts';
import type { LoginGuardState } from './index.ts';

const T0 = 1_750_000_000_000;
const KEY = Buffer.alloc(32, 9);
const fresh = (): LoginGuardState => ({ lockout: emptyLockoutState(), cookies: emptyDeviceCookieState() });

/** 24 addresses x 5 wrong guesses, one per 100 ms. */
function spreadGuessing(guard: LoginGuard, state: LoginGuardState, from: number): LoginGuardState {
  let s = state;
  for (let a = 0; a < 24; a++) {
    const source = `127.0.0.${10 + a}`;
    for (let i = 0; i < 5; i++) s = guard.admit(s, KEY, { source, account: 'admin' }, from + (a * 5 + i) * 100).state;
  }
  return s;
}

test("a guesser spread over 24 addresses locks out new browsers, never the owner's browser with its cookie", () => {
  const guard = new LoginGuard();
  let state = fresh();
  const first = guard.admit(state, KEY, { source: '127.0.0.2', account: 'admin' }, T0);
  assert.equal(first.ticket.trusted, false);
  const ok = guard.recordSuccess(first.state, KEY, first.ticket, T0);
  state = spreadGuessing(guard, ok.state, T0 + 1_000);
  const now = T0 + 20_000;
  const owner = guard.admit(state, KEY, { source: '127.0.0.10', account: 'admin', deviceCookie: ok.deviceCookie }, now);
  assert.deepEqual(owner.decision, { allowed: true }, 'from an address that is backing off, too');
  assert.equal(owner.ticket.trusted, true);
  assert.deepEqual(owner.state.lockout, state.lockout, 'a trusted attempt touches no address or account counter');
  const stranger = guard.admit(state, KEY, { source: '127.0.0.50', account: 'admin' }, now);
  assert.equal(stranger.decision.allowed, false);
  assert.equal(!stranger.decision.allowed && stranger.decision.scope, 'account');
});

test('a physical unlock lifts the account ceiling (not the per-address back-off) until one new browser is in', () => {
  const guard = new LoginGuard();
  let state = spreadGuessing(guard, fresh(), T0);
  const now = T0 + 20_000;
  state = guard.unlock(state, now);
  const attacker = guard.admit(state, KEY, { source: '127.0.0.10', account: 'admin' }, now);
  assert.equal(!attacker.decision.allowed && attacker.decision.scope, 'source', 'an attacker address stays slowed');
  const owner = guard.admit(state, KEY, { source: '127.0.0.50', account: 'admin' }, now);
  assert.deepEqual(owner.decision, { allowed: true });
  const done = guard.recordSuccess(owner.state, KEY, owner.ticket, now);
  assert.equal(guard.cookies.isUnlocked(done.state.cookies, now), false, 'the unlock ends with the first new login');
  assert.equal(guard.admit(done.state, KEY, { source: '127.0.0.51', account: 'admin' }, now).decision.allowed, false);
  const trusted = { source: '127.0.0.51', account: 'admin', deviceCookie: done.deviceCookie };
  assert.equal(guard.admit(done.state, KEY, trusted, now).decision.allowed, true, 'the new browser is trusted now');
  const expired = guard.admit(guard.unlock(state, now - 300_000), KEY, { source: '127.0.0.52', account: 'admin' }, now);
  assert.equal(expired.decision.allowed, false, 'the unlock runs out after 5 minutes');
});

test('a stolen cookie gets 5 guesses, then waits; it is not counted against addresses or the account', () => {
  const guard = new LoginGuard();
  const cookie = guard.cookies.issue(KEY, 'admin', T0);
  let state = fresh();
  const decisions: boolean[] = [];
  for (let i = 0; i < 7; i++) {
    const r = guard.admit(state, KEY, { source: '127.0.0.9', account: 'admin', deviceCookie: cookie }, T0 + i);
    decisions.push(r.decision.allowed);
    state = r.state;
  }
  assert.deepEqual(decisions, [true, true, true, true, true, false, false]);
  assert.equal(state.lockout.sources.length + state.lockout.accounts.length, 0);
  const other = guard.admit(state, KEY, { source: '127.0.0.9', account: 'admin' }, T0 + 10);
  assert.equal(other.decision.allowed, true, "without the cookie, the address's own budget is untouched");
});

test('a cookie for another account counts as no cookie', () => {
  const guard = new LoginGuard();
  const cookie = guard.cookies.issue(KEY, 'someone-else', T0);
  const r = guard.admit(fresh(), KEY, { source: '127.0.0.9', account: 'admin', deviceCookie: cookie }, T0);
  assert.equal(r.ticket.trusted, false);
  assert.equal(r.state.lockout.sources.length, 1);
});

/** Whether each of `n` wrong guesses at `account` is admitted, from addresses that change every 5 guesses. */
function guessAt(guard: LoginGuard, account: string, unknown: boolean, n: number): boolean[] {
  let state = fresh();
  const allowed: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const attempt = { source: `127.1.${Math.floor(i / 5)}.1`, account, unknown };
    const r = guard.admit(state, KEY, attempt, T0 + i * 100);
    allowed.push(r.decision.allowed);
    state = r.state;
  }
  return allowed;
}

test('a name nobody has backs off exactly as a person does: the answers do not tell which names exist', () => {
  const guard = new LoginGuard();
  const person = guessAt(guard, 'bea#1', false, 110);
  const nobody = guessAt(guard, guard.unknownNameAccount(KEY, 'zzz'), true, 110);
  assert.deepEqual(nobody, person);
  assert.equal(person.indexOf(false), 100, 'the account-wide ceiling, after 100 failures');
});

test('guesses at one name nobody has do not hold back another name nobody has, nor a person', () => {
  const guard = new LoginGuard();
  let state = fresh();
  const zzz = guard.unknownNameAccount(KEY, 'zzz');
  for (let i = 0; i < 100; i++) {
    state = guard.admit(state, KEY, { source: `127.2.${Math.floor(i / 5)}.1`, account: zzz, unknown: true }, T0).state;
  }
  const again = guard.admit(state, KEY, { source: '127.3.0.1', account: zzz, unknown: true }, T0 + 100);
  assert.equal(!again.decision.allowed && again.decision.scope, 'account');
  const yyy = { source: '127.3.0.2', account: guard.unknownNameAccount(KEY, 'yyy'), unknown: true };
  assert.deepEqual(guard.admit(state, KEY, yyy, T0 + 100).decision, { allowed: true });
  assert.deepEqual(guard.admit(state, KEY, { source: '127.3.0.3', account: 'admin' }, T0 + 100).decision, {
    allowed: true,
  });
  assert.deepEqual(state.lockout.accounts, [], "a person's table is untouched");
});

test('the account of a name nobody has ignores case, differs per name and per installation, and hides the name', () => {
  const guard = new LoginGuard();
  const zzz = guard.unknownNameAccount(KEY, 'zzz');
  assert.equal(guard.unknownNameAccount(KEY, 'ZzZ'), zzz);
  assert.notEqual(guard.unknownNameAccount(KEY, 'zzy'), zzz);
  assert.notEqual(guard.unknownNameAccount(Buffer.alloc(32, 8), 'zzz'), zzz);
  const typedPassword = 'Summer-Holiday-2024';
  const account = guard.unknownNameAccount(KEY, typedPassword);
  assert.ok(!account.toLowerCase().includes('summer') && account.length <= 32, account);
  const r = guard.admit(fresh(), KEY, { source: '127.0.0.9', account, unknown: true }, T0);
  assert.doesNotMatch(JSON.stringify(r.state), /summer/i);
});
