// The commit rule (issue 25): an image on trial commits only once it has reached what it needs to
// receive its next fix, the cloud (a mutual-TLS session in this boot) and the update repository (a
// verified metadata refresh). Real parts: images built from patched copies of this checkout, a real
// repository server, the cloud with its embedded broker, and `bulwark device run` with its supervisor.
// An image that cannot phone home never reports healthy, falls back by itself and leaves the
// anti-rollback counter (firmware/security.json) as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeUpdateWorld,
  ownerClient,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  copyCheckout,
  type UpdateWorld,
} from './support.ts';
import { buildDeviceImage, publishImage } from '../../src/release/index.ts';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { freePort, waitFor } from '../cloud/support.ts';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const TRIAL_BOOTS = 2;

let world: UpdateWorld;
let server: UpdateServer;
let cloud: CloudService;
let device: DeviceProcess;
const state = (): string => join(world.work, 'state');
const securityFile = (): string => join(state(), 'firmware', 'security.json');

/** A copy of the checkout's source with one line of `file` replaced, node_modules linked. */
async function patchedSource(name: string, file: string, from: string, to: string): Promise<string> {
  const root = await copyCheckout(join(world.work, name));
  const before = await readFile(join(root, file), 'utf8');
  const after = before.replace(from, to);
  assert.notEqual(after, before, `the patch applies to ${file}`);
  await writeFile(join(root, file), after);
  return root;
}

/** Builds `version` (security version 1) from `sourceRoot` and publishes it. */
async function release(version: string, sourceRoot: string): Promise<void> {
  const artifact = join(world.work, `plug-${version}.tar`);
  await buildDeviceImage(artifact, { model: 'plug', version, securityVersion: 1, sourceRoot });
  await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version });
}

/** The journal's update entries, newest first. */
async function journal(): Promise<Array<{ surface: string; event: string; result: string; detail?: string }>> {
  const { client } = await ownerClient(device.readies.at(-1)!.url, world.unit);
  const r = await client.get('/api/journal?limit=500');
  return (JSON.parse(r.body) as { entries: Array<{ surface: string; event: string; result: string; detail?: string }> })
    .entries;
}

/** Waits until `version` has failed its trial boots and the unit runs the factory image again. */
async function fallsBack(version: string, counterBefore: string): Promise<void> {
  await device.waitFor(() => device.decision(new RegExp(`^update: installed ${version}`)), 60_000, `${version}`);
  const rolled = await device.waitFor(
    () => device.decision(new RegExp(`^update: rolled-back ${version.replace(/\./g, '\\.')}`)),
    90_000,
    `the rollback of ${version}`,
  );
  assert.match(rolled, new RegExp(`not healthy within ${TRIAL_BOOTS} boots`));
  // The rollback is told at the factory image's start, just before its ready line.
  const back = await device.waitFor(
    () => (device.readies.at(-1)?.firmware === '0.1.0' ? device.readies.at(-1) : undefined),
    30_000,
    'the factory image to be ready',
  );
  assert.deepEqual([back.firmware, back.slot], ['0.1.0', 'factory'], 'the factory image runs again');
  const failedBoots = device.stderr.match(new RegExp(`trial boot of firmware ${version} failed`, 'g')) ?? [];
  assert.equal(failedBoots.length, TRIAL_BOOTS);
  assert.doesNotMatch(device.decision(new RegExp(`^update: healthy ${version}`)) ?? '', /healthy/, 'never committed');
  assert.equal(await readFile(securityFile(), 'utf8'), counterBefore, 'the anti-rollback counter is unchanged');
}

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
  cloud = await startCloud({
    factoryDir: world.fleet.factoryDir,
    stateDir: join(world.work, 'cloud'),
    manifests: [join(world.work, 'units', 'manifest.json')],
    broker: { port: 0 },
    api: { port: 0 },
  });
  const configFile = await writeUpdateConfig(world.work, {
    firstCheckDelayMs: 0,
    checkJitterMs: 0,
    checkIntervalMs: 2_000,
    restartDelayMs: 0,
    healthTimeoutMs: 8_000,
    maxTrialBoots: TRIAL_BOOTS,
  });
  device = new DeviceProcess({
    bundle: world.unit.dir,
    state: state(),
    updateUrl: server.url,
    configFile,
    extraArgs: ['--cloud', cloud.brokerUrl],
  });
  assert.equal((await device.ready(1)).firmware, '0.1.0');
  // A committed image reports healthy at once (the counter is written), then checks: nothing is published yet.
  await device.waitFor(() => device.decision(/^update: no-image/), 30_000, 'the first check');
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
  await cloud?.close();
});

test(
  'an image whose broker address is wrong never commits, falls back by itself and leaves the counter alone',
  { timeout: 240_000 },
  async () => {
    const counter = await readFile(securityFile(), 'utf8');
    const closed = await freePort();
    const source = await patchedSource(
      'wrong-broker',
      'src/device/agent-main.ts',
      "...(arg('cloud') ? { cloudUrl: arg('cloud') } : {}),",
      `...(arg('cloud') ? { cloudUrl: 'mqtts://127.0.0.1:${closed}' } : {}),`,
    );
    await release('1.1.0', source);
    await fallsBack('1.1.0', counter);
    assert.match(device.stderr, /update: 1\.1\.0 on trial: cloud not reached: ECONNREFUSED/);
    const entries = (await journal()).filter((e) => e.surface === 'update');
    assert.ok(
      entries.some(
        (e) =>
          e.event === 'health-check' &&
          e.result === 'failure' &&
          /cloud not reached: ECONNREFUSED/.test(e.detail ?? ''),
      ),
      'the failed check is journalled',
    );
    assert.ok(
      entries.some(
        (e) => e.event === 'not-committed' && /^1\.1\.0 not committed: cloud not reached/.test(e.detail ?? ''),
      ),
      'the end of the trial window is journalled',
    );
  },
);

test('an image whose TLS trust is wrong never commits and falls back by itself', { timeout: 240_000 }, async () => {
  const counter = await readFile(securityFile(), 'utf8');
  // The image trusts the unit's own certificate instead of the manufacturer CA: no broker certificate verifies.
  const source = await patchedSource(
    'wrong-trust',
    'src/cloudlink/link.ts',
    'ca: [id.caCertPem],',
    'ca: [id.deviceCertPem],',
  );
  await release('1.1.1', source);
  await fallsBack('1.1.1', counter);
  const reason = /update: 1\.1\.1 on trial: cloud not reached: ([^"\n]+)/.exec(device.stderr)?.[1] ?? '';
  assert.match(reason, /cert|issuer|signature/i, `a TLS verification failure, not "${reason}"`);
});

test('an image whose update client fails never commits and falls back by itself', { timeout: 240_000 }, async () => {
  const counter = await readFile(securityFile(), 'utf8');
  // Its HTTP client asks for the wrong path: every metadata request is answered 404.
  const source = await patchedSource(
    'broken-client',
    'src/update/fetcher.ts',
    'path: target.pathname,',
    "path: target.pathname.replace('/metadata/', '/meta-data/'),",
  );
  await release('1.1.2', source);
  await fallsBack('1.1.2', counter);
  assert.match(device.stderr, /update: 1\.1\.2 on trial: metadata refresh failed: UPDATE_UNREACHABLE/);
  const entries = await journal();
  assert.ok(
    entries.some((e) => e.event === 'health-check' && /^cloud reached/.test(e.detail ?? '')),
    'its cloud session worked: only the repository failed',
  );
});

test(
  'a good image commits only after its cloud session and a verified metadata refresh',
  { timeout: 240_000 },
  async () => {
    await release('1.2.0', CHECKOUT);
    await device.waitFor(() => device.decision(/^update: healthy 1\.2\.0/), 90_000, '1.2.0 to commit');
    const running = device.readies.at(-1)!;
    assert.equal(running.firmware, '1.2.0');
    // The counter is raised just after the commit is told.
    const counter = (await waitFor(
      async () => {
        const c = JSON.parse(await readFile(securityFile(), 'utf8')) as { securityVersion: number; version: string };
        return c.securityVersion > 0 ? c : undefined;
      },
      10_000,
      'the counter to rise',
    ))!;
    assert.deepEqual([counter.securityVersion, counter.version], [1, '1.2.0'], 'the counter is raised at the commit');

    const all = await journal();
    const since = all.findIndex((e) => e.event === 'installed' && /^1\.2\.0 installed/.test(e.detail ?? ''));
    assert.ok(since > 0, 'the install of 1.2.0 is in the journal');
    const trial = all.slice(0, since); // this boot's entries, newest first
    const at = (test: (e: (typeof all)[number]) => boolean, what: string): number => {
      const i = trial.findIndex(test);
      assert.ok(i >= 0, `${what} is in the journal`);
      return i;
    };
    const healthy = at((e) => e.event === 'healthy' && /^1\.2\.0 reported healthy/.test(e.detail ?? ''), 'the commit');
    const session = at((e) => e.surface === 'cloud' && e.event === 'connect' && e.result === 'success', 'the session');
    const cloudProof = at(
      (e) => e.event === 'health-check' && /^cloud reached/.test(e.detail ?? ''),
      'the cloud check',
    );
    const refresh = at(
      (e) => e.event === 'health-check' && /^update repository reached: metadata verified/.test(e.detail ?? ''),
      'the metadata refresh',
    );
    // Newest first: the commit comes after (has a lower index than) each proof.
    assert.ok(healthy < cloudProof && healthy < refresh && healthy < session, JSON.stringify(trial.slice(0, 12)));
    assert.doesNotMatch(device.stderr, /1\.2\.0 on trial: /, 'no check of the good image failed');
  },
);
