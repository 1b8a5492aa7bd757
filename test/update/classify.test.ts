// The refusal codes of real tuf-js failures: these pin our reading of tuf-js's errors, so an
// upgrade that changes them fails here rather than on a device.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater, type Fetcher } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { createUpdateKeys, initRepository, refreshRepository } from '../../src/release/index.ts';
import { UpdateRefusedError } from '../../src/update/index.ts';
import { classifyUpdateFailure } from '../../src/update/classify.ts';

let factory: string;

before(async () => {
  factory = await mkdtemp(join(tmpdir(), 'bulwark-classify-'));
  await createUpdateKeys(join(factory, 'update-keys'));
});

/** Serves a repository's metadata from memory, with per-file replacements. */
function memoryFetcher(files: Map<string, Buffer>): Fetcher {
  const get = (url: string): Buffer => {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const f = files.get(name);
    if (!f) throw new DownloadHTTPError('not found', 404);
    return f;
  };
  return {
    downloadBytes: (url) => new Promise((resolve) => resolve(get(url))),
    downloadFile: () => Promise.reject(new Error('not used')),
  };
}

async function repo(
  o: { now?: Date; timestampSeconds?: number } = {},
): Promise<{ dir: string; files: Map<string, Buffer> }> {
  const dir = join(await mkdtemp(join(tmpdir(), 'bulwark-classify-repo-')), 'r');
  await initRepository({
    repoDir: dir,
    factoryDir: factory,
    ...(o.now ? { now: o.now } : {}),
    ...(o.timestampSeconds ? { expiry: { timestampSeconds: o.timestampSeconds } } : {}),
  });
  return { dir, files: await load(dir) };
}

async function load(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const n of await readdir(join(dir, 'metadata'))) files.set(n, await readFile(join(dir, 'metadata', n)));
  return files;
}

async function refresh(files: Map<string, Buffer>, cache?: string): Promise<UpdateRefusedError> {
  const metadataDir = cache ?? (await mkdtemp(join(tmpdir(), 'bulwark-classify-cache-')));
  if (!cache) await copyFile(join(factory, 'update-keys', 'root.json'), join(metadataDir, 'root.json'));
  const u = new Updater({
    metadataDir,
    metadataBaseUrl: 'http://repo.invalid/metadata',
    fetcher: memoryFetcher(files),
  });
  try {
    await u.refresh();
  } catch (err) {
    return classifyUpdateFailure(err, undefined, undefined);
  }
  throw new Error('refresh succeeded');
}

test('a timestamp with a changed byte: UPDATE_METADATA_UNSIGNED', async () => {
  const { files } = await repo();
  const ts = JSON.parse(files.get('timestamp.json')!.toString()) as { signed: { version: number } };
  ts.signed.version += 1;
  files.set('timestamp.json', Buffer.from(JSON.stringify(ts)));
  const e = await refresh(files);
  assert.equal(e.code, 'UPDATE_METADATA_UNSIGNED');
  assert.match(e.message, /timestamp was signed by 0\/1 keys/);
});

test('an expired timestamp: UPDATE_METADATA_EXPIRED', async () => {
  const { files } = await repo({ now: new Date(Date.now() - 86_400_000), timestampSeconds: 60 });
  const e = await refresh(files);
  assert.equal(e.code, 'UPDATE_METADATA_EXPIRED');
});

test('an older timestamp than the one already trusted: UPDATE_METADATA_ROLLBACK', async () => {
  const { dir, files } = await repo();
  const old = new Map(files);
  await refreshRepository({ repoDir: dir });
  const cache = await mkdtemp(join(tmpdir(), 'bulwark-classify-cache-'));
  await copyFile(join(factory, 'update-keys', 'root.json'), join(cache, 'root.json'));
  const u = new Updater({
    metadataDir: cache,
    metadataBaseUrl: 'http://repo.invalid/metadata',
    fetcher: memoryFetcher(await load(dir)),
  });
  await u.refresh();
  const e = await refresh(old, cache);
  assert.equal(e.code, 'UPDATE_METADATA_ROLLBACK');
});

test('a snapshot that does not match what the timestamp signed: UPDATE_METADATA_MISMATCH', async () => {
  const { dir } = await repo();
  await refreshRepository({ repoDir: dir, roles: ['snapshot'] });
  const files = await load(dir);
  files.set('2.snapshot.json', files.get('1.snapshot.json')!);
  const e = await refresh(files);
  assert.equal(e.code, 'UPDATE_METADATA_MISMATCH');
});

test('garbage where metadata should be: UPDATE_METADATA_INVALID', async () => {
  const { files } = await repo();
  files.set('timestamp.json', Buffer.from('{"signed":'));
  assert.equal((await refresh(files)).code, 'UPDATE_METADATA_INVALID');
});

test("a download failure recorded by the fetcher wins over tuf-js's rewrapping", () => {
  const cause = new UpdateRefusedError('UPDATE_TIMEOUT', 'snapshot: not received within 10 ms');
  assert.equal(
    classifyUpdateFailure(new Error('Unable to load snapshot metadata error Error: aborted'), cause, 'snapshot'),
    cause,
  );
});

test('keys and metadata files are where the factory and repository documents say', async () => {
  const names = (await readdir(join(factory, 'update-keys'))).sort();
  assert.deepEqual(names, [
    'root-1.pem',
    'root-2.pem',
    'root-3.pem',
    'root.json',
    'roots',
    'snapshot.pem',
    'targets.pem',
    'timestamp.pem',
  ]);
});
