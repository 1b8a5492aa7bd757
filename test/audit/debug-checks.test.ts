// The debug checks judge the running device, not the firmware's source: a device started in
// development mode (BULWARK_MODE=development, as the supervisor passes it) fails config.debug-off,
// an agent started with a Node inspector on a random loopback port fails net.debug-ports, and a
// device started as the firmware starts it passes both. Each device is a real agent process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runAudit, type AuditReport, type CheckResult } from '../../src/audit/index.ts';
import { superviseAgent, agentEntry, AGENT_NODE_FLAGS, AGENT_ENV } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeFleet } from '../support/device.ts';

/** A device process the test started, and how to stop it. */
interface StartedDevice {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the device as `bulwark device run` does: the supervisor, which starts the agent process. */
async function supervisedDevice(
  unit: ProvisionedUnit,
  stateDir: string,
  mode: 'production' | 'development',
): Promise<StartedDevice> {
  let ready!: (url: string) => void;
  const url = new Promise<string>((resolve) => {
    ready = resolve;
  });
  const run = superviseAgent({
    bundleDir: unit.dir,
    stateDir,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode,
    agentStderr: 'ignore',
    onReady: (info) => ready(info.url),
  });
  const started = await Promise.race([
    url,
    run.done.then((code) => {
      throw new Error(`the supervisor ended (${code})`);
    }),
  ]);
  return {
    url: started,
    stop: async () => {
      run.stop();
      await run.done;
    },
  };
}

/**
 * Starts the agent process directly with the supervisor's flags but NODE_OPTIONS opening the
 * inspector on a random loopback port (the supervisor would blank NODE_OPTIONS, and a production
 * agent refuses the flag, so the agent is in development mode, as a developer would run it).
 */
async function agentWithInspector(
  unit: ProvisionedUnit,
  stateDir: string,
): Promise<StartedDevice & { inspectorPort: number }> {
  const args = [
    ...AGENT_NODE_FLAGS,
    agentEntry(),
    '--bundle',
    unit.dir,
    '--state',
    stateDir,
    '--host',
    '127.0.0.1',
    '--web-port',
    '0',
    '--hub-port',
    '0',
    '--slot',
    'factory',
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...AGENT_ENV, BULWARK_MODE: 'development', NODE_OPTIONS: '--inspect=127.0.0.1:0' },
  });
  let inspectorPort = 0;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const m = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
    if (m) inspectorPort = Number(m[1]);
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string };
        if (msg.event === 'listening') resolve(msg.url!);
      } catch {
        /* a log line */
      }
    });
    child.once('exit', (code) => reject(new Error(`the agent ended (${code})`)));
  });
  assert.ok(inspectorPort > 0, 'the agent opened an inspector');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await gone;
  };
  return { url, inspectorPort, stop };
}

let work: string;
let profile: string;
let unit: ProvisionedUnit;
const devices: StartedDevice[] = [];

before(
  async () => {
    const fleet = await makeFleet(['plug']);
    unit = fleet.units.plug!;
    work = await mkdtemp(join(tmpdir(), 'bulwark-audit-debug-'));
    profile = join(work, 'listening.yaml');
    // The plug's own model (the bundle's), reachable only by its admin page: the checks of a listening product.
    await writeFile(profile, 'model: plug\nnetworkModels: [listening]\npersonalData: false\ninternetExposed: false\n');
  },
  { timeout: 60_000 },
);
after(async () => {
  for (const d of devices) await d.stop();
});

async function audit(device: StartedDevice): Promise<{ report: AuditReport; check: (id: string) => CheckResult }> {
  devices.push(device);
  const report = await runAudit({ profile, urls: [device.url], bundle: unit.dir });
  await device.stop();
  for (const id of ['config.debug-off', 'net.debug-ports'])
    console.log(
      JSON.stringify(
        report.checks.find((c) => c.id === id),
        null,
        1,
      ),
    );
  return { report, check: (id) => report.checks.find((c) => c.id === id)! };
}

const findings = (c: CheckResult): string =>
  c.evidence
    .filter((e) => e.finding)
    .map((e) => `${e.sent} => ${e.received}`)
    .join('\n');

test(
  'a device started as the firmware starts it (production, supervised) passes both debug checks',
  { timeout: 180_000 },
  async () => {
    const { check } = await audit(await supervisedDevice(unit, join(work, 'state-normal'), 'production'));
    const off = check('config.debug-off');
    assert.equal(off.status, 'pass', `${off.summary}\n${findings(off)}`);
    assert.ok(
      off.evidence.some(
        (e) =>
          /the running device \(process \d+ listens on port \d+\)/.test(e.sent) &&
          /"production": production mode/.test(e.received),
      ),
    );
    const ports = check('net.debug-ports');
    assert.equal(ports.status, 'pass', `${ports.summary}\n${findings(ports)}`);
    assert.ok(
      ports.evidence.some((e) => /^GET \/json\/version on 127\.0\.0\.1:\d+/.test(e.sent)),
      "the other ports of the device's process were asked",
    );
  },
);

test(
  'a device started in development mode fails config.debug-off, with BULWARK_MODE as the evidence',
  { timeout: 180_000 },
  async () => {
    const { check } = await audit(await supervisedDevice(unit, join(work, 'state-dev'), 'development'));
    const off = check('config.debug-off');
    assert.equal(off.status, 'fail', off.summary);
    assert.match(findings(off), /BULWARK_MODE in its environment => "development": development mode/);
    assert.equal(check('net.debug-ports').status, 'pass', 'no debug port is open: the mode alone fails the device');
  },
);

test(
  'an agent started with a Node inspector on a random loopback port fails net.debug-ports',
  { timeout: 180_000 },
  async () => {
    const device = await agentWithInspector(unit, join(work, 'state-inspector'));
    const { check } = await audit(device);
    const ports = check('net.debug-ports');
    assert.equal(ports.status, 'fail', ports.summary);
    assert.match(
      findings(ports),
      new RegExp(
        `GET /json/version on 127\\.0\\.0\\.1:${device.inspectorPort} .* => a debugger protocol answered \\(node\\.js/`,
      ),
    );
    assert.match(ports.summary, new RegExp(`port\\(s\\) open: ${device.inspectorPort}`));
    const off = check('config.debug-off');
    assert.equal(off.status, 'fail', off.summary);
    assert.match(findings(off), /command line and NODE_OPTIONS => debug flags: --inspect=127\.0\.0\.1:0 /);
    assert.match(findings(off), /\(--inspect=127\.0\.0\.1:0 in NODE_OPTIONS\)/);
  },
);
