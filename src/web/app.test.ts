import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BulwarkError } from '../errors/index.ts';
import type { JournalRecordInput } from '../journal/index.ts';
import { createWebApp, PreSessionForms, type AppRequest } from './app.ts';
import { HttpError, Router, parseCookies } from './http.ts';

interface Ctx {
  user?: string;
  csrf?: string;
  bearer?: boolean;
}

function makeApp(): {
  handle: (r: AppRequest) => ReturnType<ReturnType<typeof createWebApp<Ctx>>['handle']>;
  journal: JournalRecordInput[];
} {
  const journal: JournalRecordInput[] = [];
  const router = new Router<Ctx>()
    .add({
      method: 'GET',
      path: '/public',
      access: 'public',
      csrf: false,
      handler: () => ({ kind: 'json', body: { ok: 1 } }),
    })
    .add({
      method: 'GET',
      path: '/me',
      access: 'session',
      csrf: false,
      handler: (_r, ctx) => ({ kind: 'json', body: { user: ctx.user } }),
    })
    .add({
      method: 'POST',
      path: '/change',
      access: 'session',
      csrf: true,
      handler: (r) => ({ kind: 'json', body: r.body }),
    })
    .add({
      method: 'GET',
      path: '/boom',
      access: 'public',
      csrf: false,
      handler: () => {
        throw new Error('secret detail');
      },
    })
    .add({
      method: 'GET',
      path: '/busy',
      access: 'public',
      csrf: false,
      handler: () => {
        throw new BulwarkError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 7 });
      },
    });
  const app = createWebApp<Ctx>({
    router,
    journal: { record: (e) => journal.push(e) },
    errorPage: (status, message) => `<p>${status} ${message}</p>`,
    sessions: {
      anonymous: () => ({}),
      find: (req) => {
        const auth = req.headers.authorization;
        if (auth === 'Bearer app') return { user: 'app', bearer: true };
        return req.cookies.get('s') === 'good' ? { user: 'owner', csrf: 'tok' } : undefined;
      },
      verifyCsrf: (ctx, token) => token === ctx.csrf,
      exemptFromCsrf: (ctx) => ctx.bearer === true,
      identityOf: (ctx) => ctx.user,
    },
  });
  app.allowHosts(['localhost'], 8443);
  return { handle: (r) => app.handle({ ...r, headers: { host: 'localhost:8443', ...r.headers } }), journal };
}

const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://localhost:8443' };

test('a public route answers without a socket, with the security headers', async () => {
  const { handle } = makeApp();
  const r = await handle({ method: 'GET', url: '/public' });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), { ok: 1 });
  assert.equal(r.headers['x-frame-options'], 'DENY');
});

test('an unknown Host is refused with 421 before any route runs', async () => {
  const { handle } = makeApp();
  const r = await handle({ method: 'GET', url: '/public', headers: { host: 'evil.example' } });
  assert.equal(r.status, 421);
});

test('a session route without a session answers 401 to JSON callers and a redirect to browsers', async () => {
  const { handle } = makeApp();
  assert.equal((await handle({ method: 'GET', url: '/me', headers: { accept: 'application/json' } })).status, 401);
  const page = await handle({ method: 'GET', url: '/me' });
  assert.equal(page.status, 303);
  assert.equal(page.headers.location, '/login');
});

test("a state change needs the session's CSRF token and a same-origin request; refusals are journalled", async () => {
  const { handle, journal } = makeApp();
  const base = { method: 'POST', url: '/change', headers: { ...form, cookie: 's=good' } } as const;
  assert.equal((await handle({ ...base, body: 'csrf=tok&x=1' })).status, 200);
  assert.equal((await handle({ ...base, body: 'csrf=wrong&x=1' })).status, 403);
  assert.equal(
    (await handle({ ...base, headers: { ...base.headers, origin: 'https://evil.example' }, body: 'csrf=tok' })).status,
    403,
  );
  assert.equal(
    (await handle({ ...base, headers: { ...base.headers, 'sec-fetch-site': 'same-site' }, body: 'csrf=tok' })).status,
    403,
  );
  const refusals = journal.filter((e) => e.event === 'csrf' && e.result === 'refused');
  assert.equal(refusals.length, 3);
  assert.equal(refusals[0]!.identity, 'owner');
});

test('a bearer caller is exempt from the CSRF token (no browser sends one by itself)', async () => {
  const { handle } = makeApp();
  const r = await handle({
    method: 'POST',
    url: '/change',
    headers: { authorization: 'Bearer app', 'content-type': 'application/json' },
    body: '{"x":1}',
  });
  assert.equal(r.status, 200);
});

test('a body over the limit is refused with 413 before the handler runs', async () => {
  const { handle } = makeApp();
  const r = await handle({
    method: 'POST',
    url: '/change',
    headers: { ...form, cookie: 's=good' },
    body: 'x='.padEnd(9_000, 'a'),
  });
  assert.equal(r.status, 413);
});

test('an unknown path is 404, an unknown method 405 with Allow', async () => {
  const { handle } = makeApp();
  assert.equal((await handle({ method: 'GET', url: '/nothing' })).status, 404);
  const r = await handle({ method: 'DELETE', url: '/public' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'GET, HEAD');
});

test('a failing handler answers 500 without its message; a typed error keeps its status and Retry-After', async () => {
  const { handle } = makeApp();
  const boom = await handle({ method: 'GET', url: '/boom', headers: { accept: 'application/json' } });
  assert.equal(boom.status, 500);
  assert.doesNotMatch(boom.body.toString(), /secret detail/);
  assert.equal(boom.headers['content-security-policy']?.toString().includes("default-src 'none'"), true);
  const busy = await handle({ method: 'GET', url: '/busy', headers: { accept: 'application/json' } });
  assert.equal(busy.status, 429);
  assert.equal(busy.headers['retry-after'], '7');
});

test('HEAD answers carry the length but no body', async () => {
  const { handle } = makeApp();
  const r = await handle({ method: 'HEAD', url: '/public' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  assert.equal(r.headers['content-length'], String(JSON.stringify({ ok: 1 }).length));
});

test('a pre-session form token verifies only with its own cookie and a same-origin request', () => {
  const forms = new PreSessionForms('__Host-test');
  const { cookie, token } = forms.issue();
  const cookies = parseCookies(cookie.split(';')[0]);
  const headers = { host: 'localhost:1', origin: 'https://localhost:1' };
  forms.verify({ headers, cookies, body: { csrf: token } });
  assert.throws(() => forms.verify({ headers, cookies, body: { csrf: token.slice(1) } }), HttpError);
  assert.throws(() => forms.verify({ headers, cookies: new Map(), body: { csrf: token } }), HttpError);
  assert.throws(
    () => forms.verify({ headers: { ...headers, origin: 'https://evil.example' }, cookies, body: { csrf: token } }),
    HttpError,
  );
  assert.throws(
    () => new PreSessionForms('__Host-test').verify({ headers, cookies, body: { csrf: token } }),
    HttpError,
  );
});

test("a redirect's notice shows once on the session's next page, never in the URL nor to another session", async () => {
  const router = new Router<{ id?: string }>()
    .add({
      method: 'POST',
      path: '/act',
      access: 'session',
      csrf: false,
      handler: () => ({ kind: 'redirect', location: '/', notice: 'Power is now on.' }),
    })
    .add({
      method: 'GET',
      path: '/',
      access: 'session',
      csrf: false,
      handler: (req) => ({ kind: 'html', body: `<p>${req.notice ?? 'nothing'}</p>` }),
    });
  const app = createWebApp<{ id?: string }>({
    router,
    errorPage: (status) => String(status),
    sessions: {
      anonymous: () => ({}),
      find: (req) => {
        const id = req.cookies.get('s');
        return id === 'a' || id === 'b' ? { id } : undefined;
      },
      verifyCsrf: () => true,
      noticeKey: (ctx) => ctx.id,
    },
  });
  app.allowHosts(['localhost'], 8443);
  const send = (method: string, url: string, s: string): ReturnType<typeof app.handle> =>
    app.handle({ method, url, headers: { host: 'localhost:8443', cookie: `s=${s}`, accept: 'text/html' } });
  const acted = await send('POST', '/act', 'a');
  assert.equal(acted.status, 303);
  assert.equal(acted.headers.location, '/', 'the location carries no text');
  assert.match(String((await send('GET', '/', 'b')).body), /nothing/, 'another session sees nothing');
  assert.match(String((await send('GET', '/', 'a')).body), /Power is now on\./);
  assert.match(String((await send('GET', '/', 'a')).body), /nothing/, 'shown once');
  const forged = await send('GET', '/?done=Call%20this%20number', 'a');
  assert.doesNotMatch(String(forged.body), /Call this number/, 'text in a link is never shown');
});
