// Real processes over loopback: a hub and three devices, each started by this test as its own
// `bulwark` process; paired through the CLI (push button and setup code), controlled, and one
// device restarted: the hub's reconnecting client brings its channel back on its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFleet, type TestFleet } from '../support/device.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
let fleet: TestFleet;
const children = new Set<ChildProcess>();

before(async () => {
  fleet = await makeFleet(['plug', 'lock', 'sensor']);
});
after(async () => {
  await Promise.all([...children].map((c) => stopProcess(c)));
});

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

async function ok(args: string[]): Promise<string> {
  const r = await bulwark(args);
  assert.equal(r.code, 0, `bulwark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Starts a long-running `bulwark` process and resolves with the first stdout line matching `ready`. */
function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ready line from ${args.slice(0, 2).join(' ')}; stderr: ${stderr}`)),
      30_000,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = ready.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${stderr}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

interface Row {
  serial: string;
  connected: boolean;
  state: Record<string, unknown>;
}

async function devices(hubState: string): Promise<Row[]> {
  return JSON.parse(await ok(['hub', 'devices', '--hub', hubState, '--json'])) as Row[];
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const DEVICE_READY = /device (\S+) ready: (https:\/\/\S+) hub port (\d+)/;

test(
  'a hub and three devices as separate processes: paired, controlled, and a restarted device reconnects by itself',
  { timeout: 240_000 },
  async () => {
    const hubState = join(fleet.work, 'hub');
    const hubStart = start(
      ['hub', 'run', '--state', hubState, '--web-port', '0'],
      /hub ready: (https:\/\/\S+) control (\S+) key (sha256:[0-9a-f]{64})/,
    );
    const deviceStarts = (['plug', 'lock', 'sensor'] as const).map((m) =>
      start(
        [
          'device',
          'run',
          '--bundle',
          fleet.units[m]!.dir,
          '--state',
          join(fleet.work, `state-${m}`),
          '--web-port',
          '0',
          '--hub-port',
          '0',
        ],
        DEVICE_READY,
      ),
    );
    const hub = await hubStart;
    const [plug, lock, sensor] = await Promise.all(deviceStarts);
    const port = (d: typeof plug): string => `127.0.0.1:${d!.match[3]}`;
    const hubKey = hub.match[3]!;
    assert.equal((await stat(join(hubState, 'hub-key.pem'))).mode & 0o777, 0o600, 'the hub key is 0600');
    assert.equal((await stat(join(hubState, 'hub.sock'))).mode & 0o777, 0o600, 'the control socket is 0600');
    assert.equal((await stat(hubState)).mode & 0o777, 0o700);

    // A window opened by the button: push button for the plug and the sensor, the setup code for the lock.
    for (const m of ['plug', 'lock', 'sensor'])
      assert.match(await ok(['device', 'button', '--state', join(fleet.work, `state-${m}`)]), /pairing window open/);
    const refused = await bulwark(['hub', 'pair', '--hub', hubState, '--device', port(lock)]);
    assert.equal(refused.code, 77);
    assert.match(refused.stderr, /PAIRING_PUSH_BUTTON_REFUSED/);
    assert.match(
      await ok(['hub', 'pair', '--hub', hubState, '--device', port(plug)]),
      /paired PLG-\S+ \(plug\) by push-button/,
    );
    assert.match(
      await ok(['hub', 'pair', '--hub', hubState, '--device', port(lock), '--code', fleet.units.lock!.setupCode]),
      /by setup-code/,
    );
    assert.match(await ok(['hub', 'pair', '--hub', hubState, '--device', port(sensor)]), /by push-button/);
    const list = await devices(hubState);
    assert.deepEqual(
      list.map((d) => [d.serial, d.connected]),
      [fleet.units.lock!.serial, fleet.units.plug!.serial, fleet.units.sensor!.serial].sort().map((s) => [s, true]),
    );

    // Control.
    const plugSerial = fleet.units.plug!.serial;
    const lockSerial = fleet.units.lock!.serial;
    assert.match(await ok(['hub', 'call', '--hub', hubState, plugSerial, 'power', 'on']), /power on: true/);
    const denied = await bulwark(['hub', 'call', '--hub', hubState, lockSerial, 'bolt', 'unlock']);
    assert.match(denied.stderr, /HUB_CAPABILITY_NOT_GRANTED/);
    await ok(['hub', 'grant', '--hub', hubState, lockSerial, 'bolt']);
    assert.match(await ok(['hub', 'call', '--hub', hubState, lockSerial, 'bolt', 'unlock']), /unlocked/);
    assert.match(await ok(['hub', 'call', '--hub', hubState, lockSerial, 'bolt', 'lock']), /: locked/);
    assert.match(
      await ok(['hub', 'call', '--hub', hubState, fleet.units.sensor!.serial, 'temperature', 'get']),
      /temperature get: \d+(\.\d)?/,
    );

    // Restart the plug on the same hub port; the hub reconnects by itself and the plug kept its state.
    await stopProcess(plug!.child);
    await until(
      async () => !(await devices(hubState)).find((d) => d.serial === plugSerial)!.connected,
      30_000,
      'the hub noticing the plug is gone',
    );
    const offline = await bulwark(['hub', 'call', '--hub', hubState, plugSerial, 'power', 'off']);
    assert.match(offline.stderr, /HUB_DEVICE_OFFLINE/);
    await start(
      [
        'device',
        'run',
        '--bundle',
        fleet.units.plug!.dir,
        '--state',
        join(fleet.work, 'state-plug'),
        '--web-port',
        '0',
        '--hub-port',
        plug!.match[3]!,
      ],
      DEVICE_READY,
    );
    await until(
      async () => (await devices(hubState)).find((d) => d.serial === plugSerial)!.connected,
      30_000,
      'the hub reconnecting to the restarted plug',
    );
    assert.equal(
      (await devices(hubState)).find((d) => d.serial === plugSerial)!.state.power,
      true,
      'the plug kept its state and pushed it',
    );
    assert.match(await ok(['hub', 'call', '--hub', hubState, plugSerial, 'power', 'off']), /power off: false/);

    // The device's journal names the hub's key for the pairing and for both channels.
    const web = await ok(['hub', 'devices', '--hub', hubState]);
    assert.match(web, /connected/);
    const { readFile } = await import('node:fs/promises');
    const { JOURNAL_FILE_NAME } = await import('../../src/journal/index.ts');
    const entries = (await readFile(join(fleet.work, 'state-lock', JOURNAL_FILE_NAME), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { surface: string; event: string; result: string; identity?: string });
    assert.ok(
      entries.some(
        (e) => e.surface === 'pairing' && e.event === 'pairing' && e.result === 'success' && e.identity === hubKey,
      ),
    );
    assert.ok(entries.some((e) => e.surface === 'hub' && e.event === 'channel-connect' && e.identity === hubKey));
  },
);
