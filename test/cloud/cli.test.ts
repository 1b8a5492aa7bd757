// The commands as processes: `bulwark cloud run`, `bulwark device run --cloud`, the button, and
// `bulwark cloud import`; an owner claims the plug through the API and switches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OwnerApiClient, findMailedLink, openCloudStore } from '../../src/cloud/index.ts';
import { makeUnits, freePort, waitFor } from './support.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

function bulwark(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** Starts a long-running command; resolves with the process and the first stdout line matching `ready`. */
function start(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 20_000) stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line from ${args.join(' ')}: ${stderr}`));
    }, 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      const m = ready.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} ${args[1]} exited ${code}: ${stderr}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

test(
  'cloud run, device run --cloud, the button and a claim through the API, as real processes',
  { timeout: 120_000 },
  async () => {
    const { work, factoryDir, units, manifest } = await makeUnits('plug', 1);
    const plug = units[0]!;
    const mqttPort = await freePort(),
      apiPort = await freePort();
    const cloud = await start(
      [
        'cloud',
        'run',
        '--log-format',
        'text',
        '--factory',
        factoryDir,
        '--state',
        join(work, 'cloud'),
        '--mqtt-port',
        String(mqttPort),
        '--api-port',
        String(apiPort),
        '--import',
        manifest,
      ],
      /^cloud 1 ready: devices (mqtts:\S+), owners (https:\S+) \(sqlite\)/,
    );
    const state = join(work, 'device');
    let device: ChildProcess | undefined;
    try {
      assert.equal(cloud.match[1], `mqtts://127.0.0.1:${mqttPort}`);
      device = (
        await start(
          [
            'device',
            'run',
            '--bundle',
            plug.dir,
            '--state',
            state,
            '--web-port',
            '0',
            '--hub-port',
            '0',
            '--cloud',
            cloud.match[1],
          ],
          /ready: https:/,
        )
      ).child;
      const ca = await readFile(join(work, 'cloud', 'pki', 'ca-cert.pem'), 'utf8');
      const owner = new OwnerApiClient(cloud.match[2]!, ca);
      assert.equal((await owner.register('cli@example.com', 'marble falcon tundra 42 softly')).status, 202);
      const link = await waitFor(
        () => findMailedLink(join(work, 'cloud', 'mail'), 'cli@example.com', '/verify'),
        10_000,
        'the confirmation message in the maildir',
      );
      assert.equal((await owner.confirmAddress(new URL(link!).searchParams.get('token')!)).status, 200);
      assert.equal((await owner.login('cli@example.com', 'marble falcon tundra 42 softly')).status, 200);
      // The device connects in the background: press until the cloud has opened the window.
      await waitFor(
        async () => {
          const press = await bulwark(['device', 'button', '--state', state]);
          return /claim window open/.test(press.stdout);
        },
        20_000,
        'the button to open the claim window',
        500,
      );
      const claimed = await waitFor(
        async () => {
          const c = await owner.claim(plug.serial, plug.claimCode);
          return c.status === 201 ? c : undefined;
        },
        10_000,
        'the claim',
        200,
      );
      assert.equal(claimed?.status, 201);
      const on = await owner.command(plug.serial, 'power', 'on');
      assert.equal(on.body.command.status, 'done');
      const bad = await bulwark([
        'device',
        'run',
        '--bundle',
        plug.dir,
        '--state',
        join(work, 'other'),
        '--cloud',
        'mqtt://127.0.0.1:1883',
      ]);
      assert.notEqual(bad.code, 0, 'plain mqtt:// is refused');
      assert.match(bad.stderr, /mqtts:\/\//);
    } finally {
      if (device) await stop(device);
      await stop(cloud.child);
    }
  },
);

test(
  'cloud import adds a manifest to the registry once, and refuses one from another factory',
  { timeout: 120_000 },
  async () => {
    const { work, factoryDir, manifest } = await makeUnits('plug', 2);
    const other = await makeUnits('plug', 1);
    const state = join(work, 'import-state');
    const first = await bulwark(['cloud', 'import', manifest, '--factory', factoryDir, '--state', state]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /2 units added, 0 already known/);
    const again = await bulwark(['cloud', 'import', manifest, '--factory', factoryDir, '--state', state]);
    assert.match(again.stdout, /0 units added, 2 already known/);
    const foreign = await bulwark(['cloud', 'import', other.manifest, '--factory', factoryDir, '--state', state]);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /MANIFEST_OTHER_CA/);
    const store = await openCloudStore({ stateDir: state });
    try {
      assert.equal(await store.countDevices(), 2);
    } finally {
      await store.close();
    }
  },
);
