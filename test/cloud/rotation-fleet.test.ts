// Renewal of operational identities across a fleet (issue 19). 200 units (a few provisioned bundles,
// the rest birth certificates from the factory CA registered with the cloud) enrol against the cloud's
// embedded broker, then renew together on a fake clock moved past two thirds of the validity while
// they queue telemetry at QoS 1: every acknowledged reading is stored exactly once and each unit ends
// on a new key. The same with 200 units on Mosquitto. Then 100 power cuts (SIGKILL of a process
// renewing, renewing-unit.ts) at random moments of a renewal: each unit connects again afterwards with
// one of its two identities.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startCloud, factoryIssuer, type CloudService } from '../../src/cloud/index.ts';
import {
  CloudLink,
  OPERATIONAL_IDENTITY_FILE,
  renewAt,
  type CloudLinkIdentity,
  type OperationalIdentityState,
} from '../../src/cloudlink/index.ts';
import { certificateFingerprint, generateSerial } from '../../src/identity/index.ts';
import { makeUnits, linkIdentity, startMosquitto, waitFor, type TestMosquitto } from './support.ts';
import { needTool } from '../support/tools.ts';

const FLEET = 200;
const MOSQUITTO_FLEET = 200;
const BUNDLES = 4;
const QUEUE_EVERY_MS = 500;
const UNITS_CUT = 10;
const CUTS_EACH = 10;
const CUT_WINDOW_MS = 1_500;
/** Cuts timed from the request sent fall within this after it. */
const CUT_AFTER_REQUEST_MS = 300;

interface Fleet {
  work: string;
  factoryDir: string;
  manifest: string;
  identities: CloudLinkIdentity[];
  /** Units made from the factory CA, not in the manifest: the cloud learns them by importUnits. */
  imported: CloudLinkIdentity[];
}

let fleet: Fleet;
let provisionMs = 0;
let cloud: CloudService;
const opened: CloudLink[] = [];

/** A few real bundles, the rest birth certificates from the factory CA (provisioning 200 takes about a minute). */
async function makeFleet(): Promise<Fleet> {
  const started = Date.now();
  const made = await makeUnits('plug', BUNDLES);
  const identities = await Promise.all(made.units.map((u) => linkIdentity(u)));
  const issuer = await factoryIssuer(made.factoryDir);
  const imported: CloudLinkIdentity[] = [];
  for (let i = BUNDLES; i < FLEET; i++) {
    const serial = generateSerial('PLG');
    const cert = await issuer.issueClient(serial);
    imported.push({ serial, caCertPem: issuer.caCertPem, deviceCertPem: cert.certPem, deviceKeyPem: cert.keyPem });
  }
  identities.push(...imported);
  await mkdir(join(made.work, 'ids'));
  for (const id of identities) await writeFile(join(made.work, 'ids', `${id.serial}.json`), JSON.stringify(id));
  provisionMs = Date.now() - started;
  return { work: made.work, factoryDir: made.factoryDir, manifest: made.manifest, identities, imported };
}

async function importFleet(c: CloudService): Promise<void> {
  await c.store.importUnits(
    fleet.imported.map((id) => ({
      serial: id.serial,
      model: 'plug',
      deviceCertFingerprint: certificateFingerprint(id.deviceCertPem),
      claimCodeHash: randomBytes(32).toString('hex'),
      createdAt: new Date().toISOString(),
    })),
    Date.now(),
  );
}

before(async () => {
  fleet = await makeFleet();
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0, birthCertificates: 'enrolment' },
    api: { port: 0 },
    issuing: { operationalDays: 30, minEnrolIntervalMs: 1_000 },
  });
  await importFleet(cloud);
});

after(async () => {
  for (const l of opened) await l.close();
  // A referenced timer while the cloud closes: its close waits on something that alone does not keep Node running,
  // and the test process would end before the folder is removed.
  const alive = setTimeout(() => undefined, 30_000);
  await cloud?.close();
  clearTimeout(alive);
  if (fleet) await rm(fleet.work, { recursive: true, force: true });
});

/** The fleet's clock for certificates: real time until the test freezes it past the renewal time. */
const clock: { frozenAt: number | undefined } = { frozenAt: undefined };

const LINK_CONFIG = {
  reconnectBaseMs: 100,
  reconnectMaxMs: 1_000,
  syncIntervalMs: 1_000,
  // Above the cloud's receipt delay (2.5 s): a younger reading is not yet reported stored and would be sent again.
  syncAgeMs: 3_000,
  enrolTimeoutMs: 10_000,
  enrolRetryBaseMs: 500,
  enrolRetryMaxMs: 4_000,
  identityCheckIntervalMs: 200,
};

async function openLink(url: string, id: CloudLinkIdentity, stateDir: string, now?: () => number): Promise<CloudLink> {
  const link = await CloudLink.open({
    identity: id,
    stateDir,
    config: { url, ...LINK_CONFIG },
    execute: () => Promise.resolve(undefined),
    state: () => ({ at: Date.now(), capabilities: [] }),
    // The units' clock only: the broker and the cloud judge and issue at the real time.
    now: now ?? (() => clock.frozenAt ?? Date.now()),
    // No jitter: a renewed certificate is not due again on the frozen clock.
    random: () => 0,
  });
  opened.push(link);
  return link;
}

async function identityFile(stateDir: string): Promise<OperationalIdentityState> {
  return JSON.parse(await readFile(join(stateDir, OPERATIONAL_IDENTITY_FILE), 'utf8')) as OperationalIdentityState;
}

interface Member {
  id: CloudLinkIdentity;
  dir: string;
  link: CloudLink;
  queued: number[];
  firstKeyPem?: string;
  firstNotAfter?: number;
}

/** Waits until every member has an operational certificate it has connected with. */
async function allOperational(members: Member[], timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  await waitFor(
    () => members.every((m) => m.link.connected && m.link.identity.kind === 'operational' && !m.link.identity.pending),
    timeoutMs,
    what,
    200,
  );
  return Date.now() - started;
}

/**
 * The fleet scenario on one broker: enrol, renew on a frozen clock past 2/3 of the validity while
 * queueing telemetry, drain; every queued reading stored once, every unit on a new key.
 */
async function renewFleet(t: TestContext, c: CloudService, url: string, count: number, tag: string): Promise<void> {
  const members: Member[] = [];
  for (const id of fleet.identities.slice(0, count)) {
    const dir = join(fleet.work, tag, id.serial);
    members.push({ id, dir, link: await openLink(url, id, dir), queued: [] });
  }
  for (const m of members) m.link.start();
  const enrolMs = await allOperational(members, 120_000, `${count} units to enrol`);
  for (const m of members) {
    m.firstKeyPem = (await identityFile(m.dir)).current!.keyPem;
    m.firstNotAfter = m.link.identity.notAfter;
  }
  const received = c.traffic.counters.telemetry;
  const offline = { n: 0 };
  const queueing = setInterval(() => {
    for (const m of members) {
      if (!m.link.connected) offline.n++;
      m.queued.push(m.link.queueTelemetry({ energy: m.queued.length }));
    }
  }, QUEUE_EVERY_MS);
  try {
    // Certificates issued from now on renew later than the latest first one, so the frozen clock renews each once.
    await new Promise((r) => setTimeout(r, 2_000));
    clock.frozenAt = Math.max(...members.map((m) => m.link.identity.renewAt!)) + 1_000;
    const started = Date.now();
    await waitFor(
      () => members.every((m) => m.link.identity.notAfter !== m.firstNotAfter),
      120_000,
      'every unit to renew',
      200,
    );
    const renewMs = Date.now() - started;
    await allOperational(members, 60_000, 'every unit to connect with its renewed certificate');
    t.diagnostic(
      `${tag}: ${count} units enrolled in ${enrolMs} ms, renewed and reconnected in ${Date.now() - started} ms; ` +
        `${offline.n} readings queued while a unit was offline (switching)`,
    );
    t.diagnostic(`${tag}: all certificates received ${renewMs} ms after the clock moved`);
    await new Promise((r) => setTimeout(r, 1_000));
  } finally {
    clearInterval(queueing);
    clock.frozenAt = undefined;
  }
  await drainAndCheck(t, c, members, received, tag);
}

async function drainAndCheck(
  t: TestContext,
  c: CloudService,
  members: Member[],
  receivedBefore: number,
  tag: string,
): Promise<void> {
  const started = Date.now();
  await waitFor(() => members.every((m) => m.link.outbox.size === 0), 60_000, 'every outbox to drain', 200);
  t.diagnostic(`${tag}: outboxes drained (every reading confirmed stored by a receipt) in ${Date.now() - started} ms`);
  let queued = 0;
  for (const m of members) {
    const rows = await c.store.telemetry(m.id.serial, 0, 100_000);
    const seqs = rows.map((r) => r.seq);
    assert.equal(new Set(seqs).size, seqs.length, `${m.id.serial}: none stored twice`);
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      [...m.queued].sort((a, b) => a - b),
      `${m.id.serial}: exactly the seqs queued`,
    );
    const now = await identityFile(m.dir);
    assert.notEqual(now.current!.keyPem, m.firstKeyPem, `${m.id.serial}: a new key`);
    assert.equal(now.next, undefined);
    queued += m.queued.length;
  }
  const received = c.traffic.counters.telemetry - receivedBefore;
  const stats = members.reduce(
    (s, m) => ({
      published: s.published + m.link.stats.published,
      confirmed: s.confirmed + m.link.stats.confirmed,
      resent: s.resent + m.link.stats.resent,
    }),
    { published: 0, confirmed: 0, resent: 0 },
  );
  t.diagnostic(
    `${tag}: ${queued} readings queued and stored; cloud received ${received} messages (duplicates ` +
      `${received - queued}); links: ${JSON.stringify(stats)}`,
  );
  assert.ok(received >= queued, 'the cloud received every reading');
  assert.equal(stats.confirmed, queued, 'each reading confirmed once');
  for (const m of members) await m.link.close();
}

test(
  `${FLEET} units renew on a moved clock while queueing telemetry at QoS 1 on the embedded broker: none lost or ` +
    'stored twice, each on a new key',
  { timeout: 300_000 },
  async (t) => {
    t.diagnostic(
      `provisioning: ${BUNDLES} bundles + ${FLEET - BUNDLES} factory birth certificates in ${provisionMs} ms`,
    );
    await renewFleet(t, cloud, cloud.brokerUrl, FLEET, 'embedded');
  },
);

test(
  `${MOSQUITTO_FLEET} units renew the same way on Mosquitto: none lost or stored twice, each on a new key`,
  { timeout: 240_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const configDir = join(fleet.work, 'mosquitto');
    let broker: TestMosquitto | undefined;
    let onMosquitto: CloudService | undefined;
    try {
      broker = await startMosquitto({ factoryDir: fleet.factoryDir, dir: configDir, instances: ['1'] });
      onMosquitto = await startCloud({
        factoryDir: fleet.factoryDir,
        stateDir: join(fleet.work, 'cloud-mosquitto'),
        instance: '1',
        brokerUrl: broker.enrolmentUrl,
        // 'full': the device listener takes birth certificates too, so one URL serves enrolment and renewal.
        mosquitto: { configDir, pidFile: broker.pidFile!, birthCertificates: 'full' },
        manifests: [fleet.manifest],
        api: { port: 0 },
        issuing: { operationalDays: 30, minEnrolIntervalMs: 1_000 },
      });
      await importFleet(onMosquitto);
      await renewFleet(t, onMosquitto, broker.url, MOSQUITTO_FLEET, 'mosquitto');
    } finally {
      await onMosquitto?.close();
      await broker?.stop();
    }
  },
);

/** Where a cut fell: by the unit's events seen before the kill and its identity file after it. */
type CutMoment = 'before-request' | 'requested' | 'certificate-on-disk' | 'switched';

interface Cut {
  moment: CutMoment;
  from: CutOrigin;
  delayMs: number;
  reconnectMs: number;
  /** The key the unit connected with after the cut: its old one, or the one the renewal brought. */
  endedOn: 'old key' | 'new key';
  /** When the unit's events came, ms after its first connection ('renewal-due info', 'enrol-requested info', ...). */
  timeline: Record<string, number>;
}

/** The first time of each event (its name and result) after the unit's first connection, the cut's origin. */
function timeline(events: string[]): Record<string, number> {
  const parsed = events.map((e) => e.split(' ')).map((p) => ({ key: `${p[0]} ${p[1]}`, t: Number(p.at(-1)) }));
  const origin = parsed.find((p) => p.key === 'connect success')?.t ?? 0;
  const out: Record<string, number> = {};
  for (const p of parsed) out[p.key] ??= p.t - origin;
  return out;
}

/**
 * The event a cut's delay counts from: the unit's connection (the renewal starts there, not at a slow start-up), or
 * its request sent, for the short span in which the certificate arrives and the unit switches to it.
 */
type CutOrigin = 'connect success' | 'enrol-requested info';

/**
 * Runs renewing-unit.ts on the unit's state folder, its clock past the renewal time; SIGKILLs it `delayMs` after
 * `from` (a unit that never gets there is killed after 30 s and fails).
 */
async function renewAndKill(
  id: CloudLinkIdentity,
  dir: string,
  shiftMs: number,
  cut: { from: CutOrigin; delayMs: number },
): Promise<string[]> {
  const { from, delayMs } = cut;
  const script = join(import.meta.dirname, 'renewing-unit.ts');
  const idFile = join(fleet.work, 'ids', `${id.serial}.json`);
  const child = spawn(process.execPath, [script, cloud.brokerUrl, dir, idFile, String(shiftMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const connected = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as { event: string; result?: string; t: number };
      events.push(`${e.event} ${e.result ?? ''} ${e.t}`);
      if (`${e.event} ${e.result}` === from) resolve();
    });
  });
  let late = false;
  const guard = setTimeout(() => ((late = true), child.kill('SIGKILL')), 30_000);
  await Promise.race([connected, exited]);
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  await exited;
  clearTimeout(timer);
  clearTimeout(guard);
  assert.ok(!late, `the unit process reached '${from}' within 30 s: ${events.join(', ')}`);
  assert.equal(child.signalCode, 'SIGKILL', `the unit process ended only by the cut: ${events.join(', ')}`);
  return events;
}

function cutMoment(events: string[], before: OperationalIdentityState, after: OperationalIdentityState): CutMoment {
  if (after.current?.keyPem !== before.current?.keyPem) return 'switched';
  if (after.next) return 'certificate-on-disk';
  return events.some((e) => e.startsWith('enrol-requested')) ? 'requested' : 'before-request';
}

/** One cut of `id`'s renewal, then the unit opened again on the real clock: it must connect. */
async function cutOnce(id: CloudLinkIdentity, dir: string, from: CutOrigin): Promise<Cut> {
  const before = await identityFile(dir);
  const shiftMs = renewAt(before.current!) - Date.now() + 1_000;
  const cut = {
    from,
    delayMs: Math.floor(Math.random() * (from === 'connect success' ? CUT_WINDOW_MS : CUT_AFTER_REQUEST_MS)),
  };
  const events = await renewAndKill(id, dir, shiftMs, cut);
  const after = await identityFile(dir);
  const moment = cutMoment(events, before, after);
  const started = Date.now();
  const link = await openLink(cloud.brokerUrl, id, dir, Date.now);
  link.start();
  const connected = await link.waitConnected(20_000);
  const reconnectMs = Date.now() - started;
  await link.close();
  assert.ok(connected, `${id.serial} connects after a cut ${cut.delayMs} ms after '${from}' (${moment})`);
  const ended = (await identityFile(dir)).current?.keyPem;
  const renewed = after.next?.keyPem ?? after.current?.keyPem;
  assert.ok(ended === before.current?.keyPem || ended === renewed, 'with one of its two identities');
  const endedOn = ended === before.current?.keyPem ? 'old key' : 'new key';
  // A certificate on disk is used: the renewal is not lost by the cut.
  const expected = moment === 'certificate-on-disk' || moment === 'switched' ? 'new key' : 'old key';
  assert.equal(endedOn, expected, `${id.serial} after a cut (${moment})`);
  return { moment, from, delayMs: cut.delayMs, reconnectMs, endedOn, timeline: timeline(events) };
}

test(
  `${UNITS_CUT * CUTS_EACH} power cuts at random moments of a renewal leave every unit able to connect`,
  { timeout: 240_000 },
  async (t) => {
    // The units of the first test, which all have an operational identity on this cloud.
    const units = fleet.identities.slice(0, UNITS_CUT);
    const started = Date.now();
    const cuts = (
      await Promise.all(
        units.map(async (id) => {
          const dir = join(fleet.work, 'embedded', id.serial);
          const done: Cut[] = [];
          // Half the cuts anywhere in the renewal, half in the short span after the request.
          for (let i = 0; i < CUTS_EACH; i++)
            done.push(await cutOnce(id, dir, i % 2 ? 'enrol-requested info' : 'connect success'));
          return done;
        }),
      )
    ).flat();
    assert.equal(cuts.length, UNITS_CUT * CUTS_EACH);
    const by = (m: CutMoment, from?: CutOrigin): number =>
      cuts.filter((c) => c.moment === m && (from === undefined || c.from === from)).length;
    for (const from of ['connect success', 'enrol-requested info'] as const)
      t.diagnostic(
        `cuts 0..${from === 'connect success' ? CUT_WINDOW_MS : CUT_AFTER_REQUEST_MS} ms after '${from}': ` +
          `before the request ${by('before-request', from)}, request sent ${by('requested', from)}, ` +
          `certificate on disk ${by('certificate-on-disk', from)}, after the switch ${by('switched', from)}`,
      );
    t.diagnostic(`${cuts.length} cuts in ${Date.now() - started} ms`);
    assert.ok(by('before-request') + by('requested') > 0, 'some cuts fell before the certificate arrived');
    assert.ok(by('certificate-on-disk') + by('switched') > 0, 'some fell after it arrived');
    for (const key of [
      'renewal-due info',
      'enrol-requested info',
      'certificate-received success',
      'identity-switched success',
    ]) {
      const at = cuts
        .map((c) => c.timeline[key])
        .filter((v) => v !== undefined)
        .sort((a, b) => a - b);
      t.diagnostic(`${key}: ${at.length} cuts after it, at ${at[0]}..${at.at(-1)} ms (median ${at[at.length >> 1]})`);
    }
    const refused = cuts.filter((c) => Object.keys(c.timeline).some((k) => k.startsWith('enrol-refused'))).length;
    t.diagnostic(`cuts whose renewal was first refused (the cloud's minimum interval): ${refused}`);
    const times = cuts.map((c) => c.reconnectMs).sort((a, b) => a - b);
    t.diagnostic(
      `reconnect after a cut: median ${times[times.length >> 1]} ms, max ${times.at(-1)} ms; with ` +
        `${JSON.stringify(
          Object.groupBy(cuts, (c) => c.endedOn),
          (_k, v: unknown) => (Array.isArray(v) ? v.length : v),
        )}`,
    );
  },
);
