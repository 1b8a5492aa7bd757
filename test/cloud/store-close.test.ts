// A cloud that closes its SQLite store last (after its servers) must still see the telemetry writer's thread end:
// with the thread unref'd, Node used to leave the close unsettled and exit with code 13 mid-close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('./fixtures/close-after-telemetry.ts', import.meta.url));

test('closing a SQLite store with nothing else alive waits for the telemetry writer and ends cleanly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-store-close-'));
  try {
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(process.execPath, [FIXTURE, dir], { timeout: 30_000 });
      assert.equal(stdout, 'closed\n', `run ${i + 1}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
