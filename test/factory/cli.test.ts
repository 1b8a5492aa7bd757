// The `bulwark factory` and `bulwark demo` commands, run as a user would run them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
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
