// The commands: `bulwark policy render` in Markdown and HTML, and `bulwark audit` exit codes
// (1 failed, 3 incomplete, 2 could not run) with its JSON and HTML reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceAgent } from '../../src/device/index.ts';
import { makeFleet, startAgent, type TestFleet } from '../support/device.ts';
import { startWeakDevice, WEAK_PROFILE, type WeakDevice } from './weak-device.ts';
import { decide, loadExampleProfile } from '../../src/policy/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'bulwark.js');
const PROFILES = join(ROOT, 'src', 'policy', 'profiles');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bulwark(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work: string;
let weak: WeakDevice;
let fleet: TestFleet;
let agent: DeviceAgent;

before(
  async () => {
    work = await mkdtemp(join(tmpdir(), 'bulwark-cli-audit-'));
    await writeFile(join(work, 'weak.yaml'), WEAK_PROFILE);
    weak = await startWeakDevice();
    fleet = await makeFleet(['plug']);
    agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
    await agent.updater.reportHealthy(); // as agent-main does: the anti-rollback counter is recorded
  },
  { timeout: 180_000 },
);
after(async () => {
  await weak?.close();
  await agent?.close();
});

test("policy render writes the plug's policy as Markdown on standard output", { timeout: 60_000 }, async () => {
  const r = await bulwark(['policy', 'render', '--profile', join(PROFILES, 'plug.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# Security policy: Smart Plug\n/);
  const required = decide(await loadExampleProfile('plug')).required.length;
  assert.match(r.stdout, new RegExp(`## 7\\. Required controls \\(${required}\\)`));
  assert.match(r.stdout, /AUTH-LOCKOUT/);
});

test(
  "policy render lists a maker's product's assets from its model file, with --driver its driver",
  {
    timeout: 60_000,
  },
  async () => {
    const model = join(ROOT, 'examples', 'thermostat-driver', 'thermostat.model.json');
    const profile = join(work, 'thermostat.yaml');
    await writeFile(profile, `model: ${model}\nnetworkModels: [hub]\npersonalData: false\ninternetExposed: false\n`);
    const r = await bulwark(['policy', 'render', '--profile', profile, '--driver', 'stdio']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /## 10\. Asset inventory/);
    assert.match(r.stdout, /\| capability: setpoint \(level\) \| Target temperature \|/);
    assert.match(r.stdout, /\| Hardware driver \(the maker's\) \| JSON-RPC 2\.0/);
    assert.match(r.stdout, /Security updates are provided until 2037-06-30/);
    const bad = await bulwark(['policy', 'render', '--profile', profile, '--driver', 'usb']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /POLICY_OPTION_INVALID/);
  },
);

test("policy render writes the camera's policy as self-contained HTML to --out", { timeout: 60_000 }, async () => {
  const out = join(work, 'camera-policy.html');
  const r = await bulwark([
    'policy',
    'render',
    '--profile',
    join(PROFILES, 'camera.yaml'),
    '--format',
    'html',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const html = await readFile(out, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/i);
  assert.match(html, /PAIR-PAKE-SENSITIVE/);
  assert.doesNotMatch(html, /<script/i);
});

test(
  'policy render refuses an unknown format (exit 2, usage) and a bad profile (exit 65, data) with an error code',
  { timeout: 60_000 },
  async () => {
    const bad = await bulwark(['policy', 'render', '--profile', join(PROFILES, 'plug.yaml'), '--format', 'pdf']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /POLICY_OPTION_INVALID/);
    await writeFile(join(work, 'broken.yaml'), WEAK_PROFILE.replace('[listening]', '[carrier-pigeon]'));
    const broken = await bulwark(['policy', 'render', '--profile', join(work, 'broken.yaml')]);
    assert.equal(broken.code, 65);
    assert.match(broken.stderr, /networkModels/);
  },
);

test('audit of the weak device exits 1 and writes both reports', { timeout: 120_000 }, async () => {
  const json = join(work, 'weak.json'),
    html = join(work, 'weak.html');
  const r = await bulwark([
    'audit',
    '--profile',
    join(work, 'weak.yaml'),
    '--url',
    weak.url,
    '--json',
    json,
    '--html',
    html,
  ]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /6 fail/);
  assert.match(r.stdout, /FAIL {2}TLS-MODERN-CONFIG/);
  assert.match(r.stderr, /6 required control\(s\) failed/);
  const report = JSON.parse(await readFile(json, 'utf8')) as {
    format: string;
    summary: { exitCode: number; fail: number };
  };
  assert.equal(report.format, 'bulwark-audit/1');
  assert.deepEqual([report.summary.exitCode, report.summary.fail], [1, 6]);
  assert.match(await readFile(html, 'utf8'), /FAILED: 6 required controls failed/);
});

test(
  'audit of a Bulwark plug with bundle, state and manifest exits 3: nothing fails, some controls not yet tested',
  { timeout: 120_000 },
  async () => {
    const unit = fleet.units.plug!;
    const r = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'plug.yaml'),
      '--url',
      agent.web.url,
      '--bundle',
      unit.dir,
      '--state',
      join(fleet.work, 'state'),
      '--manifest',
      join(dirname(unit.dir), 'manifest.json'),
    ]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, / 0 fail, /);
    assert.match(r.stdout, /not tested {2}UPDATE-SIGNED/);
    assert.match(r.stderr, /incomplete/);
  },
);

test(
  'device unit writes a hardened unit; audit --service-unit fails RUNTIME-HARDENED for a unit that runs as root',
  { timeout: 120_000 },
  async () => {
    const unit = fleet.units.plug!;
    const out = join(work, 'bulwark-device.service');
    const written = await bulwark([
      'device',
      'unit',
      '--bundle',
      unit.dir,
      '--state',
      join(fleet.work, 'state'),
      '--out',
      out,
    ]);
    assert.equal(written.code, 0, written.stderr);
    const text = await readFile(out, 'utf8');
    assert.match(text, /^User=bulwark$/m);
    assert.match(text, /^NoNewPrivileges=yes$/m);
    assert.match(text, /^ProtectSystem=strict$/m);
    assert.match(text, /^CapabilityBoundingSet=$/m);
    assert.match(
      text,
      new RegExp(`^ReadWritePaths=${join(fleet.work, 'state').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
    );
    const root = await bulwark([
      'device',
      'unit',
      '--bundle',
      unit.dir,
      '--state',
      join(fleet.work, 'state'),
      '--user',
      'root',
    ]);
    assert.equal(root.code, 78);
    assert.match(root.stderr, /DEVICE_UNIT_INVALID/);
    const weak = join(work, 'weak.service');
    await writeFile(weak, text.replace('User=bulwark', 'User=root').replace(/^NoNewPrivileges=yes$/m, ''));
    const json = join(work, 'unit-audit.json');
    const r = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'plug.yaml'),
      '--bundle',
      unit.dir,
      '--service-unit',
      weak,
      '--json',
      json,
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL {2}RUNTIME-HARDENED/);
    const report = JSON.parse(await readFile(json, 'utf8')) as { checks: Array<{ id: string; summary: string }> };
    assert.match(
      report.checks.find((c) => c.id === 'config.service-unit')!.summary,
      /User=root .*NoNewPrivileges=\(unset\)/,
    );
  },
);

test(
  'audit --keep-report needs --update-repo and --factory (whose audit key signs the report)',
  { timeout: 120_000 },
  async () => {
    const r = await bulwark(['audit', '--profile', join(PROFILES, 'bulb.yaml'), '--keep-report']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /keepReport: needs --update-repo/);
    const repo = await mkdtemp(join(tmpdir(), 'bulwark-keep-'));
    const unsigned = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'bulb.yaml'),
      '--update-repo',
      repo,
      '--keep-report',
    ]);
    assert.equal(unsigned.code, 2);
    assert.match(unsigned.stderr, /keepReport: needs --factory/);
  },
);

test('audit with only a profile runs the policy checks and exits 3', { timeout: 60_000 }, async () => {
  const r = await bulwark(['audit', '--profile', join(PROFILES, 'bulb.yaml')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /audit of Smart Bulb/);
});

test(
  "audit refuses what it cannot run with the error table's exit code and a stable error code",
  { timeout: 60_000 },
  async () => {
    const plain = await bulwark(['audit', '--profile', join(PROFILES, 'plug.yaml'), '--url', 'http://127.0.0.1:1']);
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /AUDIT_TARGET_INVALID/);
    const missing = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'plug.yaml'),
      '--bundle',
      join(work, 'no-such-bundle'),
    ]);
    assert.equal(missing.code, 66);
    assert.match(missing.stderr, /AUDIT_INPUT_UNREADABLE/);
    const cloud = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'plug.yaml'),
      '--cloud',
      'mqtt://127.0.0.1:1883',
    ]);
    assert.equal(cloud.code, 2);
    assert.match(cloud.stderr, /AUDIT_TARGET_INVALID: cloud/);
    const api = await bulwark([
      'audit',
      '--profile',
      join(PROFILES, 'plug.yaml'),
      '--cloud-api',
      'http://127.0.0.1:9443/v1',
    ]);
    assert.equal(api.code, 2);
    assert.match(api.stderr, /AUDIT_TARGET_INVALID: cloudApi/);
  },
);
