import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOwnerApp, openOwnerSite, remoteControls, validateOwnerApiConfig } from './api.ts';
import { httpStatusOf as statusOf } from '../errors/index.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';
import type { CommandCenter } from './commands.ts';
import type { JournalRecordInput } from '../journal/index.ts';
import { ClaimError, RateLimitedError, NotFoundError, CommandError } from './errors.ts';

test('the cloud offers actuators only, never a sensitive capability', () => {
  assert.deepEqual(remoteControls('plug'), [{ capability: 'power', actions: ['on', 'off', 'toggle'] }]);
  assert.deepEqual(remoteControls('lock'), [], "a lock's bolt is not controlled from the cloud");
  assert.deepEqual(
    remoteControls('camera').map((c) => c.capability),
    ['privacy'],
    'no snapshot',
  );
  assert.deepEqual(remoteControls('sensor'), []);
  assert.deepEqual(remoteControls('no-such-model'), []);
});

test("errors map to statuses by code; another owner's device is 404", () => {
  assert.equal(statusOf(new ClaimError('CLAIM_REFUSED', 'x')), 403);
  assert.equal(statusOf(new ClaimError('CLAIM_WINDOW_CLOSED', 'x')), 409);
  assert.equal(statusOf(new RateLimitedError(30, 'claim:acct')), 429);
  assert.equal(statusOf(new NotFoundError()), 404);
  assert.equal(statusOf(new CommandError('DEVICE_TIMEOUT', 'x')), 504);
  assert.equal(statusOf(new CommandError('DEVICE_OFFLINE', 'x')), 503);
  assert.equal(statusOf(new Error('boom')), 500);
});

test('settings that switch a protection off are refused', () => {
  assert.throws(() => validateOwnerApiConfig({ claimAccountThreshold: 0 }), {
    code: 'CLOUD_CONFIG_INVALID',
    key: 'claimAccountThreshold',
  });
  assert.throws(() => validateOwnerApiConfig({ claimBaseDelayMs: 10 }), { code: 'CLOUD_CONFIG_INVALID' });
  assert.throws(() => validateOwnerApiConfig({ login: { sourceThreshold: 0 } }), { code: 'LOCKOUT_CONFIG_INVALID' });
  assert.throws(() => validateOwnerApiConfig({ idleTimeoutMs: 10 }), { code: 'SESSION_CONFIG_INVALID' });
  assert.ok(validateOwnerApiConfig({}));
});

// ---- the owner app on src/web's core, without a socket (app.handle) ----------------------

const HOST = 'cloud.test';
const PASSWORD = 'marble falcon tundra 42 softly';

async function ownerApp(): Promise<{
  handle: ReturnType<typeof createOwnerApp>['handle'];
  journal: JournalRecordInput[];
  store: SqlStore;
}> {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const journal: JournalRecordInput[] = [];
  const sink = {
    record: (e: JournalRecordInput): void => {
      journal.push(e);
    },
  };
  const config = validateOwnerApiConfig({});
  const commands = {} as CommandCenter; // these tests send no command
  const site = await openOwnerSite({ store, commands, config, log: () => undefined, journal: sink });
  const app = createOwnerApp(site, { limits: config.limits, log: () => undefined, journal: sink });
  app.allowHosts([HOST], 443);
  return { handle: app.handle.bind(app), journal, store };
}

/** A JSON answer's body, with the fields these tests read. */
const bodyOf = (body: unknown): { error: { code: string }; email?: string } =>
  JSON.parse(String(body)) as { error: { code: string }; email?: string };

const json = (
  body: unknown,
  headers: Record<string, string> = {},
): { headers: Record<string, string>; body: string } => ({
  headers: { host: HOST, 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

test('the app serves the shared stylesheet and renders its pages in the shared shell', async () => {
  const { handle } = await ownerApp();
  const css = await handle({ method: 'GET', url: '/static/app.css', headers: { host: HOST } });
  assert.equal(css.status, 200);
  assert.match(css.body.toString(), /ul\.devices/);
  assert.equal((await handle({ method: 'GET', url: '/static/cloud.css', headers: { host: HOST } })).status, 404);
  const login = await handle({ method: 'GET', url: '/login', headers: { host: HOST } });
  assert.equal(login.status, 200);
  const html = login.body.toString();
  assert.match(html, /<title>Log in · Bulwark Cloud<\/title>/);
  assert.match(html, /href="\/static\/app\.css"/);
  assert.match(html, /<a href="\/login">Log in<\/a><a href="\/register">Register<\/a>/);
  assert.match(String(login.headers['set-cookie']), /^__Host-bulwark-cloud-login=/);
  assert.equal((await handle({ method: 'GET', url: '/login', headers: { host: 'evil.example' } })).status, 421);
});

test('JSON under /v1, pages elsewhere; no session is 401 for the API and a redirect for the app', async () => {
  const { handle } = await ownerApp();
  const api = await handle({ method: 'GET', url: '/v1/devices', headers: { host: HOST } });
  assert.equal(api.status, 401);
  assert.equal(bodyOf(api.body).error.code, 'AUTH_REQUIRED');
  const page = await handle({ method: 'GET', url: '/app', headers: { host: HOST } });
  assert.equal(page.status, 303);
  assert.equal(page.headers.location, '/login');
  const missing = await handle({ method: 'GET', url: '/v1/nothing', headers: { host: HOST } });
  assert.equal(bodyOf(missing.body).error.code, 'NOT_FOUND');
  const page404 = await handle({ method: 'GET', url: '/nothing', headers: { host: HOST } });
  assert.match(page404.body.toString(), /<h1>404<\/h1>/);
});

test('a bearer token needs no CSRF token; a cookie session does, and its refusal is journalled', async () => {
  const { handle, journal, store } = await ownerApp();
  const made = await handle({
    method: 'POST',
    url: '/v1/accounts',
    ...json({ email: 'Owner@Example.com', password: PASSWORD }),
  });
  assert.equal(made.status, 202, made.body.toString());
  // Confirmed as its mailed link would (the mail tests follow the link itself): only a confirmed address logs in.
  await store.markVerified((await store.accountByEmail('owner@example.com'))!.id, Date.now());
  const login = await handle({
    method: 'POST',
    url: '/v1/sessions',
    ...json({ email: 'owner@example.com', password: PASSWORD }),
  });
  assert.equal(login.status, 200, login.body.toString());
  const { token, csrfToken } = JSON.parse(login.body.toString()) as { token: string; csrfToken: string };
  const bearer = { host: HOST, authorization: `Bearer ${token}` };
  const me = await handle({ method: 'GET', url: '/v1/me', headers: bearer });
  assert.equal(bodyOf(me.body).email, 'owner@example.com');
  const cookie = `__Host-bulwark-cloud=${token}`;
  const origin = `https://${HOST}`;
  const refused = await handle({ method: 'POST', url: '/v1/sessions/logout', ...json({}, { cookie, origin }) });
  assert.equal(refused.status, 403);
  assert.equal(bodyOf(refused.body).error.code, 'CSRF_TOKEN_INVALID');
  const entry = journal.find((e) => e.event === 'csrf');
  assert.equal(entry?.result, 'refused');
  assert.equal(entry?.identity, 'owner@example.com');
  assert.equal(entry?.detail, 'POST /v1/sessions/logout');
  const withToken = json({}, { cookie, origin, 'x-csrf-token': csrfToken });
  const ok = await handle({ method: 'POST', url: '/v1/sessions/logout', ...withToken });
  assert.equal(ok.status, 200);
  assert.equal((await handle({ method: 'GET', url: '/v1/me', headers: bearer })).status, 401, 'the session ended');
});

test(
  'the login form needs its pre-session token; failures back off per source with Retry-After',
  {
    timeout: 60_000,
  },
  async () => {
    const { handle, journal } = await ownerApp();
    await handle({ method: 'POST', url: '/v1/accounts', ...json({ email: 'a@example.com', password: PASSWORD }) });
    const form = { host: HOST, origin: `https://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' };
    const body = 'email=a%40example.com&password=x&csrf=x';
    const forged = await handle({ method: 'POST', url: '/login', headers: form, body });
    assert.equal(forged.status, 403);
    assert.match(forged.body.toString(), /the form expired/);
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 6; i++) {
      const guess = json({ email: 'a@example.com', password: `wrong guess ${i}` });
      last = await handle({ method: 'POST', url: '/v1/sessions', sourceAddress: '192.0.2.9', ...guess });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    assert.ok(Number(last?.headers['retry-after']) > 0, 'Retry-After on a 429');
    assert.equal(bodyOf(last?.body).error.code, 'RATE_LIMITED');
    assert.equal(journal.filter((e) => e.event === 'login' && e.result === 'failure').length, 5);
    assert.equal(journal.filter((e) => e.event === 'login' && e.result === 'locked-out').length, 1);
  },
);

/** A pre-session form's token and cookie, from the page at `url`. */
async function formOf(
  handle: Awaited<ReturnType<typeof ownerApp>>['handle'],
  url: string,
): Promise<{ csrf: string; cookie: string }> {
  const page = await handle({ method: 'GET', url, headers: { host: HOST } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body.toString())![1]!;
  const cookie = String(page.headers['set-cookie']).split(';')[0]!;
  return { csrf, cookie };
}

test('without script: sign-up and reset answer one page for any address; an invitation asks to log in', async () => {
  const { handle } = await ownerApp();
  const post = async (url: string, fields: Record<string, string>, source: string): Promise<string> => {
    const { csrf, cookie } = await formOf(handle, url === '/register' ? '/register' : '/reset');
    const headers = {
      host: HOST,
      origin: `https://${HOST}`,
      cookie,
      'content-type': 'application/x-www-form-urlencoded',
    };
    const body = new URLSearchParams({ ...fields, csrf }).toString();
    const r = await handle({ method: 'POST', url, headers, body, sourceAddress: source });
    assert.equal(r.status, 200, r.body.toString());
    return r.body.toString();
  };
  const first = await post('/register', { email: 'a@example.com', password: PASSWORD }, '192.0.2.1');
  assert.match(first, /Check your mail/);
  const again = await post('/register', { email: 'a@example.com', password: PASSWORD }, '192.0.2.2');
  assert.equal(again, first, 'a taken address gets the very same page');
  const known = await post('/reset/request', { email: 'a@example.com' }, '192.0.2.3');
  const unknown = await post('/reset/request', { email: 'nobody@example.com' }, '192.0.2.4');
  assert.equal(known, unknown);
  assert.match(known, /link to choose a new password/);
  const resetForm = await handle({ method: 'GET', url: '/reset?token=abc', headers: { host: HOST } });
  assert.match(resetForm.body.toString(), /name="token" value="abc"/);
  const invitation = await handle({ method: 'GET', url: '/invitations/accept?token=x', headers: { host: HOST } });
  assert.match(invitation.body.toString(), /Log in \(or create an account with the invited address\)/);
});
