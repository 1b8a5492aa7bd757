// A support period per model, carried in signed release metadata (issue 23 part 3): two models of one
// factory sign different support ends; `release support` signs an extension that a running unit learns
// through its update check and shows on its page; a shortening is refused with a typed error and
// changes nothing; a unit whose support is over says so on its page and in its journal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeUpdateWorld, UpdateServer, BIN, checkNow, updateJournal, type UpdateWorld } from './support.ts';
import { WebClient, makeFleet, startAgent } from '../support/device.ts';
import { buildReferenceImage, publishImage } from '../../src/release/index.ts';
import { loadRepository } from '../../src/release/repository.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';

const run = promisify(execFile);

let world: UpdateWorld;
let server: UpdateServer;
const agents: DeviceAgent[] = [];

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
});

after(async () => {
  for (const a of agents) await a.close();
  await server?.close();
});

/** The signed support end of `model`'s image target in the repository. */
async function signedSupportEnd(model: string): Promise<unknown> {
  const l = await loadRepository(world.repoDir);
  return (l.targets.signed.targets[`${model}/image.tar`]?.custom as { supportEndsOn?: unknown }).supportEndsOn;
}

async function publishReference(model: string, version: string): Promise<void> {
  const artifact = join(world.work, `${model}-${version}.tar`);
  await buildReferenceImage(artifact, { model, version, securityVersion: 1 });
  await publishImage({ repoDir: world.repoDir, artifact, model, version });
}

/** `bulwark release support ...`: its exit code and output. */
async function releaseSupport(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, 'release', 'support', '--repo', world.repoDir, ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('two models of one factory sign their own support ends into their image targets', async () => {
  // The running version (0.1.0): the unit below finds it up to date, and installs nothing.
  await publishReference('plug', '0.1.0');
  await publishReference('lock', '0.1.0');
  assert.equal(await signedSupportEnd('plug'), '2036-12-31');
  assert.equal(await signedSupportEnd('lock'), '2038-12-31');
});

test(
  'an extension signed with release support reaches a running unit and its page; a shortening is refused',
  { timeout: 120_000 },
  async () => {
    const unit = world.unit;
    const agent = await startDeviceAgent({
      bundleDir: unit.dir,
      stateDir: join(world.work, 'state-extension'),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      update: { config: { repositoryUrl: server.url } },
    });
    agents.push(agent);
    const client = await WebClient.for(agent.web.url, unit);
    assert.equal((await client.login(unit.adminPassword!)).status, 303);
    const csrf = WebClient.csrfOf((await client.get('/')).body);
    assert.match(await checkNow({ client, csrf }), /up to date/);

    const extended = await releaseSupport('--model', 'plug', '--until', '2040-06-30');
    assert.equal(extended.code, 0, extended.stderr);
    assert.match(extended.stdout, /plug: security updates until 2040-06-30; signed into targets/);
    assert.equal(await signedSupportEnd('plug'), '2040-06-30');
    assert.match(await checkNow({ client, csrf }), /up to date/);
    const page = (await client.get('/')).body;
    assert.match(page, /<dt>Security updates until<\/dt><dd>2040-06-30<\/dd>/);
    assert.doesNotMatch(page, /id="support-ended"/);
    const entries = await updateJournal({ client });
    assert.ok(
      entries.some((e) => e.event === 'support-extended' && /until 2040-06-30 \(was 2036-12-31\)/.test(e.detail!)),
    );
    const exported = JSON.parse((await client.get('/api/export')).body) as { device: { supportPeriodEnd: string } };
    assert.equal(exported.device.supportPeriodEnd, '2040-06-30');

    const before = await readFile(join(world.repoDir, 'metadata', 'timestamp.json'), 'utf8');
    const shorter = await releaseSupport('--model', 'plug', '--until', '2038-01-31');
    assert.notEqual(shorter.code, 0);
    assert.match(shorter.stderr, /RELEASE_SUPPORT_SHORTENED/);
    assert.equal(await readFile(join(world.repoDir, 'metadata', 'timestamp.json'), 'utf8'), before);
    assert.equal(await signedSupportEnd('plug'), '2040-06-30');
    // A later release keeps the extension even though the built-in model still says 2036-12-31.
    await publishReference('plug', '0.1.1');
    assert.equal(await signedSupportEnd('plug'), '2040-06-30');
  },
);

test('a unit whose support period is over shows the notice on its page and journals it', async () => {
  const plug = JSON.parse(await readFile(new URL('../../models/plug.model.json', import.meta.url), 'utf8')) as object;
  const dir = join(world.work, 'ended');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'old-plug.model.json');
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await writeFile(file, JSON.stringify({ ...plug, id: 'old-plug', supportPeriod: { endsOn: yesterday } }));
  const fleet = await makeFleet([file]);
  const unit = fleet.units[file]!;
  const agent = await startAgent(unit, join(fleet.work, 'state'));
  agents.push(agent);
  const client = await WebClient.for(agent.web.url, unit);
  assert.equal((await client.login(unit.adminPassword!)).status, 303);
  const page = (await client.get('/')).body;
  assert.match(page, /id="support-ended"/);
  assert.match(page, new RegExp(`stopped security updates for this device after ${yesterday}`));
  assert.match(page, new RegExp(`<dd>${yesterday} \\(ended\\)</dd>`));
  const entries = await updateJournal({ client });
  assert.equal(entries.filter((e) => e.event === 'support-ended').length, 1);
});
