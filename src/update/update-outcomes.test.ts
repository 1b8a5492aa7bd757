import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateDeviceUpdateConfig } from './config.ts';
import { UpdaterCore, updaterPaths } from './updater-core.ts';
import { MAX_KEPT_OUTCOMES, type UpdateOutcomeRecord } from './updater-types.ts';

async function core(stateDir: string): Promise<UpdaterCore> {
  const o = {
    stateDir,
    bundle: { unit: { model: 'plug' }, caCertPem: '', updateRootJson: '' },
    journal: { record: (): void => undefined },
  };
  const c = new UpdaterCore(
    o,
    validateDeviceUpdateConfig({}),
    { slot: 'factory', version: '1.0.0', securityVersion: 0 },
    'local',
  );
  await c.load();
  return c;
}

test('update outcomes are kept across restarts, the newest few, and heard as they happen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-outcomes-'));
  const first = await core(dir);
  const heard: UpdateOutcomeRecord[] = [];
  first.outcomeListeners.add((o) => heard.push(o));
  for (let i = 1; i <= MAX_KEPT_OUTCOMES + 2; i++)
    first.emit({ type: 'decision', decision: 'found', version: `1.${i}.0` });
  first.emit({ type: 'decision', decision: 'rolled-back', version: '1.9.0', detail: 'not healthy within 3 boots' });
  await first.statusWrite;
  assert.equal(heard.length, MAX_KEPT_OUTCOMES + 3);
  const again = await core(dir);
  const kept = again.outcomes();
  assert.equal(kept.length, MAX_KEPT_OUTCOMES);
  assert.deepEqual(kept.at(-1), heard.at(-1), 'the rollback survives the restart as it was heard');
  assert.equal(kept[0]!.version, '1.4.0', 'the oldest went');
  assert.ok(
    kept.every((o, i) => i === 0 || o.n > kept[i - 1]!.n),
    'numbers rise',
  );
});

test('a repeat moves the last outcome; checks that find nothing and echoes of a rollback are not kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-outcomes-'));
  const c = await core(dir);
  c.emit({ type: 'decision', decision: 'rolled-back', version: '1.1.0', detail: 'not healthy within 3 boots' });
  const refusal = { type: 'decision', decision: 'refused', version: '1.2.0', code: 'UPDATE_DOWNGRADE' } as const;
  c.emit(refusal);
  const n = c.outcomes().at(-1)!.n;
  c.emit(refusal);
  c.emit({ type: 'decision', decision: 'up-to-date', version: '1.0.0' });
  c.emit({ type: 'decision', decision: 'refused', version: '1.1.0', code: 'UPDATE_PREVIOUSLY_FAILED' });
  assert.deepEqual(
    c.outcomes().map((o) => [o.outcome, o.version]),
    [
      ['rolled-back', '1.1.0'],
      ['refused', '1.2.0'],
    ],
  );
  assert.equal(c.outcomes().at(-1)!.n, n, 'the repeat kept its number');
});

test('a damaged outcome list in status.json is read as far as it holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-outcomes-'));
  const paths = updaterPaths(dir);
  await (await core(dir)).saveStatus();
  const good = { n: 5, at: 5, outcome: 'healthy', version: '1.1.0' };
  const outcomes = [{ n: 'x', at: 1, outcome: 'found' }, { n: 4, at: 4, outcome: 'exploded' }, null, good];
  await writeFile(paths.status, JSON.stringify({ lastCheck: null, latest: null, outcomes }));
  assert.deepEqual((await core(dir)).outcomes(), [good]);
  await writeFile(paths.status, '{"outcomes": 7');
  assert.deepEqual((await core(dir)).outcomes(), []);
});
