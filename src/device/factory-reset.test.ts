import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eraseOwnerState, ownerFilesLeft } from './factory-reset.ts';

test('a reset also erases what a write cut short left beside an owner file, and nothing else', async () => {
  const state = await mkdtemp(join(tmpdir(), 'bulwark-reset-'));
  await mkdir(join(state, 'update'));
  const cutShort = ['.connection-journal.jsonl.70e82b124152.tmp', '.hubs.json.0123456789ab.tmp'];
  for (const f of ['connection-journal.jsonl', ...cutShort, 'bundle.json', '.other.json.0123456789ab.tmp'])
    await writeFile(join(state, f), 'x');
  await writeFile(join(state, 'update', '.prefs.json.aaaaaaaaaaaa.tmp'), 'x');
  assert.deepEqual(
    (await ownerFilesLeft(state)).sort(),
    ['connection-journal.jsonl', ...cutShort, 'update/.prefs.json.aaaaaaaaaaaa.tmp'].sort(),
    'the left-behind temporary files count as the owner data they hold',
  );
  assert.deepEqual(await eraseOwnerState(state), { failed: [] });
  assert.deepEqual(await ownerFilesLeft(state), []);
  const kept = (await readdir(state)).sort();
  assert.deepEqual(kept, ['.other.json.0123456789ab.tmp', 'bundle.json', 'factory-reset.finishing', 'update']);
});
