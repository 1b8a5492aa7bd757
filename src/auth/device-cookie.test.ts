import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  DeviceCookiePolicy,
  createDeviceCookieKey,
  emptyDeviceCookieState,
  parseDeviceCookieKey,
  parseDeviceCookieState,
  serialiseDeviceCookieKey,
  serialiseDeviceCookieState,
  validateDeviceCookieConfig,
} from './index.ts';

const T0 = 1_750_000_000_000;
const DAY = 86_400_000;
const KEY = Buffer.alloc(32, 7);
const ID = 'AAAAAAAAAAAAAAAAAAAAAA';

test('signs the account, id and issue time with HMAC-SHA-256 under the key (a fixed vector)', () => {
  const policy = new DeviceCookiePolicy();
  const value = policy.issue(KEY, 'admin', T0, ID);
  const issued = String(T0 / 1_000);
  const mac = createHmac('sha256', KEY).update(`bulwark-device-cookie/1\nadmin\n${ID}\n${issued}`).digest('base64url');
  assert.equal(value, `${ID}.${issued}.${mac}`);
  assert.deepEqual(policy.verify(KEY, 'admin', value, T0), { trusted: true, id: ID });
});

test('a cookie is worth nothing for another account, under another key, once expired, or tampered with', () => {
  const policy = new DeviceCookiePolicy();
  const value = policy.issue(KEY, 'admin', T0);
  assert.equal(policy.verify(KEY, 'someone', value, T0).trusted, false);
  assert.equal(policy.verify(createDeviceCookieKey(), 'admin', value, T0).trusted, false);
  assert.equal(policy.verify(KEY, 'admin', value, T0 + 180 * DAY).trusted, false, '180 days is the default life');
  assert.equal(policy.verify(KEY, 'admin', value, T0 + 179 * DAY).trusted, true);
  assert.equal(policy.verify(KEY, 'admin', value, T0 - 3_600_000).trusted, false, 'issued in the future');
  for (const bad of [undefined, '', 'x', value + 'A', value.replace(/\.\d+\./, '.1.'), 'a'.repeat(500)]) {
    assert.equal(policy.verify(KEY, 'admin', bad, T0).trusted, false, String(bad).slice(0, 40));
  }
});

test('any change to a cookie makes it invalid (property)', () => {
  const policy = new DeviceCookiePolicy();
  const value = policy.issue(KEY, 'owner@example.com', T0);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
  fc.assert(
    fc.property(fc.nat(value.length - 1), fc.nat(alphabet.length - 1), (at, pick) => {
      const ch = alphabet[pick]!;
      fc.pre(ch !== value[at]);
      const changed = value.slice(0, at) + ch + value.slice(at + 1);
      const r = policy.verify(KEY, 'owner@example.com', changed, T0);
      // Base64url's last symbol carries 2 spare bits: a change there may decode to the same MAC, same id.
      if (r.trusted) assert.equal(at, value.length - 1);
    }),
  );
});

test('a cookie goes on the lockout list after 5 failures, for 15 minutes after each further one', () => {
  const policy = new DeviceCookiePolicy();
  let state = emptyDeviceCookieState();
  for (let i = 0; i < 5; i++) {
    const r = policy.admit(state, ID, T0 + i * 1_000);
    assert.equal(r.decision.allowed, true);
    state = r.state;
  }
  assert.deepEqual(policy.check(state, ID, T0 + 5_000), { allowed: false, retryAfterSeconds: 899, scope: 'cookie' });
  const other = 'BBBBBBBBBBBBBBBBBBBBBB';
  assert.equal(policy.check(state, other, T0 + 5_000).allowed, true, 'other cookies are not affected');
  const later = T0 + 4_000 + 900_000;
  const again = policy.admit(state, ID, later);
  assert.equal(again.decision.allowed, true, 'one more guess after the lock');
  assert.equal(policy.check(again.state, ID, later + 1).allowed, false, 'then locked again');
  assert.equal(policy.recordSuccess(again.state, ID, later).cookies.length, 0, 'a success forgets the failures');
});

test('the physical unlock lasts 5 minutes and can be ended', () => {
  const policy = new DeviceCookiePolicy();
  const s = policy.unlock(emptyDeviceCookieState(), T0);
  assert.equal(policy.isUnlocked(s, T0 + 299_999), true);
  assert.equal(policy.isUnlocked(s, T0 + 300_000), false);
  assert.equal(policy.prune(s, T0 + 300_000).untrustedUnlockedUntil, 0);
  assert.equal(policy.isUnlocked(policy.endUnlock(s), T0), false);
});

test('tracks at most maxTrackedCookies, evicting the oldest; forgets records after a day', () => {
  const policy = new DeviceCookiePolicy({ maxTrackedCookies: 16 });
  let state = emptyDeviceCookieState();
  for (let i = 0; i < 20; i++) state = policy.admit(state, `c${String(i).padStart(21, '0')}`, T0 + i).state;
  assert.equal(state.cookies.length, 16);
  assert.equal(state.cookies[0]!.key, `c${'4'.padStart(21, '0')}`);
  assert.equal(policy.prune(state, T0 + DAY + 100).cookies.length, 0);
});

test('refuses configurations that weaken the scheme, naming the key', () => {
  for (const [key, value] of [
    ['cookieFailureThreshold', 0],
    ['cookieFailureThreshold', 1_000],
    ['cookieLockoutMs', 1_000],
    ['cookieMaxAgeMs', 1_000 * DAY],
    ['maxTrackedCookies', 1],
    ['physicalUnlockMs', DAY],
    ['cookieForgetAfterMs', 1_000],
  ] as const) {
    const named = (e: unknown): boolean =>
      hasCode(e, 'DEVICE_COOKIE_CONFIG_INVALID') && (e as { key: string }).key === key;
    assert.throws(() => validateDeviceCookieConfig({ [key]: value }), named, key);
  }
});

test('state round-trips; a damaged state or key is refused with a typed error', () => {
  const policy = new DeviceCookiePolicy();
  const state = policy.unlock(policy.admit(emptyDeviceCookieState(), ID, T0).state, T0);
  assert.deepEqual(parseDeviceCookieState(serialiseDeviceCookieState(state)), state);
  for (const bad of [
    '',
    '{',
    '[]',
    '{"version":2,"cookies":[],"untrustedUnlockedUntil":0}',
    '{"version":1,"cookies":[],"untrustedUnlockedUntil":-1}',
    '{"version":1,"cookies":{},"untrustedUnlockedUntil":0}',
    '{"version":1,"cookies":[{"key":"a","failures":0,"lastFailureAt":1}],"untrustedUnlockedUntil":0}',
    '{"version":1,"cookies":[],"untrustedUnlockedUntil":0,"x":1}',
  ]) {
    assert.throws(
      () => parseDeviceCookieState(bad),
      (e: unknown) => hasCode(e, 'DEVICE_COOKIE_STATE_INVALID'),
      bad,
    );
  }
  const key = createDeviceCookieKey();
  assert.deepEqual(parseDeviceCookieKey(serialiseDeviceCookieKey(key)), key);
  const quiet = (e: unknown): boolean => hasCode(e, 'DEVICE_COOKIE_STATE_INVALID') && !String(e).includes('short');
  assert.throws(() => parseDeviceCookieKey('short'), quiet, 'refused without echoing the text');
});
