import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestedMonitoring } from './monitoring-route.ts';
import { WebStateStore, loadMonitoringChoice, parseMonitoringChoice } from './owner-state.ts';

async function withDir(fn: (dir: string, moved: string[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-monitoring-web-'));
  const moved: string[] = [];
  try {
    await fn(dir, moved);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const sink = (dir: string, moved: string[]) => ({
  dir: join(dir, 'damaged'),
  note: (e: { file: string; reason: string }) => void moved.push(e.file),
});

test("reads 'on' and 'off' (and JSON booleans) and refuses anything else with the field's name", () => {
  assert.equal(requestedMonitoring('on'), true);
  assert.equal(requestedMonitoring(false), false);
  assert.equal(requestedMonitoring('off'), false);
  for (const bad of [undefined, '', 'yes', 1, 'OFF']) {
    assert.throws(() => requestedMonitoring(bad), { code: 'INVALID_INPUT' });
  }
});

test('monitoring is on without a file, saved atomically when changed, and on again after a reset', async () => {
  await withDir(async (dir, moved) => {
    const store = await WebStateStore.load(dir, {}, sink(dir, moved));
    assert.equal(store.monitoring, true, 'the default');
    await store.saveMonitoring(false);
    const file = join(dir, 'monitoring.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(parseMonitoringChoice(await readFile(file, 'utf8')).monitoring, false);
    assert.equal((await WebStateStore.load(dir, {}, sink(dir, moved))).monitoring, false, 'kept across a restart');
    assert.equal(await loadMonitoringChoice(dir, sink(dir, moved)), false);
    await store.erase();
    assert.equal(store.monitoring, true);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.deepEqual(moved, []);
  });
});

test('a damaged monitoring file is moved aside and monitoring is on', async () => {
  await withDir(async (dir, moved) => {
    const file = join(dir, 'monitoring.json');
    await writeFile(file, JSON.stringify({ version: 1, monitoring: 'no', changedAt: '2026-12-07T00:00:00Z' }));
    assert.equal(await loadMonitoringChoice(dir, sink(dir, moved)), true);
    assert.deepEqual(moved, [file]);
    assert.throws(() => parseMonitoringChoice('{"version":1,"monitoring":false}'), { code: 'STATE_CORRUPT' });
    assert.throws(() => parseMonitoringChoice('[]'), { code: 'STATE_CORRUPT' });
  });
});
