import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router, HttpError, SAVED_BODY_NAME, checkSameOrigin, saveBodyStream, securityHeaders } from './http.ts';
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

test('a streamed body lands in a new 0600 file; one past the bound is refused 413 and leaves no file', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'bulwark-body-')), 'upload');
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const chunks = [Buffer.alloc(600, 1), Buffer.alloc(400, 2)];
  const saved = await saveBodyStream(chunks, undefined, { dir, maxBytes: 1_000 });
  assert.equal(saved.bytes, 1_000);
  assert.deepEqual(await readFile(saved.path), Buffer.concat(chunks));
  assert.match(saved.path.slice(dir.length + 1), SAVED_BODY_NAME);
  assert.equal((await stat(saved.path)).mode & 0o777, 0o600);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const other = await saveBodyStream(chunks, '1000', { dir, maxBytes: 1_000 });
  assert.notEqual(other.path, saved.path, 'every body gets a fresh name');

  const tooLarge = (err: unknown): boolean => err instanceof HttpError && err.status === 413;
  await assert.rejects(saveBodyStream([...chunks, Buffer.alloc(1)], undefined, { dir, maxBytes: 1_000 }), tooLarge);
  await assert.rejects(saveBodyStream([], '1001', { dir, maxBytes: 1_000 }), tooLarge);
  await assert.rejects(saveBodyStream([], '1e3', { dir, maxBytes: 1_000 }), tooLarge);
  assert.deepEqual((await readdir(dir)).sort(), [saved.path, other.path].map((p) => p.slice(dir.length + 1)).sort());
});

test('a streamed body whose client hangs up is a 400 REQUEST_ABORTED and its partial file is removed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-body-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  async function* cut(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(100);
    await Promise.resolve();
    throw new Error('aborted');
  }
  await assert.rejects(
    saveBodyStream(cut(), undefined, { dir, maxBytes: 1_000 }),
    (err) => err instanceof HttpError && err.status === 400 && err.code === 'REQUEST_ABORTED',
  );
  assert.deepEqual(await readdir(dir), []);
});
