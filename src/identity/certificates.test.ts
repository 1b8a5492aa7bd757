import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  createPinnedKeyCertificate,
  createWebCertificate,
  issueClientCertificate,
  issueServerCertificate,
  loadCaSigner,
  renewWebCertificate,
  WEB_CERTIFICATE_DAYS,
} from './certificates.ts';

test('a CA issues a server certificate (its names and loopback) and a client certificate', async () => {
  const root = await createCertificateAuthority('Acme Device CA', { organisation: 'Acme' });
  const ca = await loadCaSigner(root.certPem, root.privateKeyPem);
  const caCert = new X509Certificate(root.certPem);
  assert.equal(caCert.ca, true);
  assert.equal(caCert.subject, 'CN=Acme Device CA\nO=Acme');

  const server = new X509Certificate((await issueServerCertificate(ca, ['cloud.example', '192.0.2.1'])).certPem);
  assert.ok(server.checkIssued(caCert) && server.verify(caCert.publicKey));
  assert.equal(server.ca, false);
  assert.equal(server.subject, 'CN=cloud.example');
  assert.equal(
    server.subjectAltName,
    'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:cloud.example, IP Address:192.0.2.1',
  );
  assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);

  const issued = await issueClientCertificate(ca, 'bulwark-cloud-a', { organisation: 'Bulwark' });
  const client = new X509Certificate(issued.certPem);
  assert.ok(client.checkIssued(caCert) && client.verify(caCert.publicKey));
  assert.ok(client.checkPrivateKey(createPrivateKey(issued.privateKeyPem)));
  assert.equal(client.subject, 'CN=bulwark-cloud-a\nO=Bulwark');
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(client.subjectAltName, undefined);
  const days = (Date.parse(client.validTo) - Date.parse(client.validFrom)) / 86_400_000;
  assert.ok(days > 729 && days < 731, `valid ${days} days`);
});

test('a CA honours an explicit validity, so tests can make expired certificates', async () => {
  const root = await createCertificateAuthority('Other CA', { validityDays: 5 * 365 });
  const ca = await loadCaSigner(root.certPem, root.privateKeyPem);
  const notBefore = new Date('2020-01-01T00:00:00Z'),
    notAfter = new Date('2021-01-01T00:00:00Z');
  const cert = new X509Certificate((await issueClientCertificate(ca, 'old', { notBefore, notAfter })).certPem);
  assert.equal(Date.parse(cert.validFrom), notBefore.getTime());
  assert.equal(Date.parse(cert.validTo), notAfter.getTime());
});

test('a pinned-key certificate carries the given key, is no CA, limits no usage, and names loopback', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = await createPinnedKeyCertificate(privateKey, 'Bulwark hub, "main"');
  const cert = new X509Certificate(pem);
  assert.ok(cert.checkPrivateKey(privateKey) && cert.verify(cert.publicKey));
  assert.equal(cert.ca, false);
  assert.equal(cert.subject, 'CN=Bulwark hub\\, \\"main\\"', 'the comma and quotes stay inside one CN');
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(cert.keyUsage, undefined, 'no extended key usage');
});

test('a web certificate is valid at most 398 days, so browsers and testssl.sh accept its lifetime', async () => {
  const issued = await createWebCertificate('PLUG0001', 'Acme');
  const cert = new X509Certificate(issued.certPem);
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  assert.ok(days <= 398, `valid ${days} days`);
  assert.ok(days >= WEB_CERTIFICATE_DAYS, `valid ${days} days, less than ${WEB_CERTIFICATE_DAYS}`);
});

test('a renewed web certificate keeps the key, subject, names and usage, and starts a new lifetime', async () => {
  const first = await createWebCertificate('PLUG0001', 'Acme', { now: new Date('2027-01-01T00:00:00Z') });
  const later = new Date('2027-10-01T00:00:00Z');
  const renewedPem = await renewWebCertificate(first.privateKeyPem, 'PLUG0001', 'Acme', { now: later });
  const before = new X509Certificate(first.certPem);
  const renewed = new X509Certificate(renewedPem);
  const spki = (c: X509Certificate): string =>
    createHash('sha256')
      .update(c.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex');
  const keySpki = createHash('sha256')
    .update(createPublicKey(first.privateKeyPem).export({ type: 'spki', format: 'der' }))
    .digest('hex');
  assert.equal(spki(renewed), keySpki, 'the certificate carries the key it was given');
  assert.ok(renewed.checkPrivateKey(createPrivateKey(first.privateKeyPem)) && renewed.verify(renewed.publicKey));
  assert.equal(renewed.subject, before.subject);
  assert.equal(renewed.subjectAltName, before.subjectAltName);
  assert.deepEqual(renewed.keyUsage, before.keyUsage);
  assert.equal(renewed.ca, false);
  assert.notEqual(renewed.serialNumber, before.serialNumber);
  assert.ok(Date.parse(renewed.validTo) > Date.parse(before.validTo), 'the renewed one ends later');
  const days = (Date.parse(renewed.validTo) - Date.parse(renewed.validFrom)) / 86_400_000;
  assert.ok(days <= 398, `valid ${days} days`);
  assert.ok(Date.parse(renewed.validFrom) <= later.getTime() && Date.parse(renewed.validTo) > later.getTime());
});

test('a certificate request is issued for its own key, and a forged or foreign one is refused', async () => {
  const { createCertificateRequest, issueFromRequest, createManufacturerCa, loadCaSigner } =
    await import('./certificates.ts');
  const made = await createManufacturerCa('Test Maker');
  const ca = await loadCaSigner(made.certPem, made.privateKeyPem);
  const request = await createCertificateRequest('PLG-ABCDEFGH23');
  const issued = await issueFromRequest(ca, request.csrPem, 'PLG-ABCDEFGH23', { validityDays: 30 });
  const cert = new X509Certificate(issued.certPem);
  assert.ok(cert.checkPrivateKey(createPrivateKey(request.privateKeyPem)), "the request's key");
  assert.ok(cert.verify(new X509Certificate(made.certPem).publicKey), 'signed by the CA');
  assert.match(cert.subject, /CN=PLG-ABCDEFGH23/);
  assert.ok(issued.notAfter - Date.now() <= 30 * 86_400_000 + 1_000);
  assert.equal(issued.serialNumber, cert.serialNumber.toLowerCase());
  await assert.rejects(issueFromRequest(ca, request.csrPem, 'PLG-OTHERUNIT22'), /subject/);
  await assert.rejects(issueFromRequest(ca, 'not a request', 'PLG-ABCDEFGH23'), /parse/);
  const body = request.csrPem.split('\n').slice(1, -2).join('');
  const der = Buffer.from(body, 'base64');
  der[der.length - 5]! ^= 0x01; // a bit of the signature
  const pem = (b64: string): string =>
    `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
  const tampered = pem(der.toString('base64'));
  await assert.rejects(issueFromRequest(ca, tampered, 'PLG-ABCDEFGH23'), /signature|parse/);
});
