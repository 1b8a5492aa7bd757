// TLS of the admin service: only 1.2 and 1.3, only ECDHE with AEAD on 1.2; testssl.sh agrees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { readFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { makeFleet, startAgent, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { needTool } from '../support/tools.ts';

let fleet: TestFleet;
let agent: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug']);
  agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
});
after(async () => {
  await agent?.close();
});

function handshake(o: {
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}): Promise<{ ok: boolean; protocol?: string; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(
      { host: '127.0.0.1', port: agent.web.port, rejectUnauthorized: false, servername: 'localhost', ...o },
      () => {
        resolve({ ok: true, protocol: s.getProtocol() ?? undefined, cipher: s.getCipher()?.name });
        s.end();
      },
    );
    s.on('error', (err: Error) => resolve({ ok: false, error: err.message }));
    s.setTimeout(5000, () => {
      s.destroy();
      resolve({ ok: false, error: 'timeout' });
    });
  });
}

test('TLS 1.3 and TLS 1.2 with ECDHE-AEAD are accepted', async () => {
  const t13 = await handshake({ minVersion: 'TLSv1.3' });
  assert.equal(t13.protocol, 'TLSv1.3');
  const t12 = await handshake({ maxVersion: 'TLSv1.2' });
  assert.equal(t12.protocol, 'TLSv1.2');
  assert.match(t12.cipher!, /^ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20-POLY1305)/);
});

test('TLS 1.0 and TLS 1.1 are refused', async () => {
  for (const v of ['TLSv1', 'TLSv1.1'] as const) {
    const r = await handshake({ minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' });
    assert.equal(r.ok, false, `${v} was accepted`);
  }
});

test('TLS 1.2 without ECDHE or without AEAD is refused', async () => {
  for (const c of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES256-SHA256']) {
    const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: c });
    assert.equal(r.ok, false, `${c} was accepted`);
  }
});

test("the service presents the unit's own certificate", async () => {
  const cert = await readFile(join(fleet.units.plug!.dir, 'web-cert.pem'), 'utf8');
  const fp = await new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: agent.web.port, ca: cert, servername: 'localhost' }, () => {
      resolve(s.getPeerX509Certificate()!.fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
  const { X509Certificate } = await import('node:crypto');
  assert.equal(fp, new X509Certificate(cert).fingerprint256);
});

interface TestsslFinding {
  id: string;
  severity: string;
  finding: string;
}

test(
  'testssl.sh finds no SSLv3/TLS 1.0/1.1, no non-AEAD cipher, no lifetime finding and no known vulnerability',
  { timeout: 600_000 },
  async (t) => {
    if (!needTool(t, 'testssl.sh')) return;
    const bin = 'testssl';
    const out = join(await mkdtemp(join(tmpdir(), 'testssl-')), 'result.json');
    await new Promise<void>((resolve) => {
      execFile(
        bin,
        [
          '--quiet',
          '--color',
          '0',
          '--warnings',
          'off',
          '--sneaky',
          '--fast',
          '-p',
          '-S',
          '-s',
          '-U',
          '-E',
          '--jsonfile',
          out,
          `127.0.0.1:${agent.web.port}`,
        ],
        { timeout: 540_000, maxBuffer: 64 * 1024 * 1024 },
        () => resolve(),
      );
    });
    const findings = JSON.parse(await readFile(out, 'utf8')) as TestsslFinding[];
    const byId = new Map(findings.map((f) => [f.id, f]));
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'])
      assert.match(byId.get(id)?.finding ?? '', /not offered/i, `${id}: ${byId.get(id)?.finding}`);
    assert.match(byId.get('TLS1_3')?.finding ?? '', /offered/i);
    // Every cipher offered for any protocol is AEAD with forward secrecy.
    const offered = findings.filter((f) => /^cipher-tls1_[23]_/.test(f.id) || /^cipher_x/.test(f.id));
    for (const f of offered) assert.match(f.finding, /(GCM|CHACHA20|POLY1305|CCM)/i, `non-AEAD cipher: ${f.finding}`);
    // The certificate is the unit's own, self-signed: no public chain of trust to find. Its lifetime
    // is not excused: at most 398 days, testssl.sh has nothing to say about it.
    assert.equal(byId.get('cert_validityPeriod')?.finding, 'No finding');
    const vulnerable = findings.filter(
      (f) =>
        ['HIGH', 'CRITICAL', 'MEDIUM'].includes(f.severity) &&
        !/^(cert_(?!validityPeriod)|DNS_CAArecord|HSTS|engine_problem|scanProblem|cipher_order)/.test(f.id),
    );
    assert.deepEqual(
      vulnerable.map((f) => `${f.id}: ${f.finding}`),
      [],
    );
  },
);
