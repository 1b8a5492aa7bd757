import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  createCertificateRequest,
  issueFromRequest,
  loadCaSigner,
} from '../identity/index.ts';
import {
  OperationalIdentityStore,
  OPERATIONAL_IDENTITY_FILE,
  acceptIssuedCertificate,
  candidates,
  promoted,
  renewAt,
  renewalDue,
  withNext,
  withoutNext,
  withRenewRequest,
  type OperationalCertificate,
} from './operational-identity.ts';

const DAY = 86_400_000;
const SERIAL = 'PLUG-0001';

async function issued(
  serial = SERIAL,
  days = 365,
  commonName = serial,
): Promise<{ certPem: string; keyPem: string; notBefore: number; notAfter: number }> {
  const ca = await createCertificateAuthority('Test Issuing CA', { validityDays: 3650 });
  const signer = await loadCaSigner(ca.certPem, ca.privateKeyPem);
  const req = await createCertificateRequest(commonName);
  const now = Date.now();
  const cert = await issueFromRequest(signer, req.csrPem, commonName, {
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY),
  });
  return { certPem: cert.certPem, keyPem: req.privateKeyPem, notBefore: now - 60_000, notAfter: cert.notAfter };
}

function accepted(r: ReturnType<typeof acceptIssuedCertificate>): OperationalCertificate {
  assert.equal(typeof r, 'object', `refused: ${typeof r === 'string' ? r : ''}`);
  return r as OperationalCertificate;
}

function sink(dir: string): { dir: string; notes: string[]; note(e: { reason: string }): void } {
  const notes: string[] = [];
  return { dir: join(dir, 'damaged'), notes, note: (e) => notes.push(e.reason) };
}

test('renewal falls at two thirds of the validity less a jitter drawn once, when the certificate arrived', async () => {
  const c = await issued();
  const now = Date.now();
  const early = accepted(acceptIssuedCertificate(c.certPem, c.keyPem, SERIAL, now, 0.5));
  const validity = early.notAfter - early.notBefore;
  assert.equal(early.jitterMs, Math.floor(0.5 * 0.1 * validity));
  assert.equal(renewAt(early), early.notBefore + Math.floor((validity * 2) / 3) - early.jitterMs);
  const none = accepted(acceptIssuedCertificate(c.certPem, c.keyPem, SERIAL, now, 0));
  assert.ok(renewAt(none) > renewAt(early), 'a larger draw renews earlier');
  assert.ok(renewAt(early) >= early.notBefore + validity * (2 / 3 - 0.1) - 1, 'never more than a tenth early');

  const state = { current: early };
  assert.equal(renewalDue(state, renewAt(early) - 1), undefined);
  assert.equal(renewalDue(state, renewAt(early)), 'renewal');
  assert.equal(renewalDue(state, early.notAfter + 1), 'renewal', 'expired: at once');
  assert.equal(renewalDue({}, now), 'first');
});

test('the stored jitter survives a restart: the renewal time is read back, not drawn again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'opid-'));
  const c = await issued();
  const cert = accepted(acceptIssuedCertificate(c.certPem, c.keyPem, SERIAL, Date.now(), 0.73));
  const store = await OperationalIdentityStore.load(dir, sink(dir));
  await store.save(promoted(withNext(store.state, cert)));
  const again = await OperationalIdentityStore.load(dir, sink(dir));
  assert.equal(again.state.current?.jitterMs, cert.jitterMs);
  assert.equal(renewAt(again.state.current), renewAt(cert));
  assert.equal((await stat(join(dir, OPERATIONAL_IDENTITY_FILE))).mode & 0o777, 0o600, 'it holds a key: 0600');
});

test('a new certificate is tried first and replaces the old one only once it has connected', async () => {
  const now = Date.now();
  const a = await issued();
  const b = await issued();
  const old = accepted(acceptIssuedCertificate(a.certPem, a.keyPem, SERIAL, now, 0));
  const fresh = accepted(acceptIssuedCertificate(b.certPem, b.keyPem, SERIAL, now + 1, 0));
  const pending = withNext({ current: old }, fresh);
  assert.deepEqual(candidates(pending, now), ['next', 'current', 'birth']);
  assert.equal(renewalDue(pending, old.notAfter - 1), undefined, 'no second request while one waits to connect');
  const after = promoted(pending);
  assert.equal(after.current?.certPem, fresh.certPem);
  assert.equal(after.next, undefined, 'the old certificate is gone');
  assert.deepEqual(candidates(after, now), ['current', 'birth']);
});

test('a new certificate the broker refused is dropped and the old one is used', async () => {
  const now = Date.now();
  const a = await issued();
  const b = await issued();
  const old = accepted(acceptIssuedCertificate(a.certPem, a.keyPem, SERIAL, now, 0));
  const fresh = accepted(acceptIssuedCertificate(b.certPem, b.keyPem, SERIAL, now, 0));
  const fallen = withoutNext(withNext({ current: old }, fresh));
  assert.equal(fallen.current?.certPem, old.certPem);
  assert.deepEqual(candidates(fallen, now), ['current', 'birth']);
  assert.deepEqual(candidates({ current: old }, old.notAfter), ['birth'], 'an expired certificate is not offered');
});

test("the cloud's renew request applies to certificates issued before it, and a renewal answers it", async () => {
  const c = await issued();
  const t0 = Date.now();
  const cert = accepted(acceptIssuedCertificate(c.certPem, c.keyPem, SERIAL, t0, 0));
  assert.equal(renewalDue(withRenewRequest({ current: cert }, cert.notBefore - 1, t0 + 5), t0 + 10), undefined);
  const asked = withRenewRequest({ current: cert }, t0 + 5, t0 + 5);
  assert.equal(renewalDue(asked, t0 + 10), 'forced');
  // A new certificate the broker then refuses does not answer it.
  const e = await issued();
  const refused = accepted(acceptIssuedCertificate(e.certPem, e.keyPem, SERIAL, t0 + 15, 0));
  assert.equal(renewalDue(withoutNext(withNext(asked, refused)), t0 + 16), 'forced');
  const d = await issued();
  const renewed = accepted(acceptIssuedCertificate(d.certPem, d.keyPem, SERIAL, t0 + 20, 0));
  const after = promoted(withNext(asked, renewed));
  assert.equal(after.renew, undefined, 'answered');
  // The new certificate is back-dated a minute: without the answer noted it would be renewed again and again.
  // A request noted while a certificate was already waiting is not answered by it.
  const late = withRenewRequest(withNext({ current: cert }, renewed), t0 + 40, t0 + 40);
  assert.equal(renewalDue(promoted(late), t0 + 50), 'forced');
  assert.ok(renewed.notBefore < t0 + 5);
  assert.equal(renewalDue(after, t0 + 30), undefined);
});

test('a certificate for another key, another unit, or already expired is refused', async () => {
  const now = Date.now();
  const good = await issued();
  const other = await issued();
  assert.equal(acceptIssuedCertificate(good.certPem, other.keyPem, SERIAL, now, 0), 'wrong-key');
  const stranger = await issued('PLUG-0002');
  assert.equal(acceptIssuedCertificate(stranger.certPem, stranger.keyPem, SERIAL, now, 0), 'wrong-subject');
  assert.equal(acceptIssuedCertificate(good.certPem, good.keyPem, SERIAL, good.notAfter + 1, 0), 'expired');
  assert.equal(
    acceptIssuedCertificate('-----BEGIN CERTIFICATE-----\nAA==\n', good.keyPem, SERIAL, now, 0),
    'unparseable',
  );
});

test('a damaged identity file is moved aside and the unit starts from its birth certificate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'opid-'));
  await writeFile(join(dir, OPERATIONAL_IDENTITY_FILE), '{"version":1,"current":{"certPem":', { mode: 0o600 });
  const s = sink(dir);
  const store = await OperationalIdentityStore.load(dir, s);
  assert.deepEqual(store.state, {});
  assert.deepEqual(candidates(store.state, Date.now()), ['birth']);
  assert.equal(renewalDue(store.state, Date.now()), 'first');
  assert.equal(s.notes.length, 1);
  assert.equal((await readdir(join(dir, 'damaged'))).length, 1, 'kept for support');
});

test('a power cut after the new certificate is written and before it is promoted leaves both usable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'opid-'));
  const now = Date.now();
  const a = await issued();
  const b = await issued();
  const store = await OperationalIdentityStore.load(dir, sink(dir));
  await store.save({ current: accepted(acceptIssuedCertificate(a.certPem, a.keyPem, SERIAL, now, 0)) });
  await store.save(withNext(store.state, accepted(acceptIssuedCertificate(b.certPem, b.keyPem, SERIAL, now, 0))));
  // The process dies here: what a restart reads is the file alone.
  const restarted = await OperationalIdentityStore.load(dir, sink(dir));
  assert.equal(restarted.state.current?.certPem, a.certPem);
  assert.equal(restarted.state.next?.certPem, b.certPem);
  assert.equal(restarted.state.next?.keyPem, b.keyPem);
  assert.deepEqual(candidates(restarted.state, now), ['next', 'current', 'birth']);
  const text = await readFile(join(dir, OPERATIONAL_IDENTITY_FILE), 'utf8');
  assert.equal((JSON.parse(text) as { version: number }).version, 1);
});
