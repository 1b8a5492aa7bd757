// Issue 24, "client events are the client's": on each of the three HTTPS surfaces (the device's
// admin page, the hub's, the cloud's owner API), 1,000 requests whose body never arrives whole and
// 1,000 malformed requests write no "internal error" line, grow the service log by at most
// MAX_LOG_LINES lines, get a 400 with the security headers where the socket still takes one, and
// are counted and journalled as client events; a real internal error still logs at once.
// Bounded: 20 sockets at a time, each from its own loopback address (the per-source caps stay out
// of the way), about 6,000 TLS connections in all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import { makeFleet } from '../support/device.ts';
import { startDeviceAgent } from '../../src/device/index.ts';
import { startHubService } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import { makeUnits } from '../cloud/support.ts';

/** Requests of each kind sent to each surface. */
const PER_KIND = 1_000;
/** Sockets open at once. */
const CONCURRENCY = 20;
/** Most lines a surface's service log may grow by over both floods (one per cause, a few causes). */
const MAX_LOG_LINES = 10;

interface Surface {
  readonly name: string;
  readonly port: number;
  readonly log: string[];
  /** A POST route that reads its body. */
  readonly formPath: string;
  clientEvents(): Record<string, number>;
  /** The surface's connection journal, newest first. */
  entries(): Promise<ReadonlyArray<{ event: string; result: string; source: string; detail?: string }>>;
  /** Makes the next login post fail inside the surface; returns the repair. */
  breakLogin(): () => void;
}

const surfaces: Surface[] = [];
const closers: Array<() => Promise<void>> = [];

function forcedFailure(): never {
  throw new Error('forced failure');
}

/** Makes reading `key` of `target` throw until the returned repair is called. */
function breakProperty(target: object, key: string): () => void {
  const value = (target as Record<string, unknown>)[key];
  Object.defineProperty(target, key, { configurable: true, get: forcedFailure });
  return () => Object.defineProperty(target, key, { configurable: true, writable: true, value });
}

before(async () => {
  const fleet = await makeFleet(['plug']);
  const deviceLog: string[] = [];
  const agent = await startDeviceAgent(
    {
      bundleDir: fleet.units.plug!.dir,
      stateDir: join(fleet.work, 'state'),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
    },
    (m) => deviceLog.push(m),
  );
  closers.push(() => agent.close());
  surfaces.push({
    name: 'device',
    port: agent.web.port,
    log: deviceLog,
    formPath: '/login',
    clientEvents: () => agent.web.clientEvents(),
    entries: () => agent.journal.list({ limit: 1000 }),
    breakLogin: () => breakProperty(agent.web.state, 'lockout'),
  });
  const hubLog: string[] = [];
  const hub = await startHubService({
    stateDir: join(fleet.work, 'hub'),
    web: { port: 0 },
    log: (m) => hubLog.push(m),
  });
  closers.push(() => hub.close());
  surfaces.push({
    name: 'hub',
    port: hub.web!.port,
    log: hubLog,
    formPath: '/login',
    clientEvents: () => hub.web!.clientEvents(),
    entries: () => Promise.resolve(hub.journal.list({ limit: 1000 })),
    breakLogin: () => {
      const getMeta = hub.hub.store.getMeta.bind(hub.hub.store);
      hub.hub.store.getMeta = forcedFailure;
      return () => {
        hub.hub.store.getMeta = getMeta;
      };
    },
  });
  const units = await makeUnits('plug', 1);
  const cloudLog: string[] = [];
  const cloud = await startCloud({
    factoryDir: units.factoryDir,
    stateDir: join(units.work, 'cloud'),
    manifests: [units.manifest],
    broker: { port: 0 },
    api: { port: 0 },
    log: (m) => cloudLog.push(m),
  });
  closers.push(() => cloud.close());
  surfaces.push({
    name: 'cloud',
    port: cloud.api.port,
    log: cloudLog,
    formPath: '/login',
    clientEvents: () => cloud.api.clientEvents(),
    entries: () => Promise.resolve(cloud.journal.list({ limit: 1000 })),
    breakLogin: () => {
      const attempts = cloud.store.attempts.bind(cloud.store);
      cloud.store.attempts = forcedFailure;
      return () => {
        cloud.store.attempts = attempts;
      };
    },
  });
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Writes `bytes` on a fresh TLS connection from `from`, half-closes when `hangUp`, and returns all it read. */
function rawExchange(port: number, from: string, bytes: string | Buffer, hangUp: boolean): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    // tls.connect passes localAddress on to the TCP connect; its option type does not list it.
    const options: ConnectionOptions & { localAddress: string } = {
      host: '127.0.0.1',
      port,
      localAddress: from,
      rejectUnauthorized: false,
      servername: 'localhost',
    };
    const s = connect(options, () => {
      s.write(bytes);
      if (hangUp) s.end();
    });
    s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    s.on('close', () => resolve(answer));
    s.on('error', () => undefined);
    s.setTimeout(10_000, () => s.destroy());
  });
}

/** Runs `count` jobs, CONCURRENCY at a time; worker k sends from 127.0.0.(100 + k). */
async function pool(count: number, job: (i: number, from: string) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (k: number): Promise<void> => {
    for (let i = next++; i < count; i = next++) await job(i, `127.0.0.${100 + k}`);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, k) => worker(k)));
}

const MALFORMED: ReadonlyArray<(port: number) => string> = [
  () => 'GARBAGE / HTTP/1.1\r\n\r\n',
  (port) => `GET /login HTTP/1.1\r\nHost: localhost:${port}\r\nBad\x01Header: x\r\n\r\n`,
  (port) => `GET /login HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`,
  () => 'GET /login HTTP/9.9\r\n\r\n',
];

/** The header block of a raw answer, by lower-case name. */
function headersOf(raw: string): Map<string, string> {
  const lines = raw.split('\r\n\r\n')[0]!.split('\r\n').slice(1);
  return new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
}

function sum(counts: Record<string, number>, pick: (cause: string) => boolean = () => true): number {
  return Object.entries(counts).reduce((n, [cause, k]) => (pick(cause) ? n + k : n), 0);
}

function assertQuietLog(s: Surface, from: number, what: string): void {
  const grown = s.log.slice(from);
  assert.deepEqual(
    grown.filter((l) => /internal error/i.test(l)),
    [],
    `${s.name}: ${what} wrote an internal error`,
  );
  assert.ok(grown.length <= MAX_LOG_LINES, `${s.name}: ${what} wrote ${grown.length} lines:\n${grown.join('\n')}`);
}

test(
  `${PER_KIND} aborted bodies on each surface: no internal error, a bounded log, every one counted`,
  {
    timeout: 60_000,
  },
  async () => {
    for (const s of surfaces) {
      const logBefore = s.log.length;
      const countBefore = sum(s.clientEvents());
      const started = Date.now();
      const head =
        `POST ${s.formPath} HTTP/1.1\r\nHost: localhost:${s.port}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a';
      await pool(PER_KIND, async (_, from) => {
        await rawExchange(s.port, from, head, true);
      });
      // The last few sockets close on the server a turn after the client.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertQuietLog(s, logBefore, 'aborted bodies');
      const counted = sum(s.clientEvents()) - countBefore;
      assert.equal(counted, PER_KIND, `${s.name}: each aborted body counted once: ${JSON.stringify(s.clientEvents())}`);
      const journalled = (await s.entries()).filter((e) => e.event === 'http-malformed' && e.result === 'refused');
      assert.ok(journalled.length > 0, `${s.name}: aborted bodies are journalled as client events`);
      assert.ok(/^127\.0\.0\.1\d\d:\d+$/.test(journalled[0]!.source), `${s.name}: source ${journalled[0]!.source}`);
      console.log(
        `# ${s.name}: ${PER_KIND} aborted bodies in ${Date.now() - started} ms: ${JSON.stringify(s.clientEvents())}`,
      );
    }
  },
);

test(
  `${PER_KIND} malformed requests on each surface: a 400 with the security headers, a bounded log, counted`,
  {
    timeout: 60_000,
  },
  async () => {
    for (const s of surfaces) {
      const logBefore = s.log.length;
      const before = s.clientEvents();
      const started = Date.now();
      const answers: string[] = [];
      await pool(PER_KIND, async (i, from) => {
        answers.push(await rawExchange(s.port, from, MALFORMED[i % MALFORMED.length]!(s.port), false));
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertQuietLog(s, logBefore, 'malformed requests');
      const refused = answers.filter((a) => a.startsWith('HTTP/1.1 400 '));
      assert.equal(refused.length, PER_KIND, `${s.name}: every malformed request is answered 400`);
      for (const kind of MALFORMED.keys()) {
        const h = headersOf(answers.find((_, i) => i % MALFORMED.length === kind) ?? refused[0]!);
        assert.equal(h.get('x-content-type-options'), 'nosniff', `${s.name}: malformed kind ${kind}`);
        assert.match(h.get('content-security-policy') ?? '', /default-src 'none'/, `${s.name}: malformed kind ${kind}`);
        assert.equal(h.get('connection'), 'close', `${s.name}: malformed kind ${kind}`);
      }
      const after = s.clientEvents();
      assert.equal(sum(after) - sum(before), PER_KIND, `${s.name}: nothing else counted`);
      const parseErrors = sum(after, (c) => c.startsWith('HPE_')) - sum(before, (c) => c.startsWith('HPE_'));
      assert.equal(parseErrors, PER_KIND, `${s.name}: each malformed request counted once: ${JSON.stringify(after)}`);
      const journalled = (await s.entries()).filter((e) => e.event === 'http-malformed' && e.result === 'refused');
      assert.ok(
        journalled.some((e) => e.detail?.startsWith('HPE_')),
        `${s.name}: malformed requests are journalled with the parser's code`,
      );
      console.log(
        `# ${s.name}: ${PER_KIND} malformed requests in ${Date.now() - started} ms: ${JSON.stringify(after)}`,
      );
    }
  },
);

/** A login post with the form's own cookie and token, as the surface's login page hands them out. */
async function formLogin(port: number): Promise<number> {
  const page = await send(port, 'GET', '/login', {});
  const cookie = page.cookies.join('; ');
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const body = `username=admin&email=a%40b.example&password=wrong-password-1&csrf=${encodeURIComponent(token)}`;
  const answer = await send(
    port,
    'POST',
    '/login',
    {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(body)),
      cookie,
      origin: `https://localhost:${port}`,
      'sec-fetch-site': 'same-origin',
    },
    body,
  );
  return answer.status;
}

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        localAddress: '127.0.0.93',
        rejectUnauthorized: false,
        servername: 'localhost',
        headers: { host: `localhost:${port}`, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            cookies: (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!),
          }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(body);
  });
}

test('after the floods, each real internal error on each surface is still logged at once, with its code', async () => {
  for (const s of surfaces) {
    const repair = s.breakLogin();
    try {
      const logBefore = s.log.length;
      // Twice in a row: a limiter would hold the second line back; an internal error is never held.
      for (let i = 1; i <= 2; i++) {
        assert.equal(await formLogin(s.port), 500, s.name);
        const logged = s.log.slice(logBefore).filter((l) => /internal error on POST \/login: forced failure/.test(l));
        assert.equal(logged.length, i, `${s.name}: fault ${i} is logged at once, before its answer`);
      }
      const logged = s.log.slice(logBefore).filter((l) => /internal error on POST \/login: forced failure/.test(l));
      assert.match(logged[0]!, /\(INTERNAL\)$/, `${s.name}: with its code`);
      assert.doesNotMatch(logged[0]!, /\n\s+at /, `${s.name}: no stack trace`);
    } finally {
      repair();
    }
  }
});
