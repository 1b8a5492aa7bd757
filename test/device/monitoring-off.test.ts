// Issue 23 (6): monitoring the owner can turn off (CRA Annex I Part I 2(l)). A real plug agent: monitoring
// is on by default; the owner turns it off on the admin page (journalled); a wrong-password flood from
// one address (12 guesses) gets the same answers as on a unit with monitoring on, leaves the lockout's
// counters and only its entries (no connection record); turning monitoring on again (JSON API) is
// journalled; a factory reset (a hold of the button) brings the default back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { makeFleet, startAgent, WebClient } from '../support/device.ts';
import { pressButton, type DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import type { JournalRow } from '../../src/web/index.ts';

const OWNER_ADDRESS = '127.0.0.2';
const GUESSER_ADDRESS = '127.0.0.9';
const GUESSES = 12;
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function ownerOf(agent: DeviceAgent, unit: ProvisionedUnit): Promise<WebClient> {
  const owner = await WebClient.for(agent.web.url, unit, OWNER_ADDRESS);
  assert.equal((await owner.login(unit.adminPassword!)).status, 303);
  return owner;
}

/** The wrong-password flood: one address, a new browser each time; the statuses in order. */
async function flood(agent: DeviceAgent, unit: ProvisionedUnit): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < GUESSES; i++) {
    const guesser = await WebClient.for(agent.web.url, unit, GUESSER_ADDRESS);
    statuses.push((await guesser.login(`wrong-guess-${i}`)).status);
  }
  return statuses;
}

const all = (agent: DeviceAgent): Promise<readonly JournalRow[]> => agent.journal.list({ limit: 1_000 });
const fromGuesser = (rows: readonly JournalRow[]): JournalRow[] =>
  rows.filter((r) => r.source.startsWith(`${GUESSER_ADDRESS}:`));

async function setMonitoringByForm(owner: WebClient, to: 'on' | 'off'): Promise<void> {
  const csrf = WebClient.csrfOf((await owner.get('/')).body);
  const answer = await owner.send('POST', '/settings/monitoring', { form: { csrf, monitoring: to } });
  assert.equal(answer.status, 303, answer.body);
}

test(
  'with monitoring off a flood locks out as before and leaves only the lockout entries',
  { timeout: 240_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const unit = fleet.units.plug!;
    const stateDir = join(fleet.work, 'state');
    const agent = await startAgent(unit, stateDir);
    closers.push(() => agent.close());
    const owner = await ownerOf(agent, unit);

    const dashboard = (await owner.get('/')).body;
    assert.match(dashboard, /aria-pressed="true">Connection monitoring: on</, 'on by default, one control showing it');
    assert.deepEqual(JSON.parse((await owner.get('/api/settings/monitoring')).body), { monitoring: 'on' });
    assert.ok(
      (await all(agent)).some((r) => r.event === 'tls-connect'),
      'connections are journalled while on',
    );

    const noToken = await owner.send('POST', '/settings/monitoring', { form: { monitoring: 'off' } });
    assert.equal(noToken.status, 403, 'a change without the CSRF token is refused');
    const stranger = await WebClient.for(agent.web.url, unit, GUESSER_ADDRESS);
    const anonymous = await stranger.send('POST', '/api/settings/monitoring', { json: { monitoring: 'off' } });
    assert.equal(anonymous.status, 401, 'and without the owner session');
    assert.equal(agent.journal.monitoring, true);

    await setMonitoringByForm(owner, 'off');
    assert.match((await owner.get('/')).body, /aria-pressed="false">Connection monitoring: off</);
    const offEntry = (await all(agent)).find((r) => r.event === 'monitoring-off');
    assert.equal(offEntry?.result, 'success', 'turning it off is journalled');
    assert.equal(offEntry?.identity, 'admin');
    assert.deepEqual(await agent.journal.list({ limit: 1_000, tier: 'connection' }), [], 'no connection record kept');

    const statusesOff = await flood(agent, unit);
    const rows = await all(agent);
    assert.deepEqual(await agent.journal.list({ limit: 1_000, tier: 'connection' }), [], 'still none after the flood');
    const guesses = fromGuesser(rows).filter((r) => r.event === 'login');
    assert.deepEqual(
      new Set(fromGuesser(rows).map((r) => `${r.event} ${r.result}`)),
      new Set(['login failure', 'login locked-out']),
      'only the failed logins and lockouts, the entries the lockout needs',
    );
    assert.equal(guesses.length, GUESSES, 'every guess is on record');
    assert.equal(guesses.filter((r) => r.result === 'locked-out').length, statusesOff.filter((s) => s === 429).length);
    await agent.web.state.flush();
    const counted = agent.web.state.lockout.sources.find((s) => s.key.startsWith(GUESSER_ADDRESS));
    assert.ok(counted && counted.failures >= 5, `the lockout counters count the address: ${JSON.stringify(counted)}`);

    // The same flood on a unit with monitoring on: the same answers, and its connections on record.
    const control = await startAgent(unit, join(fleet.work, 'state-on'));
    closers.push(() => control.close());
    const statusesOn = await flood(control, unit);
    assert.ok(statusesOn.includes(401) && statusesOn.includes(429), statusesOn.join(','));
    assert.deepEqual(statusesOff, statusesOn, 'lockout answers as with monitoring on');
    assert.ok(
      fromGuesser(await all(control)).some((r) => r.event === 'tls-connect'),
      'the control unit monitors',
    );

    const csrf = WebClient.csrfOf((await owner.get('/')).body);
    const on = await owner.send('POST', '/api/settings/monitoring', {
      json: { monitoring: 'on' },
      headers: { 'x-csrf-token': csrf },
    });
    assert.equal(on.status, 200, on.body);
    assert.deepEqual(JSON.parse(on.body), { ok: true, monitoring: 'on' });
    const afterOn = await all(agent);
    assert.equal(afterOn.find((r) => r.event === 'monitoring-on')?.result, 'success', 'turning it on is journalled');
    await owner.get('/');
    assert.ok(
      (await agent.journal.list({ limit: 10, tier: 'connection' })).length > 0,
      'connections are journalled again',
    );

    await setMonitoringByForm(owner, 'off');
    assert.equal(agent.journal.monitoring, false);
    await stat(join(stateDir, 'web', 'monitoring.json'));
    await pressButton(stateDir, 'hold');
    assert.equal(agent.journal.monitoring, true, 'a factory reset brings the default back');
    await assert.rejects(stat(join(stateDir, 'web', 'monitoring.json')), { code: 'ENOENT' });
    const fresh = await ownerOf(agent, unit);
    assert.deepEqual(JSON.parse((await fresh.get('/api/settings/monitoring')).body), { monitoring: 'on' });
  },
);
