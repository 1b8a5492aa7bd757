import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  renderAdvancedConfig,
  renderRabbitmqConf,
  rabbitmqNodeFiles,
  validateRabbitmqSettings,
  writeRabbitmqConfig,
  type RabbitmqNodeSettings,
} from './rabbitmq-config.ts';

const node = (i: number, extra: Partial<RabbitmqNodeSettings> = {}): RabbitmqNodeSettings => ({
  name: `bulwark${i}`,
  host: 'localhost',
  mqttPort: 18_880 + i,
  distPort: 25_670 + i,
  dataDir: `/var/lib/bulwark-rabbit${i}`,
  ...extra,
});
const settings = (n: number, extra = {}): ReturnType<typeof validateRabbitmqSettings> =>
  validateRabbitmqSettings({
    nodes: Array.from({ length: n }, (_, i) => node(i + 1, { amqpPort: 15_670 + i + 1 })),
    authorizerUrl: 'http://127.0.0.1:9901',
    ...extra,
  });
const paths = { caFile: '/b/ca.pem', certFile: '/b/c.pem', keyFile: '/b/k.pem' };

/** rabbitmq.conf as cuttlefish reads it: `key = value` lines, comments and blank lines skipped. */
function parseConf(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([a-z_][a-z0-9_.$-]*) = (\S.*)$/.exec(line);
    assert.ok(m, `not a cuttlefish line: ${line}`);
    assert.ok(!keys.has(m[1]!), `key set twice: ${m[1]}`);
    keys.set(m[1]!, m[2]!);
  }
  return keys;
}

test('each node requires a client certificate on TLS 1.3 and takes its CN as the user, with no password login', () => {
  const s = settings(3);
  const conf = parseConf(
    renderRabbitmqConf(s, s.nodes[1]!, paths, { definitionsFile: '/b/bulwark2/definitions.json' }),
  );
  const expected: Record<string, string> = {
    'listeners.tcp': 'none',
    'listeners.ssl.default': '127.0.0.1:15672',
    'ssl_options.cacertfile': '/b/ca.pem',
    'ssl_options.certfile': '/b/c.pem',
    'ssl_options.keyfile': '/b/k.pem',
    'ssl_options.verify': 'verify_peer',
    'ssl_options.fail_if_no_peer_cert': 'true',
    'ssl_options.versions.1': 'tlsv1.3',
    ssl_cert_login_from: 'common_name',
    'mqtt.listeners.tcp': 'none',
    'mqtt.listeners.ssl.default': '127.0.0.1:18882',
    'mqtt.ssl_cert_login': 'true',
    'mqtt.allow_anonymous': 'false',
    'mqtt.durable_queue_type': 'quorum',
    'mqtt.retained_message_store': 'rabbit_mqtt_retained_msg_store_noop',
    'auth_backends.1': 'http',
    'auth_http.http_method': 'post',
    'auth_http.user_path': 'http://127.0.0.1:9901/auth/user',
    'auth_http.vhost_path': 'http://127.0.0.1:9901/auth/vhost',
    'auth_http.resource_path': 'http://127.0.0.1:9901/auth/resource',
    'auth_http.topic_path': 'http://127.0.0.1:9901/auth/topic',
    'auth_http.request_timeout': '5000',
    'auth_http.connection_timeout': '2000',
    'auth_mechanisms.1': 'EXTERNAL',
    'definitions.import_backend': 'local_filesystem',
    'definitions.local.path': '/b/bulwark2/definitions.json',
    'cluster_formation.peer_discovery_backend': 'classic_config',
    'cluster_formation.classic_config.nodes.1': 'bulwark1@localhost',
    'cluster_formation.classic_config.nodes.2': 'bulwark2@localhost',
    'cluster_formation.classic_config.nodes.3': 'bulwark3@localhost',
    cluster_partition_handling: 'pause_minority',
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(conf.get(key), value, key);
  for (const key of conf.keys()) {
    assert.doesNotMatch(key, /^(default_user|default_pass|mqtt\.default_|auth_cache|loopback_users)/, key);
    assert.notEqual(key, 'auth_backends.2', 'the HTTP backend is the only one');
  }
  assert.ok(![...conf.values()].some((v) => /guest/.test(v)));
});

test('a node without an AMQP port has no AMQP listener, and one or two nodes do not pause a minority', () => {
  const s = validateRabbitmqSettings({ nodes: [node(1)], authorizerUrl: 'http://[::1]:9901' });
  const conf = parseConf(renderRabbitmqConf(s, s.nodes[0]!, paths, { definitionsFile: '/d.json' }));
  assert.equal(conf.get('listeners.ssl'), 'none');
  assert.equal(conf.get('listeners.tcp'), 'none');
  assert.equal(conf.get('auth_http.topic_path'), 'http://[::1]:9901/auth/topic');
  assert.equal(conf.has('cluster_partition_handling'), false);
});

test('the Erlang distribution is bound to the listen address; an HTTPS authorizer is verified', () => {
  const plain = renderAdvancedConfig(settings(1), paths);
  assert.match(plain, /\{kernel, \[\{inet_dist_use_interface, \{127,0,0,1\}\}\]\}/);
  assert.doesNotMatch(plain, /rabbitmq_auth_backend_http/);
  assert.match(plain, /^\[$[\s\S]*^\]\.$/m, 'one Erlang term, closed by a full stop');
  const https = renderAdvancedConfig(
    settings(1, { authorizerUrl: 'https://10.0.0.2:9901', authorizerServerName: 'authz.internal' }),
    {
      ...paths,
      authorizerCaFile: '/b/authorizer-ca.pem',
    },
  );
  assert.match(https, /\{cacertfile, "\/b\/authorizer-ca\.pem"\}, \{verify, verify_peer\}/);
  assert.match(https, /\{server_name_indication, "authz\.internal"\}/, 'the name checked in place of the IP address');
  assert.throws(() => settings(1, { authorizerUrl: 'https://10.0.0.2:9901' }), { key: 'authorizerServerName' });
  assert.equal(
    settings(1, { authorizerUrl: 'https://authz.internal:9901' }).authorizerUrl,
    'https://authz.internal:9901',
  );
});

test('unsafe settings are refused with the key at fault', () => {
  const ok = { nodes: [node(1)], authorizerUrl: 'http://127.0.0.1:9901' };
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ authorizerUrl: 'http://10.0.0.2:9901' }, 'authorizerUrl'],
    [{ authorizerUrl: 'ftp://127.0.0.1:1' }, 'authorizerUrl'],
    [{ authorizerUrl: 'http://u:p@127.0.0.1:1' }, 'authorizerUrl'],
    [{ authorizerUrl: 'http://127.0.0.1:1/auth' }, 'authorizerUrl'],
    [{ listenHost: '0.0.0.0' }, 'listenHost'],
    [{ listenHost: 'localhost' }, 'listenHost'],
    [{ nodes: [] }, 'nodes'],
    [{ nodes: [node(1, { name: 'Bad Name' })] }, 'nodes[0].name'],
    [{ nodes: [node(1, { dataDir: 'relative/dir' })] }, 'nodes[0].dataDir'],
    [{ nodes: [node(1, { dataDir: '/x\nauth_backends.1 = internal' })] }, 'nodes[0].dataDir'],
    [{ nodes: [node(1, { host: 'local host' })] }, 'nodes[0].host'],
    [{ nodes: [node(1, { mqttPort: 70_000 })] }, 'nodes[0].mqttPort'],
    [{ nodes: [node(1), node(1)] }, 'nodes'],
    [{ nodes: [node(1), node(2, { mqttPort: 18_881 })] }, 'nodes'],
    [{ clusterName: 'x\ny = z' }, 'clusterName'],
    [{ authRequestTimeoutMs: 0 }, 'authRequestTimeoutMs'],
    [{ policy: { serviceQueuePrefix: 'mqtt-subscription-' } }, 'serviceQueuePrefix'],
  ];
  for (const [change, key] of bad)
    assert.throws(() => validateRabbitmqSettings({ ...ok, ...change }), { code: 'CLOUD_CONFIG_INVALID', key });
});

test('writeRabbitmqConfig writes each node its files, the key 0600, and definitions with no user', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-rmq-config-'));
  try {
    const nodes = [1, 2].map((i) => node(i, { dataDir: join(dir, `data${i}`) }));
    const written = await writeRabbitmqConfig({
      outDir: join(dir, 'conf'),
      caCertPem: 'CA PEM\n',
      server: { certPem: 'CERT PEM\n', keyPem: 'KEY PEM\n' },
      settings: { nodes, authorizerUrl: 'http://127.0.0.1:9901' },
    });
    assert.equal(written.nodes.length, 2);
    assert.equal((await stat(written.paths.keyFile)).mode & 0o777, 0o600);
    for (const [i, n] of written.nodes.entries()) {
      assert.equal(n.nodeName, `bulwark${i + 1}@localhost`);
      assert.deepEqual(n.files, rabbitmqNodeFiles(join(dir, 'conf'), nodes[i]!));
      assert.equal(n.mqttUrl, `mqtts://127.0.0.1:${nodes[i]!.mqttPort}`);
      const conf = parseConf(await readFile(n.files.confFile, 'utf8'));
      assert.equal(conf.get('ssl_options.keyfile'), written.paths.keyFile);
      assert.equal(conf.get('definitions.local.path'), n.files.definitionsFile);
      const defs = JSON.parse(await readFile(n.files.definitionsFile, 'utf8')) as Record<string, unknown[]>;
      assert.deepEqual(defs.vhosts, [{ name: '/' }]);
      assert.deepEqual(defs.users, [], 'no user at all: guest is never seeded');
      assert.equal(
        await readFile(n.files.enabledPluginsFile, 'utf8'),
        '[rabbitmq_mqtt,rabbitmq_auth_backend_http,rabbitmq_auth_mechanism_ssl].\n',
      );
      const env = new Map(
        (await readFile(n.files.envFile, 'utf8'))
          .split('\n')
          .filter((l) => /^[A-Z_]+=/.test(l))
          .map((l) => l.split('=', 2) as [string, string]),
      );
      assert.equal(env.get('NODENAME'), n.nodeName);
      assert.equal(env.get('DIST_PORT'), String(nodes[i]!.distPort));
      assert.equal(env.get('CONFIG_FILE'), n.files.confFile);
      assert.equal(env.get('MNESIA_BASE'), nodes[i]!.dataDir);
      for (const value of env.values()) assert.match(value, /^[A-Za-z0-9@/._-]+$/, 'nothing a shell would expand');
      assert.ok((await stat(n.files.logDir)).isDirectory());
    }
    await assert.rejects(
      writeRabbitmqConfig({
        outDir: join(dir, 'conf2'),
        caCertPem: 'x',
        server: { certPem: 'x', keyPem: 'x' },
        settings: { nodes, authorizerUrl: 'https://authz.internal:9901' },
      }),
      { key: 'authorizerCaPem' },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
