import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebCertificate } from '../identity/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import {
  openWebCertificate,
  renewalReason,
  viewOf,
  WEB_CERT_STATE_FILE,
  type CertificateJournal,
} from './web-certificate.ts';

const DAY_MS = 86_400_000;
const MADE = Date.parse('2027-01-01T00:00:00Z');

/** The parts of a unit bundle the renewal reads. */
function bundleWith(certPem: string, keyPem: string): DeviceBundle {
  return { unit: { serial: 'PLUG0001', maker: 'Acme' }, webCertPem: certPem, webKeyPem: keyPem } as DeviceBundle;
}

function journal(): CertificateJournal & { entries: Array<{ result: string; detail: string }> } {
  const entries: Array<{ result: string; detail: string }> = [];
  return { entries, record: (e) => entries.push(e) };
}

test('renews a certificate with a third of its life left, expired or not yet valid, and not before', async () => {
  const view = viewOf((await createWebCertificate('PLUG0001', 'Acme', { now: new Date(MADE) })).certPem);
  assert.equal(renewalReason(view, MADE), undefined);
  assert.equal(renewalReason(view, MADE + 260 * DAY_MS), undefined, 'two thirds not yet passed');
  assert.match(renewalReason(view, MADE + 270 * DAY_MS) ?? '', /third/);
  assert.equal(renewalReason(view, MADE + 398 * DAY_MS), 'expired');
  assert.equal(renewalReason(view, MADE - DAY_MS), 'not yet valid');
});

test("replaces the factory's former 20-year certificate at start, for the same key, in the state folder", async () => {
  const legacy = await createWebCertificate('PLUG0001', 'Acme', { validityYears: 20 });
  const stateDir = await mkdtemp(join(tmpdir(), 'web-cert-'));
  const j = journal();
  const cert = await openWebCertificate({
    bundle: bundleWith(legacy.certPem, legacy.privateKeyPem),
    stateDir,
    journal: j,
  });
  const view = cert.view();
  assert.notEqual(view.fingerprint256, viewOf(legacy.certPem).fingerprint256);
  assert.equal(view.spkiSha256, viewOf(legacy.certPem).spkiSha256);
  assert.ok(view.notAfter - view.notBefore <= 398 * DAY_MS);
  assert.equal(await readFile(join(stateDir, WEB_CERT_STATE_FILE), 'utf8'), cert.certPem());
  assert.equal(j.entries.length, 1);
  assert.equal(j.entries[0]!.result, 'success');
  assert.match(j.entries[0]!.detail, /over 398/);
});

test('a saved certificate for another key is ignored and the bundle one served', async () => {
  const own = await createWebCertificate('PLUG0001', 'Acme');
  const other = await createWebCertificate('PLUG0001', 'Acme');
  const stateDir = await mkdtemp(join(tmpdir(), 'web-cert-'));
  await writeFile(join(stateDir, WEB_CERT_STATE_FILE), other.certPem);
  const j = journal();
  const cert = await openWebCertificate({ bundle: bundleWith(own.certPem, own.privateKeyPem), stateDir, journal: j });
  assert.equal(cert.certPem(), own.certPem);
  assert.deepEqual(j.entries, []);
});

test('a check interval out of range is refused with its name', async () => {
  const own = await createWebCertificate('PLUG0001', 'Acme');
  const stateDir = await mkdtemp(join(tmpdir(), 'web-cert-'));
  const o = { bundle: bundleWith(own.certPem, own.privateKeyPem), stateDir, journal: journal() };
  await assert.rejects(openWebCertificate({ ...o, config: { checkIntervalMs: 10 } }), /checkIntervalMs/);
});
