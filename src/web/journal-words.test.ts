import { test } from 'node:test';
import assert from 'node:assert/strict';
import { journalConcern, journalMatches, journalSentence } from './journal-words.ts';
import type { JournalRow } from './journal-words.ts';

const row = (o: Partial<JournalRow>): JournalRow => ({
  at: '2026-12-07T10:00:00.000Z',
  surface: 'web',
  source: '192.168.1.23:50412',
  event: 'login',
  result: 'failure',
  ...o,
});

test("records read as sentences in the owner's words, with the address and never the port", () => {
  assert.equal(journalSentence(row({ identity: 'admin' })), 'Wrong password for admin from 192.168.1.23');
  assert.equal(
    journalSentence(row({ identity: '(unknown)' })),
    'Wrong password for a name nobody here has from 192.168.1.23',
  );
  assert.equal(journalSentence(row({ identity: 'bea', result: 'success' })), 'bea logged in from 192.168.1.23');
  assert.equal(
    journalSentence(row({ event: 'tls-error', result: 'refused', detail: '[REDACTED]' })),
    'A connection from 192.168.1.23 was refused: it did not complete a secure handshake',
  );
  assert.equal(
    journalSentence(row({ source: '[fe80::1]:443', result: 'success', identity: 'x' })),
    'x logged in from fe80::1',
  );
  assert.equal(
    journalSentence(
      row({ event: 'control', result: 'success', identity: 'admin', source: 'local', detail: 'power on' }),
    ),
    'admin used power on',
  );
});

test('an event without its own sentence still reads as words, a redaction as "(hidden)"', () => {
  assert.equal(
    journalSentence(row({ event: 'certificate-renewed', result: 'success', detail: 'until 2027' })),
    'Certificate renewed: until 2027',
  );
  assert.equal(
    journalSentence(row({ event: 'enrol-refused', result: 'refused', detail: 'token [REDACTED]' })),
    'Enrol refused (refused): token (hidden)',
  );
});

test('the filter matches the sentence, the address or the name, in any case', () => {
  const r = row({ identity: 'bea' });
  for (const f of ['', 'wrong', 'BEA', '192.168.1', 'login']) assert.equal(journalMatches(r, f), true, f);
  assert.equal(journalMatches(r, 'camera'), false);
});

test('a handshake the client gave up, or a certificate a browser does not trust yet, is said so, not in red', () => {
  const dropped = row({ event: 'tls-error', result: 'refused', detail: 'ECONNRESET' });
  assert.match(journalSentence(dropped), /^A connection from 192\.168\.1\.23 closed before its secure handshake/);
  const untrusted = row({ event: 'tls-error', result: 'refused', detail: 'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_UNKNOWN' });
  assert.match(journalSentence(untrusted), /did not accept this device's certificate yet/);
  const refused = row({ event: 'tls-error', result: 'refused', detail: 'ERR_SSL_NO_SHARED_CIPHER' });
  assert.equal(journalConcern(dropped), false);
  assert.equal(journalConcern(untrusted), false);
  assert.equal(journalConcern(refused), true, 'a client this device refused stays a concern');
  assert.equal(journalConcern(row({ identity: 'admin' })), true, 'a wrong password is one');
  assert.equal(journalConcern(row({ result: 'success' })), false);
});
