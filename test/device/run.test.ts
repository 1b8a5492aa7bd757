// `bulwark device run` and `bulwark device button` as real processes: the supervisor starts the
// agent, restarts it when it dies, and the button works only through its 0600 socket.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const AGENT = fileURLToPath(new URL('../../src/device/agent-main.ts', import.meta.url));
let fleet: TestFleet;

before(async () => {
  fleet = await makeFleet(['plug']);
});

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

test(
  'device run prints its URL, serves the sticker login, and the button does a factory reset',
  { timeout: 120_000 },
  async () => {
    const state = join(fleet.work, 'state-run');
    const child = spawn(
      process.execPath,
      [BIN, 'device', 'run', '--bundle', fleet.units.plug!.dir, '--state', state, '--web-port', '0', '--hub-port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const urls: string[] = [];
      const waiters: Array<() => void> = [];
      lines.on('line', (l) => {
        const m = /ready: (https:\/\/\S+)/.exec(l);
        if (m) urls.push(m[1]!);
        for (const w of waiters.splice(0)) w();
      });
      /** The URL of the agent's `n`th start (port 0: each start has its own). */
      const readyUrl = (n: number): Promise<string> =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ready line ${n}; stderr: ${stderr}`)), 30_000);
          const check = (): void => {
            if (urls.length >= n) {
              clearTimeout(timer);
              resolve(urls[n - 1]!);
            } else waiters.push(check);
          };
          check();
        });
      const url = await readyUrl(1);
      const c = await WebClient.for(url, fleet.units.plug!);
      assert.equal((await c.login(fleet.units.plug!.adminPassword!)).status, 303);
      const sock = await stat(join(state, 'button.sock'));
      assert.ok(sock.isSocket());
      assert.equal(sock.mode & 0o777, 0o600, 'only the device user can press the button');
      const press = await bulwark(['device', 'button', '--state', state]);
      assert.equal(press.code, 0, press.stderr);
      const hold = await bulwark(['device', 'button', '--state', state, '--hold']);
      assert.equal(hold.code, 0, hold.stderr);
      assert.match(hold.stdout, /factory reset done/);
      // The supervisor reset the unit with the agent stopped and started it again: the old session is gone.
      const again = await WebClient.for(await readyUrl(2), fleet.units.plug!);
      again.cookies.clear();
      for (const [k, v] of c.cookies) again.cookies.set(k, v);
      assert.equal((await again.get('/api/status')).status, 401, 'factory reset ended the session');
      assert.equal((await again.login(fleet.units.plug!.adminPassword!)).status, 303, 'the label password works');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  },
);

test('the button of a device that is not running is a clear error', async () => {
  const r = await bulwark(['device', 'button', '--state', join(fleet.work, 'nowhere')]);
  assert.equal(r.code, 69);
  assert.match(r.stderr, /BUTTON_UNREACHABLE/);
});

test('a production agent refuses to start with the Node inspector enabled', { timeout: 60_000 }, async () => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--inspect=127.0.0.1:0',
        AGENT,
        '--bundle',
        fleet.units.plug!.dir,
        '--state',
        join(fleet.work, 'state-inspect'),
        '--web-port',
        '0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BULWARK_MODE: 'production' } },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /DEBUG_INTERFACE_REFUSED/);
});

test('a bundle whose secret files others can read is refused', async () => {
  const { cp, chmod } = await import('node:fs/promises');
  const copy = join(fleet.work, 'leaky-bundle');
  await cp(fleet.units.plug!.dir, copy, { recursive: true });
  await chmod(join(copy, 'device-key.pem'), 0o644);
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [AGENT, '--bundle', copy, '--state', join(fleet.work, 'state-leaky'), '--web-port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /BUNDLE_INSECURE_MODE/);
});
