// The `bulwark factory` and `bulwark demo` commands, run as a user would run them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

function bulwark(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('factory init then provision writes one bundle per unit and a manifest', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-cli-'));
  const init = await bulwark(['factory', 'init', '--dir', join(work, 'f'), '--maker', 'Acme Devices']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /CA: sha256:/);
  assert.equal((await stat(join(work, 'f', 'ca', 'ca-key.pem'))).mode & 0o777, 0o600);
  const p = await bulwark([
    'factory',
    'provision',
    '--dir',
    join(work, 'f'),
    '--model',
    'sensor',
    '--count',
    '3',
    '--out',
    join(work, 'out'),
  ]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /provisioned 3 sensor unit/);
  const entries = (await readdir(join(work, 'out'))).sort();
  assert.equal(entries.filter((e) => /^SNS-/.test(e)).length, 3);
  assert.ok(entries.includes('manifest.json'));
  const again = await bulwark(['factory', 'init', '--dir', join(work, 'f')]);
  assert.equal(again.code, 73);
  assert.match(again.stderr, /FACTORY_EXISTS/);
});

test('provisioning with a chosen password is refused with a clear error', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-cli-'));
  await bulwark(['factory', 'init', '--dir', join(work, 'f')]);
  const r = await bulwark([
    'factory',
    'provision',
    '--dir',
    join(work, 'f'),
    '--model',
    'plug',
    '--out',
    join(work, 'out'),
    '--password',
    'admin',
  ]);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /PROVISION_SHARED_SECRET_REFUSED/);
  await assert.rejects(stat(join(work, 'out')));
});

test('an unknown model is refused naming the known models', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-cli-'));
  await bulwark(['factory', 'init', '--dir', join(work, 'f')]);
  const r = await bulwark([
    'factory',
    'provision',
    '--dir',
    join(work, 'f'),
    '--model',
    'toaster',
    '--out',
    join(work, 'out'),
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /MODEL_UNKNOWN.*plug/);
});

test('an unsafe factory setting is refused before any key is made', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-cli-'));
  const r = await bulwark(['factory', 'init', '--dir', join(work, 'f'), '--security-contact', 'javascript:alert(1)']);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /securityContact/);
  await assert.rejects(stat(join(work, 'f', 'ca', 'ca-key.pem')));
});

test('bulwark demo: end to end, renders every policy, each audited device passes its required controls', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-demo-test-'));
  const r = await bulwark(['demo', '--dir', work], 600_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /all steps succeeded/);
  for (const model of ['plug', 'bulb', 'lock', 'sensor', 'camera']) {
    assert.match(r.stdout, new RegExp(`\\b${model}\\b`));
    assert.ok((await stat(join(work, 'policy', `${model}.html`))).size > 1000, `the ${model}'s policy document`);
  }
  for (const model of ['plug', 'lock', 'camera']) {
    const report = JSON.parse(await readFile(join(work, 'audit', `${model}.json`), 'utf8')) as {
      summary: { fail: number; notTested: number; exitCode: number };
      controls: Array<{ required: boolean; status: string }>;
    };
    assert.equal(report.summary.exitCode, 0, `the ${model}'s audit`);
    assert.equal(report.summary.fail + report.summary.notTested, 0);
    assert.ok(report.controls.filter((c) => c.required).every((c) => c.status === 'pass'));
    assert.match(
      r.stdout,
      new RegExp(`${model}\\s+\\S+\\s+tier \\d: \\d+ required controls pass, 0 fail, 0 not tested; exit code 0`),
    );
  }
});
