import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { preAuthEncoding, signAttestation, verifyAttestation, IN_TOTO_STATEMENT_TYPE } from './attestation.ts';

const SHA = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);

function keyPair(): { privateKey: ReturnType<typeof generateKeyPairSync>['privateKey']; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

test('PAE matches the DSSE v1 specification example', () => {
  const pae = preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world'));
  assert.equal(pae.toString('utf8'), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
});

test('PAE counts bytes, not characters, of a multi-byte payload type and body', () => {
  const pae = preAuthEncoding('t\u00e9', Buffer.from('\u00e9', 'utf8'));
  assert.equal(pae.toString('utf8'), 'DSSEv1 3 t\u00e9 2 \u00e9');
});

test('a signed statement verifies and names the image as its one subject', () => {
  const k = keyPair();
  const env = signAttestation({ format: 'x' }, { name: 'plug/image.tar', sha256: SHA }, k.privateKey);
  const v = verifyAttestation(env, k.pem, SHA);
  assert.ok(v.ok);
  assert.equal(v.statement._type, IN_TOTO_STATEMENT_TYPE);
  assert.deepEqual(v.statement.subject, [{ name: 'plug/image.tar', digest: { sha256: SHA } }]);
});

test('refuses a plain object, another key, a changed payload, a changed type and another image', () => {
  const k = keyPair();
  const env = signAttestation({ pass: true }, { name: 'plug/image.tar', sha256: SHA }, k.privateKey);
  assert.deepEqual(verifyAttestation({ pass: true }, k.pem, SHA), { ok: false, reason: 'not-an-envelope' });
  assert.deepEqual(verifyAttestation(env, keyPair().pem, SHA), { ok: false, reason: 'bad-signature' });
  const body = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: unknown };
  body.predicate = { pass: false };
  const tampered = { ...env, payload: Buffer.from(JSON.stringify(body)).toString('base64') };
  assert.deepEqual(verifyAttestation(tampered, k.pem, SHA), { ok: false, reason: 'bad-signature' });
  const retyped = { ...env, payloadType: 'application/json' };
  assert.deepEqual(verifyAttestation(retyped, k.pem, SHA), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifyAttestation(env, k.pem, OTHER), { ok: false, reason: 'other-image' });
});

test('a key file that is not an Ed25519 public key verifies nothing, and never throws', () => {
  const k = keyPair();
  const env = signAttestation({ pass: true }, { name: 'plug/image.tar', sha256: SHA }, k.privateKey);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
  for (const pem of [ec.toString(), 'not a key', ''])
    assert.deepEqual(verifyAttestation(env, pem, SHA), { ok: false, reason: 'bad-signature' });
});
