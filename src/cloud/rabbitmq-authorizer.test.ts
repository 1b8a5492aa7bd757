import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { ConnectionJournal } from '../journal/index.ts';
import { createCertificateAuthority, issueServerCertificate, loadCaSigner } from '../identity/index.ts';
import {
  addressScope,
  answerRabbitmqRequest,
  startRabbitmqAuthorizer,
  validateRabbitmqAuthorizerConfig,
  type RabbitmqAuthorizer,
  type RabbitmqAuthorizerOptions,
} from './rabbitmq-authorizer.ts';
import { validateRabbitmqAuthPolicy } from './rabbitmq-auth.ts';

const A = 'PLG-AAAAAAAAAA';
const B = 'PLG-BBBBBBBBBB';
const FORM = 'application/x-www-form-urlencoded';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** POSTs a form as RabbitMQ's httpc does (keep-alive through `agent` when given). */
function post(base: string, path: string, form: Record<string, string>, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = request(
      `${base}${path}`,
      { method: 'POST', headers: { 'content-type': FORM, 'content-length': Buffer.byteLength(body) }, agent },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A real journal in a temporary folder, an authorizer on loopback, and the log lines it wrote. */
async function withAuthorizer(
  options: Partial<RabbitmqAuthorizerOptions>,
  body: (a: RabbitmqAuthorizer, journal: ConnectionJournal, logs: string[], revoked: Set<string>) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-rmq-authz-'));
  const journal = await ConnectionJournal.open({ stateDir: dir, privacyClass: 'standard' });
  const logs: string[] = [];
  const revoked = new Set<string>();
  const authorizer = await startRabbitmqAuthorizer({
    revoked: (cn) => (revoked.has(cn) ? 'unit revoked (stolen)' : undefined),
    journal,
    log: (l) => logs.push(l),
    ...options,
  });
  try {
    await body(authorizer, journal, logs, revoked);
  } finally {
    await authorizer.close();
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('the authorizer answers the four questions over HTTP on loopback, and journals each refusal', async () => {
  await withAuthorizer({}, async (a, journal) => {
    assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(a.paths.topic, `${a.url}/auth/topic`);
    const topic = { vhost: '/', resource: 'topic', name: 'amq.topic', tags: '' };
    const own = await post(a.url, '/auth/topic', {
      ...topic,
      username: A,
      permission: 'write',
      routing_key: `devices.${A}.telemetry`,
      'variable_map.client_id': A,
    });
    assert.deepEqual([own.status, own.body, own.headers['cache-control']], [200, 'allow', 'no-store']);
    const other = await post(a.url, '/auth/topic', {
      ...topic,
      username: A,
      permission: 'write',
      routing_key: `devices.${B}.telemetry`,
      'variable_map.client_id': A,
    });
    assert.equal(other.body, 'deny');
    assert.equal((await post(a.url, '/auth/user', { username: A })).body, 'allow');
    assert.equal(
      (await post(a.url, '/auth/vhost', { username: A, vhost: '/', ip: '10.1.2.3', client_id: B })).body,
      'deny',
    );
    assert.deepEqual(a.counts(), { allowed: 2, refused: 2, malformed: 0 });
    const refusals = journal.list({ result: 'refused' });
    assert.deepEqual(refusals.map((e) => [e.event, e.identity, e.source, e.detail?.split(':')[0]]).reverse(), [
      ['rabbitmq-topic', A, 'unknown', 'publish-denied'],
      ['rabbitmq-vhost', A, '10.1.2.3', 'client-id-mismatch'],
    ]);
  });
});

test('a revocation is answered from the next question on: nothing is cached', async () => {
  await withAuthorizer({}, async (a, _journal, _logs, revoked) => {
    const ask = async (): Promise<string> => (await post(a.url, '/auth/user', { username: A })).body;
    assert.equal(await ask(), 'allow');
    revoked.add(A);
    assert.equal(await ask(), 'deny');
  });
});

test('a password sent to the authorizer reaches neither the journal nor the log', async () => {
  const marker = `pw-${Math.random().toString(36).slice(2)}-MARKER`;
  await withAuthorizer({}, async (a, journal, logs) => {
    const answer = await post(a.url, '/auth/user', { username: 'guest', password: marker, vhost: '/', client_id: A });
    assert.equal(answer.body, 'deny');
    // A request too large for the limit, with the password in it, is refused without being read out.
    const huge = await post(a.url, '/auth/user', { username: A, password: marker, pad: 'x'.repeat(8_000) });
    assert.equal(huge.status, 413);
    await journal.flush();
    const file = await readFile(journal.path, 'utf8');
    assert.match(file, /password-login/);
    assert.doesNotMatch(file, new RegExp(marker));
    assert.doesNotMatch(file, /guest/, 'the user name typed with a password is not written either');
    assert.doesNotMatch(logs.join('\n'), new RegExp(marker));
  });
});

test('requests no auth backend sends are refused with their status and journalled', async () => {
  await withAuthorizer({}, async (a, journal) => {
    const get = await new Promise<number>((resolve, reject) => {
      request(`${a.url}/auth/user?username=${A}`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(get, 405, 'GET would carry a password in the URL');
    assert.equal((await post(a.url, '/auth/other', { username: A })).status, 404);
    const json = await new Promise<number>((resolve, reject) => {
      const req = request(`${a.url}/auth/user`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"username":"x"}');
    });
    assert.equal(json, 415);
    const malformed = await post(a.url, '/auth/topic', { username: A, vhost: '/' });
    assert.deepEqual([malformed.status, malformed.body], [200, 'deny']);
    assert.equal(a.counts().malformed, 4);
    const events = journal.list({ result: 'refused' }).map((e) => e.event);
    assert.deepEqual(events.sort(), ['http-malformed', 'http-malformed', 'http-malformed', 'rabbitmq-topic']);
  });
});

test('a request whose headers never finish is cut off within the bound', async () => {
  await withAuthorizer({ config: { headersTimeoutMs: 300, requestTimeoutMs: 600 } }, async (a) => {
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = connect(a.port, '127.0.0.1', () => s.write('POST /auth/user HTTP/1.1\r\nHost: x\r\n'));
      s.on('error', reject);
      s.on('close', () => resolve(Date.now() - started));
      s.resume();
    });
    assert.ok(closedAfter >= 250 && closedAfter < 3_000, `closed after ${closedAfter} ms`);
  });
});

test('sockets beyond maxConnections are closed at once', async () => {
  await withAuthorizer({ config: { maxConnections: 2 } }, async (a) => {
    const open = (): Promise<{ closed: Promise<void> }> =>
      new Promise((resolve, reject) => {
        const s = connect(a.port, '127.0.0.1');
        const closed = new Promise<void>((r) => s.once('close', () => r()));
        s.once('connect', () => resolve({ closed }));
        s.once('error', reject);
        s.resume();
      });
    const first = [await open(), await open()];
    const third = await open();
    const outcome = await Promise.race([third.closed.then(() => 'closed'), delay(2_000).then(() => 'open')]);
    assert.equal(outcome, 'closed');
    const still = await Promise.race([first[0]!.closed.then(() => 'closed'), delay(100).then(() => 'open')]);
    assert.equal(still, 'open', 'the sockets within the bound stay');
  });
});

test('answers come within a bound on a kept-alive connection, as RabbitMQ asks them', async () => {
  await withAuthorizer({}, async (a) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      const answer = await post(
        a.url,
        '/auth/topic',
        {
          username: A,
          vhost: '/',
          resource: 'topic',
          name: 'amq.topic',
          permission: 'write',
          routing_key: `devices.${A}.telemetry`,
          'variable_map.client_id': A,
        },
        agent,
      );
      times.push(performance.now() - t0);
      assert.equal(answer.body, 'allow');
    }
    agent.destroy();
    times.sort((x, y) => x - y);
    const p99 = times[Math.floor(times.length * 0.99)]!;
    // Generous: a loaded CI machine; the decision itself takes microseconds.
    assert.ok(p99 < 250, `p99 ${p99.toFixed(2)} ms`);
  });
});

test('with a certificate the authorizer answers over HTTPS', async () => {
  const ca = await createCertificateAuthority('authorizer test CA');
  const server = await issueServerCertificate(await loadCaSigner(ca.certPem, ca.privateKeyPem), ['localhost']);
  await withAuthorizer({ tls: { certPem: server.certPem, keyPem: server.privateKeyPem } }, async (a) => {
    assert.match(a.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const body = new URLSearchParams({ username: A }).toString();
    const answer = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${a.url}/auth/user`, {
        method: 'POST',
        ca: ca.certPem,
        headers: { 'content-type': FORM, 'content-length': body.length },
      });
      req.on('response', (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer, 'allow');
  });
});

test('a public or unspecified address is refused at start, and a private one needs TLS', async () => {
  for (const host of ['0.0.0.0', '::', '203.0.113.5', '8.8.8.8', 'localhost', 'cloud.example'])
    assert.throws(() => validateRabbitmqAuthorizerConfig({ host }), { code: 'CLOUD_CONFIG_INVALID', key: 'host' });
  assert.throws(() => validateRabbitmqAuthorizerConfig({ host: '10.0.0.5' }), { key: 'host' });
  assert.equal(validateRabbitmqAuthorizerConfig({ host: '10.0.0.5' }, true).host, '10.0.0.5');
  assert.equal(validateRabbitmqAuthorizerConfig({ host: '::1' }).host, '::1');
  assert.deepEqual(
    ['127.0.0.1', '::1', '192.168.1.2', '172.31.0.1', '172.32.0.1', 'fd00::1', '100.64.0.1'].map(addressScope),
    ['loopback', 'loopback', 'private', 'private', 'public', 'private', 'public'],
  );
  await assert.rejects(
    startRabbitmqAuthorizer({ config: { host: '0.0.0.0' }, revoked: () => undefined, journal: { record: () => {} } }),
    { code: 'CLOUD_CONFIG_INVALID', key: 'host' },
  );
  assert.throws(() => validateRabbitmqAuthorizerConfig({ maxBodyBytes: 10_000_000 }), { key: 'maxBodyBytes' });
  assert.throws(() => validateRabbitmqAuthorizerConfig({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 }), {
    key: 'headersTimeoutMs',
  });
});

test('the answer is the same without a socket: a route test needs no port', () => {
  const entries: unknown[] = [];
  const answering = {
    policy: validateRabbitmqAuthPolicy(),
    revoked: () => undefined,
    journal: { record: (e: unknown) => void entries.push(e) },
  };
  const ask = (url: string, body: string): { status: number; body: string } =>
    answerRabbitmqRequest({ method: 'POST', url, contentType: FORM, body, source: '127.0.0.1:1' }, answering);
  assert.deepEqual(ask('/auth/user', `username=${A}`), { status: 200, body: 'allow' });
  assert.deepEqual(ask('/auth/user', 'username=guest&password=guest'), { status: 200, body: 'deny' });
  assert.equal(entries.length, 1);
});

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
