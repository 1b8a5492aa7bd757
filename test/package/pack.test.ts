// Bulwark as a maker installs it: `npm pack`, the tarball installed into an empty project with no
// checkout around it, a TypeScript file importing every entry point type-checked there, every entry
// imported at run time, and `npx bulwark` run from the install (help, a factory, a provision from a
// maker's own model file, a device started). Assumes a fresh `npm run build` (the README's test
// command runs it first) and says so when dist/ is older than src/. Needs npm and, unless npm's cache
// already holds the dependencies, the npm registry: outside CI a failed install skips with a message.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCi, toolDecision } from '../support/tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PKG = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};

/** What each code entry point must export at least; the test fails when `exports` and this list differ. */
const ENTRY_NAMES: Readonly<Record<string, readonly string[]>> = {
  bulwark: ['BulwarkError', 'ConfigError', 'exitCodeOf', 'httpStatusOf', 'ERROR_TABLE'],
  'bulwark/device': ['startDeviceAgent', 'superviseAgent', 'renderSystemdUnit'],
  'bulwark/factory': ['initFactory', 'provisionUnits', 'renderStickerSvg'],
  'bulwark/hub': ['startHubService', 'Hub', 'callHubControl'],
  'bulwark/cloud': ['startCloud', 'OwnerApiClient', 'writeBrokerConfig'],
  'bulwark/release': ['initRepository', 'publishImage', 'buildReferenceImage'],
  'bulwark/audit': ['runAudit', 'auditExitCode', 'renderAuditHtml'],
  'bulwark/driver': ['serveDriver', 'DriverClient', 'DRIVER_PROTOCOL'],
  'bulwark/models': ['resolveModel', 'readModelFile', 'MODEL_IDS'],
};

/** A TypeScript consumer: named imports (values and types) from every entry, used so nothing is elided. */
const CONSUMER_TS = `import { BulwarkError, exitCodeOf, type ErrorCode, type ModelSpec } from 'bulwark';
import { startDeviceAgent, type DeviceAgent, type DeviceAgentConfig } from 'bulwark/device';
import { initFactory, provisionUnits, type ProvisionedUnit } from 'bulwark/factory';
import { startHubService, type HubService } from 'bulwark/hub';
import { startCloud, type CloudService } from 'bulwark/cloud';
import { initRepository, publishImage, type PublishResult } from 'bulwark/release';
import { runAudit, auditExitCode, type AuditReport } from 'bulwark/audit';
import { serveDriver, DriverClient, type DriverDefinition } from 'bulwark/driver';
import { resolveModel, MODEL_IDS } from 'bulwark/models';

const model: ModelSpec = resolveModel(MODEL_IDS[0] ?? 'plug');
const code: ErrorCode = 'MODEL_UNKNOWN';
const exit: number = exitCodeOf(new BulwarkError(code, 'example'));
const units: Promise<readonly ProvisionedUnit[]> = initFactory('f').then(() =>
  provisionUnits({ factoryDir: 'f', model: model.id, count: 1, outDir: 'u' }),
);
const audit = (report: AuditReport): number => auditExitCode(report);
export const used = [exit, units, audit, startDeviceAgent, startHubService, startCloud, initRepository,
  publishImage, runAudit, serveDriver, DriverClient];
export type Used = [DeviceAgent, DeviceAgentConfig, HubService, CloudService, PublishResult, DriverDefinition];
`;

/** Every built entry imported at run time; prints each entry's export names as JSON. */
const RUNTIME_CHECK = (entries: readonly string[]): string =>
  `const names = {};\nfor (const e of ${JSON.stringify(entries)}) names[e] = Object.keys(await import(e));\n` +
  'process.stdout.write(JSON.stringify(names));\n';

/** A maker's own product, known only by this file. */
const THERMOSTAT = {
  $schema: './node_modules/bulwark/schemas/model.v1.schema.json',
  schema: 'bulwark.model/v1',
  id: 'acme-thermostat',
  name: 'Acme Thermostat',
  serialPrefix: 'THM',
  riskClass: 'standard',
  privacyClass: 'standard',
  initialPasswordMode: 'sticker',
  capabilities: [
    {
      id: 'setpoint',
      kind: 'level',
      actions: ['set', 'get'],
      value: { type: 'number', min: 5, max: 30 },
      unit: 'degC',
      description: 'Target temperature',
    },
    {
      id: 'temperature',
      kind: 'reading',
      actions: ['get'],
      value: { type: 'number', min: -40, max: 85 },
      unit: 'degC',
      description: 'Room temperature',
    },
  ],
  sensors: ['temperature'],
  actuators: ['heating'],
  networks: ['wifi'],
  supportPeriod: { endsOn: '2037-12-31' },
};

/** The bounds of each outside step, ms. */
const LIMITS = { pack: 60_000, install: 150_000, typecheck: 90_000, command: 30_000, deviceReady: 30_000 };
/** The tarball stays small: what it ships is code, models and schemas, not reports or dependencies. */
const MAX_TARBALL_BYTES = 3 * 1_048_576;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of every child: no npm_* variables of an outer `npm test` (its prefix would be the checkout). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  // The Node that runs this test (24) comes first, for npm, npx and the `#!/usr/bin/env node` of the bin.
  env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  return env;
}

function run(file: string, args: readonly string[], cwd: string, timeout: number): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, timeout, env: childEnv(), maxBuffer: 8 * 1_048_576 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: err && code === -1 ? `${err.message}\n${stderr}` : stderr });
    });
  });
}

/** Source files newer than their built JavaScript: the test would check stale code. */
function staleBuild(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        const built = join(ROOT, 'dist', relative(join(ROOT, 'src'), path)).replace(/\.ts$/, '.js');
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs) stale.push(relative(ROOT, path));
      }
    }
  };
  walk(join(ROOT, 'src'));
  return stale;
}

/** Signals the process group the test started; one already gone is fine. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

interface Packed {
  readonly tarball: string;
  readonly size: number;
  readonly files: readonly string[];
}

let work: string;
let packed: Packed;
let consumer: Promise<string | { failed: string }> | undefined;

before(async () => {
  const stale = staleBuild();
  assert.deepEqual(stale.slice(0, 5), [], `dist/ is older than src/: run \`npm run build\` first (${stale.length})`);
  work = await mkdtemp(join(tmpdir(), 'bulwark-package-'));
  const r = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT, LIMITS.pack);
  assert.equal(r.code, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as [{ filename: string; size: number; files: { path: string }[] }];
  packed = { tarball: join(work, info.filename), size: info.size, files: info.files.map((f) => f.path) };
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Installs the tarball into an empty project once: from npm's cache alone if it can, else from the registry. */
async function install(): Promise<string | { failed: string }> {
  const dir = join(work, 'consumer');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const args = ['install', packed.tarball, '--prefix', dir, '--no-audit', '--no-fund'];
  let r = await run('npm', [...args, '--offline'], dir, LIMITS.install);
  if (r.code !== 0) r = await run('npm', [...args, '--prefer-offline'], dir, LIMITS.install);
  return r.code === 0 ? dir : { failed: `npm install of the tarball failed (${r.code}): ${r.stderr.slice(-600)}` };
}

/** The installed project, or undefined after skipping the test (outside CI) when npm could not install. */
async function installed(t: TestContext): Promise<string | undefined> {
  consumer ??= install();
  const dir = await consumer;
  if (typeof dir === 'string') return dir;
  if (toolDecision(false, isCi(process.env)) === 'fail') throw new Error(dir.failed);
  t.skip(`${dir.failed} (needs the npm registry or a warm npm cache)`);
  return undefined;
}

const codeEntries = (): string[] =>
  Object.keys(PKG.exports)
    .filter((k) => !k.includes('*') && !k.endsWith('.json'))
    .map((k) => (k === '.' ? PKG.name : `${PKG.name}/${k.slice(2)}`));

test('the tarball holds the built code and its types for every entry, the bin, models and schemas, no source', () => {
  assert.ok(packed.size <= MAX_TARBALL_BYTES, `tarball ${packed.size} bytes`);
  const files = new Set(packed.files);
  for (const target of Object.values(PKG.exports)) {
    for (const path of typeof target === 'string' ? [target] : [target.types, target.default]) {
      if (!path.includes('*')) assert.ok(files.has(path.slice(2)), `${path} is in the tarball`);
    }
  }
  assert.ok(files.has('bin/bulwark.js'));
  assert.ok(files.has('schemas/model.v1.schema.json'));
  assert.ok(files.has('models/plug.model.json'));
  assert.ok(files.has('dist/cli/main.js') && files.has('dist/device/agent-main.js'));
  // The example policy profiles are read beside the built policy folder (src/policy/load.ts).
  assert.ok(files.has('dist/policy/profiles/plug.yaml'), 'the policy profiles are copied into dist/');
  // The project's own SBOM (CycloneDX 1.5 of Bulwark and its production dependencies), written by `npm run build`.
  assert.ok(files.has('dist/sbom.cdx.json'), 'the SBOM of the package ships in it');
  const stray = packed.files.filter((f) => f.startsWith('src/') || /\.test\.|(?<!\.d)\.ts$/.test(f));
  assert.deepEqual(stray, []);
  assert.deepEqual(codeEntries().sort(), Object.keys(ENTRY_NAMES).sort(), 'every entry point is checked here');
});

test('a TypeScript project type-checks named imports from every entry point of the installed package', async (t) => {
  const dir = await installed(t);
  if (!dir) return;
  await writeFile(join(dir, 'consumer.ts'), CONSUMER_TS);
  // Strict, with the package's own declarations checked (skipLibCheck off), against the Node 24 types.
  const compilerOptions = {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2024',
    lib: ['es2024'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
  const r = await run(process.execPath, [TSC, '-p', dir], dir, LIMITS.typecheck);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('every entry point of the installed package loads at run time with its main exports', async (t) => {
  const dir = await installed(t);
  if (!dir) return;
  assert.equal(existsSync(join(dir, 'node_modules', PKG.name, 'src')), false, 'no source beside the install');
  await writeFile(join(dir, 'entries.mjs'), RUNTIME_CHECK(codeEntries()));
  const r = await run(process.execPath, ['entries.mjs'], dir, LIMITS.command);
  assert.equal(r.code, 0, r.stderr);
  const names = JSON.parse(r.stdout) as Record<string, string[]>;
  for (const [entry, expected] of Object.entries(ENTRY_NAMES)) {
    for (const name of expected) assert.ok(names[entry]?.includes(name), `${entry} exports ${name}`);
  }
});

test('npx bulwark runs the built command from the install: help, a factory and a model-file provision', async (t) => {
  const dir = await installed(t);
  if (!dir) return;
  const help = await run('npx', ['--no', '--', 'bulwark', '--help'], dir, LIMITS.command);
  assert.equal(help.code, 0, help.stderr);
  for (const command of ['factory', 'device', 'hub', 'cloud', 'release', 'audit'])
    assert.match(help.stdout, new RegExp(command));

  await writeFile(join(dir, 'thermostat.model.json'), JSON.stringify(THERMOSTAT, null, 2));
  assert.ok(existsSync(join(dir, THERMOSTAT.$schema)), 'the model file $schema resolves in the install');
  const bin = join(dir, 'node_modules', '.bin', 'bulwark');
  const init = await run(process.execPath, [bin, 'factory', 'init', '--dir', 'factory'], dir, LIMITS.command);
  assert.equal(init.code, 0, init.stderr);
  const args = ['factory', 'provision', '--dir', 'factory', '--model', './thermostat.model.json', '--count', '1'];
  const provision = await run(process.execPath, [bin, ...args, '--out', 'units'], dir, LIMITS.command);
  assert.equal(provision.code, 0, provision.stderr);
  const [serial] = (await readdir(join(dir, 'units'))).filter((e) => e.startsWith('THM-'));
  assert.ok(serial, 'one unit with the model file serial prefix');
  const model = JSON.parse(await readFile(join(dir, 'units', serial, 'model.json'), 'utf8')) as { id: string };
  assert.equal(model.id, 'acme-thermostat');
});

test('the installed package starts a device for the model-file unit and stops it', async (t) => {
  const dir = await installed(t);
  if (!dir) return;
  const units = join(dir, 'units');
  if (!existsSync(units)) return t.skip('needs the provision of the previous test');
  const [serial] = (await readdir(units)).filter((e) => e.startsWith('THM-'));
  assert.ok(serial);
  const bin = join(dir, 'node_modules', '.bin', 'bulwark');
  const args = ['device', 'run', '--bundle', join(units, serial), '--state', join(dir, 'state')];
  // Its own process group, so the supervisor and the agent it starts end together.
  const child = spawn(process.execPath, [bin, ...args, '--web-port', '0', '--hub-port', '0'], {
    cwd: dir,
    env: childEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const ready = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), LIMITS.deviceReady);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/ ready: https:\/\/127\.0\.0\.1:\d+/.test(out)) resolve(out);
      });
      void exited.then(() => (clearTimeout(timer), resolve(undefined)));
    });
    assert.ok(ready, `device ready line; stdout: ${out} stderr: ${err.slice(-600)}`);
    assert.match(ready, new RegExp(`device ${serial} ready`));
  } finally {
    signalGroup(child.pid, 'SIGTERM');
    const killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }
});
