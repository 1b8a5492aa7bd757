// Discovery by identity in network namespaces this test makes: a hub process in one, the device (and later an
// impostor) in another, a veth pair between them on a private /24. The device is paired, restarted on another
// address, and the hub finds it again by its key's digest without a button press; a process claiming the same
// digest with another key is refused and journalled, and the recorded address stays. Needs root and `ip netns`
// (iproute2): outside CI the test is skipped when they are missing, in CI it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { makeFleet } from '../support/device.ts';
import { callHubControl } from '../../src/hub/index.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const AGENT = fileURLToPath(new URL('../../src/device/agent-main.ts', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./discovery-fixture.ts', import.meta.url));
const NET = '10.213.47';
const HUB_NS = `bwhub${process.pid}`;
const DEVICE_NS = `bwdev${process.pid}`;
const HUB_LINK = `bwh${process.pid}`.slice(0, 15);
const DEVICE_LINK = `bwd${process.pid}`.slice(0, 15);
const children = new Set<ChildProcess>();

function isCi(): boolean {
  return !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Two namespaces joined by a veth pair, each with a default route on it (mDNS's group is reached by that route). */
function makeNetwork(): void {
  ip('netns', 'add', HUB_NS);
  ip('netns', 'add', DEVICE_NS);
  ip('link', 'add', HUB_LINK, 'type', 'veth', 'peer', 'name', DEVICE_LINK);
  ip('link', 'set', HUB_LINK, 'netns', HUB_NS);
  ip('link', 'set', DEVICE_LINK, 'netns', DEVICE_NS);
  for (const [ns, link, host] of [
    [HUB_NS, HUB_LINK, 1],
    [DEVICE_NS, DEVICE_LINK, 2],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${NET}.${host}/24`, 'dev', link);
    ip('-n', ns, 'link', 'set', link, 'up', 'multicast', 'on');
    ip('-n', ns, 'route', 'add', 'default', 'dev', link);
  }
}

function removeNetwork(): void {
  for (const ns of [HUB_NS, DEVICE_NS]) {
    try {
      ip('netns', 'del', ns); // the veth pair goes with its namespaces
    } catch {
      // not made
    }
  }
}

/** Whether this machine lets the test make namespaces; throws in CI when it does not. */
function namespacesAllowed(t: { skip(message: string): void }): boolean {
  try {
    makeNetwork();
    return true;
  } catch (err) {
    removeNetwork();
    const why = `ip netns is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
    if (isCi()) throw new Error(`${why}: CI runs as root with iproute2 installed`);
    t.skip(`${why}: run as root with iproute2 (apt-get install iproute2)`);
    return false;
  }
}

/** Runs `argv` in namespace `ns` and resolves with its first stdout line that is JSON with `event`. */
function startIn(
  ns: string,
  argv: string[],
  event: string,
): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BULWARK_MODE: 'development' },
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4_000)));
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv[0]} did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const line = JSON.parse(l) as Record<string, unknown>;
        if (line.event !== event) return;
        clearTimeout(timer);
        resolve({ child, line });
      } catch {
        // other output
      }
    });
    child.once('exit', (code) => reject(new Error(`${argv[0]} exited ${code}: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The hub process: `bulwark hub run`, its ready line turned into the event the starter waits for. */
async function startHub(state: string): Promise<ChildProcess> {
  const hub = [BIN, 'hub', 'run', '--state', state, '--web-port', '0', '--log-format', 'text'];
  const child = spawn('ip', ['netns', 'exec', HUB_NS, process.execPath, ...hub], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stderr.resume();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the hub did not start')), 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.startsWith('hub ready:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the hub exited ${code}`)));
  });
  return child;
}

interface DeviceRow {
  serial: string;
  address: string;
  connected: boolean;
  pin: string;
}

async function deviceRow(hubState: string, serial: string): Promise<DeviceRow | undefined> {
  const rows = (await callHubControl(hubState, 'devices')) as DeviceRow[];
  return rows.find((d) => d.serial === serial);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The hub journal's entries of `event` (the journal appends JSON lines to its file). */
async function journalled(hubState: string, event: string): Promise<Array<Record<string, string>>> {
  const text = await readFile(join(hubState, 'connection-journal.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.includes(`"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, string>)
    .filter((e) => e.event === event);
}

test(
  'a paired device restarted on another address is found by its key digest; an impostor is refused',
  { timeout: 180_000 },
  async (t) => {
    if (!namespacesAllowed(t)) return;
    try {
      const fleet = await makeFleet(['plug']);
      const unit = fleet.units.plug!;
      const hubState = join(fleet.work, 'hub');
      const deviceState = join(fleet.work, 'device');
      await startHub(hubState);
      const agentArgs = (host: string): string[] => [
        AGENT,
        ...['--bundle', unit.dir, '--state', deviceState, '--host', host, '--web-port', '0', '--hub-port', '5541'],
      ];
      let device = await startIn(DEVICE_NS, agentArgs(`${NET}.2`), 'listening');

      // Malformed mDNS packets do not stop the device, which still answers a one-shot query after them.
      const probe = await startIn(HUB_NS, [FIXTURE, 'garbage', `${NET}.2`], 'answered');
      assert.equal(device.child.exitCode, null, 'the device survived the malformed packets');
      const names = probe.line.names as string[];
      assert.equal(names.length, 1, 'one answer to the query');
      assert.match(names[0]!, /^[0-9a-f]{32}\._bulwark\._tcp\.local$/);
      assert.ok(!names[0]!.includes(unit.serial.toLowerCase()), 'the serial is not advertised');

      // Pair by push button (the one button press), then move the device to another address.
      execFileSync(process.execPath, [BIN, 'device', 'button', '--state', deviceState], { timeout: 30_000 });
      await callHubControl(hubState, 'pair', { address: `${NET}.2:5541` });
      const paired = (await deviceRow(hubState, unit.serial))!;
      assert.equal(paired.connected, true);
      assert.equal(names[0]!.slice(0, 32), paired.pin.slice('sha256:'.length, 'sha256:'.length + 32));
      await stop(device.child);
      // Deleted first: removing a primary address takes the secondaries of its subnet with it.
      ip('-n', DEVICE_NS, 'addr', 'del', `${NET}.2/24`, 'dev', DEVICE_LINK);
      ip('-n', DEVICE_NS, 'addr', 'add', `${NET}.3/24`, 'dev', DEVICE_LINK);
      ip('-n', DEVICE_NS, 'route', 'replace', 'default', 'dev', DEVICE_LINK);
      const movedAt = Date.now();
      device = await startIn(DEVICE_NS, agentArgs(`${NET}.3`), 'listening');
      await until('the hub reaching the device at its new address', 30_000, async () => {
        const row = await deviceRow(hubState, unit.serial);
        return row?.connected && row.address === `${NET}.3:5541` ? row : undefined;
      });
      t.diagnostic(`found again ${Date.now() - movedAt} ms after the device restarted`);
      assert.ok(Date.now() - movedAt < 30_000);
      const moved = await until('the device-moved entry', 10_000, async () => {
        const rows = await journalled(hubState, 'device-moved');
        return rows.length ? rows : undefined;
      });
      assert.equal(moved[0]!.identity, unit.serial);
      assert.match(moved[0]!.detail!, new RegExp(`from ${NET}\\.2:5541 to ${NET}\\.3:5541`));

      // An impostor: the same digest, another key. The hub dials it, the pin check refuses it.
      await stop(device.child);
      ip('-n', DEVICE_NS, 'addr', 'add', `${NET}.9/24`, 'dev', DEVICE_LINK);
      const pinHex = paired.pin.slice('sha256:'.length);
      await startIn(DEVICE_NS, [FIXTURE, 'impostor', `${NET}.9`, '5541', pinHex], 'listening');
      const refused = await until('the identity-mismatch entry', 40_000, async () => {
        const rows = await journalled(hubState, 'identity-mismatch');
        return rows.length ? rows : undefined;
      });
      assert.equal(refused[0]!.result, 'refused');
      assert.equal(refused[0]!.identity, unit.serial);
      assert.equal(refused[0]!.source, `${NET}.9:5541`);
      const after = (await deviceRow(hubState, unit.serial))!;
      assert.equal(after.address, `${NET}.3:5541`, 'the recorded address is not changed');
      assert.equal(after.connected, false);
    } finally {
      await Promise.all([...children].map((c) => stop(c)));
      removeNetwork();
    }
  },
);
