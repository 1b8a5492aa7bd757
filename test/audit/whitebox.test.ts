// White-box checks that must fail: a tampered unit bundle (a readable key, a cheap password hash,
// an update root altered after signing), a manifest with a repeated certificate, and a firmware source with
// eval, a hard-coded private key and unvetted dependencies. The same checks pass on clean inputs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, type AuditReport } from '../../src/audit/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLUG_PROFILE = join(ROOT, 'src/policy/profiles/plug.yaml');

const ESLINT_CONFIG = `export default [{ rules: {
  'no-eval': 'error',
  'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='exec']", message: 'No shell.' }],
} }];
`;
const PEM_HEADER = ['-----BEGIN', 'PRIVATE KEY-----'].join(' ');

async function project(dir: string, o: { bad: boolean }): Promise<string> {
  await mkdir(join(dir, 'src'), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await writeFile(join(dir, 'eslint.config.mjs'), ESLINT_CONFIG);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'fixture-firmware',
      type: 'module',
      dependencies: o.bad
        ? { 'crypto-js': '4.0.0', 'nat-upnp': '1.1.1', '@noble/hashes': '2.0.0' }
        : { '@noble/hashes': '2.0.0', yaml: '2.0.0' },
    }),
  );
  await writeFile(join(dir, 'src', 'main.js'), 'export const answer = 42;\n');
  await writeFile(
    join(dir, 'sbom.cdx.json'),
    JSON.stringify(
      o.bad
        ? { bomFormat: 'SPDX' }
        : { bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ name: 'yaml', version: '2.0.0' }] },
    ),
  );
  if (o.bad) {
    await writeFile(join(dir, 'src', 'debug.js'), 'export function run(code) { return eval(code); }\n');
    await writeFile(join(dir, 'src', 'keys.js'), `export const KEY = \`${PEM_HEADER}\nMIGHAgEAMBMGByqGSM49\n\`;\n`);
  }
  return dir;
}

let fleet: TestFleet;
let clean: AuditReport;
let tampered: AuditReport;

before(
  async () => {
    fleet = await makeFleet(['plug']);
    const unit = fleet.units.plug!;
    const work = await mkdtemp(join(tmpdir(), 'bulwark-audit-wb-'));

    clean = await runAudit({
      profile: PLUG_PROFILE,
      bundle: unit.dir,
      manifest: join(dirname(unit.dir), 'manifest.json'),
      source: await project(join(work, 'clean'), { bad: false }),
    });

    // The same unit, tampered with.
    const units = join(work, 'units');
    await cp(dirname(unit.dir), units, { recursive: true });
    const bundle = join(units, unit.serial);
    await chmod(join(bundle, 'web-key.pem'), 0o644);
    const phc = await readFile(join(bundle, 'admin-password.phc'), 'utf8');
    await writeFile(join(bundle, 'admin-password.phc'), phc.replace(/m=\d+,t=\d+/, 'm=4096,t=1'), { mode: 0o600 });
    const root = JSON.parse(await readFile(join(bundle, 'update-root.json'), 'utf8')) as {
      signed: { expires: string };
    };
    root.signed.expires = '2099-01-01T00:00:00Z'; // a longer-lived root than the keys ever signed
    await writeFile(join(bundle, 'update-root.json'), JSON.stringify(root));
    const manifest = JSON.parse(await readFile(join(units, 'manifest.json'), 'utf8')) as {
      units: Array<Record<string, string>>;
    };
    manifest.units.push({ ...manifest.units[0]!, serial: 'PLG-ZZZZZZZZZZ' });
    await writeFile(join(units, 'manifest.json'), JSON.stringify(manifest));
    tampered = await runAudit({
      profile: PLUG_PROFILE,
      bundle,
      manifest: join(units, 'manifest.json'),
      source: await project(join(work, 'bad'), { bad: true }),
    });
  },
  { timeout: 180_000 },
);

const check = (r: AuditReport, id: string) => r.checks.find((c) => c.id === id)!;
const findings = (r: AuditReport, id: string): string =>
  check(r, id)
    .evidence.filter((e) => e.finding)
    .map((e) => `${e.sent} => ${e.received}`)
    .join('\n');

test('clean inputs pass the white-box checks of bundle, manifest and source', () => {
  for (const id of [
    'bundle.unique-credentials',
    'bundle.hash-params',
    'bundle.secret-file-modes',
    'bundle.model-designation',
    'build.lint',
    'build.no-hardcoded-secrets',
    'build.crypto-allowlist',
    'config.upnp-off',
    'build.sbom',
  ]) {
    assert.equal(check(clean, id).status, 'pass', `${id}: ${check(clean, id).summary}`);
  }
  assert.equal(check(clean, 'bundle.update-trust-anchor').status, 'pass');
  assert.match(check(clean, 'bundle.update-trust-anchor').evidence[1]!.received, /verified/);
  assert.match(check(clean, 'build.lint').evidence[0]!.received, /both refused/);
});

test('readable private key, cheap hash, root with broken signatures, repeated certificate: fail, with evidence', () => {
  assert.equal(check(tampered, 'bundle.secret-file-modes').status, 'fail');
  assert.match(findings(tampered, 'bundle.secret-file-modes'), /web-key\.pem \(secret\) => 0644/);
  assert.equal(check(tampered, 'bundle.hash-params').status, 'fail');
  assert.match(findings(tampered, 'bundle.hash-params'), /m=4096 KiB, t=1, p=1.*below the floor/);
  assert.equal(check(tampered, 'bundle.update-trust-anchor').status, 'fail');
  assert.match(findings(tampered, 'bundle.update-trust-anchor'), /fewer valid signatures than the threshold/);
  assert.equal(check(tampered, 'bundle.unique-credentials').status, 'fail');
  assert.match(
    findings(tampered, 'bundle.unique-credentials'),
    /web certificate fingerprints of 2 units .* => 1 repeated/,
  );
  for (const id of [
    'AUTH-PASSWORD-HASHING',
    'STORE-SECRETS-PROTECTED',
    'UPDATE-SIGNED',
    'TLS-UNIQUE-CERTIFICATE',
    'IDENT-UNIQUE-CREDENTIALS',
    'AUTH-UNIQUE-PASSWORD',
  ]) {
    assert.equal(tampered.controls.find((c) => c.id === id)!.status, 'fail', id);
  }
});

test('eval, a hard-coded key, unvetted crypto and a port-mapping client in the source fail, with evidence', () => {
  assert.equal(check(tampered, 'build.lint').status, 'fail');
  assert.match(findings(tampered, 'build.lint'), /eslint src .* => 1 errors: no-eval x1/);
  assert.equal(check(tampered, 'build.no-hardcoded-secrets').status, 'fail');
  assert.match(findings(tampered, 'build.no-hardcoded-secrets'), /src\/keys\.js: a PEM private key/);
  assert.equal(check(tampered, 'build.crypto-allowlist').status, 'fail');
  assert.match(findings(tampered, 'build.crypto-allowlist'), /not allow-listed: crypto-js/);
  assert.equal(check(tampered, 'config.upnp-off').status, 'fail');
  assert.match(findings(tampered, 'config.upnp-off'), /nat-upnp/);
  assert.equal(check(tampered, 'build.sbom').status, 'fail');
  assert.equal(tampered.summary.exitCode, 1);
});
