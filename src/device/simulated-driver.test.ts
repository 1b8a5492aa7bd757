import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { getModel } from '../models/index.ts';
import { DriverHardware, type DriverHardwareEvents } from './driver-hardware.ts';

/** The simulated values the driver keeps in the state dir. */
async function saved(stateDir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(stateDir, 'capabilities.json'), 'utf8')) as Record<string, unknown>;
}

async function withState<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-simulated-driver-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function quietEvents(faults: string[] = [], ups: string[] = []): DriverHardwareEvents {
  return {
    onButton: () => undefined,
    onFault: (f) => faults.push(`${f.code}: ${f.message}`),
    onAvailability: (up, name) => ups.push(`${up} ${name ?? ''}`),
  };
}

async function ready(hardware: DriverHardware): Promise<void> {
  for (let i = 0; i < 200 && !hardware.available; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(hardware.available, 'the simulated driver came up');
}

test('the simulated plug, served as a driver, switches on, keeps it in capabilities.json and after a restart', () =>
  withState(async (dir) => {
    const ups: string[] = [];
    const first = await DriverHardware.simulated(getModel('plug'), dir, quietEvents([], ups));
    await ready(first);
    assert.deepEqual(ups, ['true bulwark-simulated 1']);
    assert.equal(await first.invoke('power', 'on'), true);
    assert.equal((await saved(dir)).power, true);
    await first.close();
    const second = await DriverHardware.simulated(getModel('plug'), dir, quietEvents());
    await ready(second);
    assert.equal(await second.invoke('power', 'get'), true);
    const energy = await second.invoke('energy', 'get');
    assert.ok(typeof energy === 'number' && energy > 0, `an energy reading while on: ${String(energy)}`);
    await second.close();
  }));

test('a value out of range is refused before the simulated driver, as the caller fault it is', () =>
  withState(async (dir) => {
    const faults: string[] = [];
    const bulb = await DriverHardware.simulated(getModel('bulb'), dir, quietEvents(faults));
    await ready(bulb);
    await assert.rejects(bulb.invoke('brightness', 'set', 101), (e) => hasCode(e, 'CAPABILITY_VALUE_INVALID'));
    assert.equal(await bulb.invoke('brightness', 'set', 40), 40);
    assert.deepEqual(faults, []);
    await bulb.close();
  }));

test("a factory reset puts the simulated values back to the model's initial state", () =>
  withState(async (dir) => {
    const lock = await DriverHardware.simulated(getModel('lock'), dir, quietEvents());
    await ready(lock);
    assert.equal(await lock.invoke('bolt', 'unlock'), 'unlocked');
    await lock.reset();
    assert.equal((await saved(dir)).bolt, 'locked');
    await lock.close();
  }));

// A snapshot (1 MiB of text in the camera's model) does not fit the protocol's 64 KiB line, so the
// camera stays on the simulated hardware used directly; the boundary refuses it rather than cut frames.
test("the camera's model is refused by the driver boundary: its snapshot is longer than a protocol line", () =>
  withState(async (dir) => {
    await assert.rejects(DriverHardware.simulated(getModel('camera'), dir, quietEvents()), (e) =>
      hasCode(e, 'DRIVER_MODEL_INVALID'),
    );
  }));
