import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_IDS } from '../policy/index.ts';
import { CHECK_RUNNERS, checkOrder } from './registry.ts';
import {
  validateAuditLimits,
  loopbackSources,
  DEFAULT_AUDIT_LIMITS,
  DEFAULT_CREDENTIALS,
  DEBUG_PORTS,
} from './config.ts';
import { parseForms, findLoginForm, decodeEntities } from './html-forms.ts';
import { parseHttpsTarget, parseSetCookies } from './net.ts';
import { AuditError } from './errors.ts';

test('every check of the catalogue has a runner, and black-box probes run before the white-box reads', () => {
  assert.deepEqual(Object.keys(CHECK_RUNNERS).sort(), [...CHECK_IDS].sort());
  const order = checkOrder([
    'journal.security-events',
    'policy.disclosure',
    'login.lockout',
    'tls.versions',
    'login.default-credentials',
    'http.cookie-flags',
  ]);
  assert.deepEqual(order, [
    'tls.versions',
    'login.default-credentials',
    'login.lockout',
    'http.cookie-flags',
    'journal.security-events',
    'policy.disclosure',
  ]);
});

test('limits: defaults are polite and anything less polite or unbounded is refused, naming the key', () => {
  assert.equal(validateAuditLimits().maxLockoutAttempts, 8);
  assert.ok(DEFAULT_CREDENTIALS.length <= 10);
  assert.ok(DEBUG_PORTS.some((p) => p.port === 9229) && DEBUG_PORTS.some((p) => p.port === 23));
  for (const [key, value] of [
    ['maxLockoutAttempts', 50],
    ['maxDefaultCredentialAttempts', 11],
    ['requestTimeoutMs', Infinity],
    ['portScanTimeoutMs', 1.5],
    ['nope', 1],
  ] as const) {
    assert.throws(
      () => validateAuditLimits({ [key]: value }),
      (e: unknown) => e instanceof AuditError && e.code === 'AUDIT_OPTIONS_INVALID' && e.key === `limits.${key}`,
    );
  }
  assert.throws(
    () => validateAuditLimits({ lockoutExpectedByAttempt: 8, maxLockoutAttempts: 4 }),
    /lockoutExpectedByAttempt/,
  );
  assert.equal(DEFAULT_AUDIT_LIMITS.lockoutExpectedByAttempt, 6);
});

test('each probe family gets its own loopback source address', () => {
  const s = loopbackSources();
  assert.equal(s.tls, '127.0.0.50');
  assert.equal(s.lockout, '127.0.0.56');
  assert.equal(new Set(Object.values(s)).size, Object.values(s).length);
  assert.throws(() => loopbackSources('10.0.0.1'), AuditError);
  assert.throws(() => loopbackSources('127.0.0.250'), AuditError);
});

test('targets: https only, no credentials in the URL, loopback recognised', () => {
  assert.deepEqual(
    (({ host, port, origin, loopback, loopbackV4 }) => ({ host, port, origin, loopback, loopbackV4 }))(
      parseHttpsTarget('https://127.0.0.1:8443')!,
    ),
    { host: '127.0.0.1', port: 8443, origin: 'https://127.0.0.1:8443', loopback: true, loopbackV4: true },
  );
  assert.equal(parseHttpsTarget('https://[::1]:8443')!.host, '::1');
  assert.equal(parseHttpsTarget('https://[::1]:8443')!.loopbackV4, false);
  assert.equal(parseHttpsTarget('https://plug.local')!.port, 443);
  assert.equal(parseHttpsTarget('http://127.0.0.1:8443'), undefined);
  assert.equal(parseHttpsTarget('https://admin:admin@127.0.0.1'), undefined);
  assert.equal(parseHttpsTarget('not a url'), undefined);
});

test('cookies are kept by name and attributes, never by value', () => {
  const [a, b] = parseSetCookies([
    '__Host-s=SECRETVALUE; Path=/; Secure; HttpOnly; SameSite=Strict',
    'old=; Max-Age=0',
  ]);
  assert.deepEqual(a, {
    name: '__Host-s',
    attributes: ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict'],
    cleared: false,
    path: '/',
  });
  assert.ok(!JSON.stringify(a).includes('SECRETVALUE'));
  assert.equal(b!.cleared, true);
});

test('login forms are found with their hidden fields; other forms are not login forms', () => {
  const html =
    `<form action="/search"><input name="q"></form>
<FORM method=POST action='/login?next=%2F'><input type="hidden" name="csrf" value="a&amp;b&#61;"><input ` +
    `name=user><input type="password" name="pw"><button name="go" value="1">Go</button></FORM>`;
  const forms = parseForms(html);
  assert.equal(forms.length, 2);
  const login = findLoginForm(html)!;
  assert.equal(login.action, '/login?next=%2F');
  assert.deepEqual(
    login.inputs.map((i) => [i.name, i.type, i.value]),
    [
      ['csrf', 'hidden', 'a&b='],
      ['user', 'text', ''],
      ['pw', 'password', ''],
      ['go', 'submit', '1'],
    ],
  );
  assert.equal(findLoginForm('<form method="get"><input type="password" name="p"></form>'), undefined);
  assert.equal(decodeEntities('&lt;&#x41;&#66;&quot;&#0;'), '<AB"');
});
