import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from './repository.ts';

test('the repository lock runs the work once, even when the work fails with EEXIST, and is released', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let runs = 0;
  const exists = Object.assign(new Error('a file the work made with wx exists'), { code: 'EEXIST' });
  await assert.rejects(
    withLock(dir, () => {
      runs++;
      return Promise.reject(exists);
    }),
    (err) => err === exists,
  );
  assert.equal(runs, 1);
  assert.equal(existsSync(join(dir, '.release.lock')), false, 'the lock is released');
  assert.equal(await withLock(dir, () => Promise.resolve('second')), 'second');
});

test('a lock held by a live process is refused as RELEASE_BUSY; one a crashed run left is taken over', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await withLock(dir, async () => {
    await assert.rejects(
      withLock(dir, () => Promise.resolve(1)),
      { code: 'RELEASE_BUSY' },
    );
  });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, '.release.lock'), '999999999');
  assert.equal(await withLock(dir, () => Promise.resolve('taken over')), 'taken over');
});
