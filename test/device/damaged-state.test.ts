// A unit is never bricked by its own state (issue 25): every state file the agent reads, made empty,
// truncated, of a newer version or unreadable, is moved aside and journalled, and the unit answers
// its page with the part that file held back at its setup state; the rest of the owner's state stays;
// and a factory reset then completes, the kept copies included.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import { pressButton } from '../../src/device/index.ts';

const OWNER_PASSWORD = 'violet-harbour-lantern-93';
const AS_ROOT = process.getuid?.() === 0;

let fleet: TestFleet;
/** A unit's state after some use: an owner password, a session, a switch on, updates turned off. */
let seeded: string;

before(async () => {
  fleet = await makeFleet(['plug']);
  const unit = fleet.units.plug!;
  seeded = join(fleet.work, 'seeded');
  const agent = await startAgent(unit, seeded);
  try {
    const c = await WebClient.for(agent.web.url, unit);
    await c.login(unit.adminPassword!);
    assert.equal((await c.changePassword(unit.adminPassword!, OWNER_PASSWORD)).status, 303);
    await c.login(OWNER_PASSWORD);
    await agent.capabilities.invoke('power', 'on');
    await agent.updater.setAutoUpdate(false);
  } finally {
    await agent.close();
  }
  await writeFile(join(seeded, 'hubs.json'), JSON.stringify({ version: 1, hubs: [] }) + '\n', { mode: 0o600 });
});

/** Every state file the agent reads at start, and what its loss costs the owner. */
const STATE_FILES = [
  { file: 'web/owner.json', versioned: true, ownerPasswordKept: false },
  { file: 'web/sessions.json', versioned: true, ownerPasswordKept: true },
  { file: 'web/lockout.json', versioned: true, ownerPasswordKept: true },
  { file: 'web/device-cookies.json', versioned: true, ownerPasswordKept: true },
  { file: 'web/device-cookie.key', versioned: false, ownerPasswordKept: true },
  { file: 'hubs.json', versioned: true, ownerPasswordKept: true },
  { file: 'capabilities.json', versioned: false, ownerPasswordKept: true },
  { file: 'update/prefs.json', versioned: false, ownerPasswordKept: true },
  { file: 'connection-journal.jsonl', versioned: false, ownerPasswordKept: true, lineByLine: true },
] as const;

type Damage = 'empty' | 'truncated' | 'newer version' | 'unreadable';

async function damage(path: string, how: Damage): Promise<void> {
  const text = await readFile(path, 'utf8');
  if (how === 'empty') await writeFile(path, '');
  if (how === 'truncated') await writeFile(path, text.slice(0, Math.max(1, Math.floor(text.length / 2))));
  if (how === 'newer version') await writeFile(path, text.replace(/"version": ?1/, '"version": 2'));
  if (how === 'unreadable') {
    // Mode 000 stops the device's own user; root reads through it, so there a folder takes the file's place.
    if (AS_ROOT) {
      await rm(path);
      await mkdir(path);
    } else await chmod(path, 0);
  }
}

for (const s of STATE_FILES) {
  for (const how of ['empty', 'truncated', 'newer version', 'unreadable'] as const) {
    if (how === 'newer version' && !s.versioned) continue;
    // The journal is read line by line: a damaged line is skipped, the rest kept (test/attack covers it).
    if ('lineByLine' in s && how !== 'unreadable') continue;
    test(`${s.file} ${how}: the unit starts, answers its page and journals the file it moved aside`, async () => {
      const unit = fleet.units.plug!;
      const state = join(fleet.work, `${s.file.replace(/\W/g, '-')}-${how.replace(/ /g, '-')}`);
      await cp(seeded, state, { recursive: true });
      await damage(join(state, s.file), how);
      const agent = await startAgent(unit, state);
      try {
        const c = await WebClient.for(agent.web.url, unit);
        assert.equal((await c.get('/login')).status, 200, 'the page answers');
        const password = s.ownerPasswordKept ? OWNER_PASSWORD : unit.adminPassword!;
        assert.equal((await c.login(password)).status, 303, 'the owner (or, with no owner file, the label) logs in');
        const rows = await agent.journal.list({ limit: 200, tier: 'security' });
        const moved = rows.find((r) => r.event === 'state-damaged');
        assert.ok(moved, 'the move is journalled');
        assert.match(moved.detail ?? '', new RegExp(`^${s.file.replace(/\./g, '\\.')}: `));
        const kept = await readdir(join(state, 'damaged'));
        assert.equal(kept.length, 1, 'the damaged file is kept for support');
        assert.match(await pressButton(state, 'hold'), /^factory reset done/);
        await assert.rejects(stat(join(state, 'web', 'owner.json')), { code: 'ENOENT' });
        await assert.rejects(stat(join(state, 'damaged')), { code: 'ENOENT' }, 'the kept copies go with the reset');
        const fresh = await WebClient.for(agent.web.url, unit);
        assert.equal((await fresh.login(unit.adminPassword!)).status, 303, "the label's password applies again");
      } finally {
        await agent.close();
      }
    });
  }
}
