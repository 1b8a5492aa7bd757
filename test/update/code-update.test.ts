// Images carry the device's code (issue 22): a unit installs 1.2.0, whose agent answers a public
// route differently from 1.1.0, and a network client sees the new answer; the unit then boots
// slot 1.2.0 from the slot's own files even when the installed runtime's agent cannot be read;
// and an image that needs a Node.js this unit does not run is refused before it is downloaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile, chmod } from 'node:fs/promises';
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
import { WebClient } from '../support/device.ts';
import { buildDeviceImage, publishImage } from '../../src/release/index.ts';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
/** The line 1.2.0's security.txt has and 1.1.0's lacks: the client-visible change of the new code. */
const FIX_LINE = 'Policy: https://example.com/vulnerability-disclosure';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess | undefined;
let configFile: string;
const state = (): string => join(world.work, 'state');

/** Builds `version` from `sourceRoot` and publishes it. */
async function release(version: string, sourceRoot: string, nodeRange?: string): Promise<void> {
  const artifact = join(world.work, `plug-${version}.tar`);
  await buildDeviceImage(artifact, {
    model: 'plug',
    version,
    securityVersion: 1,
    sourceRoot,
    ...(nodeRange ? { nodeRange } : {}),
  });
  await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version });
}

async function securityTxt(url: string): Promise<string> {
  const client = await WebClient.for(url, world.unit);
  return (await client.get('/.well-known/security.txt')).body;
}

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
  configFile = await writeUpdateConfig(world.work, {
    firstCheckDelayMs: 0,
    checkJitterMs: 0,
    checkIntervalMs: 1_000,
    restartDelayMs: 0,
    healthTimeoutMs: 20_000,
  });
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

test(
  "a unit installs 1.2.0's code, a client sees its new answer, and it boots the slot without the installed agent",
  { timeout: 240_000 },
  async () => {
    const runtime = await copyCheckout(join(world.work, 'runtime'), [
      'bin',
      'src',
      'models',
      'schemas',
      'package.json',
    ]);
    const fixed = await copyCheckout(join(world.work, 'source-1.2.0'), ['src', 'models', 'schemas', 'package.json']);
    const routes = join(fixed, 'src', 'web', 'device-routes.ts');
    const before = await readFile(routes, 'utf8');
    const after = before.replace('`Preferred-Languages: en\\n', `\`Preferred-Languages: en\\n${FIX_LINE}\\n`);
    assert.notEqual(after, before, 'the 1.2.0 source differs by one line of security.txt');
    await writeFile(routes, after);

    await release('1.1.0', CHECKOUT);
    const bin = join(runtime, 'bin', 'bulwark.js');
    device = new DeviceProcess({ bundle: world.unit.dir, state: state(), updateUrl: server.url, configFile, bin });
    const old = await device.waitFor(() => device!.readies.find((r) => r.firmware === '1.1.0'), 90_000, '1.1.0');
    assert.equal(old.slot, 'a');
    await device.waitFor(() => device!.decision(/^update: healthy 1\.1\.0/), 30_000, '1.1.0 to report healthy');
    assert.doesNotMatch(await securityTxt(old.url), /^Policy:/m);

    await release('1.2.0', fixed);
    const next = await device.waitFor(() => device!.readies.find((r) => r.firmware === '1.2.0'), 90_000, '1.2.0');
    assert.equal(next.slot, 'b');
    await device.waitFor(() => device!.decision(/^update: healthy 1\.2\.0/), 30_000, '1.2.0 to report healthy');
    assert.match(await securityTxt(next.url), new RegExp(`^${FIX_LINE}$`, 'm'));

    // The installed runtime's agent is gone: tests run as root, so it is replaced as well as made unreadable.
    await device.kill('SIGTERM');
    const agentMain = join(runtime, 'src', 'device', 'agent-main.ts');
    await writeFile(agentMain, 'process.stderr.write("the installed agent ran\\n");\nprocess.exit(1);\n');
    await chmod(agentMain, 0o000);
    device = new DeviceProcess({ bundle: world.unit.dir, state: state(), updateUrl: server.url, configFile, bin });
    const again = await device.ready(1, 60_000);
    assert.deepEqual([again.firmware, again.slot], ['1.2.0', 'b']);
    assert.match(await securityTxt(again.url), new RegExp(`^${FIX_LINE}$`, 'm'));
    assert.doesNotMatch(device.stderr, /the installed agent ran/);

    // The owner sees what the running image holds: the SBOM that came inside it.
    const { client } = await ownerClient(again.url, world.unit);
    const software = JSON.parse((await client.get('/api/software')).body) as {
      kind: string;
      image: { version: string };
      components: Array<{ name: string }>;
    };
    assert.equal(software.kind, 'image');
    assert.equal(software.image.version, '1.2.0');
    assert.ok(
      software.components.some((c) => c.name === '@noble/curves'),
      JSON.stringify(software).slice(0, 300),
    );
    assert.match((await client.get('/software')).body, /@noble\/curves/);
  },
);

test(
  'an image that needs a Node.js this unit does not run is refused before download, and nothing changes',
  { timeout: 120_000 },
  async () => {
    const bootBefore = await readFile(join(state(), 'firmware', 'boot.json'), 'utf8');
    const slotsBefore = await readdir(join(state(), 'firmware', 'slots'));
    const seen = server.requests.length;
    await release('1.3.0', CHECKOUT, '>=99.0.0 <100.0.0');
    const refused = await device!.waitFor(
      () => device!.decision(/^update: refused 1\.3\.0/),
      30_000,
      'the refusal of 1.3.0',
    );
    assert.match(refused, /UPDATE_NODE_UNSUPPORTED/);
    assert.equal(await readFile(join(state(), 'firmware', 'boot.json'), 'utf8'), bootBefore);
    assert.deepEqual(await readdir(join(state(), 'firmware', 'slots')), slotsBefore);
    const images = server.requests.slice(seen).filter((path) => /image\.tar$/.test(path));
    assert.deepEqual(images, [], 'the image itself was never requested');
    assert.ok(
      server.requests.slice(seen).some((path) => /targets\.json$/.test(path)),
      'the metadata was read',
    );
  },
);
