// Every way the `bulwark` command fails, run as a user runs it: one line `bulwark: error CODE: message`,
// a hint line where one helps, never a stack trace, and the error table's exit code (sysexits).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(entry: string, args: string[], cwd: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [entry, ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

let work: string;
const bulwark = (args: string[]): Promise<Outcome> => run(BIN, args, work);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-cli-errors-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * Asserts the outcome: the exit code, an error line for `code` (the last one on stderr: `device run`
 * prints its supervisor's lines first), at most a hint after it, and no stack trace anywhere.
 */
function assertError(r: Outcome, exitCode: number, code: string, message: RegExp): void {
  assert.equal(r.code, exitCode, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  const lines = r.stderr.trimEnd().split('\n');
  const at = lines.findLastIndex((l) => l.startsWith('bulwark: error '));
  assert.ok(at >= 0, r.stderr);
  const [, shown, text] = /^bulwark: error ([A-Z][A-Z0-9_]*): (.+)$/.exec(lines[at]!) ?? [];
  assert.equal(shown, code, lines[at]);
  assert.match(text!, message);
  const rest = lines.slice(at + 1);
  assert.ok(rest.length === 0 || (rest.length === 1 && rest[0]!.startsWith('hint: ')), r.stderr);
}

test('an unknown option is a usage error: exit 2', async () => {
  const r = await bulwark(['device', 'run', '--bundle', 'b', '--state', 's', '--bogus']);
  assertError(r, 2, 'USAGE', /^unknown option '--bogus'$/);
  assert.match(r.stderr, /\nhint: see `bulwark help <command>`/);
  assert.equal(r.stdout, '');
});

test('a missing required option, a missing argument and an unknown command are usage errors: exit 2', async () => {
  assertError(
    await bulwark(['device', 'run', '--state', 's']),
    2,
    'USAGE',
    /required option '--bundle <dir>' not specified/,
  );
  assertError(await bulwark(['cloud', 'import', '--factory', 'f']), 2, 'USAGE', /missing required argument 'manifest'/);
  assertError(await bulwark(['fly']), 2, 'USAGE', /unknown command 'fly'/);
  assertError(
    await bulwark(['policy', 'render', '--profile', 'p.yaml', '--format', 'pdf']),
    2,
    'POLICY_OPTION_INVALID',
    /format/,
  );
});

test('the source entry point reports the same way as bin/bulwark.js', async () => {
  assertError(await run(MAIN, ['release', 'status'], work), 2, 'USAGE', /required option '--repo <dir>'/);
});

test('a missing folder exits 66 (EX_NOINPUT) naming what is missing', async () => {
  const nowhere = join(work, 'nonexistent');
  assertError(
    await bulwark(['release', 'status', '--repo', nowhere]),
    66,
    'RELEASE_REPO_MISSING',
    /no release repository in /,
  );
  const provision = ['factory', 'provision', '--dir', nowhere, '--model', 'plug', '--out', join(work, 'out')];
  assertError(await bulwark(provision), 66, 'FACTORY_MISSING', /no factory in /);
  assertError(
    await bulwark(['policy', 'render', '--profile', join(nowhere, 'p.yaml')]),
    66,
    'PROFILE_UNREADABLE',
    /cannot read/,
  );
});

test('a device run on a missing bundle folder: the agent refuses its configuration, exit 78', async () => {
  const r = await bulwark([
    'device',
    'run',
    '--bundle',
    '/nonexistent',
    '--state',
    join(work, 'state-missing'),
    '--web-port',
    '0',
    '--hub-port',
    '0',
  ]);
  assertError(r, 78, 'DEVICE_AGENT_REFUSED', /refused its configuration/);
  assert.match(r.stderr, /BUNDLE_INCOMPLETE/, "the agent's own reason is shown");
});

test('a garbage profile, manifest or release record exits 65 (EX_DATAERR)', async () => {
  await writeFile(join(work, 'broken.yaml'), 'model: [unclosed\n  : :');
  assertError(
    await bulwark(['policy', 'render', '--profile', join(work, 'broken.yaml')]),
    65,
    'PROFILE_SYNTAX',
    /not valid YAML/,
  );
  assert.equal((await bulwark(['factory', 'init', '--dir', join(work, 'factory')])).code, 0);
  await writeFile(join(work, 'manifest.json'), '{"format": garbage');
  assertError(
    await bulwark([
      'cloud',
      'import',
      join(work, 'manifest.json'),
      '--factory',
      join(work, 'factory'),
      '--state',
      join(work, 'cloud'),
    ]),
    65,
    'MANIFEST_INVALID',
    /is not a JSON manifest/,
  );
  await mkdir(join(work, 'repo'));
  await writeFile(join(work, 'repo', 'release.json'), '{}');
  assertError(
    await bulwark(['release', 'status', '--repo', join(work, 'repo')]),
    65,
    'RELEASE_REPO_INVALID',
    /not a Bulwark release record/,
  );
});

test("a bundle with a garbage unit.json is refused by the agent: exit 78 with the bundle's error shown", async () => {
  await mkdir(join(work, 'garbage-bundle'));
  await writeFile(join(work, 'garbage-bundle', 'unit.json'), '{"serial": garbage');
  const r = await bulwark([
    'device',
    'run',
    '--bundle',
    join(work, 'garbage-bundle'),
    '--state',
    join(work, 'state-garbage'),
    '--web-port',
    '0',
    '--hub-port',
    '0',
  ]);
  assertError(r, 78, 'DEVICE_AGENT_REFUSED', /refused its configuration/);
  assert.match(r.stderr, /BUNDLE_INVALID: unit\.json is not valid JSON/);
});

test('a port already in use exits 69 (EX_UNAVAILABLE) with a hint', async () => {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await mkdir(join(work, 'served'));
    const serve = await bulwark([
      'release',
      'serve',
      '--repo',
      join(work, 'served'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ]);
    assertError(serve, 69, 'EADDRINUSE', /address already in use/);
    assert.match(serve.stderr, /\nhint: another program listens on that port/);
    const hub = await bulwark([
      'hub',
      'run',
      '--state',
      join(work, 'hub'),
      '--host',
      '127.0.0.1',
      '--web-port',
      String(port),
    ]);
    assertError(hub, 69, 'EADDRINUSE', /address already in use/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a port that is not a port is a refused setting: exit 78', async () => {
  assertError(
    await bulwark(['release', 'serve', '--repo', work, '--port', '99999']),
    78,
    'RELEASE_CONFIG_INVALID',
    /^port: /,
  );
  assertError(
    await bulwark(['hub', 'run', '--state', join(work, 'hub2'), '--web-port', 'http']),
    78,
    'HUB_CONFIG_INVALID',
    /^webPort: /,
  );
});

test('a chosen password on the command line is refused: exit 78, and nothing is written', async () => {
  const out = join(work, 'refused-out');
  for (const flag of ['--password', '--admin-password', '--setup-code', '--claim-code']) {
    const r = await bulwark(['factory', 'provision', '--dir', work, '--model', 'plug', '--out', out, flag, 'admin']);
    assertError(r, 78, 'PROVISION_SHARED_SECRET_REFUSED', /refused: every unit gets its own random secret/);
    assert.match(r.stderr, /\nhint: leave the option out/);
  }
  await assert.rejects(rm(out));
});

test('a service that is not running exits 69 with a hint on how to start it', async () => {
  const hub = await bulwark(['hub', 'devices', '--hub', join(work, 'no-hub')]);
  assertError(hub, 69, 'HUB_NOT_RUNNING', /no hub is running/);
  assert.match(hub.stderr, /\nhint: start the hub with `bulwark hub run/);
  assertError(
    await bulwark(['device', 'button', '--state', join(work, 'no-device')]),
    69,
    'BUTTON_UNREACHABLE',
    /no device agent/,
  );
});

test('help is not an error: exit 0 on stdout; no command at all prints the usage and exits 2', async () => {
  const help = await bulwark(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: bulwark /);
  const none = await bulwark([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Usage: bulwark /);
  assert.doesNotMatch(none.stderr, /^\s+at /m);
});
