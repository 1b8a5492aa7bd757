// The factory slot as a real image: with `--factory-image`, the supervisor unpacks the unit's factory
// image into firmware/slots/factory, verifies it before each factory boot, boots its own files (never
// the installed package's agent) and reinstalls it from the archive when it is damaged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { makeUpdateWorld, DeviceProcess, copyCheckout, SOURCE_PARTS, type UpdateWorld } from './support.ts';
import { WebClient } from '../support/device.ts';
import { buildDeviceImage } from '../../src/release/index.ts';

let world: UpdateWorld;
let device: DeviceProcess | undefined;
let factoryImage: string;
let bin: string;

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  world = await makeUpdateWorld();
  factoryImage = join(world.work, 'plug-factory-1.0.3.tar');
  await buildDeviceImage(factoryImage, { model: 'plug', version: '1.0.3', securityVersion: 0 });
  // A copy of the installed package whose own agent cannot run: only the factory slot can answer.
  const runtime = await copyCheckout(join(world.work, 'runtime'), ['bin', ...SOURCE_PARTS]);
  const agentMain = join(runtime, 'src', 'device', 'agent-main.ts');
  await writeFile(agentMain, 'process.stderr.write("the installed agent ran\\n");\nprocess.exit(1);\n');
  await chmod(agentMain, 0o000);
  bin = join(runtime, 'bin', 'bulwark.js');
});

after(async () => {
  await device?.kill('SIGTERM');
});

function start(): DeviceProcess {
  const state = join(world.work, 'state');
  return new DeviceProcess({ bundle: world.unit.dir, state, bin, extraArgs: ['--factory-image', factoryImage] });
}

test('the unit boots its factory image from its own verified slot, not the installed package', async () => {
  device = start();
  const ready = await device.ready(1, 60_000);
  assert.deepEqual([ready.firmware, ready.slot], ['1.0.3', 'factory']);
  const client = await WebClient.for(ready.url, world.unit);
  assert.match((await client.get('/.well-known/security.txt')).body, /^Contact:/m);
  assert.doesNotMatch(device.stderr, /the installed agent ran/);
  const slot = join(world.work, 'state', 'firmware', 'slots', 'factory');
  const record = JSON.parse(await readFile(join(slot, '.slot.json'), 'utf8')) as {
    target: { path: string; sha256: string };
    image: { version: string };
  };
  assert.deepEqual(
    [record.target.path, record.target.sha256, record.image.version],
    ['factory/image.tar', sha256(await readFile(factoryImage)), '1.0.3'],
  );
});

test('a damaged factory slot is reinstalled from the factory image before it boots', async () => {
  await device!.kill('SIGTERM');
  const entry = join(world.work, 'state', 'firmware', 'slots', 'factory', 'agent.mjs');
  const good = sha256(await readFile(entry));
  await appendFile(entry, '\nprocess.exit(3);\n');
  device = start();
  const ready = await device.ready(1, 60_000);
  assert.deepEqual([ready.firmware, ready.slot], ['1.0.3', 'factory']);
  assert.equal(sha256(await readFile(entry)), good, 'the slot holds the factory image again');
  assert.match(
    device.stderr + device.lines.join('\n'),
    /factory slot installed from .*has changed since it was installed/,
  );
  assert.doesNotMatch(device.stderr, /the installed agent ran/);
});
