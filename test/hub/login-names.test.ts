// A login at a name nobody has is answered exactly as one at a person's name on the hub's admin page
// (issue 26's review): on a real hub over real HTTPS, the same wrong passwords get the same statuses,
// pages and Retry-After through the per-address back-off and the account-wide ceiling, and under a
// full hash queue; guesses at made-up names hold back nobody else, and the owner's browser logs in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, readFile, mkdir } from 'node:fs/promises';
import { defaultHashLimiter } from '../../src/auth/index.ts';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { WebClient, type Answer } from '../support/device.ts';
import { holdHashSlots, loginSequence, oneEach, type PreparedLogin } from '../web/login-names-support.ts';
import { tempDir } from './support.ts';

const MEMBER_PASSWORD = 'copper-meadow-lantern-47';
/** Marks the hub owner's browser that has logged in before. */
const OWNER_DEVICE_COOKIE = '__Host-bulwark-hub-device';

let service: HubService;
let ownerPassword: string;
let trust: ProvisionedUnit;

before(async () => {
  const work = await tempDir();
  const state = join(work, 'hub');
  service = await startHubService({ stateDir: state, web: { port: 0 } });
  ownerPassword = (await readFile(join(state, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const dir = join(work, 'hub-trust');
  await mkdir(dir);
  await copyFile(join(state, 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  trust = { serial: 'hub', dir, setupCode: '', claimCode: '' };
});
after(async () => {
  await service?.close();
});

/** A browser at loopback address `from` with the login form open: `post` sends it once. */
async function prepared(from: string): Promise<PreparedLogin> {
  const c = await WebClient.for(service.web!.url, trust, from);
  const csrf = WebClient.csrfOf((await c.get('/login')).body);
  return (name: string, password: string): Promise<Answer> =>
    c.send('POST', '/login', { form: { username: name, password, csrf } });
}

test('with the hash queue full a name nobody has gets the 503 a person gets, and then the same 401', async () => {
  // Runs first, on a fresh hub: its first password check of all meets the full queue.
  const release = holdHashSlots(defaultHashLimiter);
  const busy = await oneEach(prepared, 'admin', 'nobody', 10).finally(release);
  assert.deepEqual(busy.statuses, [503, 503], busy.bodies.join('\n'));
  assert.equal(busy.bodies[1], busy.bodies[0]);
  const after = await oneEach(prepared, 'admin', 'nobody', 11);
  assert.deepEqual(after.statuses, [401, 401], 'a refused check leaves nothing behind for the next name nobody has');
  assert.equal(after.bodies[1], after.bodies[0]);
});

test('the same wrong passwords at a person and at a name nobody has get the same answers, ceilings too', async () => {
  const owner = await WebClient.for(service.web!.url, trust, '127.0.0.2');
  assert.equal((await owner.login(ownerPassword, 'admin')).status, 303);
  const csrf = WebClient.csrfOf((await owner.get('/')).body);
  for (const name of ['bea', 'dee']) {
    const form = { name, role: 'member', password: MEMBER_PASSWORD, csrf };
    assert.equal((await owner.send('POST', '/people', { form })).status, 303);
  }
  const people = await loginSequence(prepared, { first: 'bea', second: 'dee', block: 1 });
  const nobody = await loginSequence(prepared, { first: 'zzz', second: 'yyy', block: 2 });
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
  const deviceCookie = owner.cookies.get(OWNER_DEVICE_COOKIE);
  assert.ok(deviceCookie, 'the owner’s browser holds its device cookie');
  const trusted = await WebClient.for(service.web!.url, trust, '127.0.2.23');
  trusted.cookies.set(OWNER_DEVICE_COOKIE, deviceCookie);
  assert.equal((await trusted.login(ownerPassword, 'admin')).status, 303);
});
