// The commands as processes: `bulwark cloud run`, `bulwark device run --cloud`, the button, and
// `bulwark cloud import`; an owner claims the plug through the API and switches it. Also
// `cloud broker-config --kind rabbitmq` and `cloud run --rabbitmq-authorizer` (no RabbitMQ started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OwnerApiClient, findMailedLink, openCloudStore } from '../../src/cloud/index.ts';
import { EXIT } from '../../src/errors/index.ts';
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

/** rabbitmq.conf's `key = value` lines (comments and blank lines skipped); a key set twice fails. */
function confKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([a-z_][a-z0-9_.$-]*) = (\S.*)$/.exec(line);
    assert.ok(m, `not a rabbitmq.conf line: ${line}`);
    assert.ok(!keys.has(m[1]!), `key set twice: ${m[1]}`);
    keys.set(m[1]!, m[2]!);
  }
  return keys;
}

test(
  'cloud broker-config --kind rabbitmq writes each node with the factory CA, and refuses a bad --node',
  { timeout: 120_000 },
  async () => {
    const { work, factoryDir } = await makeUnits('plug', 1);
    const out = join(work, 'rabbitmq');
    const args = ['cloud', 'broker-config', '--kind', 'rabbitmq', '--factory', factoryDir, '--out', out];
    const authorizer = ['--authorizer-url', 'http://127.0.0.1:9901'];
    const r = await bulwark([
      ...args,
      ...['--node', `b1@localhost:18881:25671:${join(work, 'b1')}:15671`],
      ...['--node', `b2@localhost:18882:25672:${join(work, 'b2')}`],
      ...authorizer,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RabbitMQ configuration written: 2 node\(s\)/);
    assert.match(
      r.stdout,
      new RegExp(`run: RABBITMQ_CONF_ENV_FILE=${join(out, 'b2', 'rabbitmq-env.conf')} rabbitmq-server`),
    );
    assert.match(r.stdout, /cloud run --rabbitmq-authorizer 127\.0\.0\.1:9901/);
    const b1 = confKeys(await readFile(join(out, 'b1', 'rabbitmq.conf'), 'utf8'));
    const b2 = confKeys(await readFile(join(out, 'b2', 'rabbitmq.conf'), 'utf8'));
    assert.equal(b1.get('mqtt.listeners.ssl.default'), '127.0.0.1:18881');
    assert.equal(b1.get('listeners.ssl.default'), '127.0.0.1:15671');
    assert.equal(b2.get('listeners.ssl'), 'none', 'no AMQP listener on a node without an amqpPort');
    assert.equal(b2.get('ssl_options.verify'), 'verify_peer');
    assert.equal(b2.get('auth_http.user_path'), 'http://127.0.0.1:9901/auth/user');
    assert.equal(b2.get('cluster_formation.classic_config.nodes.1'), 'b1@localhost');
    const ca = new X509Certificate(await readFile(b2.get('ssl_options.cacertfile')!, 'utf8'));
    const server = new X509Certificate(await readFile(b2.get('ssl_options.certfile')!, 'utf8'));
    assert.equal(
      ca.fingerprint256,
      new X509Certificate(await readFile(join(factoryDir, 'ca', 'ca-cert.pem'))).fingerprint256,
    );
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), "the broker's certificate is the factory CA's");
    assert.equal((await stat(b2.get('ssl_options.keyfile')!)).mode & 0o777, 0o600);
    const definitions = JSON.parse(await readFile(join(out, 'b1', 'definitions.json'), 'utf8')) as { users: [] };
    assert.deepEqual(definitions.users, [], 'no user, so no guest');
    const env = await readFile(join(out, 'b1', 'rabbitmq-env.conf'), 'utf8');
    assert.match(env, /^NODENAME=b1@localhost$/m);
    assert.match(env, new RegExp(`^MNESIA_BASE=${join(work, 'b1')}$`, 'm'));
    for (const [node, key] of [
      ['b3@localhost:18883:25673', /node: 'b3@localhost:18883:25673' is not name@host/],
      [`b3@localhost:18883:0:${join(work, 'b3')}`, /node\.distPort/],
      [`B3@localhost:18883:25673:${join(work, 'b3')}`, /nodes\[0\]\.name/],
    ] as const) {
      const bad = await bulwark([...args.slice(0, -1), join(work, 'refused'), '--node', node, ...authorizer]);
      assert.equal(bad.code, EXIT.CONFIG, bad.stderr);
      assert.match(bad.stderr, /CLOUD_CONFIG_INVALID/);
      assert.match(bad.stderr, key);
      assert.ok(!existsSync(join(work, 'refused')), 'a refused configuration writes nothing');
    }
  },
);

/** Asks the authorizer RabbitMQ's user question, as a certificate login asks it (no password). */
async function askUser(base: string, form: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}/auth/user`, { method: 'POST', body: new URLSearchParams(form) });
  assert.equal(res.status, 200);
  return res.text();
}

test(
  'cloud run --rabbitmq-authorizer answers from the revocation list, refuses a public address, stops on SIGTERM',
  { timeout: 120_000 },
  async () => {
    const { work, factoryDir, units, manifest } = await makeUnits('plug', 2);
    const [A, B] = units as [(typeof units)[0], (typeof units)[0]];
    const state = join(work, 'cloud');
    const run = (authorizer: string, stateDir: string): string[] => [
      ...['cloud', 'run', '--log-format', 'text', '--factory', factoryDir, '--state', stateDir],
      ...['--mqtt-port', '0', '--api-port', '0', '--import', manifest, '--rabbitmq-authorizer', authorizer],
    ];
    const publicAddress = await bulwark(run('0.0.0.0:9901', join(work, 'public')));
    assert.equal(publicAddress.code, EXIT.CONFIG, publicAddress.stderr);
    assert.match(publicAddress.stderr, /CLOUD_CONFIG_INVALID.*host: must be a loopback or private IP address/);
    const cloud = await start(
      run('127.0.0.1:0', state),
      /\(sqlite\), rabbitmq authorizer (http:\/\/127\.0\.0\.1:\d+)$/,
    );
    const url = cloud.match[1]!;
    try {
      assert.equal(await askUser(url, { username: A.serial }), 'allow');
      assert.equal(await askUser(url, { username: B.serial }), 'allow');
      assert.equal(await askUser(url, { username: 'guest' }), 'deny', 'a CN that is no unit nor cloud instance');
      assert.equal(await askUser(url, { username: A.serial, password: 'guest' }), 'deny', 'a password login');
      const revoke = await bulwark(['cloud', 'revoke', '--serial', B.serial, '--reason', 'stolen', '--state', state]);
      assert.equal(revoke.code, 0, revoke.stderr);
      await waitFor(async () => (await askUser(url, { username: B.serial })) === 'deny', 10_000, 'B refused');
      assert.equal(await askUser(url, { username: A.serial }), 'allow');
    } finally {
      const exited = new Promise<number | null>((r) => cloud.child.once('exit', (code) => r(code)));
      cloud.child.kill('SIGTERM');
      const timer = setTimeout(() => cloud.child.kill('SIGKILL'), 15_000);
      assert.equal(await exited, 0, 'the cloud stops cleanly on SIGTERM');
      clearTimeout(timer);
    }
    await assert.rejects(askUser(url, { username: A.serial }), 'the authorizer stopped with the cloud');
  },
);
