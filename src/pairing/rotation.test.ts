import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { hasCode } from '../errors/index.ts';
import { spkiSha256 } from '../channel/index.ts';
import { createPinnedKeyCertificate } from '../identity/index.ts';
import {
  KEY_ROTATION_CONTEXT,
  encodeKeyRotation,
  keyRotationSignedBytes,
  parseKeyRotation,
  signKeyRotation,
  verifyKeyRotation,
  type KeyRotationStatement,
} from './index.ts';

const SERIAL = 'PLG-ABCDEFGH23';

interface Pair {
  readonly key: KeyObject;
  readonly cert: string;
}

async function keyPair(name: string): Promise<Pair> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, cert: await createPinnedKeyCertificate(privateKey, name) };
}

const [oldPair, newPair, other] = await Promise.all([keyPair('old'), keyPair('new'), keyPair('other')]);
const issuedAt = new Date('2030-01-02T03:04:05.000Z');
const statement = signKeyRotation({
  serial: SERIAL,
  oldKey: oldPair.key,
  oldCertificate: oldPair.cert,
  newCertificate: newPair.cert,
  issuedAt,
});
const known = { serial: SERIAL, pin: spkiSha256(oldPair.cert) };

test('the signed bytes are the context, a zero byte, then each field length-prefixed in a fixed order', () => {
  const s = {
    serial: 'AB',
    oldPin: Buffer.alloc(32, 1),
    newPin: Buffer.alloc(32, 2),
    issuedAt: 'T',
    certificate: Buffer.of(9),
  };
  const expected = Buffer.concat([
    Buffer.from(KEY_ROTATION_CONTEXT),
    Buffer.of(0),
    Buffer.of(0, 0, 0, 2),
    Buffer.from('AB'),
    Buffer.of(0, 0, 0, 32),
    Buffer.alloc(32, 1),
    Buffer.of(0, 0, 0, 32),
    Buffer.alloc(32, 2),
    Buffer.of(0, 0, 0, 1),
    Buffer.from('T'),
    Buffer.of(0, 0, 0, 1),
    Buffer.of(9),
  ]);
  assert.deepEqual(keyRotationSignedBytes(s), expected);
  // Moving a byte between neighbouring fields changes the bytes: the lengths keep fields apart.
  assert.notDeepEqual(keyRotationSignedBytes({ ...s, serial: 'A', issuedAt: 'BT' }), expected);
});

test('a statement signed by the old key names both pins and verifies under the pinned key', () => {
  assert.deepEqual(statement.oldPin, spkiSha256(oldPair.cert));
  assert.deepEqual(statement.newPin, spkiSha256(newPair.cert));
  assert.equal(statement.issuedAt, issuedAt.toISOString());
  assert.deepEqual(createHash('sha256').update(statement.oldPublicKey).digest(), statement.oldPin);
  const result = verifyKeyRotation(statement, known);
  assert.deepEqual(result, { ok: true, newPin: spkiSha256(newPair.cert) });
});

test('the statement survives its encoding unchanged and still verifies', () => {
  const text = encodeKeyRotation(statement);
  const parsed = parseKeyRotation(text);
  assert.deepEqual(parsed, statement);
  assert.equal(encodeKeyRotation(parsed), text);
  assert.equal(verifyKeyRotation(parsed, known).ok, true);
});

test('a statement signed by another key is refused, whichever public key it carries', () => {
  // Another key signs, the statement carries the pinned public key: the signature does not verify.
  const forged = signKeyRotation({
    serial: SERIAL,
    oldKey: other.key,
    oldCertificate: other.cert,
    newCertificate: newPair.cert,
    issuedAt,
  });
  const claimed: KeyRotationStatement = { ...forged, oldPin: statement.oldPin, oldPublicKey: statement.oldPublicKey };
  assert.deepEqual(verifyKeyRotation(claimed, known), { ok: false, reason: 'bad-signature' });
  // It carries its own public key but claims the pinned pin: the key is not the pinned one.
  assert.deepEqual(verifyKeyRotation({ ...forged, oldPin: statement.oldPin }, known), {
    ok: false,
    reason: 'old-key-mismatch',
  });
  // As signed, it names its own key as the old one: not the pin the hub holds.
  assert.deepEqual(verifyKeyRotation(forged, known), { ok: false, reason: 'wrong-old-pin' });
});

test('a statement for another serial or another old pin is refused', () => {
  assert.deepEqual(verifyKeyRotation(statement, { ...known, serial: 'PLG-ZZZZZZZZ22' }), {
    ok: false,
    reason: 'wrong-serial',
  });
  assert.deepEqual(verifyKeyRotation(statement, { ...known, pin: spkiSha256(newPair.cert) }), {
    ok: false,
    reason: 'wrong-old-pin',
  });
});

test('changing any signed field after signing breaks the signature', () => {
  const flip = (b: Buffer): Buffer => {
    const c = Buffer.from(b);
    c[c.length - 1]! ^= 1;
    return c;
  };
  const tampered: Array<[string, KeyRotationStatement]> = [
    ['issuedAt', { ...statement, issuedAt: '2031-01-02T03:04:05.000Z' }],
    ['newPin', { ...statement, newPin: spkiSha256(other.cert) }],
    ['certificate', { ...statement, certificate: flip(statement.certificate) }],
    ['signature', { ...statement, signature: flip(statement.signature) }],
  ];
  for (const [field, s] of tampered) {
    assert.deepEqual(verifyKeyRotation(s, known), { ok: false, reason: 'bad-signature' }, field);
  }
});

test('a statement whose certificate is not the new pin is refused even when signed by the pinned key', () => {
  // The device's own key signing a certificate that does not carry the new key it names.
  const body = {
    serial: SERIAL,
    oldPin: statement.oldPin,
    newPin: spkiSha256(other.cert),
    issuedAt: statement.issuedAt,
  };
  const certificate = statement.certificate;
  const signature = sign('sha256', keyRotationSignedBytes({ ...body, certificate }), {
    key: oldPair.key,
    dsaEncoding: 'ieee-p1363',
  });
  const s = { ...body, certificate, oldPublicKey: statement.oldPublicKey, signature };
  assert.deepEqual(verifyKeyRotation(s, known), { ok: false, reason: 'certificate-mismatch' });
});

test('the parser refuses extra fields, bad encodings and oversized statements', () => {
  const good = JSON.parse(encodeKeyRotation(statement)) as Record<string, unknown>;
  const variants: Array<[string, string]> = [
    ['extra field', JSON.stringify({ ...good, extra: 1 })],
    ['missing field', JSON.stringify({ ...good, signature: undefined })],
    ['version', JSON.stringify({ ...good, v: 2 })],
    ['pin case', JSON.stringify({ ...good, oldPin: String(good.oldPin).toUpperCase() })],
    ['short signature', JSON.stringify({ ...good, signature: Buffer.alloc(63).toString('base64') })],
    ['non-canonical base64', JSON.stringify({ ...good, certificate: `${String(good.certificate)}=` })],
    ['bad time', JSON.stringify({ ...good, issuedAt: 'yesterday' })],
    ['bad serial', JSON.stringify({ ...good, serial: 'x'.repeat(65) })],
    ['too long', JSON.stringify({ ...good, serial: SERIAL, pad: 'x'.repeat(5_000) })],
    ['not JSON', '{nope'],
    ['array', '[]'],
  ];
  for (const [what, text] of variants) {
    assert.throws(
      () => parseKeyRotation(text),
      (e) => hasCode(e, 'PAIRING_BAD_MESSAGE'),
      what,
    );
  }
});

test('signing refuses an old key that is not the old certificate', () => {
  assert.throws(
    () =>
      signKeyRotation({
        serial: SERIAL,
        oldKey: other.key,
        oldCertificate: oldPair.cert,
        newCertificate: newPair.cert,
        issuedAt,
      }),
    (e) => hasCode(e, 'PAIRING_BAD_SECRET'),
  );
});

test('parseKeyRotation (fuzzed): any text or mutated statement parses or throws PAIRING_BAD_MESSAGE', () => {
  const good = JSON.parse(encodeKeyRotation(statement)) as Record<string, unknown>;
  const mutated = fc
    .record({ key: fc.constantFrom(...Object.keys(good), 'extra'), value: fc.anything() })
    .map(({ key, value }) => JSON.stringify({ ...good, [key]: value }) ?? '');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 3_000 }), fc.json(), mutated), (text) => {
      try {
        const parsed = parseKeyRotation(text);
        assert.equal(typeof parsed.serial, 'string');
      } catch (e) {
        assert.ok(hasCode(e, 'PAIRING_BAD_MESSAGE'), String(e));
      }
    }),
    { numRuns: 500 },
  );
});
