// The updater and the unit's clock (docs/clock.md): a real release repository served over HTTP, an
// in-process updater per unit, and the unit's clock as src/clock's FloorClock with the wall clock the
// test sets (1970, a year slow, two days fast, right, jumping). Expiry is judged against the later of
// the wall clock and the floor; a verified signed timestamp raises the floor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCertificateAuthority, issueServerCertificate, loadCaSigner } from '../../src/identity/index.ts';
import { createRepositoryHandler } from '../../src/release/index.ts';
import { FloorClock } from '../../src/clock/index.ts';
import { startUpdater, TIMESTAMP_SIGNED_AT_FIELD, type CheckOutcome } from '../../src/update/index.ts';
import { commit, loadRepository, FACTORY_UPDATE_KEYS_DIR } from '../../src/release/repository.ts';
import { loadUpdateKeys } from '../../src/release/update-keys.ts';
import { makeUpdateWorld, publish, UpdateServer, type UpdateWorld } from './support.ts';

const DAY = 86_400_000;
let world: UpdateWorld;
let server: UpdateServer;
let units = 0;

before(async () => {
  world = await makeUpdateWorld();
  await publish(world, '1.1.0', 1);
  server = await UpdateServer.start(world.repoDir);
});
after(() => server.close());

/** A unit clock whose wall clock reads `wall()` and whose floor starts at `floor`. */
function unitClock(floor: number, wall: () => number): FloorClock {
  // The monotonic clock stands still: only a trusted time can move the floor here.
  return new FloorClock([{ at: floor, source: 'saved clock' }], { wall, monotonic: () => 0 });
}

/** A unit with a fresh state folder, its updater on `clock`, and its journal. */
/** A repository other than the world's plain HTTP one, and the CA its certificate is pinned to. */
type Repository = { url: string; caCertPem: string };

async function unit(clock: FloorClock, repository?: Repository) {
  const dir = world.unit.dir;
  const unitJson = JSON.parse(await readFile(join(dir, 'unit.json'), 'utf8')) as { createdAt: string };
  const journal: Array<{ event: string; result: string; detail?: string }> = [];
  const updater = await startUpdater({
    stateDir: await mkdtemp(join(world.work, `clock-unit-${++units}-`)),
    bundle: {
      unit: { model: 'plug', createdAt: unitJson.createdAt },
      caCertPem: repository?.caCertPem ?? (await readFile(join(dir, 'ca-cert.pem'), 'utf8')),
      updateRootJson: await readFile(join(dir, 'update-root.json'), 'utf8'),
    },
    journal: { record: (e) => journal.push(e) },
    slot: 'factory',
    config: { repositoryUrl: repository?.url ?? server.url, firstCheckDelayMs: 3_600_000, restartDelayMs: 60_000 },
    onRestart: () => undefined,
    clock,
  });
  return { updater, journal };
}

/** Re-signs the repository's timestamp as of `now` (a stale one, when `now` is long ago). */
async function signTimestampAt(now: Date): Promise<void> {
  const l = await loadRepository(world.repoDir);
  const keys = await loadUpdateKeys(join(world.fleet.factoryDir, FACTORY_UPDATE_KEYS_DIR));
  await commit(world.repoDir, l, keys, { expiry: l.record.expiry, now });
}

async function check(
  clock: FloorClock,
  repository?: Repository,
): Promise<{ outcome: CheckOutcome; journal: Array<{ event: string; detail?: string }> }> {
  const u = await unit(clock, repository);
  const outcome = await u.updater.checkNow({ manual: true });
  await u.updater.close();
  return { outcome, journal: u.journal };
}

test('the release side signs when it signed the timestamp, inside what the timestamp key signs', async () => {
  const before = Date.now();
  await signTimestampAt(new Date());
  const l = await loadRepository(world.repoDir);
  const at = Date.parse(l.timestamp.signed.unrecognizedFields[TIMESTAMP_SIGNED_AT_FIELD] as string);
  assert.ok(at >= before - 1_000 && at <= Date.now(), `signed at ${at}`);
  // Changing the field breaks the signature: the timestamp key's signature covers it.
  l.timestamp.signed.unrecognizedFields[TIMESTAMP_SIGNED_AT_FIELD] = '2099-01-01T00:00:00Z';
  assert.throws(() => l.root.verifyDelegate('timestamp', l.timestamp), /signed by 0\/1/);
});

test('a unit at 1970 checks against its floor, says so, installs, and learns the signed time', async () => {
  const floor = Date.now() - 3_600_000;
  const clock = unitClock(floor, () => 0);
  const { outcome, journal } = await check(clock);
  assert.equal(outcome.outcome, 'installed', JSON.stringify(outcome));
  const said = journal.find((e) => e.event === 'clock');
  assert.match(said?.detail ?? '', /clock reads 1970-01-01 00:00, below what it knows \(\d{4}-.*saved clock\)/);
  assert.ok(clock.floor() > floor + 3_000_000, 'the floor rose to the signed timestamp');
  assert.equal(clock.state().source, 'signed timestamp');
  assert.ok(clock.floor() <= Date.now(), 'never past the true time');
});

test('a unit a year slow still refuses a timestamp that expired before its floor', async () => {
  await signTimestampAt(new Date(Date.now() - 40 * DAY));
  try {
    const clock = unitClock(Date.now(), () => Date.now() - 365 * DAY);
    const { outcome } = await check(clock);
    assert.equal(outcome.outcome, 'refused', JSON.stringify(outcome));
    assert.equal(outcome.code, 'UPDATE_METADATA_EXPIRED');
    assert.match(outcome.detail ?? '', /timestamp\.json is expired: .* before what this unit knows/);
  } finally {
    await signTimestampAt(new Date());
  }
});

test('a unit two days fast refuses a fresh timestamp and names its clock as the likely cause', async () => {
  const clock = unitClock(Date.now() - DAY, () => Date.now() + 2 * DAY);
  const { outcome, journal } = await check(clock);
  assert.equal(outcome.outcome, 'refused', JSON.stringify(outcome));
  assert.equal(outcome.code, 'UPDATE_METADATA_EXPIRED');
  assert.match(outcome.detail ?? '', /timestamp\.json is expired: .* before this unit's clock .*: likely a fast clock/);
  assert.equal(
    journal.find((e) => e.event === 'clock'),
    undefined,
    'a fast clock is not below the floor',
  );
  assert.ok(clock.floor() < Date.now(), 'an expired timestamp raises nothing');
});

test('a unit with a plausible clock installs a valid update and raises its floor', async () => {
  const floor = Date.parse('2026-12-01T00:00:00Z');
  const clock = unitClock(floor, () => Date.now());
  const { outcome, journal } = await check(clock);
  assert.equal(outcome.outcome, 'installed', JSON.stringify(outcome));
  assert.equal(
    journal.find((e) => e.event === 'clock'),
    undefined,
  );
  assert.equal(clock.state().source, 'signed timestamp');
  assert.ok(clock.floor() > Date.now() - 60_000 && clock.floor() <= Date.now());
});

test('a wall clock that jumps 31 days forward and back refuses while ahead and installs when back', async () => {
  let offset = 31 * DAY;
  const clock = unitClock(Date.now() - DAY, () => Date.now() + offset);
  const ahead = await check(clock);
  assert.equal(ahead.outcome.code, 'UPDATE_METADATA_EXPIRED');
  assert.match(ahead.outcome.detail ?? '', /stale metadata, or a clock far off/);
  assert.ok(clock.floor() <= Date.now(), 'the jump did not move the floor');
  offset = -31 * DAY;
  const back = await check(clock);
  assert.equal(back.outcome.outcome, 'installed', JSON.stringify(back.outcome));
  offset = 0;
  assert.equal((await check(clock)).outcome.outcome, 'installed');
});

test('a unit at 1970 reaches an HTTPS repository whose certificate is valid at its floor, and installs', async () => {
  // The certificate is valid from +10 to +20 days: OpenSSL, at the true time, sees it as not yet valid, as a
  // unit at 1970 sees every certificate; the unit's floor (+11 days) is inside its validity.
  const floor = Date.now() + 11 * DAY;
  const ca = await createCertificateAuthority('Maker Device CA');
  const validity = { notBefore: new Date(Date.now() + 10 * DAY), notAfter: new Date(Date.now() + 20 * DAY) };
  const cert = await issueServerCertificate(await loadCaSigner(ca.certPem, ca.privateKeyPem), [], validity);
  const handler = createRepositoryHandler(world.repoDir, '/updates');
  const https = createServer({ cert: cert.certPem, key: cert.privateKeyPem }, (req, res) => {
    void handler(req, res).then((handled) => (handled ? undefined : res.writeHead(404).end()));
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  const l = await loadRepository(world.repoDir);
  const keys = await loadUpdateKeys(join(world.fleet.factoryDir, FACTORY_UPDATE_KEYS_DIR));
  // Metadata that is still valid at the floor.
  const expiry = { ...l.record.expiry, timestampSeconds: 30 * 86_400, snapshotSeconds: 30 * 86_400 };
  await commit(world.repoDir, l, keys, { snapshot: true, expiry, now: new Date() });
  try {
    const url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/updates`;
    const { outcome, journal } = await check(
      unitClock(floor, () => 0),
      { url, caCertPem: ca.certPem },
    );
    assert.equal(outcome.outcome, 'installed', JSON.stringify(outcome));
    assert.match(journal.find((e) => e.event === 'clock')?.detail ?? '', /clock reads 1970-01-01/);
  } finally {
    https.closeAllConnections();
    await new Promise<void>((r) => https.close(() => r()));
  }
});
