import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { redactSecrets, isSecretKey, REDACTED } from './index.ts';

test('removes the value of password=, token= and other secret-named keys', () => {
  assert.equal(redactSecrets('login failed password=hunter2'), `login failed password=${REDACTED}`);
  assert.equal(redactSecrets('GET /x?token=abc123&user=bob'), `GET /x?token=${REDACTED}&user=bob`);
  assert.equal(
    redactSecrets('{"user":"bob","newPassword":"p4ss\\"w0rd","x":1}'),
    `{"user":"bob","newPassword":"${REDACTED}","x":1}`,
  );
  assert.equal(redactSecrets('note: api_key = sk_live_1'), `note: api_key = ${REDACTED}`);
  assert.equal(redactSecrets('Cookie: __Host-sid=abc; theme=dark'), `Cookie: ${REDACTED}`);
  assert.equal(redactSecrets("setup_code='1234'"), `setup_code='${REDACTED}'`);
});

test('redacts a password with spaces to the end of the text', () => {
  assert.equal(redactSecrets('password=correct horse battery staple'), `password=${REDACTED}`);
});

test('removes Bearer and Basic credentials and passwords in URLs', () => {
  assert.ok(!redactSecrets('Authorization: Bearer eyJhbGciOi.x.y').includes('eyJ'));
  assert.equal(redactSecrets('sent Basic dXNlcjpwYXNz'), `sent Basic ${REDACTED}`);
  assert.equal(
    redactSecrets('fetch https://owner:s3cret@192.0.2.1/api'),
    `fetch https://owner:${REDACTED}@192.0.2.1/api`,
  );
});

test('removes PEM blocks, even cut off before their END line', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----';
  assert.equal(redactSecrets(`key was ${pem} ok`), 'key was [REDACTED PEM] ok');
  assert.equal(redactSecrets('x -----BEGIN CERTIFICATE-----\nMIIB'), 'x [REDACTED PEM]');
});

test('removes long hex and base64 runs, setup codes, sticker passwords and claim codes', () => {
  assert.equal(redactSecrets(`id ${'ab'.repeat(16)}`), `id ${REDACTED}`);
  assert.equal(redactSecrets('sess Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg=='), `sess ${REDACTED}`);
  assert.equal(redactSecrets('code 1234-5678-9012 typed'), `code ${REDACTED} typed`);
  assert.equal(redactSecrets('code 123456789012'), `code ${REDACTED}`);
  assert.equal(redactSecrets('typed k7vq-3mxe-9bht-p2wa as user'), `typed ${REDACTED} as user`);
  assert.equal(redactSecrets('K7VQ-3MXE-9BHT-P2WA'), REDACTED);
  assert.equal(redactSecrets('K7VQ3MXE9BHTP2WAK7VQ3MXE9BHTP2WA'), REDACTED, 'upper case without words is no code');
});

test('keeps ordinary text: addresses, times, events, long kebab-case words and error codes', () => {
  for (const text of [
    'tls handshake from 192.0.2.7:53412 failed: unsupported protocol',
    'at 2025-06-01T10:00:00.000Z result=failure surface=web',
    'tls-handshake-failed-unsupported-protocol-version',
    'peer [2001:db8::1]:443 closed',
    'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
    'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_UNKNOWN',
  ])
    assert.equal(redactSecrets(text), text);
});

test('judges keys by their words', () => {
  for (const k of [
    'password',
    'newPassword',
    'x-api-key',
    'sid',
    'Authorization',
    'setupCode',
    'claim_code',
    'sessionId',
    'pin',
    'privateKey',
  ]) {
    assert.equal(isSecretKey(k), true, k);
  }
  for (const k of ['user', 'source', 'mapping', 'shipping', 'code', 'event', 'result', 'bypass'])
    assert.equal(isSecretKey(k), false, k);
});

test('property: whatever follows password= is gone', () => {
  fc.assert(
    fc.property(
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 64 })
        .filter((s) => s.trim() !== '' && !/^[ \t]*["']/.test(s) && !/&[\w.-]+=/.test(s)),
      (pw) => {
        assert.match(redactSecrets(`login failed password=${pw}`), /^login failed password=[ \t]*\[REDACTED\]$/);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: redaction of any text returns text and never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 512 }), (text) => {
      const out = redactSecrets(text);
      assert.equal(typeof out, 'string');
    }),
    { numRuns: 500 },
  );
});
