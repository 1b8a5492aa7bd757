// Factory acceptance: every unit is unique, verifiable, and its sticker decodes to its own data.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, stat, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { PNG } from 'pngjs';
import { initFactory, provisionUnits, parseStickerUri, type ProvisionedUnit } from '../../src/identity/index.ts';
import { readDeviceBundle } from '../../src/bundle/index.ts';
import { verifyPassword } from '../../src/auth/index.ts';
import { verifySetupCode, parsePairingVerifierRecord } from '../../src/pairing/index.ts';
import { hasCode } from '../../src/errors/index.ts';
import { needTool } from '../support/tools.ts';

const run = promisify(execFile);
// jsQR is a CommonJS bundle whose typings disagree with its runtime shape under nodenext.
const jsQR = createRequire(import.meta.url)('jsqr') as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;
let work: string;
let factoryDir: string;
let outDir: string;
let units: ProvisionedUnit[];
const BATCH = 100;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-factory-test-'));
  factoryDir = join(work, 'factory');
  outDir = join(work, 'out');
  await initFactory(factoryDir);
  units = await provisionUnits({ factoryDir, model: 'plug', count: BATCH, outDir });
});

test(`a batch of ${BATCH} units has distinct keys, certificates, passwords, setup codes and claim codes`, async () => {
  assert.equal(units.length, BATCH);
  const sets: Record<string, Set<string>> = {
    serial: new Set(),
    deviceKey: new Set(),
    webKey: new Set(),
    deviceCert: new Set(),
    webCert: new Set(),
    password: new Set(),
    setup: new Set(),
    claim: new Set(),
    verifier: new Set(),
  };
  for (const u of units) {
    const b = await readDeviceBundle(u.dir);
    sets.serial!.add(b.unit.serial);
    sets.deviceKey!.add(createPublicKey(b.deviceKeyPem).export({ type: 'spki', format: 'der' }).toString('hex'));
    sets.webKey!.add(createPublicKey(b.webKeyPem).export({ type: 'spki', format: 'der' }).toString('hex'));
    sets.deviceCert!.add(b.deviceCertPem);
    sets.webCert!.add(b.webCertPem);
    sets.password!.add(u.adminPassword!);
    sets.setup!.add(u.setupCode);
    sets.claim!.add(u.claimCode);
    sets.verifier!.add(JSON.stringify(b.pairingVerifierJson));
  }
  for (const [name, set] of Object.entries(sets)) assert.equal(set.size, BATCH, `${name} values repeat`);
  // The device key and the web key of one unit are different keys, too.
  const all = new Set([...sets.deviceKey!, ...sets.webKey!]);
  assert.equal(all.size, 2 * BATCH);
});

test('openssl verifies every device certificate against the manufacturer CA, with CN = serial', async () => {
  const ca = join(factoryDir, 'ca', 'ca-cert.pem');
  const certs = units.map((u) => join(u.dir, 'device-cert.pem'));
  const { stdout } = await run('openssl', ['verify', '-CAfile', ca, ...certs]);
  assert.equal(
    stdout
      .trim()
      .split('\n')
      .filter((l) => l.endsWith(': OK')).length,
    BATCH,
  );
  for (const u of units.slice(0, 10)) {
    const cert = new X509Certificate(await readFile(join(u.dir, 'device-cert.pem')));
    assert.match(cert.subject, new RegExp(`CN=${u.serial}`));
    assert.equal(cert.ca, false);
  }
});

test('each self-signed web certificate verifies against itself and names the unit', async () => {
  for (const u of units.slice(0, 20)) {
    const cert = join(u.dir, 'web-cert.pem');
    const { stdout } = await run('openssl', ['verify', '-CAfile', cert, cert]);
    assert.match(stdout, /: OK/);
    const x = new X509Certificate(await readFile(cert));
    assert.match(x.subjectAltName ?? '', new RegExp(`DNS:${u.serial.toLowerCase()}\\.local`));
    assert.match(x.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  }
  // One unit's certificate is no authority for another's.
  const a = join(units[0]!.dir, 'web-cert.pem'),
    b = join(units[1]!.dir, 'web-cert.pem');
  await assert.rejects(run('openssl', ['verify', '-CAfile', a, b]));
});

test('a device certificate from another factory does not verify against this CA', async () => {
  const other = join(work, 'other-factory');
  await initFactory(other);
  const [foreign] = await provisionUnits({
    factoryDir: other,
    model: 'bulb',
    count: 1,
    outDir: join(work, 'other-out'),
  });
  await assert.rejects(
    run('openssl', ['verify', '-CAfile', join(factoryDir, 'ca', 'ca-cert.pem'), join(foreign!.dir, 'device-cert.pem')]),
  );
});

function decodeQr(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data), img.width, img.height)?.data;
}

test("the sticker QR code decodes (jsQR) to the documented URI with the unit's own values", async () => {
  for (const u of units.slice(0, 10)) {
    const uri = decodeQr(await readFile(join(u.dir, 'sticker.png')));
    assert.ok(uri, 'QR code not found');
    const p = parseStickerUri(uri);
    assert.equal(p.serial, u.serial);
    assert.equal(p.model, 'plug');
    assert.equal(p.setupCode, u.setupCode.replace(/-/g, ''));
    assert.equal(p.claimCode, u.claimCode.replace(/-/g, ''));
    const label = JSON.parse(await readFile(join(u.dir, 'label.json'), 'utf8')) as { uri: string };
    assert.equal(label.uri, uri);
  }
});

test('zbarimg, a decoder we did not write, reads the same URI from sticker.png', async (t) => {
  if (!needTool(t, 'zbarimg')) return;
  const u = units[0]!;
  const { stdout } = await run('zbarimg', ['-q', '--raw', join(u.dir, 'sticker.png')]);
  const p = parseStickerUri(stdout.trim());
  assert.equal(p.serial, u.serial);
  assert.equal(p.setupCode, u.setupCode.replace(/-/g, ''));
});

test('the sticker SVG shows model, serial, password and setup code', async () => {
  const u = units[0]!;
  const svg = await readFile(join(u.dir, 'sticker.svg'), 'utf8');
  assert.match(svg, /width="50mm" height="30mm"/);
  for (const text of ['Smart Plug', u.serial, u.adminPassword!, u.setupCode]) assert.ok(svg.includes(text), text);
});

test('manifest.json holds no password, setup code, claim code or private key', async () => {
  const text = await readFile(join(outDir, 'manifest.json'), 'utf8');
  const manifest = JSON.parse(text) as { units: Array<Record<string, string>> };
  assert.equal(manifest.units.length, BATCH);
  assert.doesNotMatch(text, /PRIVATE KEY/);
  const compact = text.replace(/[-\s]/g, '').toLowerCase();
  for (const u of units) {
    for (const secret of [u.adminPassword!, u.setupCode, u.claimCode]) {
      assert.ok(!text.includes(secret), 'secret in manifest');
      assert.ok(!compact.includes(secret.replace(/-/g, '').toLowerCase()), 'secret (without separators) in manifest');
    }
  }
  const keys = Object.keys(manifest.units[0]!).sort();
  assert.deepEqual(keys, [
    'claimCodeHash',
    'createdAt',
    'deviceCertFingerprint',
    'deviceCertSerialNumber',
    'model',
    'modelDigest',
    'serial',
    'webCertFingerprint',
  ]);
});

test('secret files are mode 0600 and the device bundle holds only hashes of the codes', async () => {
  const u = units[0]!;
  for (const name of [
    'device-key.pem',
    'web-key.pem',
    'admin-password.phc',
    'pairing-verifier.json',
    'label.json',
    'sticker.png',
    'sticker.svg',
  ]) {
    assert.equal((await stat(join(u.dir, name))).mode & 0o777, 0o600, name);
  }
  const b = await readDeviceBundle(u.dir);
  assert.match(b.adminPasswordHash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal((await verifyPassword(u.adminPassword!, b.adminPasswordHash!)).ok, true);
  const record = parsePairingVerifierRecord(b.pairingVerifierJson);
  assert.equal(verifySetupCode(u.setupCode, record), true);
  const deviceFiles = JSON.stringify(b.pairingVerifierJson) + b.adminPasswordHash;
  assert.ok(!deviceFiles.includes(u.setupCode.replace(/-/g, '')));
  assert.ok(!(await readdir(outDir)).some((n) => n.endsWith('.partial')), 'no staging folder left behind');
});

test('an unknown model is a clear MODEL_UNKNOWN error and writes nothing', async () => {
  const out = join(work, 'unknown-out');
  await assert.rejects(provisionUnits({ factoryDir, model: 'toaster', count: 1, outDir: out }), (e) =>
    hasCode(e, 'MODEL_UNKNOWN'),
  );
  await assert.rejects(stat(out));
});

test('there is no way to provision a chosen password', async () => {
  const opts = { factoryDir, model: 'plug', count: 1, outDir: join(work, 'x'), adminPassword: 'hunter2hunter2' };
  await assert.rejects(provisionUnits(opts), (e) => hasCode(e, 'PROVISION_SHARED_SECRET_REFUSED'));
});

test('factory init refuses to overwrite an existing CA', async () => {
  const before = await readFile(join(factoryDir, 'ca', 'ca-key.pem'));
  await assert.rejects(initFactory(factoryDir), (e) => hasCode(e, 'FACTORY_EXISTS'));
  assert.deepEqual(await readFile(join(factoryDir, 'ca', 'ca-key.pem')), before);
  assert.equal((await stat(join(factoryDir, 'ca', 'ca-key.pem'))).mode & 0o777, 0o600);
});

test('each bundle carries its model, with the digest unit.json and the manifest name; another is refused', async () => {
  const u = units[0]!;
  const b = await readDeviceBundle(u.dir);
  assert.equal(b.model.id, 'plug');
  const manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as {
    units: Array<{ serial: string; modelDigest: string }>;
    models: Record<string, { id: string }>;
  };
  const entry = manifest.units.find((e) => e.serial === b.unit.serial)!;
  assert.equal(entry.modelDigest, b.unit.modelDigest);
  assert.equal(manifest.models[entry.modelDigest]?.id, 'plug');
  // A bundle whose model.json was swapped (a plug claiming the lock's rules, or the reverse) is refused.
  const copy = join(work, 'swapped');
  await cp(u.dir, copy, { recursive: true });
  const lock = await readFile(new URL('../../models/lock.model.json', import.meta.url), 'utf8');
  await writeFile(join(copy, 'model.json'), lock);
  await assert.rejects(
    readDeviceBundle(copy),
    (err: unknown) => hasCode(err, 'BUNDLE_INVALID') || hasCode(err, 'BUNDLE_MODEL_MISMATCH'),
  );
  const tampered = JSON.parse(await readFile(join(u.dir, 'model.json'), 'utf8')) as { name: string };
  tampered.name = 'Smart Plug (tampered)';
  await writeFile(join(copy, 'model.json'), JSON.stringify(tampered));
  await assert.rejects(readDeviceBundle(copy), (err: unknown) => hasCode(err, 'BUNDLE_MODEL_MISMATCH'));
});

test("a unit's support end is its model file's supportPeriod.endsOn, not one date for the whole factory", async () => {
  const file = join(work, 'short-support.model.json');
  const plug = JSON.parse(await readFile(new URL('../../models/plug.model.json', import.meta.url), 'utf8')) as {
    id: string;
    supportPeriod: { endsOn: string };
  };
  await writeFile(file, JSON.stringify({ ...plug, id: 'short-plug', supportPeriod: { endsOn: '2029-03-31' } }));
  const [short] = await provisionUnits({ factoryDir, model: file, count: 1, outDir: join(work, 'short') });
  assert.equal((await readDeviceBundle(short!.dir)).unit.supportPeriodEnd, '2029-03-31');
  assert.equal((await readDeviceBundle(units[0]!.dir)).unit.supportPeriodEnd, plug.supportPeriod.endsOn);
});
