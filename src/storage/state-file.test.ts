import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, readdir, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, writeStateFile, versionCopyPath, type StateFormat, type DamagedStateSink } from './index.ts';

interface PrefsV1 {
  version: 1;
  colour: string;
}
interface PrefsV2 {
  version: 2;
  colour: string;
  brightness: number;
}

function strictParse<T>(version: number, keys: readonly string[]): (text: string) => T {
  return (text) => {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (v.version !== version || Object.keys(v).sort().join() !== [...keys, 'version'].sort().join()) {
      throw new Error('off schema');
    }
    return v as T;
  };
}

const V1: StateFormat<PrefsV1> = { name: 'prefs.json', version: 1, parse: strictParse(1, ['colour']) };
const V2: StateFormat<PrefsV2> = {
  name: 'prefs.json',
  version: 2,
  parse: strictParse(2, ['colour', 'brightness']),
  migrations: [
    {
      up: (v) => ({ ...v, brightness: 100 }),
      down: ({ brightness: _dropped, ...rest }) => rest,
    },
  ],
};

async function folder(): Promise<{ dir: string; path: string; sink: DamagedStateSink; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-state-'));
  const notes: string[] = [];
  const sink = { dir: join(dir, 'damaged'), note: (e: { reason: string }) => notes.push(e.reason) };
  return { dir, path: join(dir, 'prefs.json'), sink, notes };
}

test('an absent state file reads as undefined and nothing is created', async () => {
  const f = await folder();
  assert.equal(await readStateFile(f.path, V1, f.sink), undefined);
  assert.deepEqual(await readdir(f.dir), []);
  assert.deepEqual(f.notes, []);
});

for (const [what, content, reason] of [
  ['empty', '', /empty/],
  ['truncated', '{"version": 1, "col', /not valid JSON/],
  ['off its schema', '{"version": 1, "color": "red"}', /schema/],
  ['without a version', '{"colour": "red"}', /no version/],
] as const) {
  test(`a state file that is ${what} is moved aside, told, and reads as undefined`, async () => {
    const f = await folder();
    await writeFile(f.path, content);
    assert.equal(await readStateFile(f.path, V1, f.sink), undefined);
    assert.match(f.notes.join(), reason);
    await assert.rejects(stat(f.path), { code: 'ENOENT' });
    const kept = await readdir(f.sink.dir);
    assert.equal(kept.length, 1);
    assert.equal(await readFile(join(f.sink.dir, kept[0]!), 'utf8'), content, 'kept for support as it was');
  });
}

test('a folder standing where a state file belongs is unreadable: moved aside, not fatal', async () => {
  const f = await folder();
  await mkdir(f.path);
  assert.equal(await readStateFile(f.path, V1, f.sink), undefined);
  assert.match(f.notes.join(), /unreadable \(EISDIR\)/);
  await assert.rejects(stat(f.path), { code: 'ENOENT' });
});

test('a file from older software is migrated up and saved in this version', async () => {
  const f = await folder();
  await writeFile(f.path, JSON.stringify({ version: 1, colour: 'red' }));
  assert.deepEqual(await readStateFile(f.path, V2, f.sink), { version: 2, colour: 'red', brightness: 100 });
  assert.deepEqual(JSON.parse(await readFile(f.path, 'utf8')), { version: 2, colour: 'red', brightness: 100 });
});

test('a save in version 2 leaves a version 1 copy, which older software reads after a fallback', async () => {
  const f = await folder();
  await writeStateFile(f.path, V2, JSON.stringify({ version: 2, colour: 'blue', brightness: 40 }));
  assert.deepEqual(JSON.parse(await readFile(versionCopyPath(f.path, 1), 'utf8')), { version: 1, colour: 'blue' });
  assert.deepEqual(await readStateFile(f.path, V1, f.sink), { version: 1, colour: 'blue' });
  assert.deepEqual(f.notes, [], 'nothing moved aside');
  assert.equal(
    (JSON.parse(await readFile(f.path, 'utf8')) as PrefsV2).version,
    2,
    'the newer file is left for the newer image',
  );
});

test('a file from newer software with no copy for this version is moved aside, not refused', async () => {
  const f = await folder();
  await writeFile(f.path, JSON.stringify({ version: 7, colour: 'green' }));
  assert.equal(await readStateFile(f.path, V1, f.sink), undefined);
  assert.match(f.notes.join(), /newer software \(version 7\)/);
});

test('at most three moved-aside copies of one file are kept', async () => {
  const f = await folder();
  for (let i = 0; i < 6; i++) {
    await writeFile(f.path, `damaged ${i}`);
    await readStateFile(f.path, V1, f.sink);
    await new Promise((r) => setTimeout(r, 2));
  }
  const kept = (await readdir(f.sink.dir)).sort();
  assert.equal(kept.length, 3);
  assert.equal(await readFile(join(f.sink.dir, kept[2]!), 'utf8'), 'damaged 5', 'the newest is kept');
});
