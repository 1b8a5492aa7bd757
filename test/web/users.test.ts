// Named users with roles on the device's admin page (issue 26), over real HTTPS on real agents: the
// first owner (admin, the label's password) adds a member and a guest; the member switches the plug
// but is refused the lockout setting, the pairing window and the People page; a guest is refused a
// lock's bolt; removing the member ends their open session at once; one person's wrong passwords do
// not lock out another; the journal names who did what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

const MEMBER_PASSWORD = 'copper-meadow-lantern-47';
const GUEST_PASSWORD = 'quiet-harbour-violin-85';

let fleet: TestFleet;
let plug: DeviceAgent;
let lock: DeviceAgent;

before(async () => {
  fleet = await makeFleet(['plug', 'lock']);
  plug = await startAgent(fleet.units.plug!, join(fleet.work, 'state-plug'));
  lock = await startAgent(fleet.units.lock!, join(fleet.work, 'state-lock'));
});
after(async () => {
  await plug?.close();
  await lock?.close();
});

type Unit = 'plug' | 'lock';
const agentOf = (u: Unit): DeviceAgent => (u === 'plug' ? plug : lock);

/** A client of `unit`'s page logged in as `name` (from loopback address `from`), with its CSRF token. */
async function signedIn(
  unit: Unit,
  name: string,
  password: string,
  from?: string,
): Promise<{ c: WebClient; csrf: string }> {
  const c = await WebClient.for(agentOf(unit).web.url, fleet.units[unit]!, from);
  const r = await c.login(password, name);
  assert.equal(r.status, 303, `${name} logs in: ${r.body}`);
  const home = await c.get('/');
  assert.equal(home.status, 200);
  return { c, csrf: WebClient.csrfOf(home.body) };
}

const ownerOf = (unit: Unit, from?: string): Promise<{ c: WebClient; csrf: string }> =>
  signedIn(unit, 'admin', fleet.units[unit]!.adminPassword!, from);

/** The owner adds someone through the People form; answers the form's answer. */
async function addPerson(
  owner: { c: WebClient; csrf: string },
  name: string,
  role: string,
  password: string,
  expiresOn = '',
): Promise<void> {
  const r = await owner.c.send('POST', '/people', { form: { name, role, password, expiresOn, csrf: owner.csrf } });
  assert.equal(r.status, 303, r.body);
}

const errorCodeOf = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code;

test('the owner adds a member and a guest; the People page lists them; names are case-insensitive', async () => {
  const owner = await ownerOf('plug');
  await addPerson(owner, 'Bea', 'member', MEMBER_PASSWORD);
  await addPerson(owner, 'gus', 'guest', GUEST_PASSWORD, '2099-12-31');
  const taken = await owner.c.send('POST', '/people', {
    json: { name: 'BEA', role: 'guest', password: GUEST_PASSWORD, csrf: owner.csrf },
  });
  assert.equal(taken.status, 409);
  assert.equal(errorCodeOf(taken.body), 'USER_EXISTS');
  const bad = await owner.c.send('POST', '/people', {
    json: { name: 'no spaces', role: 'member', password: GUEST_PASSWORD, csrf: owner.csrf },
  });
  assert.equal(errorCodeOf(bad.body), 'USER_NAME_INVALID');
  const weak = await owner.c.send('POST', '/people', {
    json: { name: 'weak', role: 'member', password: 'password1234', csrf: owner.csrf },
  });
  assert.equal(errorCodeOf(weak.body), 'PASSWORD_TOO_WEAK', 'the same password policy as the owner');
  const page = await owner.c.get('/people');
  assert.match(page.body, /data-person="bea"/);
  assert.match(page.body, /guest until 2100-01-01|guest until 2099/);
  assert.match(page.body, /Signed in as admin \(owner\)/);
  const stored = await readFile(join(fleet.work, 'state-plug', 'web', 'users.json'), 'utf8');
  assert.doesNotMatch(stored, new RegExp(MEMBER_PASSWORD));
  assert.match(stored, /"version": 1/);
  const login = await (await WebClient.for(plug.web.url, fleet.units.plug!)).get('/login');
  assert.match(login.body, /name="username"/, 'the login form asks for a name');
});

test('the member switches the plug but is refused the lockout setting, the pairing window and People', async () => {
  const m = await signedIn('plug', 'BEA', MEMBER_PASSWORD);
  assert.match((await m.c.get('/')).body, /Signed in as bea \(member\)/);
  const on = await m.c.send('POST', '/api/capabilities/power/on', { json: { csrf: m.csrf } });
  assert.equal(on.status, 200, on.body);
  const refusals: Array<[string, string, Record<string, string>]> = [
    ['POST', '/settings/lockout', { name: 'bea' }],
    ['POST', '/api/actions/pairing-window', {}],
    ['POST', '/settings/monitoring', { monitoring: 'off' }],
    ['POST', '/people', { name: 'eve', role: 'owner', password: GUEST_PASSWORD }],
    ['GET', '/api/journal', {}],
  ];
  for (const [method, path, fields] of refusals) {
    const r = await m.c.send(method, path, method === 'POST' ? { json: { ...fields, csrf: m.csrf } } : {});
    assert.equal(r.status, 403, `${method} ${path} answered ${r.status}`);
    assert.equal(errorCodeOf(r.body), 'ROLE_REFUSED', `${method} ${path}`);
  }
  const page = await m.c.get('/people');
  assert.equal(page.status, 403);
  assert.match(page.body, /Only the owner can manage the people who use this device/, "in the owner's words");
  // No route escapes: every session route but the member's own is refused, before its body is read.
  const memberRoutes = new Set([
    'GET /',
    'GET /api/status',
    'POST /api/capabilities/:capability/:action',
    'GET /password',
    'POST /password',
    'POST /api/password-strength',
    'POST /logout',
    'GET /software',
    'GET /api/software',
  ]);
  for (const r of plug.web.routes.filter((x) => x.access === 'session')) {
    if (memberRoutes.has(`${r.method} ${r.path}`)) continue;
    const path = r.path.replace(/:[a-z]+/g, 'x');
    const a = await m.c.send(r.method, path, r.method === 'POST' ? { json: { csrf: m.csrf } } : {});
    assert.equal(a.status, 403, `${r.method} ${r.path} answered a member ${a.status}`);
  }
  const dashboard = (await m.c.get('/')).body;
  assert.doesNotMatch(dashboard, /\/api\/actions\/pairing-window/, 'no owner control is offered to a member');
});

test('a guest is refused the lock’s bolt; a member may use it', async () => {
  const owner = await ownerOf('lock');
  await addPerson(owner, 'gus', 'guest', GUEST_PASSWORD);
  await addPerson(owner, 'bea', 'member', MEMBER_PASSWORD);
  const g = await signedIn('lock', 'gus', GUEST_PASSWORD);
  const refused = await g.c.send('POST', '/api/capabilities/bolt/unlock', { json: { csrf: g.csrf } });
  assert.equal(refused.status, 403);
  assert.equal(errorCodeOf(refused.body), 'ROLE_REFUSED');
  const status = JSON.parse((await g.c.get('/api/status')).body) as { capabilities: Array<{ id: string }> };
  assert.deepEqual(status.capabilities, [], 'a guest does not even see the bolt');
  const m = await signedIn('lock', 'bea', MEMBER_PASSWORD);
  const unlocked = await m.c.send('POST', '/api/capabilities/bolt/unlock', { json: { csrf: m.csrf } });
  assert.equal(unlocked.status, 200, unlocked.body);
  // Each person changes their own password with the current one; the owner's is untouched.
  assert.equal((await m.c.changePassword('not-the-current-one', 'amber-orchard-kettle-62')).status, 401);
  assert.equal((await m.c.changePassword(MEMBER_PASSWORD, 'amber-orchard-kettle-62')).status, 303);
  const after = await WebClient.for(lock.web.url, fleet.units.lock!);
  assert.equal((await after.login(MEMBER_PASSWORD, 'bea')).status, 401);
  assert.equal((await after.login('amber-orchard-kettle-62', 'bea')).status, 303);
  await ownerOf('lock');
});

test('removing the member needs the owner’s password again and ends their open session at once', async () => {
  const owner = await ownerOf('plug');
  const m = await signedIn('plug', 'bea', MEMBER_PASSWORD);
  const confirm = await owner.c.get('/people/bea/remove');
  assert.match(confirm.body, /Your password, to confirm/);
  const wrong = await owner.c.send('POST', '/people/bea/remove', { form: { password: 'not-it', csrf: owner.csrf } });
  assert.equal(wrong.status, 401);
  assert.equal((await m.c.get('/api/status')).status, 200, 'a wrong confirmation removes nobody');
  const started = Date.now();
  const removed = await owner.c.send('POST', '/people/bea/remove', {
    form: { password: fleet.units.plug!.adminPassword!, csrf: owner.csrf },
  });
  assert.equal(removed.status, 303, removed.body);
  const next = await m.c.get('/api/status');
  assert.equal(next.status, 401, 'the removed member’s next request is refused');
  assert.ok(Date.now() - started < 1_000, 'within one second');
  assert.equal((await m.c.get('/')).headers.location, '/login');
  const again = await WebClient.for(plug.web.url, fleet.units.plug!);
  assert.equal((await again.login(MEMBER_PASSWORD, 'bea')).status, 401);
});

test('one person’s wrong passwords do not lock out another, nor the owner', async () => {
  const owner = await ownerOf('plug');
  await addPerson(owner, 'dee', 'member', MEMBER_PASSWORD);
  // The owner's browser at 127.0.0.3 has logged in before: it carries the owner's device cookie.
  const ownerBrowser = await ownerOf('plug', '127.0.0.3');
  assert.equal((await ownerBrowser.c.send('POST', '/logout', { form: { csrf: ownerBrowser.csrf } })).status, 303);
  const guesser = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.0.3');
  const answers: number[] = [];
  for (let i = 0; i < 7; i++) answers.push((await guesser.login(`wrong-${i}-guess`, 'dee')).status);
  assert.ok(answers.includes(429), `dee's guesses back off: ${answers.join(',')}`);
  assert.equal((await ownerBrowser.c.login(fleet.units.plug!.adminPassword!)).status, 303, 'the owner is not held');
  const gus = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.0.4');
  assert.equal((await gus.login(GUEST_PASSWORD, 'gus')).status, 303, 'another person logs in');
  // Guesses at the owner's name from elsewhere do not hold back a member either.
  const attacker = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.0.5');
  for (let i = 0; i < 7; i++) await attacker.login(`owner-guess-${i}`, 'admin');
  const dee = await WebClient.for(plug.web.url, fleet.units.plug!, '127.0.0.6');
  assert.equal((await dee.login(MEMBER_PASSWORD, 'dee')).status, 303);
});

test('once a guest’s end date has passed, their open session ends and their login is refused', async () => {
  const g = await signedIn('lock', 'gus', GUEST_PASSWORD);
  const { state } = lock.web;
  // The date passing, without waiting for it: the stored end moved into the past.
  const past = new Date(Date.now() - 1_000).toISOString();
  const users = state.users.users.map((u) => (u.name === 'gus' ? { ...u, expiresAt: past } : u));
  await state.saveUsers({ version: 1, users });
  assert.equal((await g.c.get('/api/status')).status, 401, 'the open session ended');
  const again = await WebClient.for(lock.web.url, fleet.units.lock!);
  const refused = await again.login(GUEST_PASSWORD, 'gus');
  assert.equal(refused.status, 403);
  assert.match(refused.body, /guest access to this device has ended/);
});

test('the journal names who did what: logins, switching, refusals and the owner’s changes', async () => {
  const owner = await ownerOf('plug');
  const r = await owner.c.get('/api/journal?tier=security&limit=1000');
  const entries = (JSON.parse(r.body) as { entries: Array<Record<string, string>> }).entries;
  const has = (identity: string, event: string, detail?: RegExp): boolean =>
    entries.some((e) => e.identity === identity && e.event === event && (!detail || detail.test(e.detail ?? '')));
  assert.ok(has('bea', 'login'), 'the member’s login');
  assert.ok(has('bea', 'control', /power on/), 'the member switched the plug');
  assert.ok(has('bea', 'role-refused', /pairing-window/), 'the member was refused the pairing window');
  assert.ok(has('admin', 'user-added', /bea as member/), 'the owner added the member');
  assert.ok(has('admin', 'user-removed', /bea/), 'the owner removed the member');
  assert.ok(has('gus', 'login'), 'the guest’s login');
  assert.ok(has('dee', 'locked-out') || has('dee', 'login'), 'the guesses at dee are dee’s');
  const onLock = await ownerOf('lock');
  const lockJournal = await onLock.c.get('/api/journal?tier=security&limit=1000');
  const lockEntries = (JSON.parse(lockJournal.body) as { entries: Array<Record<string, string>> }).entries;
  const changed = lockEntries.find((e) => e.event === 'password-change' && e.result === 'success');
  assert.equal(changed?.identity, 'bea', 'the member’s own password change is theirs');
  assert.ok(
    lockEntries.some((e) => e.identity === 'gus' && e.event === 'role-refused'),
    'the guest’s refusal',
  );
});
