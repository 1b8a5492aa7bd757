// The owner's cloud account by e-mail, for real: a real SMTP server (smtp-server, STARTTLS with a
// certificate made now) and a real cloud with a real plug. Confirmation before a claim, password
// reset and change, notifications, a household with a member and a guest, removal, the export and
// the deletion that leaves nothing of the address in the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton, type DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, waitFor, startTestSmtp, ApiClient, type TestSmtp, type ApiAnswer } from './support.ts';

const PASSWORD = 'marble falcon tundra 42 softly';
const NEW_PASSWORD = 'quiet harbour lantern 77 drifting';
const RESET_MS = 4_000;

let smtp: TestSmtp;
let cloud: CloudService;
let agent: DeviceAgent;
let plug: ProvisionedUnit;
let work: string;
let nextAddress = 10;

before(async () => {
  smtp = await startTestSmtp();
  const made = await makeUnits('plug', 1);
  work = made.work;
  plug = made.units[0]!;
  cloud = await startCloud({
    factoryDir: made.factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: [made.manifest],
    broker: { port: 0 },
    api: { port: 0 },
    mail: { smtp: { host: '127.0.0.1', port: smtp.port, caPem: smtp.caPem, servername: 'localhost' } },
    accountLinks: { resetMs: RESET_MS },
  });
  agent = await startDeviceAgent({
    bundleDir: plug.dir,
    stateDir: join(work, 'dev'),
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
  });
  assert.equal(await agent.cloud!.waitConnected(10_000), true);
});

after(async () => {
  await agent?.close();
  await cloud?.close();
  await smtp?.close();
});

/** A client from its own loopback address, so one test's failures never back off another's. */
function client(): ApiClient {
  return new ApiClient(cloud.api.url, cloud.credentials.caCertPem, `127.0.0.${nextAddress++}`);
}

/** The token of the newest link to `path` mailed to `to`. */
async function mailedToken(to: string, path: string): Promise<string> {
  const mail = await smtp.waitFor(to, new RegExp(`${path}\\?token=`));
  assert.equal(mail.overTls, true, 'the message went over STARTTLS');
  return decodeURIComponent(new RegExp(`${path}\\?token=([A-Za-z0-9._%-]+)`).exec(mail.text)![1]!);
}

/** The token of a link to `path` mailed to `to` after the one carrying `previous`. */
async function nextMailedToken(to: string, path: string, previous: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const token = await mailedToken(to, path);
    if (token !== previous) return token;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no new ${path} link reached ${to}`);
}

/** A confirmed, logged-in account. */
async function confirmedAccount(email: string): Promise<ApiClient> {
  const c = client();
  assert.equal((await c.register(email, PASSWORD)).status, 202);
  const token = await mailedToken(email, '/verify');
  assert.equal((await c.send('POST', '/v1/accounts/verify', { json: { token } })).status, 200);
  assert.equal((await c.login(email, PASSWORD)).status, 200);
  return c;
}

async function claimWithButton(c: ApiClient): Promise<ApiAnswer> {
  assert.match(await pressButton(join(work, 'dev'), 'press'), /claim window open/);
  const answer = await waitFor(
    async () => {
      const r = await c.claim(plug.serial, plug.claimCode);
      return r.json.error?.code === 'CLAIM_WINDOW_CLOSED' ? undefined : r;
    },
    5_000,
    'the claim window',
  );
  return answer!;
}

/** Alice, the owner, signed in (set by the first test). */
let aliceClient: ApiClient;

test('sign-up mails a link over STARTTLS; unconfirmed, an account opens no session; confirmed, it claims', async () => {
  const c = client();
  const signUp = await c.register('alice@example.com', PASSWORD);
  assert.equal(signUp.status, 202);
  assert.equal(signUp.headers['set-cookie'], undefined, 'no session before the address is confirmed');
  const early = await c.login('alice@example.com', PASSWORD);
  assert.equal(early.status, 401, 'unconfirmed, the right password opens no session (and answers as a wrong one)');
  assert.equal(early.json.error?.code, 'LOGIN_FAILED');
  const token = await mailedToken('alice@example.com', '/verify');
  assert.equal((await c.send('POST', '/v1/accounts/verify', { json: { token } })).status, 200);
  const again = await c.send('POST', '/v1/accounts/verify', { json: { token } });
  assert.equal(again.status, 400, 'a link works once');
  assert.equal(again.json.error?.code, 'ACCOUNT_TOKEN_INVALID');
  assert.equal((await c.login('alice@example.com', PASSWORD)).status, 200, 'confirmed, it logs in');
  assert.equal((await c.send('GET', '/v1/me')).json.verified, true);
  assert.equal((await claimWithButton(c)).status, 201);
  const claimed = await smtp.waitFor('alice@example.com', new RegExp(`${plug.serial} was claimed`));
  assert.equal(claimed.subject, 'A device was added');
  await smtp.waitFor('alice@example.com', /signed in to from 127\.0\.0\./);
  aliceClient = c;
});

test('a sign-up with a taken address answers as for a new one and tells the owner instead', async () => {
  const stranger = client();
  const taken = await stranger.register('ALICE@example.com', 'another long passphrase 93 here');
  const fresh = await client().register('nobody-yet@example.com', 'another long passphrase 93 here');
  assert.equal(taken.status, fresh.status);
  assert.equal(taken.body, fresh.body);
  const mail = await smtp.waitFor('alice@example.com', /already has one/);
  assert.equal(mail.subject, 'Someone tried to create an account with your address');
  assert.doesNotMatch(mail.text, /token=/, 'no link that does anything');
});

test('a reset link works once, only for its account, only for a short time, and ends every session', async () => {
  const a = aliceClient;
  const bob = await confirmedAccount('bob@example.com');
  const asker = client();
  assert.equal((await asker.send('POST', '/v1/password-resets', { json: { email: 'alice@example.com' } })).status, 202);
  const token = await mailedToken('alice@example.com', '/reset');
  assert.equal((await asker.send('POST', '/v1/password-resets', { json: { email: 'alice@example.com' } })).status, 202);
  const second = await nextMailedToken('alice@example.com', '/reset', token);
  const complete = (email: string, password: string, link = token): Promise<ApiAnswer> =>
    asker.send('POST', '/v1/password-resets/complete', { json: { token: link, email, password } });
  const other = await complete('bob@example.com', NEW_PASSWORD);
  assert.equal(other.status, 400, "another account's address is refused");
  assert.equal(other.json.error?.code, 'ACCOUNT_TOKEN_INVALID');
  assert.equal((await complete('alice@example.com', 'password1234')).status, 422, 'the password policy applies');
  assert.equal((await complete('alice@example.com', NEW_PASSWORD)).status, 200);
  assert.equal((await a.send('GET', '/v1/me')).status, 401, "alice's session ended");
  assert.equal((await complete('alice@example.com', 'yet another passphrase 12 long')).status, 400, 'used twice');
  const older = await complete('alice@example.com', 'yet another passphrase 12 long', second);
  assert.equal(older.status, 400, 'the other reset link mailed before the reset died with it');
  assert.equal((await a.login('alice@example.com', NEW_PASSWORD)).status, 200);
  await smtp.waitFor('alice@example.com', /password of your account was just changed/);

  assert.equal((await asker.send('POST', '/v1/password-resets', { json: { email: 'bob@example.com' } })).status, 202);
  const late = await mailedToken('bob@example.com', '/reset');
  await new Promise((r) => setTimeout(r, RESET_MS + 300));
  const expired = await asker.send('POST', '/v1/password-resets/complete', {
    json: { token: late, email: 'bob@example.com', password: NEW_PASSWORD },
  });
  assert.equal(expired.status, 400, 'an expired link is refused');
  assert.equal((await bob.send('GET', '/v1/me')).status, 200, "bob's session is untouched");
});

test('a password change needs the current password and the policy, and ends the other sessions', async () => {
  const a = aliceClient;
  const elsewhere = client();
  assert.equal((await elsewhere.login('alice@example.com', NEW_PASSWORD)).status, 200);
  const change = (current: string, password: string): Promise<ApiAnswer> =>
    a.send('POST', '/v1/me/password', { json: { current, password } });
  assert.equal((await change('not the password', PASSWORD)).status, 401);
  assert.equal((await change(NEW_PASSWORD, 'password1234')).status, 422);
  assert.equal((await change(NEW_PASSWORD, PASSWORD)).status, 200);
  assert.equal((await elsewhere.send('GET', '/v1/me')).status, 401, 'the other session ended');
  assert.equal((await a.send('GET', '/v1/me')).status, 200, 'this one goes on');
  await smtp.waitFor('alice@example.com', /password of your account was just changed/);
});

/** Logs in `email` (password PASSWORD) on a fresh client. */
async function loggedIn(email: string): Promise<ApiClient> {
  const c = client();
  assert.equal((await c.login(email, PASSWORD)).status, 200);
  return c;
}

test('a member uses the plug but cannot release it; a guest uses it too; removal ends sessions at once', async () => {
  const a = aliceClient;
  const bob = await loggedIn('bob@example.com');
  const carol = await confirmedAccount('carol@example.com');
  const invite = (email: string, role: string, until?: string): Promise<ApiAnswer> =>
    a.send('POST', '/v1/household/invitations', { json: { email, role, ...(until ? { until } : {}) } });
  assert.equal((await invite('bob@example.com', 'member')).status, 202);
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  assert.equal((await invite('carol@example.com', 'guest', tomorrow)).status, 202);
  const bobToken = await mailedToken('bob@example.com', '/invitations/accept');
  const carolToken = await mailedToken('carol@example.com', '/invitations/accept');
  const accept = (c: ApiClient, token: string): Promise<ApiAnswer> =>
    c.send('POST', '/v1/household/accept', { json: { token } });
  assert.equal((await accept(carol, bobToken)).status, 400, "another person's invitation is refused");
  assert.equal((await invite('bob@example.com', 'member')).status, 202);
  const bobSecond = await nextMailedToken('bob@example.com', '/invitations/accept', bobToken);
  assert.equal((await accept(bob, bobToken)).json.role, 'member');
  assert.equal((await accept(bob, bobSecond)).status, 400, 'joining spends the other invitations to him');
  assert.equal((await invite('bob@example.com', 'member')).status, 202);
  const bobLeftover = await nextMailedToken('bob@example.com', '/invitations/accept', bobSecond);
  assert.equal((await accept(carol, carolToken)).json.role, 'guest');
  await smtp.waitFor('alice@example.com', /bob@example\.com accepted your invitation as a member/);

  const shared = (await bob.send('GET', '/v1/devices')).json.devices as Array<{ serial: string; role: string }>;
  assert.deepEqual(
    shared.map((d) => [d.serial, d.role]),
    [[plug.serial, 'member']],
  );
  const on = await bob.send('POST', `/v1/devices/${plug.serial}/commands`, {
    json: { capability: 'power', action: 'on' },
  });
  assert.equal((on.json.command as { status: string }).status, 'done');
  assert.equal(agent.capabilities.list().find((c) => c.id === 'power')!.value, true, 'the plug switched');
  const release = await bob.send('POST', `/v1/devices/${plug.serial}/release`, { json: {} });
  assert.equal(release.status, 403);
  assert.equal(release.json.error?.code, 'HOUSEHOLD_ROLE_FORBIDDEN');
  const off = await carol.send('POST', `/v1/devices/${plug.serial}/commands`, {
    json: { capability: 'power', action: 'off' },
  });
  assert.equal((off.json.command as { status: string }).status, 'done', 'the switch is not sensitive: a guest may');

  const people = (await a.send('GET', '/v1/household')).json.people as Array<{ email: string; memberId: string }>;
  assert.deepEqual(people.map((p) => p.email).sort(), ['bob@example.com', 'carol@example.com']);
  const bobId = people.find((p) => p.email === 'bob@example.com')!.memberId;
  const removedAt = Date.now();
  assert.equal((await a.send('POST', '/v1/household/remove', { json: { memberId: bobId } })).status, 200);
  assert.equal((await bob.send('GET', '/v1/devices')).status, 401, "bob's next request is refused");
  assert.ok(Date.now() - removedAt < 1_000, 'within one second');
  const bobAgain = await loggedIn('bob@example.com');
  assert.equal((await bobAgain.send('GET', `/v1/devices/${plug.serial}`)).status, 404, 'and his access is gone');
  assert.equal((await accept(bobAgain, bobLeftover)).status, 400, 'an invitation mailed before his removal is void');

  // A guest's end date: past it, the device is gone for them.
  const carolId = people.find((p) => p.email === 'carol@example.com')!.memberId;
  const aliceId = (await cloud.store.accountByEmail('alice@example.com'))!.id;
  const until = Date.now() + 500;
  await cloud.store.putHouseholdMember({
    ownerId: aliceId,
    memberId: carolId,
    role: 'guest',
    until,
    addedAt: 0,
    localName: null,
  });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await carol.send('GET', `/v1/devices/${plug.serial}`)).status, 404);
});

test("a stranger's reset requests stop being mailed after five a day; the owner's own still reach them", async () => {
  await confirmedAccount('dora@example.com');
  const resets = (): number =>
    smtp.received.filter((m) => m.to === 'dora@example.com' && /\/reset\?token=/.test(m.text)).length;
  const stranger = client();
  for (let i = 0; i < 7; i++) {
    const r = await stranger.send('POST', '/v1/password-resets', { json: { email: 'dora@example.com' } });
    assert.equal(r.status, 202, 'the answer never changes');
  }
  await smtp.waitFor('dora@example.com', /\/reset\?token=/);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(resets(), 5, "the stranger's sixth and seventh requests were not mailed");
  const owner = client();
  assert.equal((await owner.send('POST', '/v1/password-resets', { json: { email: 'dora@example.com' } })).status, 202);
  for (let i = 0; i < 100 && resets() < 6; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(resets(), 6, "the owner's own request from another address is mailed");
});

test('the export holds what the cloud keeps about the account; after deletion nothing is left of it', async () => {
  const a = aliceClient;
  await new Promise((r) => setTimeout(r, 300)); // notifications are logged after the answers
  const exported = await a.send('GET', '/v1/me/export');
  assert.equal(exported.status, 200);
  const x = exported.json as Record<string, unknown> & {
    account: { email: string };
    devices: Array<{ device: { serial: string }; telemetry: unknown[] }>;
    commands: unknown[];
    notifications: Array<{ kind: string }>;
    household: unknown[];
    sessions: unknown[];
  };
  assert.equal(x.account.email, 'alice@example.com');
  assert.doesNotMatch(exported.body, /argon2|passwordHash|password_hash|secretSha256/, 'no hash of any secret');
  assert.equal(x.devices[0]?.device.serial, plug.serial);
  assert.ok(Array.isArray(x.devices[0]?.telemetry));
  assert.ok(x.commands.length >= 2, "the household's commands are the owner's device history");
  const kinds = new Set(x.notifications.map((n) => n.kind));
  for (const k of ['claim', 'sign-in', 'member-added', 'password-changed']) assert.ok(kinds.has(k), k);
  assert.equal(x.household.length, 1, 'carol is still a guest');
  assert.ok(x.sessions.length >= 1);

  const id = (await cloud.store.accountByEmail('alice@example.com'))!.id;
  assert.equal((await a.send('POST', '/v1/me/delete', { json: { password: PASSWORD } })).status, 200);
  assert.equal(await cloud.store.exportAccount(id), undefined, 'the export has nothing');
  assert.equal((await cloud.store.getDevice(plug.serial))!.ownerId, null, 'the plug is released');
  assert.deepEqual(await cloud.store.notifications(id, 10), []);
  assert.deepEqual(await cloud.store.householdMembers(id), []);
  for (const file of ['cloud.db', 'cloud.db-wal']) {
    const bytes = await readFile(join(work, 'cloud', file)).catch(() => Buffer.alloc(0));
    if (file === 'cloud.db') assert.ok(bytes.length > 0, 'the database file is where the test looks');
    assert.equal(bytes.indexOf('alice@example.com'), -1, `the address is not in ${file}`);
  }
});
