// The agent's side of the driver boundary (src/device/driver-hardware.ts) with a real driver
// process written with the TypeScript kit: values shown are the driver's own, an out-of-range
// request is refused before the driver, the driver's button is the unit's button, and while the
// driver is away every capability is unavailable, never a stale value; it is picked up again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverHardware } from '../../src/device/index.ts';
import { modelFromDocument } from '../../src/models/index.ts';
import { hasCode } from '../../src/errors/index.ts';

const KIT = new URL('../../src/driver/index.ts', import.meta.url).href;

const thermostat = modelFromDocument({
  schema: 'bulwark.model/v1',
  id: 'thermostat',
  name: 'Room Thermostat',
  serialPrefix: 'THM',
  riskClass: 'standard',
  privacyClass: 'standard',
  initialPasswordMode: 'sticker',
  capabilities: [
    {
      id: 'setpoint',
      kind: 'level',
      actions: ['set', 'get'],
      value: { type: 'number', min: 5, max: 30, step: 0.5 },
      unit: 'degC',
      description: 'Target temperature',
    },
    {
      id: 'temperature',
      kind: 'reading',
      actions: ['get'],
      value: { type: 'number', min: -20, max: 60 },
      unit: 'degC',
      description: 'Room temperature',
    },
  ],
  sensors: ['temperature'],
  actuators: ['heating'],
  networks: ['wifi'],
  supportPeriod: { endsOn: '2037-06-30' },
});

// A driver that keeps its setpoint in memory, reads 19.5 degC, presses the button once it is asked
// for the temperature, and exits when it is told to set 29.5 (so the test can watch it come back).
const DRIVER = `
const { serveDriver } = await import(${JSON.stringify(KIT)});
let setpoint = 20;
const driver = serveDriver({
  name: 'test-thermostat', version: '1.0.0',
  get: (c) => {
    if (c === 'temperature') setTimeout(() => driver.emit.button('press'), 10);
    return c === 'setpoint' ? setpoint : 19.5;
  },
  act: (c, a, v) => { if (v === 29.5) process.exit(4); setpoint = v; return setpoint; },
});
`;

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a driver process's values are shown, checked and never invented", { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-driver-hw-'));
  const script = join(dir, 'driver.mjs');
  await writeFile(script, DRIVER);
  const buttons: string[] = [];
  const faults: string[] = [];
  const hw = DriverHardware.start(
    thermostat,
    { program: process.execPath, args: [script] },
    { onButton: (g) => buttons.push(g), onFault: (f) => faults.push(f.code) },
  );
  try {
    assert.ok(
      hw.list().every((c) => c.value === null && c.unavailable === true),
      'nothing before the driver is up',
    );
    await until(() => hw.list().every((c) => c.value !== null), 10_000, 'the first values');
    assert.deepEqual(
      hw.list().map((c) => [c.id, c.value]),
      [
        ['setpoint', 20],
        ['temperature', 19.5],
      ],
    );
    await until(() => buttons.includes('press'), 5_000, 'the button');
    assert.equal(await hw.invoke('setpoint', 'set', 21.5), 21.5);
    await assert.rejects(hw.invoke('setpoint', 'set', 40), (e: unknown) => hasCode(e, 'CAPABILITY_VALUE_INVALID'));
    await assert.rejects(hw.invoke('temperature', 'set', 20), (e: unknown) => hasCode(e, 'UNKNOWN_ACTION'));
    await assert.rejects(hw.invoke('setpoint', 'set', 29.5), (e: unknown) => hasCode(e, 'CAPABILITY_UNAVAILABLE'));
    await until(() => !hw.available, 5_000, 'the driver to be gone');
    assert.ok(
      hw.list().every((c) => c.value === null && c.unavailable),
      'no stale value while the driver is away',
    );
    assert.ok(faults.length > 0, 'the exit is reported for the journal');
    await until(() => hw.available && hw.list().every((c) => c.value !== null), 10_000, 'the driver to come back');
    assert.equal(hw.list()[0]!.value, 20, "after a restart the value is the driver's own again");
  } finally {
    await hw.close();
    await rm(dir, { recursive: true, force: true });
  }
});
