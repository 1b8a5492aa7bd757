// The owner's data export: GET /api/export is owner-only, returns the owner's data (device,
// capabilities, paired hubs, update choices, journal) as JSON for download, holds no secret, and
// is itself journaled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

let fleet: TestFleet;
let agent: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug']);
  agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
});
after(async () => {
  await agent?.close();
});

test('without a session the export is refused; the owner gets their data as a JSON download', async () => {
  const unit = fleet.units.plug!;
  const stranger = await WebClient.for(agent.web.url, unit);
  assert.equal((await stranger.send('GET', '/api/export', { headers: { accept: 'application/json' } })).status, 401);
  const owner = await WebClient.for(agent.web.url, unit);
  assert.equal((await owner.login(unit.adminPassword!)).status, 303);
  await owner.send('POST', '/api/capabilities/power/on', {
    headers: { 'x-csrf-token': WebClient.csrfOf((await owner.get('/')).body) },
  });
  const a = await owner.get('/api/export');
  assert.equal(a.status, 200);
  assert.match(String(a.headers['content-disposition']), /attachment; filename="bulwark-export.json"/);
  assert.equal(a.headers['cache-control'], 'no-store');
  const data = JSON.parse(a.body) as Record<string, unknown> & {
    device: { serial: string };
    capabilities: Array<{ id: string; value: unknown }>;
    hubs: unknown[];
    journal: Array<{ event: string }>;
    updates: { autoUpdate: boolean };
  };
  assert.equal(data.format, 'bulwark-export/1');
  assert.equal(data.device.serial, unit.serial);
  assert.equal(data.capabilities.find((c) => c.id === 'power')?.value, true);
  assert.deepEqual(data.hubs, []);
  assert.equal(data.updates.autoUpdate, true);
  assert.ok(
    data.journal.some((e) => e.event === 'login'),
    'the journal is in the export',
  );
  assert.match(String(data.erase), /factory reset/);
  // No secret: not the password, its hash, a key, the setup or claim code.
  for (const secret of [unit.adminPassword!, unit.setupCode, unit.claimCode, '$argon2id$', 'PRIVATE KEY'])
    assert.ok(!a.body.includes(secret), `the export holds ${secret.slice(0, 12)}`);
  const listed = JSON.parse((await owner.get('/api/journal?limit=5')).body) as {
    entries: Array<{ event: string; detail?: string }>;
  };
  assert.ok(
    listed.entries.some((e) => e.event === 'control' && e.detail === 'data export'),
    'the export is journaled',
  );
});
