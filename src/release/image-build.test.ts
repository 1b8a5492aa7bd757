import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImageArchive, parseImageManifest, satisfiesNodeRange } from '../update/index.ts';
import { buildDeviceImage } from './image-build.ts';

const limits = { maxEntries: 1_000, maxUnpackedBytes: 64 << 20 };
const work = (): Promise<string> => mkdtemp(join(tmpdir(), 'bulwark-image-build-'));
const plug = { model: 'plug', version: '1.4.0', securityVersion: 3 } as const;

test('a device image holds the bundled agent, its lazy chunks, the model file and an SBOM of its bundle', async () => {
  const dir = await work();
  const r = await buildDeviceImage(join(dir, 'plug.tar'), plug);
  const contents = await readImageArchive(join(dir, 'plug.tar'), limits, { into: join(dir, 'slot') });
  const manifest = parseImageManifest(JSON.parse(await readFile(join(dir, 'slot', 'image.json'), 'utf8')));
  assert.deepEqual(contents.manifest, manifest);
  assert.equal(manifest.format, 'bulwark-image/2');
  assert.equal(manifest.entry, 'agent.mjs');
  assert.ok(satisfiesNodeRange(manifest.node!, process.versions.node), 'the default range holds this Node');
  const paths = contents.files.map((f) => f.path);
  assert.deepEqual(paths, [...r.files]);
  assert.ok(paths.filter((p) => p.startsWith('chunks/')).length > 3, 'lazy parts stay in their own chunks');
  const model = JSON.parse(await readFile(join(dir, 'slot', 'model.json'), 'utf8')) as { id: string };
  assert.equal(model.id, 'plug');
  const sbom = JSON.parse(await readFile(join(dir, 'slot', manifest.sbom!), 'utf8')) as {
    specVersion: string;
    components: Array<{ name: string; version: string; purl: string }>;
  };
  assert.equal(sbom.specVersion, '1.5');
  const listed = sbom.components.map((c) => `${c.name}@${c.version}`);
  assert.deepEqual(
    listed,
    r.packages.map((p) => `${p.name}@${p.version}`),
  );
  const installed = async (name: string): Promise<string> =>
    (JSON.parse(await readFile(join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  assert.ok(listed.includes(`tuf-js@${await installed('tuf-js')}`), 'a package the agent loads is listed');
  assert.ok(!sbom.components.some((c) => c.name === 'esbuild'), 'none it does not');
  // The unit renews its own certificates (web, operational, channel key): the library is in the image, loaded lazily.
  assert.ok(
    listed.some((n) => n.startsWith('@peculiar/x509@')),
    'the certificate library the renewals load',
  );
});

test('the same sources build the same bytes', async () => {
  const dir = await work();
  await buildDeviceImage(join(dir, 'a.tar'), plug);
  await buildDeviceImage(join(dir, 'b.tar'), plug);
  assert.deepEqual(await readFile(join(dir, 'a.tar')), await readFile(join(dir, 'b.tar')));
});

test('a source tree changed since its last build is bundled again', async () => {
  const dir = await work();
  const root = join(dir, 'tree');
  for (const part of ['src', 'models', 'schemas', 'package.json'])
    await cp(join(process.cwd(), part), join(root, part), { recursive: true });
  await symlink(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
  await buildDeviceImage(join(dir, 'a.tar'), { ...plug, sourceRoot: root });
  const routes = join(root, 'src', 'web', 'device-routes.ts');
  await writeFile(
    routes,
    (await readFile(routes, 'utf8')).replace('Preferred-Languages: en', 'Preferred-Languages: en, de'),
  );
  await buildDeviceImage(join(dir, 'b.tar'), { ...plug, sourceRoot: root });
  const agent = async (tar: string): Promise<string> => {
    await readImageArchive(join(dir, tar), limits, { into: join(dir, `${tar}.slot`) });
    return readFile(join(dir, `${tar}.slot`, 'agent.mjs'), 'utf8');
  };
  assert.doesNotMatch(await agent('a.tar'), /Preferred-Languages: en, de/);
  assert.match(await agent('b.tar'), /Preferred-Languages: en, de/);
});

test('a driver folder goes under driver/, and one holding a link is refused', async () => {
  const dir = await work();
  const driver = join(dir, 'driver');
  await mkdir(join(driver, 'lib'), { recursive: true });
  await writeFile(join(driver, 'run.mjs'), 'export {};\n');
  await writeFile(join(driver, 'lib', 'table.json'), '{}\n');
  const r = await buildDeviceImage(join(dir, 'with-driver.tar'), { ...plug, driverDir: driver, nodeRange: '>=24.1.0' });
  assert.deepEqual(
    r.files.filter((p) => p.startsWith('driver/')),
    ['driver/lib/table.json', 'driver/run.mjs'],
  );
  assert.equal(r.manifest.node, '>=24.1.0');
  await symlink('/etc/passwd', join(driver, 'passwd'));
  await assert.rejects(buildDeviceImage(join(dir, 'linked.tar'), { ...plug, driverDir: driver }), {
    code: 'RELEASE_IMAGE_INVALID',
  });
});
