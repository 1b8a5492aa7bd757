// device.secure-defaults on real units: the auditor boots a fresh copy and a reset copy of a provisioned unit as the
// unit is launched (its installed service unit, or an SDK product's own boot) and reads every baseline setting on the
// running agent. The untouched unit passes fresh and after a reset. Then each setting is weakened in turn, on the unit
// itself where a maker can weaken it (its update settings file, its mode, its boot and configuration, its state); the
// settings no configuration of a unit reaches (session lifetimes, lockout bounds, TLS) are held to a model that
// declares them stricter than the firmware runs them. Each weakened unit fails the check naming that setting alone.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AuditContext } from '../../src/audit/context.ts';
import { validateAuditLimits } from '../../src/audit/config.ts';
import { parseHttpsTarget } from '../../src/audit/net.ts';
import { runCheck } from '../../src/audit/registry.ts';
import { runAudit, type CheckResult, type UnitBoot } from '../../src/audit/index.ts';
import {
  renderSystemdUnit,
  startDeviceAgent,
  superviseAgent,
  type DeviceAgent,
  type DeviceAgentConfig,
} from '../../src/device/index.ts';
import { provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import type { BaselineSettingId, SecurityBaselineDeclaration } from '../../src/models/index.ts';
import { decide, loadProfileFile, type DeviceProfile } from '../../src/policy/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';

let fleet: TestFleet;
let plug: ProvisionedUnit;
let profilePath: string;
let profile: DeviceProfile;

before(
  async () => {
    fleet = await makeFleet(['plug']);
    plug = fleet.units.plug!;
    profilePath = join(fleet.work, 'listening.yaml');
    await writeFile(
      profilePath,
      'model: plug\nnetworkModels: [listening]\npersonalData: false\ninternetExposed: false\n',
    );
    profile = await loadProfileFile(profilePath);
  },
  { timeout: 60_000 },
);

/** What the check is given of the unit, as `bulwark audit` and auditRunningDevice give it. */
interface UnitInputs {
  readonly bundle: string;
  readonly state?: string;
  readonly serviceUnit?: string;
  readonly unitBoot?: UnitBoot;
  /** The running unit's admin URL: the auditor finds its process and reads how it was started. */
  readonly url?: string;
}

/** Runs device.secure-defaults on the unit. */
async function secureDefaults(u: UnitInputs): Promise<CheckResult> {
  const ctx = new AuditContext({
    profile,
    decision: decide(profile),
    targets: u.url ? [parseHttpsTarget(u.url)!] : [],
    limits: validateAuditLimits(),
    bundleDir: u.bundle,
    ...(u.state ? { stateDir: u.state } : {}),
    ...(u.serviceUnit ? { serviceUnitPath: u.serviceUnit } : {}),
    ...(u.unitBoot ? { unitBoot: u.unitBoot } : {}),
  });
  return runCheck('device.secure-defaults', ctx);
}

/** The settings the check found weaker, and in which runs. */
function weakerSettings(r: CheckResult): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of r.evidence.filter((x) => x.finding === true && x.received.startsWith('WEAKER'))) {
    const [, id, when] = /^(\w+) \(.*?\), (fresh|after a factory reset(?: and a restart)?):/.exec(e.sent) ?? [];
    if (id !== undefined) out.set(id, [...(out.get(id) ?? []), when!]);
  }
  return out;
}

/** Asserts the check failed on `id` alone, naming it in its summary, in the runs given. */
function assertFailsOn(r: CheckResult, id: BaselineSettingId, runs: readonly string[]): void {
  assert.equal(r.status, 'fail', r.summary);
  assert.match(r.summary, new RegExp(`weaker than the baseline: ${id}$`));
  assert.deepEqual(Object.fromEntries(weakerSettings(r)), { [id]: runs });
}

const ALL_RUNS = ['fresh', 'after a factory reset', 'after a factory reset and a restart'];

/** The unit's installed service unit (`bulwark device unit`), with an update settings file and an Environment=. */
async function serviceUnit(o: { updateConfig?: object; environment?: string }): Promise<string> {
  const dir = await mkdtemp(join(fleet.work, 'service-'));
  let updateConfig: string | undefined;
  if (o.updateConfig !== undefined) {
    updateConfig = join(dir, 'update-config.json');
    await writeFile(updateConfig, JSON.stringify(o.updateConfig));
  }
  let text = renderSystemdUnit({
    bundleDir: plug.dir,
    stateDir: join(dir, 'state'),
    ...(updateConfig ? { updateConfig } : {}),
  });
  if (o.environment !== undefined) text = text.replace('[Service]\n', `[Service]\nEnvironment=${o.environment}\n`);
  await writeFile(join(dir, 'bulwark-device.service'), text);
  return join(dir, 'bulwark-device.service');
}

/** An SDK product's boot: its agent configuration, then what it does at power-on. */
function productBoot(
  config: Partial<DeviceAgentConfig>,
  atPowerOn?: (agent: DeviceAgent) => void | Promise<void>,
): UnitBoot {
  return async (start) => {
    const agent = await start(config);
    await atPowerOn?.(agent);
    return agent;
  };
}

/** A unit of a model that is the plug with `declared` as its baseline. */
async function unitOfStricterModel(name: string, declared: SecurityBaselineDeclaration): Promise<ProvisionedUnit> {
  const doc = JSON.parse(await readFile(new URL('../../models/plug.model.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  delete doc.$schema;
  const dir = await mkdtemp(join(fleet.work, `model-${name}-`));
  const file = join(dir, `${name}.model.json`);
  await writeFile(file, JSON.stringify({ ...doc, id: `strict-${name}`, securityBaseline: declared }));
  const [unit] = await provisionUnits({
    factoryDir: fleet.factoryDir,
    model: file,
    count: 1,
    outDir: join(dir, 'units'),
  });
  return unit!;
}

/** A state folder the owner has used: automatic updates off, monitoring off, the pairing window open. */
async function usedState(): Promise<string> {
  const state = await mkdtemp(join(tmpdir(), 'bulwark-used-'));
  const agent = await startDeviceAgent({
    bundleDir: plug.dir,
    stateDir: state,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
  });
  await agent.updater.setAutoUpdate(false);
  await agent.web.state.saveMonitoring(false);
  agent.journal.setMonitoring(false);
  agent.hub.openPairingWindow('owner');
  await agent.close();
  return state;
}

test('the untouched unit passes, fresh and after a factory reset of a unit its owner has used', async () => {
  const r = await secureDefaults({ bundle: plug.dir, state: await usedState() });
  assert.equal(r.status, 'pass', r.summary);
  const runs = r.evidence.filter((e) => e.sent.startsWith('the unit, ')).map((e) => e.sent);
  assert.deepEqual(
    runs,
    ALL_RUNS.map((w) => `the unit, ${w}`),
  );
  // The owner's choices were in the copy and the reset restored them.
  for (const when of ['after a factory reset', 'after a factory reset and a restart'])
    for (const [id, value] of [
      ['automaticUpdates', 'on'],
      ['monitoring', 'on'],
      ['pairingWindowAtStart', 'closed'],
    ])
      assert.ok(
        r.evidence.some(
          (e) => e.sent.startsWith(`${id} (`) && e.sent.includes(`, ${when}:`) && e.received.startsWith(`${value} `),
        ),
        `${id} ${when}`,
      );
});

test('the full audit passes the secure-defaults control for the untouched unit', async () => {
  const report = await runAudit({ profile: profilePath, bundle: plug.dir });
  assert.equal(report.controls.find((c) => c.id === 'CONFIG-SECURE-DEFAULTS')?.status, 'pass');
});

test('automaticUpdates: a unit launched with an update settings file that turns them off fails', async () => {
  const r = await secureDefaults({
    bundle: plug.dir,
    serviceUnit: await serviceUnit({ updateConfig: { autoUpdate: false } }),
  });
  assertFailsOn(r, 'automaticUpdates', ALL_RUNS);
});

test('updateCheckIntervalHours: a unit whose update settings file checks every 48 hours fails', async () => {
  const unit = await serviceUnit({ updateConfig: { checkIntervalMs: 48 * 3_600_000 } });
  assertFailsOn(await secureDefaults({ bundle: plug.dir, serviceUnit: unit }), 'updateCheckIntervalHours', ['fresh']);
});

test("updatePostponeDays: a unit whose owner's postpone holds updates back 30 days fails", async () => {
  const unit = await serviceUnit({ updateConfig: { postponeMs: 30 * 86_400_000 } });
  assertFailsOn(await secureDefaults({ bundle: plug.dir, serviceUnit: unit }), 'updatePostponeDays', ['fresh']);
});

test('debugInterfaces: a unit whose service runs it in development mode fails', async () => {
  const unit = await serviceUnit({ environment: 'BULWARK_MODE=development' });
  assertFailsOn(await secureDefaults({ bundle: plug.dir, serviceUnit: unit }), 'debugInterfaces', ['fresh']);
});

test('a running unit is started again as its own process was: its mode and update settings file', async () => {
  const dir = await mkdtemp(join(fleet.work, 'running-'));
  await writeFile(join(dir, 'update-config.json'), JSON.stringify({ autoUpdate: false }));
  let ready!: (url: string) => void;
  const url = new Promise<string>((resolve) => (ready = resolve));
  const run = superviseAgent({
    bundleDir: plug.dir,
    stateDir: join(dir, 'state'),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    update: { configFile: join(dir, 'update-config.json') },
    agentStderr: 'ignore',
    onReady: (info) => ready(info.url),
  });
  try {
    const r = await secureDefaults({ bundle: plug.dir, url: await url });
    assert.equal(r.status, 'fail', r.summary);
    assert.match(r.summary, /^weaker than the baseline: automaticUpdates, debugInterfaces$/);
    assert.ok(
      r.evidence.some((e) => e.sent === 'the unit, fresh' && /its running process \(pid \d+\)/.test(e.received)),
    );
  } finally {
    run.stop();
    await run.done;
  }
});

test('pairingWindowAtStart: a product that opens the pairing window at power-on fails', async () => {
  const boot = productBoot({}, (agent) => {
    agent.hub.openPairingWindow('owner');
  });
  const r = await secureDefaults({ bundle: plug.dir, unitBoot: boot });
  // The reset shuts the window, but the product opens it again when it next starts.
  assertFailsOn(r, 'pairingWindowAtStart', ['fresh', 'after a factory reset and a restart']);
});

test('pairingWindowMinutes: a product configured with a 10-minute pairing window fails', async () => {
  const boot = productBoot({ hub: { pairing: { windowMs: 600_000 } } });
  assertFailsOn(await secureDefaults({ bundle: plug.dir, unitBoot: boot }), 'pairingWindowMinutes', ['fresh']);
});

test('pairingMaxFailures: a product that allows 100 failed pairing attempts fails', async () => {
  const boot = productBoot({ hub: { pairing: { maxFailures: 100 } } });
  assertFailsOn(await secureDefaults({ bundle: plug.dir, unitBoot: boot }), 'pairingMaxFailures', ['fresh']);
});

test('monitoring: a product that turns connection monitoring off at power-on fails', async () => {
  const boot = productBoot({}, (agent) => {
    agent.journal.setMonitoring(false);
  });
  const r = await secureDefaults({ bundle: plug.dir, unitBoot: boot });
  assertFailsOn(r, 'monitoring', ['fresh', 'after a factory reset and a restart']);
});

test('journalRetentionDays: a product whose journal keeps a year of entries fails', async () => {
  const boot = productBoot({ journal: { maxAgeDays: 365 } });
  const r = await secureDefaults({ bundle: plug.dir, unitBoot: boot });
  assertFailsOn(r, 'journalRetentionDays', ['fresh']);
  assert.ok(r.evidence.some((e) => /keeps 365 days old and drops 730 days old/.test(e.sent)));
});

test("a product that keeps an owner choice out of the reset's reach fails after the reset and a restart", async () => {
  // The maker's boot re-applies "automatic updates off" from a file of its own, which no reset erases.
  const boot = productBoot({}, async (agent) => {
    const stateDir = dirname(agent.web.state.dir);
    const text = await readFile(join(stateDir, 'acme.json'), 'utf8').catch(() => '{}');
    if ((JSON.parse(text) as { autoUpdate?: boolean }).autoUpdate === false) await agent.updater.setAutoUpdate(false);
  });
  const state = await usedState();
  await writeFile(join(state, 'acme.json'), JSON.stringify({ autoUpdate: false }));
  const r = await secureDefaults({ bundle: plug.dir, state, unitBoot: boot });
  assertFailsOn(r, 'automaticUpdates', ['after a factory reset and a restart']);
});

test('a unit whose agent has a setting the baseline does not place fails, naming it', async () => {
  const boot = productBoot({ telnetDebugPort: 2323 } as Partial<DeviceAgentConfig>);
  const r = await secureDefaults({ bundle: plug.dir, unitBoot: boot });
  assert.equal(r.status, 'fail');
  assert.match(r.summary, /missing from the baseline: agent\.telnetDebugPort$/);
});

// The settings no configuration of a unit reaches: the unit is weaker than a model that declares them stricter.
const STRICTER: ReadonlyArray<[BaselineSettingId, number | string, string[]]> = [
  ['sessionIdleMinutes', 10, ALL_RUNS],
  ['sessionAbsoluteHours', 8, ALL_RUNS],
  ['lockoutSourceThreshold', 3, ['fresh']],
  ['lockoutAccountThreshold', 50, ['fresh']],
  ['lockoutBackoffSeconds', 60, ['fresh']],
  ['lockoutMaxBackoffMinutes', 120, ['fresh']],
  ['loginUnlockMinutes', 2, ['fresh']],
  ['trustedBrowserDays', 30, ['fresh']],
  ['webTlsMinVersion', 'TLSv1.3', ['fresh']],
];
for (const [id, declared, runs] of STRICTER) {
  test(`${id}: a unit weaker than its model's declared ${String(declared)} fails`, async () => {
    const unit = await unitOfStricterModel(id.toLowerCase().slice(0, 20), { [id]: declared });
    assertFailsOn(await secureDefaults({ bundle: unit.dir }), id, runs);
  });
}

test('the full audit fails the control, ETSI 5.3-6, CRA I.2(b) and NIST product configuration', async () => {
  const report = await runAudit({
    profile: profilePath,
    bundle: plug.dir,
    serviceUnit: await serviceUnit({ updateConfig: { autoUpdate: false } }),
  });
  assert.equal(report.controls.find((c) => c.id === 'CONFIG-SECURE-DEFAULTS')?.status, 'fail');
  assert.equal(report.summary.exitCode, 1);
  assert.equal(report.etsi.find((p) => p.id === '5.3-6')?.verdict, 'fail');
  assert.equal(report.frameworks.cra.provisions.find((p) => p.id === 'I.2(b)')?.verdict, 'fail');
  assert.equal(report.frameworks.nist.provisions.find((p) => p.id === 'product-configuration')?.verdict, 'fail');
});
