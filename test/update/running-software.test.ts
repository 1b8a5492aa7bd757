// The owner's software page reads what the running image holds: the SBOM that travels inside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeviceImage } from '../../src/release/index.ts';
import { loadTar, runningSoftware } from '../../src/update/index.ts';
import { softwarePage } from '../../src/web/pages.ts';

test('a process started from an image lists the components of the SBOM inside that image', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-software-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const built = await buildDeviceImage(join(dir, 'plug.tar'), { model: 'plug', version: '1.4.0', securityVersion: 1 });
  const slot = join(dir, 'slot');
  const tar = await loadTar();
  await mkdir(slot);
  await tar.extract({ file: join(dir, 'plug.tar'), cwd: slot });

  const s = await runningSoftware(join(slot, 'agent.mjs'));
  assert.equal(s.kind, 'image');
  assert.ok(s.kind === 'image');
  assert.deepEqual(s.image, { model: 'plug', version: '1.4.0', securityVersion: 1, node: built.manifest.node });
  assert.deepEqual(
    s.components.map((c) => c.name),
    built.packages.map((p) => p.name).sort((a, b) => a.localeCompare(b)),
    'exactly the packages the bundler included',
  );
  assert.ok(
    s.components.some((c) => c.name === '@noble/curves'),
    'the pairing curve library is in the image',
  );
  const html = softwarePage({ title: 'Software', deviceName: 'Plug', csrf: 'x' }, s, '1.4.0');
  assert.match(html, /@noble\/curves<\/td><td>\d+\.\d+\.\d+/);

  await writeFile(join(slot, 'sbom.cdx.json'), '{"components": 7}');
  const broken = await runningSoftware(join(slot, 'agent.mjs'));
  assert.ok(broken.kind === 'image' && broken.components.length === 0 && /SBOM cannot be read/.test(broken.problem!));
});

test('the installed package (the factory image) has no image.json, and says so', async () => {
  const s = await runningSoftware(join(tmpdir(), 'no-such-folder', 'agent-main.js'));
  assert.deepEqual(s, { kind: 'factory' });
  assert.match(softwarePage({ title: 'Software', deviceName: 'Plug', csrf: 'x' }, s, '0.1.0'), /the factory image/);
});
