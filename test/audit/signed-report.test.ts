// The release gate (build.audit-report) accepts only a kept report that is a DSSE envelope signed with the factory's
// audit key (published as a signed target) over an in-toto statement naming the shipped image's SHA-256.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepReleaseAudit, runAudit, signAttestation, type AuditReport } from '../../src/audit/index.ts';
import { ensureAuditKey } from '../../src/release/index.ts';
import { initRepository, publishImage, buildReferenceImage } from '../../src/release/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';

const PROFILES = fileURLToPath(new URL('../../src/policy/profiles/', import.meta.url));
let fleet: TestFleet;
let repoDir: string;
let imageSha: string;
let passing: AuditReport;

/** A report of plug 1.1.0 whose required controls all pass: the content a forger would write by hand. */
function passingReport(r: AuditReport): AuditReport {
  return {
    ...r,
    scope: { ...r.scope, firmware: { model: 'plug', version: '1.1.0', securityVersion: 1, slot: 'a' } },
    controls: r.controls.map((c) => ({ ...c, status: 'pass' as const })),
    checks: r.checks.map((c) => ({ ...c, status: 'pass' as const })),
  };
}

before(
  async () => {
    fleet = await makeFleet(['plug']);
    repoDir = join(fleet.work, 'releases');
    await initRepository({ repoDir, factoryDir: fleet.factoryDir });
    const artifact = join(fleet.work, 'plug.tar');
    await buildReferenceImage(artifact, { model: 'plug', version: '1.1.0', securityVersion: 1 });
    imageSha = (await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' })).sha256;
    passing = passingReport(await gate());
  },
  { timeout: 300_000 },
);

async function gate(): Promise<AuditReport> {
  return runAudit({ profile: join(PROFILES, 'plug.yaml'), bundle: fleet.units.plug!.dir, updateRepo: repoDir });
}

/** Runs the gate with exactly one kept file holding `content`. */
async function gateWith(content: unknown): Promise<{ status: string; text: string }> {
  const dir = join(repoDir, 'audits', 'plug');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, '1.1.0-2026-01-01T00-00-00-000Z.audit.json'), JSON.stringify(content));
  const c = (await gate()).checks.find((k) => k.id === 'build.audit-report')!;
  const text = c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`).join('\n');
  return { status: c.status, text };
}

test('a hand-written report with the right format, model and version fails the gate as unsigned', async () => {
  const r = await gateWith(passing);
  assert.equal(r.status, 'fail', r.text);
  assert.match(r.text, /unsigned \(not a DSSE envelope/);
});

test("a report signed with the factory's key over another image's digest fails the gate", async () => {
  const { privateKey } = await ensureAuditKey(fleet.factoryDir);
  const other = imageSha.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const r = await gateWith(signAttestation(passing, { name: 'plug/image.tar', sha256: other }, privateKey));
  assert.equal(r.status, 'fail', r.text);
  assert.match(r.text, /signed for another image/);
});

test('a signed report whose predicate was changed after signing fails the gate', async () => {
  const { privateKey } = await ensureAuditKey(fleet.factoryDir);
  const failing = { ...passing, controls: passing.controls.map((c) => ({ ...c, status: 'fail' as const })) };
  const env = signAttestation(failing, { name: 'plug/image.tar', sha256: imageSha }, privateKey);
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: unknown };
  statement.predicate = passing;
  const r = await gateWith({ ...env, payload: Buffer.from(JSON.stringify(statement)).toString('base64') });
  assert.equal(r.status, 'fail', r.text);
  assert.match(r.text, /signature does not verify with the factory's audit key/);
});

test("a report signed with a key that is not the factory's fails the gate", async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const r = await gateWith(signAttestation(passing, { name: 'plug/image.tar', sha256: imageSha }, privateKey));
  assert.equal(r.status, 'fail', r.text);
  assert.match(r.text, /signature does not verify/);
});

test('a report kept with the factory key passes the gate; a swapped audit key in the repository fails it', async () => {
  await rm(join(repoDir, 'audits'), { recursive: true, force: true });
  const path = await keepReleaseAudit(passing, repoDir, fleet.factoryDir);
  const kept = (await readFile(path, 'utf8')).trim();
  const r = await gateWith(JSON.parse(kept));
  assert.equal(r.status, 'pass', r.text);
  assert.match(r.text, /signed for [0-9a-f]{16}\.\.\./);
  // Someone with write access to the repository folder but not the factory replaces the published key.
  const targets = join(repoDir, 'targets');
  const keyFile = (await readdir(targets)).find((n) => n.endsWith('.audit-key.pub.pem'))!;
  const original = await readFile(join(targets, keyFile));
  const forged = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(join(targets, keyFile), forged);
  try {
    const swapped = await gateWith(JSON.parse(kept));
    assert.equal(swapped.status, 'fail', swapped.text);
    assert.match(swapped.text, /does not match its signed hash/);
  } finally {
    await writeFile(join(targets, keyFile), original);
  }
});
