import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { formatSource, coarsenSource, privacyClassFor, JournalEntryError } from './index.ts';
import { prepareEntry, parseStoredLine, serialiseEntry } from './entry.ts';

const base = { surface: 'web', source: '192.0.2.7:53412', event: 'login', result: 'failure' } as const;

test('formats a socket peer as address:port, bracketing IPv6 and unwrapping IPv4-mapped addresses', () => {
  assert.equal(formatSource('192.0.2.7', 53412), '192.0.2.7:53412');
  assert.equal(formatSource('2001:DB8:0:0:0:0:0:1', 443), '[2001:db8::1]:443');
  assert.equal(formatSource('::ffff:192.0.2.7', 8443), '192.0.2.7:8443');
  assert.equal(formatSource('fe80::1%eth0', 5), '[fe80::1]:5');
  assert.equal(formatSource(undefined, undefined), 'unknown');
  assert.equal(formatSource('not an address', 1), 'unknown');
});

test('a sensitive device keeps only the /24 or /48 network of a source, without the port', () => {
  assert.equal(coarsenSource('192.0.2.7:53412'), '192.0.2.0/24');
  assert.equal(coarsenSource('[2001:db8:1234:5678::9]:443'), '2001:db8:1234::/48');
  assert.equal(coarsenSource('[2001:db8::9]:443'), '2001:db8::/48');
  assert.equal(coarsenSource('[::1]:443'), '::1/128');
  assert.equal(coarsenSource('local'), 'local');
});

test('a sensitive device drops the detail and coarsens the source but keeps time, surface, identity and result', () => {
  const fields = prepareEntry({ ...base, identity: 'owner', detail: 'wrong password' }, 'sensitive');
  assert.deepEqual(fields, {
    surface: 'web',
    source: '192.0.2.0/24',
    event: 'login',
    identity: 'owner',
    result: 'failure',
  });
});

test('refuses a field named password, naming the field but never echoing its value', () => {
  assert.throws(
    () => prepareEntry({ ...base, password: 'hunter2' }, 'standard'),
    (err: unknown) => {
      assert.ok(err instanceof JournalEntryError);
      assert.ok(hasCode(err, 'JOURNAL_ENTRY_INVALID'));
      assert.equal(err.field, 'password');
      assert.ok(!err.message.includes('hunter2'));
      return true;
    },
  );
});

test('refuses a bad surface, result, event or source with a typed error', () => {
  for (const bad of [
    { ...base, surface: 'ssh' },
    { ...base, result: 'ok' },
    { ...base, event: 'Login!' },
    { ...base, event: 'x'.repeat(33) },
    { ...base, source: 'evil.example:80' },
    { ...base, source: '192.0.2.7:70000' },
    { ...base, identity: 42 },
    { ...base, detail: 'x'.repeat(5_000) },
    null,
    'login',
  ])
    assert.throws(() => prepareEntry(bad, 'standard'), JournalEntryError);
});

test('keeps a certificate fingerprint as the identity but redacts a secret typed as a user name', () => {
  const fp = `sha256:${'a1'.repeat(32)}`;
  assert.equal(prepareEntry({ ...base, identity: fp }, 'standard').identity, fp);
  assert.equal(prepareEntry({ ...base, identity: 'k7vq-3mxe-9bht-p2wa' }, 'standard').identity, '[REDACTED]');
});

test('cuts a long detail to 200 characters after redacting, and neutralises control and bidi characters', () => {
  const detail = `${'a '.repeat(95)}token=${'Z'.repeat(300)}`;
  const out = prepareEntry({ ...base, detail }, 'standard').detail!;
  assert.ok(out.length <= 200);
  assert.ok(!out.includes('ZZZ'));
  assert.equal(prepareEntry({ ...base, detail: 'a\nb\u202ec' }, 'standard').detail, 'a b c');
});

test('a stored line round-trips, and a torn or foreign line is refused', () => {
  const entry = {
    seq: 7,
    at: '2025-06-01T10:00:00.000Z',
    ...prepareEntry({ ...base, identity: 'owner', detail: 'bad password' }, 'standard'),
  };
  const line = serialiseEntry(entry);
  assert.deepEqual(parseStoredLine(line, 'standard'), entry);
  assert.equal(parseStoredLine(line.slice(0, -3), 'standard'), undefined);
  assert.equal(parseStoredLine(line.replace('"seq":7', '"seq":7,"password":"x"'), 'standard'), undefined);
  assert.equal(parseStoredLine(line.replace('2025-06-01T10', '2025-13-01T10'), 'standard'), undefined);
  const asSensitive = parseStoredLine(line, 'sensitive')!;
  assert.equal(asSensitive.detail, undefined);
  assert.equal(asSensitive.source, '192.0.2.0/24');
});

test('devices with a camera or a microphone are sensitive', () => {
  assert.equal(privacyClassFor({ sensors: ['camera', 'microphone'] }), 'sensitive');
  assert.equal(privacyClassFor({ sensors: ['microphone'] }), 'sensitive');
  assert.equal(privacyClassFor({ sensors: ['temperature'] }), 'standard');
});
