import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriverClient } from './client.ts';
import { DriverError } from './errors.ts';
import type { DriverModel, DriverValue } from './protocol.ts';

const model: DriverModel = {
  id: 'plug',
  capabilities: [
    { id: 'power', kind: 'switch', actions: ['on', 'off', 'get'], value: { type: 'boolean' } },
    { id: 'energy', kind: 'reading', actions: ['get'], unit: 'W', value: { type: 'number', min: 0, max: 4000 } },
  ],
};

const isCode = (code: string) => (e: unknown) => e instanceof DriverError && e.code === code;

test('an in-process driver answers through the same checks as a process', async () => {
  const state: Record<string, DriverValue> = { power: false, energy: 5000 };
  const changed: Array<[string, DriverValue]> = [];
  const faults: string[] = [];
  const { client, emit } = DriverClient.inProcess(
    model,
    {
      name: 'simulated',
      version: '1',
      get: (c) => state[c]!,
      act: (c, a) => (state[c] = a === 'on'),
    },
    { events: { onChanged: (c, v) => changed.push([c, v]), onFault: (e) => faults.push(e.code) } },
  );
  try {
    assert.equal(client.state, 'starting');
    await assert.rejects(client.get('power'), isCode('DRIVER_UNAVAILABLE'));
    assert.deepEqual(await client.whenReady(1_000), { name: 'simulated', version: '1', health: false });
    assert.equal(await client.act('power', 'on'), true);
    assert.equal(await client.get('power'), true);
    // The kit refuses to send a value outside the model; the agent sees a refusal, not the value.
    await assert.rejects(client.get('energy'), isCode('DRIVER_FAILED'));
    assert.equal(emit.changed('power', false), true);
    assert.throws(() => emit.changed('energy', -1), isCode('DRIVER_VALUE_INVALID'));
    assert.equal(emit.button('press'), true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(changed, [['power', false]]);
    assert.deepEqual(faults, []);
  } finally {
    await client.close();
  }
  assert.equal(client.state, 'unavailable');
  await assert.rejects(client.get('power'), isCode('DRIVER_UNAVAILABLE'));
});

test('a request the driver never answers fails with DRIVER_TIMEOUT, and too many restart it', async () => {
  const faults: string[] = [];
  const states: string[] = [];
  const { client } = DriverClient.inProcess(
    model,
    { name: 'stuck', version: '1', get: () => new Promise<DriverValue>(() => undefined), act: () => true },
    {
      config: { requestTimeoutMs: 50, maxTimeoutsInRow: 2, restartBaseMs: 20, restartJitter: 0 },
      events: { onFault: (e) => faults.push(e.code), onState: (s) => states.push(s) },
    },
  );
  try {
    await client.whenReady(1_000);
    await assert.rejects(client.get('power'), isCode('DRIVER_TIMEOUT'));
    await assert.rejects(client.get('power'), isCode('DRIVER_TIMEOUT'));
    assert.deepEqual(faults, ['DRIVER_TIMEOUT']);
    await client.whenReady(1_000);
    assert.deepEqual(states, ['ready', 'unavailable', 'starting', 'ready']);
  } finally {
    await client.close();
  }
});

test('the optional health request: answered ok or a reason; a driver without it has no check', async () => {
  const base = { version: '1', get: (): DriverValue => false, act: (): DriverValue => true };
  let hardware: { ok: boolean; reason?: string } = { ok: true };
  const withCheck = DriverClient.inProcess(model, { ...base, name: 'checked', health: () => hardware }).client;
  const without = DriverClient.inProcess(model, { ...base, name: 'plain' }).client;
  const garbled = DriverClient.inProcess(model, {
    ...base,
    name: 'garbled',
    health: () => ({ ok: 'yes' }) as unknown as { ok: boolean },
  }).client;
  try {
    await assert.rejects(withCheck.health(), isCode('DRIVER_UNAVAILABLE'), 'not before the driver is up');
    await Promise.all([withCheck.whenReady(1_000), without.whenReady(1_000), garbled.whenReady(1_000)]);
    assert.deepEqual(await withCheck.health(), { ok: true });
    hardware = { ok: false, reason: 'relay\nwelded' };
    assert.deepEqual(await withCheck.health(), { ok: false, reason: 'relay welded' });
    hardware = { ok: false };
    assert.deepEqual(await withCheck.health(), { ok: false, reason: 'no reason given' });
    assert.equal(await without.health(), undefined, 'no health check: nothing to fail');
    // The kit checks the maker's answer too: a malformed one is the driver's failure, never a pass.
    await assert.rejects(garbled.health(), isCode('DRIVER_FAILED'));
  } finally {
    await Promise.all([withCheck.close(), without.close(), garbled.close()]);
  }
});
