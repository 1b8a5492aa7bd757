// A login at a name nobody has is answered exactly as one at a person's name on the device's admin page
// (issue 26's review): over real HTTPS on a real agent, the same wrong passwords get the same statuses,
// pages and Retry-After through the per-address back-off and the account-wide ceiling, and under a
// full hash queue; guesses at made-up names hold back nobody else, and the owner's browser logs in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultHashLimiter } from '../../src/auth/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { makeFleet, startAgent, WebClient, type Answer, type TestFleet } from '../support/device.ts';
import { holdHashSlots, loginSequence, oneEach, type NameAnswers, type PreparedLogin } from './login-names-support.ts';

const MEMBER_PASSWORD = 'copper-meadow-lantern-47';

let fleet: TestFleet;
let plug: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug']);
  plug = await startAgent(fleet.units.plug!, join(fleet.work, 'state-plug'));
});
after(async () => {
  await plug?.close();
});

/** A browser at loopback address `from` with the login form open: `post` sends it once. */
async function prepared(from: string): Promise<PreparedLogin> {
  const c = await WebClient.for(plug.web.url, fleet.units.plug!, from);
  const csrf = WebClient.csrfOf((await c.get('/login')).body);
  return (name: string, password: string): Promise<Answer> =>
    c.send('POST', '/login', { form: { username: name, password, csrf } });
}

const sequence = (first: string, second: string, block: number): Promise<NameAnswers> =>
  loginSequence(prepared, { first, second, block });

test('with the hash queue full a name nobody has gets the 503 a person gets, and then the same 401', async () => {
  // Runs first, on a fresh agent: the first name nobody has is the one whose check meets the full queue.
  const release = holdHashSlots(defaultHashLimiter);
  const busy = await oneEach(prepared, 'admin', 'nobody', 10).finally(release);
  assert.deepEqual(busy.statuses, [503, 503], busy.bodies.join('\n'));
  assert.equal(busy.bodies[1], busy.bodies[0]);
  const after = await oneEach(prepared, 'admin', 'nobody', 11);
  assert.deepEqual(after.statuses, [401, 401], 'a refused check leaves nothing behind for the next name nobody has');
  assert.equal(after.bodies[1], after.bodies[0]);
});

test('the same wrong passwords at a person and at a name nobody has get the same answers, ceilings too', async () => {
  const owner = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.0.2');
  assert.equal((await owner.login(fleet.units.plug!.adminPassword!)).status, 303);
  const csrf = WebClient.csrfOf((await owner.get('/')).body);
  for (const name of ['bea', 'dee']) {
    const form = { name, role: 'member', password: MEMBER_PASSWORD, expiresOn: '', csrf };
    assert.equal((await owner.send('POST', '/people', { form })).status, 303);
  }
  const people = await sequence('bea', 'dee', 1);
  const nobody = await sequence('zzz', 'yyy', 2);
  assert.deepEqual(
    people.statuses,
    [...Array<number>(100).fill(401), 429, 401, 401, 401, 401, 401, 401, 429],
    'a person: 100 failures from 20 addresses reach the ceiling; another person and each address keep their own',
  );
  assert.deepEqual(nobody.statuses, people.statuses);
  assert.deepEqual(nobody.bodies, people.bodies);
  assert.deepEqual(nobody.retryAfter, people.retryAfter);
  assert.ok(people.retryAfter.filter(Boolean).length === 2, `Retry-After on each 429: ${people.retryAfter.join()}`);
  // The owner's browser, which logged in before, is held back by none of it, even from an address backing off.
  const deviceCookie = owner.cookies.get('__Host-bulwark-device');
  assert.ok(deviceCookie, 'the owner’s browser holds its device cookie');
  const trusted = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.2.23');
  trusted.cookies.set('__Host-bulwark-device', deviceCookie);
  assert.equal((await trusted.login(fleet.units.plug!.adminPassword!)).status, 303);
});
