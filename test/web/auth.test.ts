// The listening service's authentication, sessions, CSRF, lockout and headers, over real HTTPS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import { pressButton, type DeviceAgent } from '../../src/device/index.ts';
import { JOURNAL_FILE_NAME } from '../../src/journal/index.ts';

let fleet: TestFleet;
let agent: DeviceAgent;
const stateDir = (): string => join(fleet.work, 'state-plug');
const PUBLIC = new Set([
  'GET /login',
  'POST /login',
  'GET /static/app.css',
  'GET /static/app.js',
  'GET /static/icon.svg',
  'GET /favicon.ico',
  'GET /.well-known/security.txt',
  'GET /setup',
  'POST /setup',
  'POST /setup/strength',
]);

before(async () => {
  fleet = await makeFleet(['plug', 'camera']);
  agent = await startAgent(fleet.units.plug!, stateDir());
});
after(async () => {
  await agent?.close();
});

const client = (local?: string): Promise<WebClient> => WebClient.for(agent.web.url, fleet.units.plug!, local);

/** The device's /api/status answer, as far as these tests read it. */
const statusOf = (body: string): { capabilities: Array<{ value: unknown }> } =>
  JSON.parse(body) as { capabilities: Array<{ value: unknown }> };

test('every route except the public ones answers 401 or a redirect to login without a session', async () => {
  const c = await client();
  const checked: string[] = [];
  for (const r of agent.web.routes) {
    const key = `${r.method} ${r.path}`;
    if (PUBLIC.has(key)) {
      assert.equal(r.access, 'public', key);
      continue;
    }
    assert.equal(r.access, 'session', `${key} must need a session`);
    const path = r.path.replace(/:[a-z]+/g, 'x');
    const a = await c.send(r.method, path, r.method === 'POST' ? { form: { csrf: 'x' } } : {});
    if (a.status === 303) assert.equal(a.headers.location, '/login', key);
    else assert.equal(a.status, 401, `${key} answered ${a.status}`);
    checked.push(key);
  }
  assert.ok(checked.length >= 8, `only ${checked.length} protected routes`);
  // The public set is exactly what the issue allows: login, its assets, security.txt (and setup while open).
  for (const r of agent.web.routes.filter((x) => x.access === 'public'))
    assert.ok(PUBLIC.has(`${r.method} ${r.path}`), `${r.method} ${r.path} is public`);
});

test('security.txt is public and names the manufacturer contact and an expiry', async () => {
  const a = await (await client()).get('/.well-known/security.txt');
  assert.equal(a.status, 200);
  assert.match(a.body, /^Contact: mailto:/m);
  assert.match(a.body, /^Expires: \d{4}-\d{2}-\d{2}T/m);
});

test('every answer carries HSTS, a strict CSP, frame-ancestors none, nosniff and no-referrer', async () => {
  for (const path of ['/login', '/', '/nope', '/.well-known/security.txt']) {
    const a = await (await client()).get(path);
    assert.match(String(a.headers['strict-transport-security']), /max-age=\d+/);
    const csp = String(a.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(a.headers['x-content-type-options'], 'nosniff');
    assert.equal(a.headers['referrer-policy'], 'no-referrer');
  }
});

test('the sticker password logs in; the cookie is __Host-, HttpOnly, Secure, SameSite=Strict, 256 bits', async () => {
  const c = await client();
  const a = await c.login(fleet.units.plug!.adminPassword!);
  assert.equal(a.status, 303);
  const cookie = ([] as string[])
    .concat(a.headers['set-cookie'] ?? [])
    .find((x) => x.startsWith('__Host-bulwark-session='))!;
  assert.match(cookie, /; Path=\/; Secure; HttpOnly; SameSite=Strict/);
  assert.match(cookie, /^__Host-bulwark-session=[A-Za-z0-9_-]{43};/);
  const dash = await c.get('/');
  assert.equal(dash.status, 200);
  assert.match(dash.body, new RegExp(fleet.units.plug!.serial));
  // Login always issues a fresh id: a session id planted before login (fixation) is never adopted.
  const planted = 'A'.repeat(43);
  const victim = await client();
  victim.cookies.set('__Host-bulwark-session', planted);
  await victim.login(fleet.units.plug!.adminPassword!);
  assert.notEqual(victim.cookies.get('__Host-bulwark-session'), planted);
  assert.notEqual(victim.cookies.get('__Host-bulwark-session'), c.cookies.get('__Host-bulwark-session'));
});

test('a state change without the CSRF token, or from a foreign Origin, is refused and changes nothing', async () => {
  const c = await client();
  await c.login(fleet.units.plug!.adminPassword!);
  const token = WebClient.csrfOf((await c.get('/')).body);
  const before = (await c.send('GET', '/api/status')).body;
  const noToken = await c.send('POST', '/api/capabilities/power/on', { json: {} });
  assert.equal(noToken.status, 403);
  const foreign = await c.send('POST', '/api/capabilities/power/on', {
    json: { csrf: token },
    origin: 'https://127.0.0.1:1',
  });
  assert.equal(foreign.status, 403);
  const noOrigin = await c.send('POST', '/api/capabilities/power/on', { json: { csrf: token }, origin: false });
  assert.equal(noOrigin.status, 403);
  assert.equal(
    statusOf((await c.send('GET', '/api/status')).body).capabilities[0]!.value,
    statusOf(before).capabilities[0]!.value,
  );
  const ok = await c.send('POST', '/api/capabilities/power/on', { json: { csrf: token } });
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.body) as { value: unknown }).value, true);
});

test('five wrong passwords lead to 429 with Retry-After; the owner still logs in from another address', async () => {
  const attacker = await client('127.0.0.3');
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await attacker.login(`wrong-password-${i}`)).status);
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.ok(
    statuses.slice(5).every((s) => s === 429),
    statuses.join(','),
  );
  const locked = await attacker.login(fleet.units.plug!.adminPassword!);
  assert.equal(locked.status, 429, 'even the right password waits out the back-off');
  assert.match(String(locked.headers['retry-after']), /^\d+$/);
  const owner = await client('127.0.0.2');
  assert.equal((await owner.login(fleet.units.plug!.adminPassword!)).status, 303);
});

test('lockout counters survive a restart of the agent', async () => {
  const attacker = await client('127.0.0.4');
  for (let i = 0; i < 5; i++) await attacker.login(`nope-${i}`);
  assert.equal((await attacker.login('nope-again')).status, 429);
  await agent.close();
  agent = await startAgent(fleet.units.plug!, stateDir());
  const again = await client('127.0.0.4');
  assert.equal((await again.login('nope-after-restart')).status, 429);
});

test('a weak new password is refused with its reason; a strong one ends every session', async () => {
  const c1 = await client(),
    c2 = await client();
  await c1.login(fleet.units.plug!.adminPassword!);
  await c2.login(fleet.units.plug!.adminPassword!);
  const token = WebClient.csrfOf((await c1.get('/password')).body);
  const weak = await c1.send('POST', '/password', {
    form: {
      csrf: token,
      currentPassword: fleet.units.plug!.adminPassword!,
      newPassword: 'password1234',
      confirmPassword: 'password1234',
    },
  });
  assert.equal(weak.status, 422);
  assert.match(weak.body, /common|guess/i);
  const serialPw = `${fleet.units.plug!.serial}-x9!`;
  const withSerial = await c1.send('POST', '/password', {
    form: {
      csrf: token,
      currentPassword: fleet.units.plug!.adminPassword!,
      newPassword: serialPw,
      confirmPassword: serialPw,
    },
  });
  assert.equal(withSerial.status, 422);
  const strong = 'violet kettle harbour 71 quietly';
  const ok = await c1.send('POST', '/password', {
    form: {
      csrf: token,
      currentPassword: fleet.units.plug!.adminPassword!,
      newPassword: strong,
      confirmPassword: strong,
    },
  });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.location, '/login?changed=1');
  assert.equal((await c2.get('/api/status')).status, 401, 'the other session ended too');
  assert.equal((await c1.get('/api/status')).status, 401);
  const owner = await readFile(join(stateDir(), 'web', 'owner.json'), 'utf8');
  assert.doesNotMatch(owner, /violet/);
  assert.match(owner, /\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(
    (await (await client()).login(fleet.units.plug!.adminPassword!)).status,
    401,
    'the sticker password no longer works',
  );
  assert.equal((await (await client()).login(strong)).status, 303);
});

test('holding the button is a factory reset: the sticker password works again and the journal is empty', async () => {
  const msg = await pressButton(stateDir(), 'hold');
  assert.match(msg, /factory reset/);
  assert.equal((await (await client()).login(fleet.units.plug!.adminPassword!)).status, 303);
});

test('the journal records TLS connections and login attempts, never a password', async () => {
  const c = await client();
  await c.login('not-the-password-123');
  await c.login(fleet.units.plug!.adminPassword!);
  const j = await c.send('GET', '/api/journal?limit=200');
  assert.equal(j.status, 200);
  const { entries } = JSON.parse(j.body) as { entries: Array<{ event: string; result: string; source: string }> };
  assert.ok(entries.some((e) => e.event === 'tls-connect'));
  assert.ok(entries.some((e) => e.event === 'login' && e.result === 'failure'));
  assert.ok(entries.some((e) => e.event === 'login' && e.result === 'success'));
  const raw = await readFile(join(stateDir(), JOURNAL_FILE_NAME), 'utf8');
  for (const text of [j.body, raw]) {
    assert.ok(!text.includes('not-the-password-123'));
    assert.ok(!text.includes(fleet.units.plug!.adminPassword!));
  }
});

test('a camera in setup mode serves nothing until the owner proves the setup code, then setup closes', async () => {
  const cam = await startAgent(fleet.units.camera!, join(fleet.work, 'state-camera'));
  try {
    const c = await WebClient.for(cam.web.url, fleet.units.camera!);
    assert.equal((await c.get('/')).headers.location, '/setup');
    assert.equal((await c.get('/login')).headers.location, '/setup');
    const page = await c.get('/setup');
    assert.equal(page.status, 200);
    const strong = 'lantern orchard copper 58 gently';
    const wrong = await c.send('POST', '/setup', {
      form: {
        csrf: WebClient.csrfOf(page.body),
        setupCode: '0000-0000-0000',
        newPassword: strong,
        confirmPassword: strong,
      },
    });
    assert.equal(wrong.status, 401);
    const page2 = await c.get('/setup');
    const ok = await c.send('POST', '/setup', {
      form: {
        csrf: WebClient.csrfOf(page2.body),
        setupCode: fleet.units.camera!.setupCode,
        newPassword: strong,
        confirmPassword: strong,
      },
    });
    assert.equal(ok.status, 303);
    assert.equal((await c.get('/')).status, 200);
    assert.equal((await c.get('/setup')).status, 404, 'setup closes after first use');
  } finally {
    await cam.close();
  }
});

test('a hash made with weaker parameters is upgraded to the current ones at the next login', async () => {
  const { argon2Sync, randomBytes } = await import('node:crypto');
  const { writeFile } = await import('node:fs/promises');
  const password = 'amber canyon ledger 93 slowly';
  const salt = randomBytes(16);
  const tag = argon2Sync('argon2id', {
    message: Buffer.from(password.normalize('NFKC')),
    nonce: salt,
    parallelism: 1,
    tagLength: 32,
    memory: 8192,
    passes: 1,
  });
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');
  const weak = `$argon2id$v=19$m=8192,t=1,p=1$${b64(salt)}$${b64(tag)}`;
  await agent.close();
  await writeFile(
    join(stateDir(), 'web', 'owner.json'),
    JSON.stringify({
      version: 1,
      username: 'admin',
      passwordHash: weak,
      changedAt: new Date().toISOString(),
      source: 'owner',
    }),
    { mode: 0o600 },
  );
  agent = await startAgent(fleet.units.plug!, stateDir());
  assert.equal((await (await client('127.0.0.6')).login(password)).status, 303);
  const stored = JSON.parse(await readFile(join(stateDir(), 'web', 'owner.json'), 'utf8')) as { passwordHash: string };
  assert.match(stored.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal((await (await client('127.0.0.6')).login(password)).status, 303, 'the upgraded hash still verifies');
});
