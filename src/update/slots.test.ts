import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decideBoot,
  INITIAL_BOOT_STATE,
  parseBootState,
  readBootState,
  writeBootState,
  raiseSecurityCounter,
  readSecurityCounter,
  type BootState,
  type SlotCheck,
} from './slots.ts';

const image = (version: string, securityVersion: number): SlotCheck => ({
  ok: true,
  image: { format: 'bulwark-image/1', model: 'plug', version, securityVersion, entry: 'agent.mjs' },
  targetSha256: 'a'.repeat(64),
});
const counter = (securityVersion = 0) => ({ securityVersion, version: null });
const trialOnB = (boots: number): BootState => ({
  format: 'bulwark-boot/1',
  active: 'b',
  previous: 'a',
  trial: { boots, version: '1.2.0', targetSha256: 'b'.repeat(64) },
});

test('a device that never installed anything boots the factory image and writes nothing', () => {
  const plan = decideBoot(INITIAL_BOOT_STATE, {}, counter(), 3);
  assert.equal(plan.boot, 'factory');
  assert.equal(plan.changed, false);
});

test('a trial boot is counted before it starts', () => {
  const plan = decideBoot(trialOnB(0), { a: image('1.1.0', 1), b: image('1.2.0', 1) }, counter(1), 3);
  assert.equal(plan.boot, 'b');
  assert.equal(plan.trial, true);
  assert.equal(plan.state.trial?.boots, 1);
  assert.equal(plan.changed, true);
});

test('a trial that has used its boots goes back to the previous slot, naming the image that failed', () => {
  const plan = decideBoot(trialOnB(3), { a: image('1.1.0', 1), b: image('1.2.0', 1) }, counter(1), 3);
  assert.equal(plan.boot, 'a');
  assert.equal(plan.trial, false);
  assert.deepEqual(
    { ...plan.state.fallback, at: undefined },
    {
      from: 'b',
      to: 'a',
      version: '1.2.0',
      targetSha256: 'b'.repeat(64),
      reason: 'not healthy within 3 boots',
      reported: false,
      at: undefined,
    },
  );
});

test('when the previous slot is unusable too, the factory image boots', () => {
  const plan = decideBoot(
    trialOnB(3),
    { a: { ok: false, reason: 'slot a is gone' }, b: image('1.2.0', 1) },
    counter(1),
    3,
  );
  assert.equal(plan.boot, 'factory');
});

test('a slot below the security counter is never booted, even when its files are intact', () => {
  const state: BootState = { format: 'bulwark-boot/1', active: 'a', previous: null, trial: null };
  const plan = decideBoot(state, { a: image('1.1.0', 1) }, counter(2), 3);
  assert.equal(plan.boot, 'factory');
  assert.match(plan.state.fallback!.reason, /security version 1, below the device's 2/);
  assert.equal(plan.state.fallback!.targetSha256, undefined, 'a slot that was healthy before is not condemned');
});

test('a damaged active slot falls back and keeps the version it held for the journal', () => {
  const state: BootState = { format: 'bulwark-boot/1', active: 'a', previous: null, trial: null };
  const plan = decideBoot(
    state,
    { a: { ok: false, reason: 'slot a: agent.mjs has changed since it was installed', version: '1.1.0' } },
    counter(1),
    3,
  );
  assert.equal(plan.boot, 'factory');
  assert.equal(plan.state.fallback!.version, '1.1.0');
});

test('boot.json round-trips, and a malformed one reads as the initial state with a problem noted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-slots-'));
  await writeBootState(dir, trialOnB(2));
  assert.deepEqual((await readBootState(dir)).state, trialOnB(2));
  await writeFile(join(dir, 'firmware', 'boot.json'), '{"format":"bulwark-boot/1","active":"c"}');
  const r = await readBootState(dir);
  assert.deepEqual(r.state, INITIAL_BOOT_STATE);
  assert.match(r.problem ?? '', /malformed/);
  assert.throws(() => parseBootState({ ...trialOnB(1), trial: { boots: -1, version: '1.0.0', targetSha256: 'x' } }), {
    code: 'BOOT_STATE_INVALID',
  });
});

test('the security counter only ever goes up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-counter-'));
  assert.deepEqual(await readSecurityCounter(dir), { securityVersion: 0, version: null });
  await raiseSecurityCounter(dir, 3, '1.2.0');
  await raiseSecurityCounter(dir, 1, '1.0.0');
  assert.deepEqual(await readSecurityCounter(dir), { securityVersion: 3, version: '1.2.0' });
  await raiseSecurityCounter(dir, 3, '1.3.0');
  assert.deepEqual(await readSecurityCounter(dir), { securityVersion: 3, version: '1.3.0' });
});

test('a damaged security counter is an error, never a reset to zero', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-counter-'));
  await mkdir(join(dir, 'firmware'));
  await writeFile(join(dir, 'firmware', 'security.json'), '{"securityVersion":');
  await assert.rejects(readSecurityCounter(dir), { code: 'SECURITY_COUNTER_UNREADABLE' });
});
