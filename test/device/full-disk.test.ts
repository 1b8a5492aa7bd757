// A full disk (issue 25): on a small filesystem of its own filled to 100%, the owner still logs in
// (sessions and counters live in memory until they can be written, and no failed write crashes the
// agent), and a hold of the button resets the unit through the supervisor, deleting before it
// writes, after which the label's password works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, statfs, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import { mountSmallDisk, fillDisk, type SmallDisk } from '../support/small-disk.ts';
import { DeviceProcess } from '../update/support.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const OWNER_PASSWORD = 'violet-harbour-lantern-93';
const DISK_BYTES = 4 * 1024 * 1024;

let fleet: TestFleet;
let seeded: string;
const disks: SmallDisk[] = [];
const devices: DeviceProcess[] = [];

before(async () => {
  fleet = await makeFleet(['plug']);
  const unit = fleet.units.plug!;
  seeded = join(fleet.work, 'seeded');
  const agent = await startAgent(unit, seeded);
  try {
    const c = await WebClient.for(agent.web.url, unit);
    await c.login(unit.adminPassword!);
    assert.equal((await c.changePassword(unit.adminPassword!, OWNER_PASSWORD)).status, 303);
  } finally {
    await agent.close();
  }
});

after(async () => {
  for (const d of devices) await d.kill('SIGTERM');
  for (const d of disks) await d.unmount();
});

/** The seeded state on a small disk of its own, then the disk filled; undefined when skipped. */
async function fullDiskState(t: { skip(m: string): void }, name: string): Promise<string | undefined> {
  const disk = await mountSmallDisk(t, join(fleet.work, name), DISK_BYTES);
  if (!disk) return undefined;
  disks.push(disk);
  const state = join(disk.path, 'state');
  await cp(seeded, state, { recursive: true });
  return state;
}

async function assertFull(path: string): Promise<void> {
  const fs = await statfs(path);
  assert.equal(fs.bavail, 0, 'the filesystem is full');
}

test('at 100% disk the owner still logs in, again and again, and the agent keeps running', async (t) => {
  const state = await fullDiskState(t, 'disk-login');
  if (!state) return;
  const unit = fleet.units.plug!;
  const agent = await startAgent(unit, state);
  try {
    await fillDisk(join(state, '..', 'fill'), DISK_BYTES);
    await assertFull(state);
    for (let i = 0; i < 3; i++) {
      const c = await WebClient.for(agent.web.url, unit);
      assert.equal((await c.login(OWNER_PASSWORD)).status, 303, `login ${i + 1}`);
      assert.equal((await c.get('/api/status')).status, 200, 'the session works though it could not be saved');
      await new Promise((r) => setTimeout(r, 300)); // past the coalesced write, which fails
    }
    const wrong = await WebClient.for(agent.web.url, unit);
    assert.equal((await wrong.login('not-the-password-at-all')).status, 401, 'a wrong password is still refused');
  } finally {
    await agent.close().catch(() => undefined); // its last flush cannot be written
  }
});

test('at 100% disk a hold resets the unit through the supervisor and the label password works after', async (t) => {
  const state = await fullDiskState(t, 'disk-reset');
  if (!state) return;
  const unit = fleet.units.plug!;
  const device = new DeviceProcess({ bundle: unit.dir, state, bin: BIN });
  devices.push(device);
  await device.ready(1, 60_000);
  await fillDisk(join(state, '..', 'fill'), DISK_BYTES);
  await assertFull(state);
  const hold = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [BIN, 'device', 'button', '--state', state, '--hold'], { timeout: 60_000 }, (e, o, r) =>
      resolve({ code: e ? 1 : 0, stdout: o, stderr: r }),
    ),
  );
  assert.equal(hold.code, 0, hold.stderr);
  assert.match(hold.stdout, /^factory reset done/);
  await assert.rejects(stat(join(state, 'web', 'owner.json')), { code: 'ENOENT' });
  const back = await device.ready(2, 60_000);
  const c = await WebClient.for(back.url, unit);
  assert.equal((await c.login(OWNER_PASSWORD)).status, 401, "the previous owner's password is gone");
  assert.equal((await c.login(unit.adminPassword!)).status, 303, "the label's password works");
});
