// The admin page's certificate is short-lived and renews itself (issue 19, part 4): what the page serves
// is valid at most 398 days by `openssl x509 -enddate`; with the unit's clock moved past two thirds of
// its validity the running unit issues a new one for the same key and serves it without a restart, so
// an owner's pin on the key still matches; the page names the certificate it is served with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { request } from 'node:https';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';

const DAY_MS = 86_400_000;
let fleet: TestFleet;
let agent: DeviceAgent | undefined;
/** How far the unit's wall clock is ahead of the true time, ms. */
let ahead = 0;
const readings = { wall: () => Date.now() + ahead, monotonic: () => Number(process.hrtime.bigint()) / 1e6 };

before(async () => {
  fleet = await makeFleet(['plug']);
});
after(async () => {
  await agent?.close();
});

function start(): Promise<DeviceAgent> {
  const unit = fleet.units.plug!;
  return startDeviceAgent({
    bundleDir: unit.dir,
    stateDir: join(fleet.work, 'state'),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    clockReadings: readings,
    webCertificateCheckIntervalMs: 1_000,
  });
}

/** The certificate the admin page serves, as a TLS client sees it. */
function served(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()!);
      s.end();
    });
    s.on('error', reject);
  });
}

/** Whether a handshake with these TLS settings succeeds. */
function handshakes(port: number, o: { maxVersion: 'TLSv1.1' | 'TLSv1.2'; ciphers: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(
      { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1', ...o },
      () => {
        s.end();
        resolve(true);
      },
    );
    s.on('error', () => resolve(false));
  });
}

/** `openssl x509 -noout -enddate` on the certificate: its end, ms since the epoch. */
async function opensslEndDate(cert: X509Certificate): Promise<number> {
  const file = join(await mkdtemp(join(tmpdir(), 'web-cert-')), 'served.pem');
  await writeFile(file, cert.toString());
  const { stdout } = await promisify(execFile)('openssl', ['x509', '-noout', '-enddate', '-in', file]);
  const m = /^notAfter=(.+)$/m.exec(stdout);
  assert.ok(m, `openssl printed ${stdout}`);
  const end = Date.parse(m[1]!);
  assert.ok(Number.isFinite(end), `unparsable end date ${m[1]}`);
  return end;
}

function spkiSha256(key: ReturnType<typeof createPublicKey>): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/** GET / with the logged-in client's cookies, trusting whatever certificate is served (it changes). */
function dashboardHtml(client: WebClient, port: number): Promise<string> {
  const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', servername: 'localhost', rejectUnauthorized: false, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.setHeader('cookie', cookie);
    req.setHeader('host', `localhost:${port}`);
    req.on('error', reject);
    req.end();
  });
}

function endInOwnerWords(cert: X509Certificate): string {
  const options = { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' } as const;
  return new Date(Date.parse(cert.validTo)).toLocaleDateString('en-GB', options);
}

test(
  'the served certificate lives at most 398 days and is renewed for the same key once two thirds have passed',
  { timeout: 120_000 },
  async () => {
    const unit = fleet.units.plug!;
    agent = await start();
    const port = agent.web.port;
    const first = await served(port);
    const firstEnd = await opensslEndDate(first);
    assert.ok(firstEnd - Date.now() <= 398 * DAY_MS, `ends ${new Date(firstEnd).toISOString()}, over 398 days`);
    assert.ok(firstEnd - Date.parse(first.validFrom) <= 398 * DAY_MS);
    const ownerPin = spkiSha256(createPublicKey(await readFile(join(unit.dir, 'web-key.pem'), 'utf8')));
    assert.equal(spkiSha256(first.publicKey), ownerPin);

    const client = await WebClient.for(agent.web.url, unit);
    assert.equal((await client.login(unit.adminPassword!)).status, 303);
    const page = await dashboardHtml(client, port);
    assert.ok(page.includes(`sha256 ${first.fingerprint256}`), 'the page shows the fingerprint it is served with');
    assert.ok(page.includes(`valid until ${endInOwnerWords(first)}, renewed automatically`));

    // Past two thirds of the validity: less than a third is left, so the running unit renews.
    ahead = Math.ceil(((firstEnd - Date.now()) * 2) / 3) + DAY_MS;
    let renewed = first;
    const deadline = Date.now() + 30_000;
    while (renewed.fingerprint256 === first.fingerprint256 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      renewed = await served(port);
    }
    assert.notEqual(renewed.fingerprint256, first.fingerprint256, 'the served certificate changed without a restart');
    const renewedEnd = await opensslEndDate(renewed);
    assert.ok(renewedEnd > firstEnd, 'the new certificate ends later');
    assert.ok(renewedEnd - (Date.now() + ahead) <= 398 * DAY_MS, "and lives at most 398 days from the unit's now");
    assert.equal(spkiSha256(renewed.publicKey), ownerPin, "the owner's pin on the key still matches");
    assert.equal(renewed.subject, first.subject);
    assert.equal(renewed.subjectAltName, first.subjectAltName);
    // The swap keeps the TLS profile: no TLS 1.1, no suite without ECDHE and AEAD.
    assert.equal(await handshakes(port, { maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }), false);
    assert.equal(await handshakes(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-SHA384' }), false);
    assert.equal(await handshakes(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), true);

    const saved = new X509Certificate(await readFile(join(fleet.work, 'state', 'web-cert.pem'), 'utf8'));
    assert.equal(saved.fingerprint256, renewed.fingerprint256, 'the renewed certificate is kept in the state folder');
    const inBundle = new X509Certificate(await readFile(join(unit.dir, 'web-cert.pem'), 'utf8'));
    assert.equal(inBundle.fingerprint256, first.fingerprint256, 'the bundle is untouched');
    const rows = await agent.journal.list({ limit: 50, tier: 'security' });
    assert.ok(rows.some((r) => r.event === 'certificate-renewed' && r.result === 'success' && r.surface === 'web'));
    const after = await dashboardHtml(client, port);
    assert.ok(after.includes(`sha256 ${renewed.fingerprint256}, valid until ${endInOwnerWords(renewed)}`));

    // Started again, the unit serves the renewed certificate from its state folder and issues none.
    await agent.close();
    agent = await start();
    const again = await served(agent.web.port);
    assert.equal(again.fingerprint256, renewed.fingerprint256);
  },
);
