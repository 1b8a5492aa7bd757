// One test per attack on the update path, each against a running device (`bulwark device run`,
// supervisor and agent as real processes) and a real HTTP update server on 127.0.0.1 that the
// attacker controls. Each attack must be refused with its reason in the device's journal, and
// the device must keep running the image it ran before.
//
// The tests share one device and one repository and run in order: each publishes a new release
// so the device has fresh metadata to fetch, then the attacker interferes with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { WebClient } from '../support/device.ts';
import {
  makeUpdateWorld,
  publish,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  ownerClient,
  checkNow,
  updateJournal,
  type UpdateWorld,
} from './support.ts';
import { buildReferenceImage, refreshRepository, type PublishResult } from '../../src/release/index.ts';
import {
  loadTufModels,
  generateSigningKey,
  signWith,
  signingKeyFromPem,
  expiresIn,
  metadataBytes,
  sha256Hex,
  tufKeyOf,
  TUF_SPEC_VERSION,
} from '../../src/release/tuf.ts';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess;
let owner: { client: WebClient; csrf: string };
let readyCount = 1;
let running = '0.1.0';

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
  // Checks only when the owner asks (the first automatic one is an hour away); short network bounds.
  const configFile = await writeUpdateConfig(world.work, {
    firstCheckDelayMs: 3_600_000,
    checkJitterMs: 0,
    restartDelayMs: 100,
    idleTimeoutMs: 1_500,
    metadataDeadlineMs: 3_000,
    downloadDeadlineBaseMs: 3_000,
    minDownloadBytesPerSecond: 1_048_576,
  });
  device = new DeviceProcess({
    bundle: world.unit.dir,
    state: join(world.work, 'state'),
    updateUrl: server.url,
    configFile,
  });
  const ready = await device.ready(1);
  assert.equal(ready.firmware, '0.1.0');
  owner = await ownerClient(ready.url, world.unit);
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

const metadataFile = (name: string): Promise<Buffer> => readFile(join(world.repoDir, 'metadata', name));

/** Presses "check now", then asserts the refusal: the message, the journal entry, and the unchanged firmware. */
async function expectRefused(code: string, why: RegExp): Promise<void> {
  const message = await checkNow(owner);
  assert.match(message, new RegExp(`refused \\(${code}\\)`), message);
  const [latest] = await updateJournal(owner);
  assert.equal(latest?.event, 'refused');
  assert.equal(latest?.result, 'refused');
  assert.match(latest?.detail ?? '', new RegExp(code));
  assert.match(latest?.detail ?? '', why);
  const status = JSON.parse((await owner.client.get('/api/status')).body) as { firmware: string };
  assert.equal(status.firmware, running, 'the device still runs the image it ran before');
  assert.equal(device.readies.length, readyCount, 'the device did not restart');
  server.clear();
}

function serve(res: ServerResponse, body: Buffer | string): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function imageUrl(r: PublishResult): RegExp {
  return new RegExp(`/targets/plug/${r.sha256}\\.image\\.tar$`);
}

test('a tampered image is refused: its bytes do not match the signed hash', { timeout: 60_000 }, async () => {
  const r = await publish(world, '1.1.0', 2);
  const bytes = await readFile(r.files.image);
  const evil = Buffer.from(bytes);
  evil[600] = evil[600]! ^ 0x20; // one flipped bit inside the entry point, same length
  server.attack(imageUrl(r), (_req, res) => serve(res, evil));
  await expectRefused('UPDATE_IMAGE_HASH_MISMATCH', /does not match its signed length and hash/);
});

test(
  'tampered metadata is refused: a changed timestamp fails its signature, a changed targets file its pinned hash',
  { timeout: 60_000 },
  async () => {
    const r = await publish(world, '1.1.1', 2);
    const ts = JSON.parse((await metadataFile('timestamp.json')).toString()) as { signed: { expires: string } };
    ts.signed.expires = '2099-01-01T00:00:00Z'; // a frozen repository would love this
    server.attack(/\/metadata\/timestamp\.json$/, (_req, res) => serve(res, JSON.stringify(ts)));
    await expectRefused('UPDATE_METADATA_UNSIGNED', /timestamp was signed by 0\/1 keys/);

    const targets = JSON.parse((await metadataFile(`${r.metadata.targets}.targets.json`)).toString()) as {
      signed: { targets: Record<string, { custom: { version: string } }> };
    };
    targets.signed.targets['plug/image.tar']!.custom.version = '9.9.9';
    server.attack(new RegExp(`/metadata/${r.metadata.targets}\\.targets\\.json$`), (_req, res) =>
      serve(res, JSON.stringify(targets)),
    );
    await expectRefused('UPDATE_METADATA_MISMATCH', /targets\.json does not match the length and hash/);
  },
);

test(
  "an image signed by an unknown key is refused: the attacker's whole chain fails at its first link",
  { timeout: 60_000 },
  async () => {
    await publish(world, '1.1.2', 2);
    // The attacker builds an image and a complete metadata chain for it, all signed with keys of its own.
    const m = await loadTufModels();
    const key = generateSigningKey();
    const artifact = join(world.work, 'evil.tar');
    await buildReferenceImage(artifact, {
      model: 'plug',
      version: '6.6.6',
      securityVersion: 99,
      entrySource: 'process.exit(0);\n',
    });
    const image = await readFile(artifact);
    const sha = sha256Hex(image);
    const current = JSON.parse((await metadataFile('timestamp.json')).toString()) as {
      signed: { version: number; snapshot_meta?: unknown; meta: Record<string, { version: number }> };
    };
    const v = current.signed.version + 10;
    const targets = new m.Metadata(
      new m.Targets({
        version: v,
        specVersion: TUF_SPEC_VERSION,
        expires: expiresIn(86_400),
        targets: {
          'plug/image.tar': new m.TargetFile({
            path: 'plug/image.tar',
            length: image.length,
            hashes: { sha256: sha },
            unrecognizedFields: {
              custom: { format: 'bulwark-image/1', model: 'plug', version: '6.6.6', securityVersion: 99 },
            },
          }),
        },
      }),
    );
    signWith(m, targets, [key]);
    const tBytes = metadataBytes(targets);
    const snapshot = new m.Metadata(
      new m.Snapshot({
        version: v,
        specVersion: TUF_SPEC_VERSION,
        expires: expiresIn(86_400),
        meta: {
          'targets.json': new m.MetaFile({ version: v, length: tBytes.length, hashes: { sha256: sha256Hex(tBytes) } }),
        },
      }),
    );
    signWith(m, snapshot, [key]);
    const sBytes = metadataBytes(snapshot);
    const timestamp = new m.Metadata(
      new m.Timestamp({
        version: v,
        specVersion: TUF_SPEC_VERSION,
        expires: expiresIn(86_400),
        snapshotMeta: new m.MetaFile({ version: v, length: sBytes.length, hashes: { sha256: sha256Hex(sBytes) } }),
      }),
    );
    signWith(m, timestamp, [key]);
    server.attack(/\/metadata\/timestamp\.json$/, (_req, res) => serve(res, metadataBytes(timestamp)));
    server.attack(new RegExp(`/metadata/${v}\\.snapshot\\.json$`), (_req, res) => serve(res, sBytes));
    server.attack(new RegExp(`/metadata/${v}\\.targets\\.json$`), (_req, res) => serve(res, tBytes));
    server.attack(new RegExp(`/targets/plug/${sha}\\.image\\.tar$`), (_req, res) => serve(res, image));
    await expectRefused('UPDATE_METADATA_UNSIGNED', /timestamp was signed by 0\/1 keys/);
    assert.ok(!server.requests.some((p) => p.includes(sha)), "the attacker's image was never even downloaded");
  },
);

test(
  'a new root signed below its threshold (one stolen root key of the three) is refused',
  { timeout: 60_000 },
  async () => {
    await publish(world, '1.1.3', 2);
    const m = await loadTufModels();
    const stolen = signingKeyFromPem(await readFile(join(world.fleet.factoryDir, 'update-keys', 'root-1.pem'), 'utf8'));
    const attackerTimestampKey = generateSigningKey();
    const rootJson = JSON.parse((await metadataFile('1.root.json')).toString()) as { signed: Record<string, unknown> };
    const root = m.Metadata.fromJSON(m.MetadataKind.Root, rootJson as never);
    // Version 2 hands the timestamp role to the attacker, signed by the one root key it stole.
    const forged = m.Root.fromJSON({
      ...root.signed.toJSON(),
      version: 2,
      expires: expiresIn(86_400),
      keys: {
        ...(root.signed.toJSON().keys as Record<string, unknown>),
        [attackerTimestampKey.keyId]: tufKeyOf(m, attackerTimestampKey).toJSON(),
      },
      roles: {
        ...(root.signed.toJSON().roles as Record<string, unknown>),
        timestamp: { keyids: [attackerTimestampKey.keyId], threshold: 1 },
      },
    } as never);
    const forgedRoot = new m.Metadata(forged);
    signWith(m, forgedRoot, [stolen]);
    server.attack(/\/metadata\/2\.root\.json$/, (_req, res) => serve(res, metadataBytes(forgedRoot)));
    await expectRefused('UPDATE_METADATA_UNSIGNED', /root was signed by 1\/2 keys/);
  },
);

test(
  'mix-and-match: the snapshot of one release with the targets of another is refused',
  { timeout: 60_000 },
  async () => {
    const older = await publish(world, '1.1.4', 2);
    const olderTargets = await metadataFile(`${older.metadata.targets}.targets.json`);
    const newer = await publish(world, '1.1.5', 2);
    server.attack(new RegExp(`/metadata/${newer.metadata.targets}\\.targets\\.json$`), (_req, res) =>
      serve(res, olderTargets),
    );
    await expectRefused(
      'UPDATE_METADATA_MISMATCH',
      /targets\.json does not match the length and hash the snapshot signed/,
    );
  },
);

test("an endless download is cut at the image's signed length", { timeout: 60_000 }, async () => {
  const r = await publish(world, '1.1.6', 2);
  let sent = 0;
  server.attack(imageUrl(r), (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: it never ends
    const chunk = Buffer.alloc(16_384, 0x61);
    const pump = (): void => {
      // Bounded on the attacker's side too: 64 MiB at most, and only while the device still reads.
      while (sent < 64 * 1_048_576 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  await expectRefused('UPDATE_TOO_LARGE', new RegExp(`past the ${r.length} bytes allowed`));
  // What the attacker wrote includes what the kernel's loopback buffers took and the device never read (their
  // autotuning reached 8.6 MiB in one CI run): well under the 64 MiB the attacker would send to a device that read on.
  assert.ok(sent < 24 * 1_048_576, `the device stopped reading early (the attacker sent ${sent} bytes)`);

  // A server that announces more than the signed length is refused before the body.
  server.attack(imageUrl(r), (_req, res) => {
    res.writeHead(200, { 'content-length': String(r.length * 1000) });
    res.end();
  });
  await expectRefused('UPDATE_TOO_LARGE', /announced/);
});

test(
  'a slow server is timed out: a trickling image, with a length or chunked, and a trickling timestamp',
  { timeout: 60_000 },
  async () => {
    const r = await publish(world, '1.1.7', 2);
    const bytes = await readFile(r.files.image);
    // With a length, or without one (a chunked body, one small chunk at a time).
    const drip =
      (body: Buffer, chunked = false) =>
      (_req: unknown, res: ServerResponse): void => {
        res.writeHead(
          200,
          chunked ? { 'content-type': 'application/octet-stream' } : { 'content-length': body.length },
        );
        let i = 0;
        const t = setInterval(() => {
          if (res.destroyed || i >= body.length || i > 100) {
            clearInterval(t);
            res.destroy();
            return;
          }
          res.write(body.subarray(i, i + 1));
          i += 1;
        }, 500); // a byte every half second: never idle long enough to trip the idle timeout
      };
    server.attack(imageUrl(r), drip(bytes));
    const started = Date.now();
    await expectRefused('UPDATE_TIMEOUT', /image: not received within/);
    assert.ok(Date.now() - started < 15_000);

    server.attack(imageUrl(r), drip(bytes, true));
    const chunkedStarted = Date.now();
    await expectRefused('UPDATE_TIMEOUT', /image: not received within/);
    assert.ok(Date.now() - chunkedStarted < 15_000);

    await refreshRepository({ repoDir: world.repoDir });
    server.attack(/\/metadata\/timestamp\.json$/, drip(await metadataFile('timestamp.json')));
    await expectRefused('UPDATE_TIMEOUT', /timestamp: not received within/);
  },
);

test(
  'without interference the device installs the latest release and restarts into it',
  { timeout: 90_000 },
  async () => {
    const message = await checkNow(owner);
    assert.match(message, /1\.1\.7 installed/);
    const ready = await device.ready(++readyCount);
    assert.deepEqual([ready.firmware, ready.slot], ['1.1.7', 'a']);
    await device.waitFor(() => device.decision(/^update: healthy 1\.1\.7/), 30_000, 'the health report');
    running = '1.1.7';
    owner = await ownerClient(ready.url, world.unit);
    const entries = await updateJournal(owner);
    assert.ok(entries.some((e) => e.event === 'installed' && /1\.1\.7 installed in slot a/.test(e.detail ?? '')));
    assert.ok(entries.some((e) => e.event === 'healthy' && e.result === 'success'));
  },
);

test('an expired timestamp (a frozen repository) is refused', { timeout: 60_000 }, async () => {
  await refreshRepository({ repoDir: world.repoDir, expiry: { timestampSeconds: 2 } });
  assert.match(await checkNow(owner), /up to date/);
  await new Promise((r) => setTimeout(r, 3_000)); // the attacker keeps serving that timestamp after it expired
  await expectRefused('UPDATE_METADATA_EXPIRED', /timestamp\.json is expired/);
});

test('older metadata replayed (rollback) is refused', { timeout: 60_000 }, async () => {
  await refreshRepository({ repoDir: world.repoDir });
  const old = await metadataFile('timestamp.json');
  await refreshRepository({ repoDir: world.repoDir });
  assert.match(await checkNow(owner), /up to date/);
  server.attack(/\/metadata\/timestamp\.json$/, (_req, res) => serve(res, old));
  await expectRefused('UPDATE_METADATA_ROLLBACK', /less than current version/);
});

test(
  'an older but validly signed image (downgrade) is refused, by version and by security version',
  { timeout: 60_000 },
  async () => {
    await publish(world, '1.0.9', 2, { allowDowngrade: true });
    await expectRefused('UPDATE_DOWNGRADE', /1\.0\.9 is older than the running 1\.1\.7/);
    await publish(world, '1.2.0', 1, { allowDowngrade: true });
    await expectRefused('UPDATE_DOWNGRADE', /security version 1 is below this device's 2/);
  },
);
