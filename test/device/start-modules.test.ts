// What the plug agent loads before it listens. Its idle RSS target (60 MiB) leaves about 3 MiB above a bare
// node:https server, and single imports have cost a megabyte each: node:http brought http2, undici and
// perf_hooks (+4 MiB), an ESM import of node:util brings worker_threads (+1 MiB), the certificate
// maker (src/identity with @peculiar/x509) 5 MiB. The bench measures the figure; this test names the cause.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { makeFleet, type TestFleet } from '../support/device.ts';

const AGENT = fileURLToPath(new URL('../../src/device/agent-main.ts', import.meta.url));
// Records every module URL the agent loads and, at SIGTERM, writes them with the builtins and exits.
const RECORDER =
  'data:text/javascript,' +
  encodeURIComponent(`
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = [];
registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
process.once('SIGTERM', () => {
  writeFileSync(process.env.BULWARK_MODULE_LIST, [...seen, ...process.moduleLoadList].join('\\n'));
  process.exit(0);
});
`);

const HEAVY_BUILTINS = ['worker_threads', 'http2', 'perf_hooks', 'inspector', 'internal/deps/undici/undici'];
let fleet: TestFleet;

before(async () => {
  fleet = await makeFleet(['plug']);
});

async function modulesLoadedAtStart(): Promise<string[]> {
  const list = join(fleet.work, 'modules.txt');
  const args = ['--import', RECORDER, AGENT, '--bundle', fleet.units.plug!.dir, '--state', join(fleet.work, 'state')];
  const child = spawn(process.execPath, [...args, '--web-port', '0', '--hub-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BULWARK_MODULE_LIST: list },
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).on('line', (l) => l.includes('"listening"') && resolve());
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return (await readFile(list, 'utf8')).split('\n');
}

test(
  'the plug agent listens without loading heavy builtins or the certificate maker',
  { timeout: 60_000 },
  async () => {
    const loaded = await modulesLoadedAtStart();
    assert.ok(loaded.includes('NativeModule tls'), 'the recorder saw the builtins');
    for (const name of HEAVY_BUILTINS) assert.ok(!loaded.includes(`NativeModule ${name}`), `${name} loaded at start`);
    const identity = loaded.filter((url) => url.includes('/src/identity/') || url.includes('@peculiar'));
    assert.deepEqual(identity, [], 'src/identity and @peculiar/x509 load only when a certificate is made');
  },
);
