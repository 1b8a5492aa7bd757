import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { getModel } from '../models/index.ts';
import { DeviceCapabilities } from './capabilities.ts';

async function withState<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-capabilities-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const refusedWith =
  (code: string) =>
  (err: unknown): boolean =>
    hasCode(err, code);

test("a new unit starts from the model's initial state: switches off, levels full, locks locked, shutter closed", () =>
  withState(async (dir) => {
    const value = async (model: string, id: string): Promise<unknown> =>
      (await DeviceCapabilities.load(getModel(model), dir)).list().find((c) => c.id === id)!.value;
    assert.equal(await value('plug', 'power'), false);
    assert.equal(await value('bulb', 'brightness'), 100);
    assert.equal(await value('lock', 'bolt'), 'locked');
    assert.equal(await value('camera', 'privacy'), true);
    assert.equal(await value('camera', 'snapshot'), 'privacy shutter closed');
  }));

test('a level takes only a whole number from 0 to 100', () =>
  withState(async (dir) => {
    const caps = await DeviceCapabilities.load(getModel('bulb'), dir);
    for (const bad of [101, -1, 50.5, '50', null, undefined, Number.NaN]) {
      await assert.rejects(caps.invoke('brightness', 'set', bad), refusedWith('CAPABILITY_VALUE_INVALID'), String(bad));
    }
    assert.equal(await caps.invoke('brightness', 'set', 0), 0);
    assert.equal(await caps.invoke('brightness', 'set', 100), 100);
  }));

test('an unknown capability or action is refused by name, and nothing changes', () =>
  withState(async (dir) => {
    const caps = await DeviceCapabilities.load(getModel('plug'), dir);
    await assert.rejects(caps.invoke('brightness', 'set', 10), refusedWith('UNKNOWN_CAPABILITY'));
    await assert.rejects(caps.invoke('power', 'set', true), refusedWith('UNKNOWN_ACTION'));
    await assert.rejects(caps.invoke('energy', 'set', 1), refusedWith('UNKNOWN_ACTION'));
    assert.equal(caps.list().find((c) => c.id === 'power')!.value, false);
  }));

test('switches turn on, off and toggle; locks lock and unlock; each change is heard and kept', () =>
  withState(async (dir) => {
    const plug = await DeviceCapabilities.load(getModel('plug'), dir);
    const heard: Array<[string, unknown]> = [];
    plug.onChange((id, value) => heard.push([id, value]));
    assert.equal(await plug.invoke('power', 'toggle'), true);
    assert.equal(await plug.invoke('power', 'toggle'), false);
    assert.equal(await plug.invoke('power', 'on'), true);
    assert.deepEqual(heard, [
      ['power', true],
      ['power', false],
      ['power', true],
    ]);
    const restarted = await DeviceCapabilities.load(getModel('plug'), dir);
    assert.equal(restarted.list()[0]!.value, true, 'kept across a restart');
    const lock = await DeviceCapabilities.load(getModel('lock'), dir);
    assert.equal(await lock.invoke('bolt', 'unlock'), 'unlocked');
    assert.equal(await lock.invoke('bolt', 'get'), 'unlocked');
  }));

test('the plug draws no power while it is off', () =>
  withState(async (dir) => {
    const plug = await DeviceCapabilities.load(getModel('plug'), dir);
    assert.equal(await plug.invoke('energy', 'get'), 0);
    await plug.invoke('power', 'on');
    assert.ok(((await plug.invoke('energy', 'get')) as number) > 0);
  }));

test('the camera takes no picture while its privacy shutter is closed', () =>
  withState(async (dir) => {
    const camera = await DeviceCapabilities.load(getModel('camera'), dir);
    await assert.rejects(camera.invoke('snapshot', 'get'), refusedWith('CAPABILITY_UNAVAILABLE'));
    await camera.invoke('privacy', 'off');
    const frame = (await camera.invoke('snapshot', 'get')) as { contentType: string; data: string };
    assert.equal(frame.contentType, 'image/png');
    assert.equal(Buffer.from(frame.data, 'base64').subarray(1, 4).toString(), 'PNG');
  }));

test('a saved file only restores known capabilities with values of the right type', () =>
  withState(async (dir) => {
    await writeFile(join(dir, 'capabilities.json'), JSON.stringify({ brightness: 'max', power: true, admin: true }));
    const caps = await DeviceCapabilities.load(getModel('bulb'), dir);
    assert.equal(caps.list().find((c) => c.id === 'brightness')!.value, 100, 'a string is not a level');
    assert.equal(caps.list().find((c) => c.id === 'power')!.value, true);
    assert.equal(
      caps.list().some((c) => c.id === 'admin'),
      false,
    );
    await writeFile(join(dir, 'capabilities.json'), '{ not json');
    const damaged = await DeviceCapabilities.load(getModel('bulb'), dir);
    assert.equal(damaged.list()[0]!.value, false, 'damaged: initial state');
  }));

test('a factory reset returns to the initial state and writes it down', () =>
  withState(async (dir) => {
    const caps = await DeviceCapabilities.load(getModel('bulb'), dir);
    await caps.invoke('brightness', 'set', 10);
    await caps.invoke('power', 'on');
    await caps.reset();
    const saved: unknown = JSON.parse(await readFile(join(dir, 'capabilities.json'), 'utf8'));
    assert.deepEqual(saved, { power: false, brightness: 100 });
    assert.equal(caps.list().find((c) => c.id === 'brightness')!.value, 100);
  }));
