import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { hasCode } from '../errors/index.ts';
import { pinnedPeers, spkiSha256 } from './index.ts';

test('finds the peer whose pin matches and refuses any other key', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const lookup = pinnedPeers([
    [a, 'hub-a'],
    [b, 'hub-b'],
  ]);
  assert.equal(lookup(Buffer.from(a)), 'hub-a');
  assert.equal(lookup(Buffer.from(b)), 'hub-b');
  assert.equal(lookup(randomBytes(32)), undefined);
  assert.equal(lookup(a.subarray(0, 31)), undefined);
  assert.equal(lookup(Buffer.alloc(0)), undefined);
});

test("a pin set is a snapshot: changing the caller's buffer later changes nothing", () => {
  const pin = createHash('sha256').update('k').digest();
  const lookup = pinnedPeers([[pin, 1]]);
  const copy = Buffer.from(pin);
  pin.fill(0);
  assert.equal(lookup(copy), 1);
});

test('refuses pins that are not 32 bytes', () => {
  assert.throws(
    () => pinnedPeers([[Buffer.alloc(20), 'x']]),
    (e) => hasCode(e, 'CHANNEL_CONFIG_INVALID'),
  );
});

test("the pin is the SHA-256 of the certificate's SubjectPublicKeyInfo, the same as re-exporting the key", async () => {
  const { createWebCertificate } = await import('../identity/index.ts');
  for (let i = 0; i < 3; i++) {
    const issued = await createWebCertificate(`DEV${i}`, 'Bulwark Test');
    const x = new X509Certificate(issued.certPem);
    const exported = createHash('sha256')
      .update(x.publicKey.export({ type: 'spki', format: 'der' }))
      .digest();
    assert.deepEqual(spkiSha256(issued.certPem), exported);
    assert.deepEqual(spkiSha256(x), exported);
    assert.deepEqual(spkiSha256(Buffer.from(issued.certPem)), exported);
    // The same key as its own public-key PEM gives the same pin.
    assert.deepEqual(
      createHash('sha256')
        .update(createPublicKey(issued.publicKeyPem).export({ type: 'spki', format: 'der' }))
        .digest(),
      exported,
    );
  }
});
