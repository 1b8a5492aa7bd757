// TLS to the update repository while the unit's wall clock is below its clock floor (docs/clock.md):
// the server's certificate is checked at the floor against the pinned CA. The certificates here are
// valid only in the future (from +10 to +20 days), so OpenSSL, at the true time, refuses them as not yet
// valid, as it would every certificate on a unit at 1970; a floor inside their validity stands for the
// floor of such a unit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, issueServerCertificate, loadCaSigner } from '../../src/identity/index.ts';
import { validateDeviceUpdateConfig } from '../../src/update/index.ts';
import { BoundedFetcher } from '../../src/update/fetcher.ts';
import { verifyServerAt } from '../../src/update/tls-at-floor.ts';

const DAY = 86_400_000;
const now = Date.now();
const FLOOR = now + 11 * DAY;
let caPem: string;
let otherCaPem: string;
let certPem: string;
let server: Server;
let base: string;
let requests = 0;

before(async () => {
  const validity = { notBefore: new Date(now + 10 * DAY), notAfter: new Date(now + 20 * DAY) };
  const ca = await createCertificateAuthority('Maker Device CA');
  const other = await createCertificateAuthority('Maker Device CA');
  caPem = ca.certPem;
  otherCaPem = other.certPem;
  const issued = await issueServerCertificate(await loadCaSigner(ca.certPem, ca.privateKeyPem), ['updates.example'], {
    ...validity,
  });
  certPem = issued.certPem;
  server = createServer({ cert: issued.certPem, key: issued.privateKeyPem }, (_req, res) => {
    requests++;
    res.end('signed metadata');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}/updates`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

async function fetcher(o: { ca?: string; at?: number }): Promise<BoundedFetcher> {
  return new BoundedFetcher({
    baseUrl: base,
    tmpDir: await mkdtemp(join(tmpdir(), 'bulwark-tls-floor-')),
    config: validateDeviceUpdateConfig({}),
    caCertPem: o.ca ?? caPem,
    ...(o.at === undefined ? {} : { certificateTimeAt: o.at }),
  });
}

test('at the floor, a certificate of the pinned CA that names the host and is valid then is accepted', () => {
  const cert = new X509Certificate(certPem);
  verifyServerAt(cert, caPem, 'updates.example', FLOOR);
  verifyServerAt(cert, caPem, '127.0.0.1', FLOOR);
});

test('at the floor, a wrong CA, a wrong name and a certificate not valid then are refused', () => {
  const cert = new X509Certificate(certPem);
  const refusal = (re: RegExp) => ({ code: 'UPDATE_UNREACHABLE', message: re });
  assert.throws(() => verifyServerAt(cert, otherCaPem, 'updates.example', FLOOR), refusal(/not from the pinned CA/));
  assert.throws(() => verifyServerAt(cert, caPem, 'evil.example', FLOOR), refusal(/does not name evil\.example/));
  assert.throws(() => verifyServerAt(cert, caPem, 'updates.example.evil', FLOOR), refusal(/does not name/));
  assert.throws(() => verifyServerAt(cert, caPem, '10.0.0.1', FLOOR), refusal(/does not name 10\.0\.0\.1/));
  assert.throws(() => verifyServerAt(cert, caPem, 'updates.example', now + 21 * DAY), refusal(/not valid at the/));
  assert.throws(() => verifyServerAt(cert, caPem, 'updates.example', now), refusal(/not valid at the clock floor/));
  assert.throws(() => verifyServerAt(new X509Certificate(caPem), caPem, 'updates.example', FLOOR), refusal(/CA/));
  assert.throws(() => verifyServerAt(undefined, caPem, 'updates.example', FLOOR), refusal(/no certificate/));
});

test('the fetcher reaches the repository through a certificate valid at the floor, not without it', async () => {
  const atFloor = await fetcher({ at: FLOOR });
  assert.equal((await atFloor.downloadBytes(`${base}/timestamp.json`, 1_000)).toString(), 'signed metadata');
  const before = requests;
  await assert.rejects((await fetcher({})).downloadBytes(`${base}/timestamp.json`, 1_000), {
    code: 'UPDATE_UNREACHABLE',
    message: /CERT_NOT_YET_VALID/,
  });
  assert.equal(requests, before, 'OpenSSL, at the true time, refused before any request');
});

test('at the floor, a wrong pinned CA or a certificate expired at the floor gets no request at all', async () => {
  const before = requests;
  await assert.rejects((await fetcher({ ca: otherCaPem, at: FLOOR })).downloadBytes(`${base}/timestamp.json`, 1_000), {
    code: 'UPDATE_UNREACHABLE',
    message: /not from the pinned CA/,
  });
  await assert.rejects((await fetcher({ at: now + 30 * DAY })).downloadBytes(`${base}/timestamp.json`, 1_000), {
    code: 'UPDATE_UNREACHABLE',
    message: /not valid at the clock floor/,
  });
  assert.equal(requests, before, 'nothing was sent to a server that did not verify');
});
