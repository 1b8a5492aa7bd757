// Issue 24, the auditor's lesson: journal.flood-resistant plants failed logins, floods the surface
// with bare TLS handshakes from several loopback addresses and reads the journal. Two products
// with the same room for connection records (500) and the same flood: a Bulwark device, whose
// journal keeps security events in a tier of their own, passes; a product whose journal is one
// ring, as Bulwark's was before issue 24 (every connection an entry, 64 per source and minute one
// by one, then counted, as the admission guard did), loses the planted logins and fails. Without
// --state the probe sends nothing. Bounded: at most 3,000 handshakes per audit, 10 at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAudit, type AuditReport, type CheckResult } from '../../src/audit/index.ts';
import { FLOOD_PROBE_LIMITS, floodAddresses } from '../../src/audit/flood-checks.ts';
import { startDeviceAgent } from '../../src/device/index.ts';
import { createHubIdentity } from '../../src/hub/index.ts';
import { makeFleet } from '../support/device.ts';
import { WEAK_PROFILE } from './weak-device.ts';

const PROFILES = fileURLToPath(new URL('../../src/policy/profiles/', import.meta.url));
/** Room for connection records: the tiered device's connection tier, and the one-tier product's whole ring. */
const CONNECTION_ROOM = 500;
/** Connection records of one source written one by one per minute before they are only counted. */
const PER_SOURCE = 64;

const closers: Array<() => Promise<void>> = [];

/** A fresh folder with the product's state folder and the profile of a product of no model (tier 1, listening). */
async function oneTierWork(): Promise<{ stateDir: string; profile: string }> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-flood-probe-'));
  await writeFile(join(work, 'weak.yaml'), WEAK_PROFILE);
  return { stateDir: join(work, 'state'), profile: join(work, 'weak.yaml') };
}
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
});

const LOGIN_FORM =
  '<!DOCTYPE html><title>Login</title><form method="post" action="/login">' +
  '<input name="username"><input type="password" name="password"><button type="submit">Log in</button></form>';

/** A product with one journal ring for everything, written in Bulwark's format to its state folder. */
interface OneTierProduct {
  readonly url: string;
  /** Source addresses of every TLS connection it accepted. */
  readonly sources: Set<string>;
  close(): Promise<void>;
}

async function startOneTierProduct(stateDir: string, ringSize: number): Promise<OneTierProduct> {
  await mkdir(stateDir, { recursive: true });
  const { key, cert } = await createHubIdentity('one-tier product');
  const ring: string[] = [];
  const perSource = new Map<string, number>();
  const sources = new Set<string>();
  let seq = 0;
  let writing: Promise<void> = Promise.resolve();
  let queued = false;
  const file = join(stateDir, 'connection-journal.jsonl');
  const flush = (): void => {
    if (queued) return;
    queued = true;
    writing = writing.then(async () => {
      queued = false;
      await writeFile(`${file}.tmp`, ring.map((l) => l + '\n').join(''), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
  };
  const record = (source: string, event: string, result: string): void => {
    seq++;
    const at = new Date().toISOString();
    ring.push(JSON.stringify({ seq, at, surface: 'web', source, event, result }));
    if (ring.length > ringSize) ring.splice(0, ring.length - ringSize);
    flush();
  };
  const server: Server = createServer({ key, cert }, (req: IncomingMessage, res: ServerResponse) => {
    const from = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    req.resume();
    req.on('end', () => {
      if (req.url === '/login' && req.method === 'POST') record(from, 'login', 'failure');
      const known = req.url === '/login';
      res.writeHead(known ? (req.method === 'POST' ? 401 : 200) : 404, { 'content-type': 'text/html' });
      res.end(known ? LOGIN_FORM : 'not found');
    });
  });
  server.on('secureConnection', (s: TLSSocket) => {
    const address = s.remoteAddress ?? 'unknown';
    sources.add(address);
    const n = (perSource.get(address) ?? 0) + 1;
    perSource.set(address, n);
    if (n <= PER_SOURCE) record(`${address}:${s.remotePort}`, 'tls-connect', 'success');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await writing;
  };
  closers.push(close);
  return { url, sources, close };
}

function floodCheck(report: AuditReport): CheckResult {
  const c = report.checks.find((x) => x.id === 'journal.flood-resistant');
  assert.ok(c, 'journal.flood-resistant did not run');
  return c;
}

const text = (c: CheckResult): string =>
  [`${c.status}: ${c.summary}`, ...c.evidence.map((e) => `${e.finding ? '!! ' : ''}${e.sent} -> ${e.received}`)].join(
    '\n',
  );

/** The number of handshakes the flood row says were sent. */
const handshakesSent = (c: CheckResult): number =>
  Number(/^(\d+) bare TLS handshakes/.exec(c.evidence.find((e) => /bare TLS handshakes/.test(e.sent))!.sent)![1]);

test(
  'a Bulwark device keeps every planted failed login through a flood that overflows its connection tier',
  { timeout: 180_000 },
  async (t) => {
    const fleet = await makeFleet(['plug']);
    const stateDir = join(fleet.work, 'state');
    const agent = await startDeviceAgent({
      bundleDir: fleet.units.plug!.dir,
      stateDir,
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      journal: { connectionMaxEntries: CONNECTION_ROOM },
    });
    closers.push(() => agent.close());
    const report = await runAudit({ profile: join(PROFILES, 'plug.yaml'), urls: [agent.web.url], state: stateDir });
    const c = floodCheck(report);
    for (const line of text(c).split('\n')) t.diagnostic(line);
    assert.equal(c.status, 'pass', text(c));
    assert.match(text(c), /5 failed attempt\(s\) in the journal before the flood/);
    assert.match(text(c), /stopped when the journal stated a drop/, 'the flood overflowed the connection tier');
    assert.match(text(c), /the 5 planted failed logins in the journal after the flood -> all 5 still there/);
    assert.match(text(c), /[1-9][\d]* dropped with [1-9]\d* drop notice/);
    assert.ok(handshakesSent(c) <= FLOOD_PROBE_LIMITS.maxHandshakes);
    assert.equal(report.controls.find((x) => x.id === 'LOG-CONNECTIONS')?.checks.includes(c.id), true);
  },
);

test(
  'a product whose journal is one ring of the same size loses the planted failed logins and fails',
  { timeout: 180_000 },
  async (t) => {
    const { stateDir, profile } = await oneTierWork();
    const product = await startOneTierProduct(stateDir, CONNECTION_ROOM);
    const report = await runAudit({ profile, urls: [product.url], state: stateDir });
    const c = floodCheck(report);
    for (const line of text(c).split('\n')) t.diagnostic(line);
    assert.equal(c.status, 'fail', text(c));
    assert.match(text(c), /5 failed attempt\(s\) in the journal before the flood/);
    assert.match(text(c), /stopped when planted entries left the journal/);
    assert.match(text(c), /!! the 5 planted failed logins in the journal after the flood -> 5 gone/);
    assert.ok(handshakesSent(c) <= FLOOD_PROBE_LIMITS.maxHandshakes);
    const flood = floodAddresses(report.scope.sourceAddresses?.tls, FLOOD_PROBE_LIMITS.floodSources).flood;
    assert.equal(flood.filter((a) => a !== undefined && product.sources.has(a)).length, flood.length);
  },
);

test('without --state the probe floods nothing and says why', { timeout: 120_000 }, async () => {
  const { stateDir, profile } = await oneTierWork();
  const product = await startOneTierProduct(stateDir, CONNECTION_ROOM);
  const report = await runAudit({ profile, urls: [product.url] });
  const c = floodCheck(report);
  assert.equal(c.status, 'not-tested', text(c));
  assert.match(c.summary, /needs --state/);
  const { plant, flood } = floodAddresses(report.scope.sourceAddresses?.tls, FLOOD_PROBE_LIMITS.floodSources);
  for (const a of [plant, ...flood]) assert.ok(a !== undefined && !product.sources.has(a), `${a} connected`);
});

test('the flood comes from addresses of its own: past the probe families, never .0, .1 or .255', () => {
  const { plant, flood } = floodAddresses('127.0.30.50', 10);
  assert.equal(plant, '127.0.30.57');
  assert.deepEqual(
    flood,
    Array.from({ length: 10 }, (_, i) => `127.0.30.${58 + i}`),
  );
  const high = floodAddresses('127.0.0.247', 10);
  assert.deepEqual([high.plant, ...high.flood].slice(0, 3), ['127.0.0.254', '127.0.0.2', '127.0.0.3']);
  assert.deepEqual(floodAddresses(undefined, 10), { plant: undefined, flood: [undefined] });
});
