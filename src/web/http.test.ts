import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router, HttpError, checkSameOrigin, securityHeaders } from './http.ts';
import { answerInternalError } from './app.ts';

const HOST = 'device.local:8443';
const refused = (headers: Record<string, string>, options?: { allowNonBrowser?: boolean }): boolean => {
  try {
    checkSameOrigin({ headers: { host: HOST, ...headers } }, options);
    return false;
  } catch (err) {
    assert.ok(err instanceof HttpError && err.status === 403 && err.code === 'CSRF_ORIGIN_MISMATCH');
    return true;
  }
};

test('the same-origin rule admits this origin and a same-origin form under no-referrer only', () => {
  assert.equal(refused({ origin: `https://${HOST}` }), false);
  assert.equal(refused({ origin: `https://${HOST}`, 'sec-fetch-site': 'same-origin' }), false);
  assert.equal(refused({ origin: 'null', 'sec-fetch-site': 'same-origin' }), false);
});

test('the same-origin rule refuses foreign, null, cross-site, same-site and missing origins', () => {
  assert.equal(refused({}), true);
  assert.equal(refused({ origin: 'https://evil.example' }), true);
  assert.equal(refused({ origin: `http://${HOST}` }), true);
  assert.equal(refused({ origin: 'null' }), true);
  assert.equal(refused({ origin: `https://${HOST}`, 'sec-fetch-site': 'cross-site' }), true);
  assert.equal(refused({ origin: `https://${HOST}`, 'sec-fetch-site': 'same-site' }), true);
  assert.equal(refused({ origin: `https://${HOST}`, 'sec-fetch-site': 'none' }), true);
});

test('a request with neither Origin nor Sec-Fetch-Site passes only where non-browser clients are allowed', () => {
  assert.equal(refused({}, { allowNonBrowser: true }), false);
  assert.equal(refused({ 'sec-fetch-site': 'cross-site' }, { allowNonBrowser: true }), true);
  assert.equal(refused({ origin: 'https://evil.example' }, { allowNonBrowser: true }), true);
});

test('the router answers 404 for an unknown path and 405 with Allow for a known one', () => {
  const router = new Router<object>()
    .add({
      method: 'GET',
      path: '/items/:id',
      access: 'public',
      csrf: false,
      handler: () => ({ kind: 'json', body: {} }),
    })
    .add({
      method: 'POST',
      path: '/items/:id',
      access: 'session',
      csrf: true,
      handler: () => ({ kind: 'json', body: {} }),
    });
  assert.equal(router.resolve('GET', '/items/a1').params.id, 'a1');
  assert.equal(router.resolve('HEAD', '/items/a1').route.method, 'GET');
  assert.throws(
    () => router.resolve('GET', '/nothing'),
    (e: unknown) => e instanceof HttpError && e.status === 404,
  );
  assert.throws(
    () => router.resolve('DELETE', '/items/a1'),
    (e: unknown) => e instanceof HttpError && e.status === 405 && e.headers.allow === 'GET, HEAD, POST',
  );
});

test('the last-resort 500 carries the security headers', async () => {
  const server = createServer((_req, res) => answerInternalError(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { status, headers } = await new Promise<{ status: number; headers: IncomingHttpHeaders }>(
      (resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: (server.address() as AddressInfo).port, agent: false },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(status, 500);
    for (const [name, value] of Object.entries(securityHeaders())) assert.equal(headers[name], value, name);
  } finally {
    server.close();
  }
});
