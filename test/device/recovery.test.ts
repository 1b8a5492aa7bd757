// The recovery path outside the application (issue 25): `bulwark device run`'s supervisor owns the
// button, so a hold resets the unit whatever its state and whether its agent runs or not; a reset
// cut short by a power cut is finished at the next start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import { DeviceProcess, copyCheckout, SOURCE_PARTS } from '../update/support.ts';
import { ownerFilesLeft } from '../../src/device/factory-reset.ts';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(CHECKOUT, 'bin', 'bulwark.js');
const OWNER_PASSWORD = 'violet-harbour-lantern-93';

let fleet: TestFleet;
let seeded: string;
const running: DeviceProcess[] = [];

before(async () => {
  fleet = await makeFleet(['plug']);
  const unit = fleet.units.plug!;
  seeded = join(fleet.work, 'seeded');
  const agent = await startAgent(unit, seeded);
  try {
    const c = await WebClient.for(agent.web.url, unit);
    await c.login(unit.adminPassword!);
    assert.equal((await c.changePassword(unit.adminPassword!, OWNER_PASSWORD)).status, 303);
    await agent.capabilities.invoke('power', 'on');
  } finally {
    await agent.close();
  }
});

after(async () => {
  for (const d of running) await d.kill('SIGTERM');
});

async function stateCopy(name: string): Promise<string> {
  const state = join(fleet.work, name);
  await cp(seeded, state, { recursive: true });
  return state;
}

function run(state: string, bin = BIN): DeviceProcess {
  const d = new DeviceProcess({ bundle: fleet.units.plug!.dir, state, bin });
  running.push(d);
  return d;
}

function hold(state: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, 'device', 'button', '--state', state, '--hold'], { timeout: 60_000 }, (e, o, r) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: o, stderr: r }),
    ),
  );
}

/** After a reset and a new start: no owner password, and nothing of the old journal. */
async function assertPreviousOwnerGone(state: string): Promise<void> {
  assert.ok(await gone(join(state, 'web', 'owner.json')), 'no owner password');
  const read = (): Promise<string> => readFile(join(state, 'connection-journal.jsonl'), 'utf8').catch(() => '');
  // The journal writes its entries within a second or so: wait for the reset's (bounded).
  for (let i = 0; i < 50 && !/factory-reset/.test(await read()); i++) await new Promise((r) => setTimeout(r, 200));
  const journal = await read();
  assert.doesNotMatch(journal, /password-change/, "the previous owner's journal is gone");
  assert.match(journal, /factory-reset/, 'the new journal starts with the reset');
}

const gone = (path: string): Promise<boolean> =>
  stat(path).then(
    () => false,
    () => true,
  );

test(
  'owner.json from newer software: the supervised unit answers within 60 s and a hold resets it',
  { timeout: 120_000 },
  async () => {
    const unit = fleet.units.plug!;
    const state = await stateCopy('newer-owner');
    const owner = join(state, 'web', 'owner.json');
    await writeFile(owner, (await readFile(owner, 'utf8')).replace(/"version": ?1/, '"version": 2'));
    const device = run(state);
    const first = await device.ready(1, 60_000);
    const client = await WebClient.for(first.url, unit);
    assert.equal((await client.login(unit.adminPassword!)).status, 303, 'setup state: the label password');
    const r = await hold(state);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^factory reset done/);
    const second = await device.ready(2, 60_000);
    await assertPreviousOwnerGone(state);
    assert.ok(await gone(join(state, 'factory-reset.finishing')), "the agent finished the reset's last steps");
    const after = await WebClient.for(second.url, unit);
    assert.equal((await after.login(unit.adminPassword!)).status, 303);
  },
);

test(
  'an agent that dies at every start: the supervisor stays up and a hold still erases the owner files',
  { timeout: 120_000 },
  async () => {
    // A copy of the installed package whose agent exits at once: the unit's software is broken.
    const runtime = await copyCheckout(join(fleet.work, 'crashing-runtime'), ['bin', ...SOURCE_PARTS]);
    await writeFile(join(runtime, 'src', 'device', 'agent-main.ts'), 'process.exit(1);\n');
    const state = await stateCopy('crashing');
    const device = run(state, join(runtime, 'bin', 'bulwark.js'));
    const all = (): string => device.lines.join('\n') + device.stderr;
    await device.waitFor(() => /agent exited \(1\); restarting/.test(all()), 30_000, 'a crash');
    await device.waitFor(() => (all().match(/agent exited \(1\)/g) ?? []).length >= 3, 30_000, 'three crashes');
    const r = await hold(state);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^factory reset done/);
    assert.deepEqual(await ownerFilesLeft(state), [], "the owner's password, counters, settings and journal are gone");
    assert.equal(await gone(join(state, 'factory-reset.finishing')), false, "the agent's own steps wait for an agent");
    assert.equal(device.child.exitCode, null, 'the supervisor is still running');
  },
);

test('a reset cut short by a power cut is finished at the next start', { timeout: 120_000 }, async () => {
  const unit = fleet.units.plug!;
  const state = await stateCopy('cut-short');
  await writeFile(join(state, 'factory-reset.erasing'), '');
  const device = run(state);
  const ready = await device.ready(1, 60_000);
  assert.match(device.lines.join('\n') + device.stderr, /an interrupted factory reset was resumed/);
  await assertPreviousOwnerGone(state);
  assert.ok(await gone(join(state, 'factory-reset.erasing')));
  assert.ok(await gone(join(state, 'factory-reset.finishing')));
  const client = await WebClient.for(ready.url, unit);
  assert.equal((await client.login(OWNER_PASSWORD)).status, 401, "the previous owner's password is gone");
  assert.equal((await client.login(unit.adminPassword!)).status, 303, "the label's password applies");
});
