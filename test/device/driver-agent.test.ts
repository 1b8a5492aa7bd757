// A maker's product end to end on one unit: a thermostat described only by a model file, provisioned
// by the factory, run by the device agent with the example Python driver on two files (a GPIO relay's
// `value` and a hwmon `temp1_input`), as `bulwark device run --driver python3 driver.py ...` does. The
// owner's status API shows the driver's values; a setpoint out of the model's range is refused; the
// relay follows the setpoint; a driver fault is journalled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits } from '../../src/identity/index.ts';
import { startDeviceAgent } from '../../src/device/index.ts';
import { hiddenTools, isCi, toolDecision } from '../support/tools.ts';
import { WebClient } from '../support/device.ts';

const DRIVER = fileURLToPath(new URL('../../examples/thermostat-driver/driver.py', import.meta.url));

/** The example driver's own model file: what a maker ships beside the driver. */
const THERMOSTAT_MODEL = fileURLToPath(
  new URL('../../examples/thermostat-driver/thermostat.model.json', import.meta.url),
);

function python(): 'run' | 'skip' | 'fail' {
  if (hiddenTools(process.env).has('python3')) return toolDecision(false, isCi(process.env));
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return 'run';
  } catch {
    return toolDecision(false, isCi(process.env));
  }
}

async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a thermostat from a model file runs with the Python driver on files', { timeout: 90_000 }, async (t) => {
  const decision = python();
  if (decision === 'fail') assert.fail('python3 is required in CI (apt-get install python3)');
  if (decision === 'skip') return t.skip('python3 not installed: apt-get install python3');
  const work = await mkdtemp(join(tmpdir(), 'bulwark-thermostat-'));
  try {
    await initFactory(join(work, 'factory'));
    const [unit] = await provisionUnits({
      factoryDir: join(work, 'factory'),
      model: THERMOSTAT_MODEL,
      count: 1,
      outDir: join(work, 'units'),
    });
    assert.match(unit!.serial, /^THM-/);
    const relay = join(work, 'value');
    const sensor = join(work, 'temp1_input');
    await writeFile(relay, '0\n');
    await writeFile(sensor, '18500\n');
    const agent = await startDeviceAgent({
      bundleDir: unit!.dir,
      stateDir: join(work, 'state'),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      driver: { program: 'python3', args: [DRIVER, '--relay', relay, '--temperature', sensor, '--poll', '0.2'] },
    });
    try {
      const owner = await WebClient.for(agent.web.url, unit!);
      assert.equal((await owner.login(unit!.adminPassword!)).status, 303);
      const status = async (): Promise<Record<string, unknown>> => {
        const answer = await owner.get('/api/status');
        const body = JSON.parse(answer.body) as { capabilities: Array<{ id: string; value: unknown }> };
        return Object.fromEntries(body.capabilities.map((c) => [c.id, c.value]));
      };
      await until(async () => ((await status()).temperature === 18.5 ? true : undefined), 15_000, 'the reading');
      assert.equal(await agent.capabilities.invoke('setpoint', 'set', 21), 21);
      await assert.rejects(agent.capabilities.invoke('setpoint', 'set', 35), /setpoint/);
      await until(async () => ((await readFile(relay, 'utf8')).trim() === '1' ? true : undefined), 10_000, 'relay');
      await until(async () => ((await status()).heating === true ? true : undefined), 10_000, 'heating on');
      // The sensor goes out of the model's range: the driver reports a fault, the agent journals it.
      await writeFile(sensor, '999000\n');
      const rows = await until(
        async () => {
          const r = await agent.journal.list({ limit: 100, tier: 'security' });
          return r.some((e) => e.surface === 'driver' && e.event === 'driver-fault') ? r : undefined;
        },
        10_000,
        'the fault in the journal',
      );
      assert.ok(rows.some((e) => e.surface === 'driver' && e.event === 'driver-up'));
      assert.notEqual((await status()).temperature, 999, 'a value outside the model is never shown');
    } finally {
      await agent.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
