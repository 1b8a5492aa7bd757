// Model files through the real `bulwark` command (node bin/bulwark.js), as a maker runs it: a model file
// with a mistake is refused by `factory provision` with the file, the field's path and the rule on
// stderr, exit code 2, and nothing written (no output folder, the manifest and the factory untouched).
// Every rule has its unit test in src/models/model-file.test.ts; here a few representative ones end to
// end. And a bundle whose model.json does not match its digest is refused by `device run`: the agent
// exits 78 with BUNDLE_MODEL_MISMATCH, and nothing listens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: string[], cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A valid maker's model: a thermostat. */
function thermostat(): Record<string, unknown> & { capabilities: Array<Record<string, unknown>> } {
  return {
    schema: 'bulwark.model/v1',
    id: 'thermostat',
    name: 'Room Thermostat',
    serialPrefix: 'THM',
    riskClass: 'standard',
    privacyClass: 'standard',
    initialPasswordMode: 'sticker',
    capabilities: [
      {
        id: 'setpoint',
        kind: 'level',
        actions: ['set', 'get'],
        value: { type: 'number', min: 5, max: 30, step: 0.5 },
        unit: 'degC',
        description: 'Target temperature',
      },
      {
        id: 'temperature',
        kind: 'reading',
        actions: ['get'],
        value: { type: 'number', min: -20, max: 60 },
        unit: 'degC',
        description: 'Room temperature',
      },
    ],
    sensors: ['temperature'],
    actuators: ['heating'],
    networks: ['wifi'],
    supportPeriod: { endsOn: '2037-06-30' },
  };
}

let work: string;
const bulwark = (args: string[]): Promise<Outcome> => run(args, work);

/** Every file under `dir` with the SHA-256 of its content (folders as entries too): what "nothing written" compares. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    out.set(
      relative(dir, p),
      e.isDirectory()
        ? 'dir'
        : createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
    );
  }
  return out;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-cli-model-'));
  const init = await bulwark(['factory', 'init', '--dir', 'factory']);
  assert.equal(init.code, 0, init.stderr);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('a valid model file provisions through the command (the control for the refusals below)', async () => {
  await writeFile(join(work, 'good.model.json'), JSON.stringify(thermostat(), null, 2));
  const r = await bulwark(['factory', 'provision', '--dir', 'factory', '--model', 'good.model.json', '--out', 'good']);
  assert.equal(r.code, 0, r.stderr);
  const manifest = JSON.parse(await readFile(join(work, 'good', 'manifest.json'), 'utf8')) as unknown;
  assert.match(JSON.stringify(manifest), /THM-/);
});

/** A mistake: the file (JSON or YAML), and the path and rule stderr must name. */
interface Mistake {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly path: string;
  readonly rule: RegExp;
}

const json = (change: (m: ReturnType<typeof thermostat>) => void): string => {
  const m = thermostat();
  change(m);
  return JSON.stringify(m, null, 2);
};

const MISTAKES: readonly Mistake[] = [
  {
    name: 'a range whose max is below its min (a rule the schema cannot state)',
    file: 'range.model.json',
    text: json((m) => (m.capabilities[0]!.value = { type: 'number', min: 5, max: 1 })),
    path: 'capabilities[0].value.max',
    rule: /must be at least min/,
  },
  {
    name: 'a field the schema does not know',
    file: 'unknown.model.json',
    text: json((m) => (m.colour = 'red')),
    path: 'colour',
    rule: /is not allowed here/,
  },
  {
    name: 'a camera in a model whose privacy class is not sensitive',
    file: 'privacy.model.json',
    text: json((m) => (m.sensors = ['temperature', 'camera'])),
    path: 'privacyClass',
    rule: /must be 'sensitive' for a camera or microphone/,
  },
  {
    name: 'a risk class outside the enumeration, in YAML',
    file: 'risk.model.yaml',
    text: [
      'schema: bulwark.model/v1',
      'id: thermostat',
      'name: Room Thermostat',
      'serialPrefix: THM',
      'riskClass: extreme',
      'privacyClass: standard',
      'initialPasswordMode: sticker',
      'capabilities:',
      '  - id: setpoint',
      '    kind: level',
      '    actions: [set, get]',
      '    value: { type: number, min: 5, max: 30 }',
      '    description: Target temperature',
      'sensors: []',
      'actuators: [heating]',
      'networks: [wifi]',
      'supportPeriod: { endsOn: 2037-06-30 }',
      '',
    ].join('\n'),
    path: 'riskClass',
    rule: /must be one of/,
  },
];

for (const m of MISTAKES) {
  test(`factory provision refuses ${m.name}: path and rule on stderr, exit 2, nothing written`, async () => {
    await writeFile(join(work, m.file), m.text);
    const before = await snapshot(work);
    // Into a fresh folder, and into one a previous provision wrote: neither may change.
    for (const out of [`out-${m.file}`, 'good']) {
      const r = await bulwark(['factory', 'provision', '--dir', 'factory', '--model', m.file, '--out', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const line = r.stderr.trimEnd().split('\n').at(-1)!;
      assert.ok(line.startsWith('bulwark: error MODEL_FILE_INVALID: '), r.stderr);
      assert.ok(line.includes(m.file), `the file is named: ${line}`);
      assert.ok(line.includes(`${m.path}: `), `the path ${m.path} is named: ${line}`);
      assert.match(line, m.rule);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
    assert.equal(existsSync(join(work, `out-${m.file}`)), false, 'no output folder');
    assert.deepEqual(await snapshot(work), before, 'the factory, the earlier output and its manifest are untouched');
  });
}

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('device run refuses a bundle whose model.json does not match its digest: exit 78, nothing listens', async () => {
  const units = await readdir(join(work, 'good'), { withFileTypes: true });
  const serial = units.find((e) => e.isDirectory())!.name;
  const bundle = join(work, 'tampered');
  await cp(join(work, 'good', serial), bundle, { recursive: true });
  // A maker's model quietly loosened after the factory signed off on it: the setpoint's range widened.
  const model = JSON.parse(await readFile(join(bundle, 'model.json'), 'utf8')) as ReturnType<typeof thermostat>;
  (model.capabilities[0]!.value as { max: number }).max = 90;
  await writeFile(join(bundle, 'model.json'), JSON.stringify(model));
  const [webPort, hubPort] = [await freePort(), await freePort()];
  const args = ['device', 'run', '--bundle', 'tampered', '--state', 'tampered-state'];
  const running = bulwark([...args, '--web-port', String(webPort), '--hub-port', String(hubPort)]);
  // Watched while the command runs, not only after: no port opens at any moment.
  let exited = false;
  let opened = false;
  void running.then(() => (exited = true));
  while (!exited) {
    opened ||= (await listening(webPort)) || (await listening(hubPort));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const r = await running;
  assert.equal(opened, false, 'no port was opened');
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /BUNDLE_MODEL_MISMATCH: model\.json \(thermostat, sha256:[0-9a-f]{64}\) is not the model/);
  assert.match(r.stderr, /^bulwark: error DEVICE_AGENT_REFUSED: /m);
  assert.doesNotMatch(r.stdout, /ready/, 'the agent never said it was ready');
  // The supervisor owns the button from its first moment (a hold must work with no agent), so it makes the
  // state folder; the agent made nothing in it, and the button's socket went with the supervisor.
  const left = existsSync(join(work, 'tampered-state')) ? await readdir(join(work, 'tampered-state')) : [];
  assert.deepEqual(left, [], 'no state was made for it');
});
