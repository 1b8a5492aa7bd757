// Issue 24 (1): a stranger must not be able to flush the journal's evidence. On the device's admin
// page, the hub's admin page and the cloud's owner API: 20 failed logins (4 addresses x 5, under
// every lockout), then 6,000 bare TLS handshakes spread over 50 loopback addresses (127.0.0.100..149).
// Afterwards all 20 failed logins are still in the journal, and once the surface stops (which ends
// every counting window) the flood is on record as aggregated entries, and the loss of connection
// records is stated in a drop notice. Each surface keeps 1,000 connection records (the default is
// 5,000), so the flood overflows that tier: a one-tier journal of that size loses the logins.
// Bounded: 6,020 connections per surface, at most 25 at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { makeFleet, WebClient } from '../support/device.ts';
import { startDeviceAgent } from '../../src/device/index.ts';
import { startHubService } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import { ConnectionJournal } from '../../src/journal/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, ApiClient } from '../cloud/support.ts';

const GUESSERS = ['127.0.0.10', '127.0.0.11', '127.0.0.12', '127.0.0.13'];
const FLOODERS = Array.from({ length: 50 }, (_, i) => `127.0.0.${100 + i}`);
const HANDSHAKES = 6_000;
const AT_ONCE = 25;
/** A connection tier the flood overflows; the security tier keeps its default. */
const JOURNAL = { connectionMaxEntries: 1_000 };

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
});

/** One bare TLS handshake from `from`, then a clean close; no request is sent. */
function bareHandshake(port: number, from: string): Promise<void> {
  return new Promise((resolve) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress: from });
    tcp.on('error', () => resolve());
    const tls = tlsConnect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' });
    tls.on('error', () => resolve());
    tls.once('secureConnect', () => tls.end());
    tls.once('close', () => resolve());
    tls.setTimeout(10_000, () => tls.destroy());
  });
}

/** 6,000 handshakes, round-robin over the 50 addresses, 25 in flight. */
async function flood(port: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < HANDSHAKES) {
      const i = next++;
      await bareHandshake(port, FLOODERS[i % FLOODERS.length]!);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
}

interface Row {
  readonly source: string;
  readonly event: string;
  readonly result: string;
  readonly detail?: string;
}

const failedLogins = (rows: readonly Row[]): Row[] =>
  rows.filter(
    (e) => e.event === 'login' && e.result === 'failure' && GUESSERS.some((g) => e.source.startsWith(`${g}:`)),
  );

/** Handshakes the rows account for: one per entry from a flooder, N per aggregate of N. */
function handshakesOnRecord(rows: readonly Row[]): number {
  let n = 0;
  for (const e of rows) {
    if (!FLOODERS.includes(e.source.replace(/:\d+$/, ''))) continue;
    if (e.event === 'connection-flood' || e.event === 'records-aggregated')
      n += Number(/^([\d,]+) more/.exec(e.detail ?? '')?.[1]?.replace(/,/g, '') ?? 0);
    else if (e.event === 'tls-connect') n += 1;
  }
  return n;
}

interface FloodedSurface {
  readonly port: number;
  readonly stateDir: string;
  /** One wrong password from `from`; answers the status. */
  guess(from: string, i: number): Promise<number>;
  /** The running surface's security events, newest first, as its owner's page reads them. */
  rows(): Promise<readonly Row[]>;
  stop(): Promise<void>;
}

async function assertEvidenceSurvives(surface: FloodedSurface): Promise<void> {
  const statuses: number[] = [];
  for (const from of GUESSERS) for (let i = 0; i < 5; i++) statuses.push(await surface.guess(from, i));
  assert.deepEqual(statuses, new Array<number>(20).fill(401), 'twenty wrong passwords, each refused');
  assert.equal(failedLogins(await surface.rows()).length, 20);
  await flood(surface.port);
  assert.equal(failedLogins(await surface.rows()).length, 20, 'all 20 failed logins survive the flood');
  // Stopping ends every counting window: what was counted is written as aggregates.
  await surface.stop();
  const journal = await ConnectionJournal.open({
    stateDir: surface.stateDir,
    privacyClass: 'standard',
    config: JOURNAL,
  });
  try {
    const rows = journal.export();
    assert.equal(failedLogins(rows).length, 20, 'and they are on disk');
    const aggregates = rows.filter((e) => e.event === 'connection-flood' || e.event === 'records-aggregated');
    assert.ok(aggregates.length >= FLOODERS.length, `the flood is aggregated per source (${aggregates.length})`);
    const notices = rows.filter((e) => e.event === 'journal-drop');
    assert.ok(notices.length > 0 && notices.every((n) => /^dropped [\d,]+ connection entries/.test(n.detail ?? '')));
    const lost = notices.reduce((n, e) => n + Number(/^dropped ([\d,]+)/.exec(e.detail!)![1]!.replace(/,/g, '')), 0);
    assert.ok(handshakesOnRecord(rows) + lost >= HANDSHAKES, 'what is kept and what is stated lost cover the flood');
  } finally {
    await journal.close();
  }
}

test(
  'device: a flood of bare handshakes leaves all 20 failed logins in the journal',
  { timeout: 240_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const unit = fleet.units.plug!;
    const stateDir = join(fleet.work, 'state');
    const agent = await startDeviceAgent({
      bundleDir: unit.dir,
      stateDir,
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      journal: JOURNAL,
    });
    closers.push(() => agent.close());
    await assertEvidenceSurvives({
      port: agent.web.port,
      stateDir,
      guess: async (from, i) => (await (await WebClient.for(agent.web.url, unit, from)).login(`wrong-${i}`)).status,
      rows: () => agent.journal.list({ limit: 1_000, tier: 'security' }),
      stop: () => agent.close(),
    });
  },
);

test(
  "hub: a flood of bare handshakes leaves all 20 failed logins in the hub's journal",
  { timeout: 240_000 },
  async () => {
    const work = await mkdtemp(join(tmpdir(), 'bulwark-flood-hub-'));
    const stateDir = join(work, 'hub');
    const service = await startHubService({ stateDir, web: { port: 0 }, journal: JOURNAL });
    closers.push(() => service.close());
    await mkdir(join(work, 'trust'));
    await copyFile(join(stateDir, 'hub-cert.pem'), join(work, 'trust', 'web-cert.pem'));
    const trust: ProvisionedUnit = { serial: 'hub', dir: join(work, 'trust'), setupCode: '', claimCode: '' };
    await assertEvidenceSurvives({
      port: service.web!.port,
      stateDir,
      guess: async (from, i) => {
        const c = await WebClient.for(service.web!.url, trust, from);
        const page = await c.get('/login');
        return (await c.send('POST', '/login', { form: { password: `wrong-${i}`, csrf: WebClient.csrfOf(page.body) } }))
          .status;
      },
      rows: () => Promise.resolve(service.journal.list({ limit: 1_000, tier: 'security' })),
      stop: () => service.close(),
    });
  },
);

test(
  "cloud: a flood of bare handshakes leaves all 20 failed logins in the cloud's journal",
  { timeout: 240_000 },
  async () => {
    const units = await makeUnits('plug', 1);
    const stateDir = join(units.work, 'cloud');
    const cloud = await startCloud({
      factoryDir: units.factoryDir,
      stateDir,
      manifests: [units.manifest],
      broker: { port: 0 },
      api: { port: 0 },
      journal: JOURNAL,
    });
    closers.push(() => cloud.close());
    const email = 'owner@example.com';
    assert.equal(
      (await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).register(email, 'marble falcon tundra 42'))
        .status,
      202,
    );
    await assertEvidenceSurvives({
      port: cloud.api.port,
      stateDir,
      guess: async (from, i) =>
        (await new ApiClient(cloud.api.url, cloud.credentials.caCertPem, from).login(email, `wrong ${i}`)).status,
      rows: () => Promise.resolve(cloud.journal.list({ limit: 1_000, tier: 'security' })),
      stop: () => cloud.close(),
    });
  },
);
