import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import {
  computeVerifier,
  createPairingVerifierRecord,
  deriveSetupCodeSecrets,
  pairingVerifierFromRecord,
  parsePairingVerifierRecord,
  verifySetupCode,
} from './index.ts';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// Known answers computed independently (Python hashlib.pbkdf2_hmac, and OpenSSL through
// pyca/cryptography for L = w1*P), following RFC 9383 section 3.2 with UTF-8 code bytes.
const vectors = [
  {
    code: '20202021',
    salt: Buffer.from('SPAKE2P Key Salt').toString('hex'),
    iterations: 1000,
    w0: '0235158a7e32936f1ed302204ee64f822e02e13a0119a998ca623e312976c86a',
    w1: '6545cbaa6c8245f055e54e311ebd7930c0e3ee20a64b38135db4236821ef937f',
    L:
      '04544892b4bf4bb54be783ce62f8d1f5a3dc8cb37cced88278777904d8f9e15598' +
      '454b5a4b93aac093f903ac8ae564c68231bc521bd113284e83591938f069b35a',
  },
  {
    code: '1234-5678 901',
    salt: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    iterations: 10_000,
    w0: '09cb4b8ae41ce56a89831ded799e4b306a834363147b871c6fa0cef17c6a72a1',
    w1: '1e0a2c07c6e7c99cfe406a0a0cbe1138126d184a85c88175c82283a6623f0117',
    L:
      '0413203ccdb3e2772b8a6172f70e52fdaad6771c3a8398651d8e11f7cb87ca530f' +
      '8a5759ec57f3996643a8da193f0adde14e2ab2239f109bc3989da262c68adc76',
  },
];

const salt16 = new Uint8Array(16).fill(7);

test('derives w0 and w1 matching independently computed known answers', () => {
  for (const v of vectors) {
    const { w0, w1 } = deriveSetupCodeSecrets(v.code, hex(v.salt), v.iterations);
    assert.equal(w0, BigInt('0x' + v.w0));
    assert.equal(w1, BigInt('0x' + v.w1));
    const verifier = computeVerifier(v.code, hex(v.salt), v.iterations);
    assert.equal(toHex(verifier.w0), v.w0);
    assert.equal(toHex(verifier.L), v.L);
  }
});

test('ignores spaces and dashes in the setup code', () => {
  const a = deriveSetupCodeSecrets('12345678901', salt16, 1000);
  const b = deriveSetupCodeSecrets(' 1234-5678-901 ', salt16, 1000);
  assert.deepEqual(a, b);
});

test('refuses setup codes with other characters, too short or too long', () => {
  for (const bad of ['1234567a', '12345', '', '١٢٣٤٥٦٧٨', '1'.repeat(65), '12345678\u0000']) {
    assert.throws(
      () => deriveSetupCodeSecrets(bad, salt16, 1000),
      (e: unknown) => hasCode(e, 'INVALID_INPUT'),
    );
  }
});

test('refuses iterations and salts outside the bounds', () => {
  for (const iterations of [999, 10_000_001, 1000.5, Number.NaN, -1]) {
    assert.throws(
      () => createPairingVerifierRecord('12345678', { iterations }),
      (e: unknown) => hasCode(e, 'PAIRING_PARAMS_INVALID'),
    );
    assert.throws(
      () => deriveSetupCodeSecrets('12345678', salt16, iterations),
      (e: unknown) => hasCode(e, 'PAIRING_PARAMS_INVALID'),
    );
  }
  for (const salt of [new Uint8Array(15), new Uint8Array(65)]) {
    assert.throws(
      () => createPairingVerifierRecord('12345678', { salt }),
      (e: unknown) => hasCode(e, 'PAIRING_PARAMS_INVALID'),
    );
  }
});

test('a new record uses a random 32-byte salt and 10,000 iterations by default', () => {
  const a = createPairingVerifierRecord('12345678');
  const b = createPairingVerifierRecord('12345678');
  assert.equal(a.version, 1);
  assert.equal(a.suite, 'SPAKE2+-P256-SHA256-HKDF-HMAC');
  assert.equal(a.pbkdf2.iterations, 10_000);
  assert.equal(Buffer.from(a.pbkdf2.salt, 'base64').length, 32);
  assert.notEqual(a.pbkdf2.salt, b.pbkdf2.salt);
  assert.notEqual(a.w0, b.w0);
});

test('a record round-trips through JSON and holds the verifier for the code', () => {
  const v = vectors[1]!;
  const record = createPairingVerifierRecord(v.code, { salt: hex(v.salt), iterations: v.iterations });
  const parsed = parsePairingVerifierRecord(JSON.parse(JSON.stringify(record)));
  assert.deepEqual(parsed, record);
  const secrets = pairingVerifierFromRecord(parsed);
  assert.equal(toHex(secrets.w0), v.w0);
  assert.equal(toHex(secrets.L), v.L);
});

test('verifySetupCode accepts the right code, however it is grouped, and nothing else', () => {
  const record = createPairingVerifierRecord('12345678901', { iterations: 1000 });
  assert.equal(verifySetupCode('12345678901', record), true);
  assert.equal(verifySetupCode('1234-5678-901', record), true);
  assert.equal(verifySetupCode('12345678902', record), false);
  assert.equal(verifySetupCode('1234567890', record), false);
  assert.equal(verifySetupCode('not a code', record), false);
  assert.equal(verifySetupCode('', record), false);
});

test('parse refuses malformed records with INVALID_INPUT', () => {
  const good = createPairingVerifierRecord('12345678', { iterations: 1000 });
  const identityOrOffCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64)]).toString('base64');
  const offCurve = Buffer.from(pairingVerifierFromRecord(good).L).map((b, i) => (i === 64 ? b ^ 1 : b));
  const compressed = Buffer.concat([Buffer.from([2]), Buffer.from(pairingVerifierFromRecord(good).L).subarray(1, 33)]);
  const n = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';
  const mutations: Array<(r: Record<string, unknown>) => unknown> = [
    () => null,
    () => 'string',
    () => [good],
    () => 42,
    (r) => ({ ...r, version: 2 }),
    (r) => ({ ...r, version: '1' }),
    (r) => ({ ...r, suite: 'SPAKE2+-P384-SHA256-HKDF-HMAC' }),
    (r) => ({ ...r, extra: true }),
    (r) => {
      const { L: _L, ...rest } = r;
      return rest;
    },
    (r) => ({ ...r, pbkdf2: null }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), iterations: 999 } }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), iterations: '1000' } }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), iterations: 20_000_000 } }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), extra: 1 } }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), salt: 'AAAA' } }),
    (r) => ({ ...r, pbkdf2: { ...(r.pbkdf2 as object), salt: 'not base64!' } }),
    (r) => ({ ...r, w0: Buffer.alloc(31, 1).toString('base64') }),
    (r) => ({ ...r, w0: Buffer.alloc(32).toString('base64') }),
    (r) => ({ ...r, w0: Buffer.from(n, 'hex').toString('base64') }),
    (r) => ({ ...r, w0: (r.w0 as string).replace(/=*$/, '') }),
    (r) => ({ ...r, L: identityOrOffCurve }),
    (r) => ({ ...r, L: Buffer.from(offCurve).toString('base64') }),
    (r) => ({ ...r, L: compressed.toString('base64') }),
    (r) => ({ ...r, L: 42 }),
  ];
  for (const mutate of mutations) {
    const bad = mutate(JSON.parse(JSON.stringify(good)) as Record<string, unknown>);
    assert.throws(
      () => parsePairingVerifierRecord(bad),
      (e: unknown) => hasCode(e, 'INVALID_INPUT'),
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => verifySetupCode('12345678', { ...good, L: identityOrOffCurve }),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
});
