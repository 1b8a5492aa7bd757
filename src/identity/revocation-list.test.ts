import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import {
  createCertificateAuthority,
  createRevocationList,
  issueClientCertificate,
  loadCaSigner,
  readRevocationList,
} from './certificates.ts';

/** Runs openssl with `args`; resolves with its exit code and output (never rejects on a non-zero exit). */
function openssl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(new Error(err.message));
      else resolve({ code: err ? (err.code as number) : 0, out: stdout + stderr });
    });
  });
}

async function fixture(): Promise<{
  dir: string;
  caFile: string;
  ca: Awaited<ReturnType<typeof loadCaSigner>>;
  caCertPem: string;
}> {
  const root = await createCertificateAuthority('Acme Device CA', { organisation: 'Acme' });
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-crl-'));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, root.certPem);
  return { dir, caFile, ca: await loadCaSigner(root.certPem, root.privateKeyPem), caCertPem: root.certPem };
}

const DAY = 86_400_000;

test('a revocation list made for the CA lists its entries, and OpenSSL verifies its signature', async () => {
  const { dir, caFile, ca, caCertPem } = await fixture();
  try {
    const revoked = await issueClientCertificate(ca, 'PLG-AAAAAAAA23');
    const serial = new X509Certificate(revoked.certPem).serialNumber.toLowerCase();
    const now = new Date();
    const pem = await createRevocationList(ca, [{ serialNumber: serial, revokedAt: now, reason: 'keyCompromise' }], {
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 30 * DAY),
    });
    await writeFile(join(dir, 'crl.pem'), pem);
    const text = await openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text', '-CAfile', caFile]);
    assert.equal(text.code, 0, text.out);
    assert.match(text.out, /verify OK/);
    assert.match(text.out, /Issuer: CN ?= ?Acme Device CA, O ?= ?Acme/);
    assert.ok(text.out.toUpperCase().includes(`SERIAL NUMBER: ${serial.toUpperCase()}`), text.out);
    assert.match(text.out, /Key Compromise/);
    assert.match(text.out, /X509v3 CRL Number/);
    const back = await readRevocationList(pem, caCertPem);
    assert.deepEqual(back.serialNumbers, [serial]);
    assert.equal(back.nextUpdate?.getTime(), Math.floor((now.getTime() + 30 * DAY) / 1000) * 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('OpenSSL refuses a listed certificate and accepts one the list does not name', async () => {
  const { dir, caFile, ca } = await fixture();
  try {
    const revoked = await issueClientCertificate(ca, 'PLG-AAAAAAAA23');
    const kept = await issueClientCertificate(ca, 'PLG-BBBBBBBB23');
    const now = new Date();
    const serialNumber = new X509Certificate(revoked.certPem).serialNumber.toLowerCase();
    const pem = await createRevocationList(ca, [{ serialNumber, revokedAt: now }], {
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + DAY),
    });
    await writeFile(join(dir, 'crl.pem'), pem);
    await writeFile(join(dir, 'revoked.pem'), revoked.certPem);
    await writeFile(join(dir, 'kept.pem'), kept.certPem);
    const check = (cert: string): Promise<{ code: number; out: string }> =>
      openssl(['verify', '-crl_check', '-CAfile', caFile, '-CRLfile', join(dir, 'crl.pem'), join(dir, cert)]);
    const refused = await check('revoked.pem');
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /certificate revoked/);
    const accepted = await check('kept.pem');
    assert.equal(accepted.code, 0, accepted.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an empty list is valid, and a list signed by another CA or altered is refused on reading', async () => {
  const { dir, ca, caCertPem } = await fixture();
  const other = await fixture();
  try {
    const now = new Date();
    const window = { thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY) };
    const empty = await createRevocationList(ca, [], window);
    assert.deepEqual((await readRevocationList(empty, caCertPem)).serialNumbers, []);
    const foreign = await createRevocationList(other.ca, [], window);
    await assert.rejects(readRevocationList(foreign, caCertPem), { code: 'INVALID_INPUT' });
    const body = empty.split('\n').filter((l) => l && !l.startsWith('-----'));
    const der = Buffer.from(body.join(''), 'base64');
    der[der.length - 5]! ^= 0x01; // inside the signature
    const altered = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`;
    await assert.rejects(readRevocationList(altered, caCertPem), { code: 'INVALID_INPUT' });
    await assert.rejects(readRevocationList('not a crl', caCertPem), { code: 'INVALID_INPUT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(other.dir, { recursive: true, force: true });
  }
});

test('a malformed serial number or an empty validity window is refused', async () => {
  const { dir, ca } = await fixture();
  try {
    const now = new Date();
    const window = { thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY) };
    await assert.rejects(createRevocationList(ca, [{ serialNumber: 'XYZ', revokedAt: now }], window), {
      code: 'INVALID_INPUT',
    });
    await assert.rejects(createRevocationList(ca, [], { thisUpdate: now, nextUpdate: now }), {
      code: 'INVALID_INPUT',
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
