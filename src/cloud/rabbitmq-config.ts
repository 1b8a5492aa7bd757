/**
 * `bulwark cloud broker-config --kind rabbitmq`: the configuration of each node of a RabbitMQ 3.10
 * cluster (Debian bookworm's) that enforces what the embedded broker enforces, with the cloud as its
 * authorizer (rabbitmq-authorizer.ts). Measured on 3.10.8, and why each line is there:
 *
 * - an MQTT listener on TLS 1.3 only that requires a client certificate from the trusted CAs, whose
 *   CN is the user name (`mqtt.ssl_cert_login`, `ssl_cert_login_from = common_name`), with no plain
 *   MQTT or AMQP listener; the AMQP listener, when asked for (the cloud consuming as competing
 *   consumers), is TLS with the certificate as the only mechanism (EXTERNAL);
 * - every question to the HTTP auth backend (`auth_backends.1 = http`, POST, bounded time), which
 *   refuses a login with a password: in 3.10 a password in CONNECT overrides the certificate;
 * - no guest: definitions are loaded at boot, which stops RabbitMQ from seeding its default user and
 *   virtual host, and they declare the virtual host alone, with no user; the internal user database
 *   is not an auth backend, so no user added there later could log in either;
 * - quorum queues for MQTT sessions (`mqtt.durable_queue_type = quorum`: the QoS 1 queue of a client
 *   with clean session false, the cloud's), so a node's death loses nothing acknowledged;
 * - no retained messages (as on Mosquitto: `retain_available false`), the Erlang distribution bound
 *   to the listen address, and the cluster's peers named (`classic_config`).
 *
 * The text is made by pure functions; {@link writeRabbitmqConfig} writes it with the certificates.
 */
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { CloudConfigError } from './errors.ts';
import { absolutePath } from './broker-config.ts';
import { addressScope } from './rabbitmq-authorizer.ts';
import { defaultRabbitmqAuthPolicy, validateRabbitmqAuthPolicy, type RabbitmqAuthPolicy } from './rabbitmq-auth.ts';

/** One node: its name, ports and data folder. */
export interface RabbitmqNodeSettings {
  /** The node's short name; its Erlang node name is `<name>@<host>`. */
  readonly name: string;
  /** The host part of the node name (a name the other nodes resolve to this one). */
  readonly host: string;
  /** The MQTT over TLS listener (devices and the cloud). */
  readonly mqttPort: number;
  /** The AMQP over TLS listener for the cloud instances (competing consumers); absent: none. */
  readonly amqpPort?: number;
  /** The Erlang distribution port (the nodes and rabbitmqctl talk on it). */
  readonly distPort: number;
  /** The node's data folder (absolute): its database, quorum logs and logs. */
  readonly dataDir: string;
}

/** Settings of the cluster's configuration. Times in milliseconds. */
export interface RabbitmqSettings {
  readonly nodes: readonly RabbitmqNodeSettings[];
  /** The IP address every listener and the distribution bind to. */
  readonly listenHost: string;
  /** The authorizer's base URL: http on loopback, https elsewhere (its CA given to the writer). */
  readonly authorizerUrl: string;
  /**
   * With an https URL whose host is an IP address: a DNS name in the authorizer's certificate. Erlang checks
   * the certificate against the URL's host as a DNS name only, so an IP address never matches (measured).
   */
  readonly authorizerServerName?: string;
  readonly clusterName: string;
  /** The virtual host, exchange and cloud queue prefix the authorizer allows (the same policy). */
  readonly policy: RabbitmqAuthPolicy;
  /** A question to the authorizer must be answered within this, and connected within the next. */
  readonly authRequestTimeoutMs: number;
  readonly authConnectTimeoutMs: number;
  /** CONNECT must arrive within this after the handshake. */
  readonly mqttLoginTimeoutMs: number;
  /** Unacknowledged QoS 1 messages per MQTT subscriber: lets the cloud acknowledge in batches. */
  readonly mqttPrefetch: number;
  /** The TLS handshake must finish within this. */
  readonly handshakeTimeoutMs: number;
}

/** The defaults, but for the nodes and the authorizer's URL, which the caller always names. */
export const defaultRabbitmqSettings: Readonly<Omit<RabbitmqSettings, 'nodes' | 'authorizerUrl'>> = Object.freeze({
  listenHost: '127.0.0.1',
  clusterName: 'bulwark',
  policy: defaultRabbitmqAuthPolicy,
  authRequestTimeoutMs: 5_000,
  authConnectTimeoutMs: 2_000,
  mqttLoginTimeoutMs: 10_000,
  mqttPrefetch: 1_000,
  handshakeTimeoutMs: 10_000,
});

/** The plugins every node runs: MQTT, the HTTP auth backend, certificate login for AMQP. */
export const RABBITMQ_PLUGINS = ['rabbitmq_mqtt', 'rabbitmq_auth_backend_http', 'rabbitmq_auth_mechanism_ssl'] as const;

const NODE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62}[A-Za-z0-9])?$/;
const CLUSTER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

function int(c: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
}

/** The authorizer's URL: http only to loopback, no credentials, no path; what RabbitMQ's config can carry. */
function validateAuthorizerUrl(text: unknown): URL {
  let u: URL;
  try {
    u = new URL(String(text));
  } catch {
    throw new CloudConfigError('authorizerUrl', 'must be http://<loopback>:<port> or https://<host>:<port>');
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const plainOk = u.protocol === 'http:' && addressScope(host) === 'loopback';
  if ((!plainOk && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash)
    throw new CloudConfigError(
      'authorizerUrl',
      'must be http:// on a loopback address, or https://, with no credentials',
    );
  if ((u.pathname !== '/' && u.pathname !== '') || !/^[A-Za-z0-9.:[\]-]+$/.test(u.host))
    throw new CloudConfigError('authorizerUrl', 'must be a base URL with no path');
  return u;
}

function validateNode(n: RabbitmqNodeSettings, i: number): void {
  const c = n as unknown as Record<string, unknown>;
  if (typeof n.name !== 'string' || !NODE_NAME.test(n.name))
    throw new CloudConfigError(`nodes[${i}].name`, 'must be 1 to 32 lower-case letters, digits or -');
  if (typeof n.host !== 'string' || !HOST_NAME.test(n.host))
    throw new CloudConfigError(`nodes[${i}].host`, 'must be a host name');
  for (const key of ['mqttPort', 'distPort', ...(n.amqpPort === undefined ? [] : ['amqpPort'])])
    int({ [`nodes[${i}].${key}`]: c[key] }, `nodes[${i}].${key}`, 1, 65_535);
  absolutePath({ [`nodes[${i}].dataDir`]: n.dataDir }, `nodes[${i}].dataDir`);
}

/** Validates settings: names, ports (none used twice on this host), paths and bounds. */
export function validateRabbitmqSettings(
  settings: Partial<RabbitmqSettings> & Pick<RabbitmqSettings, 'nodes' | 'authorizerUrl'>,
): RabbitmqSettings {
  const c = { ...defaultRabbitmqSettings, ...settings, policy: validateRabbitmqAuthPolicy(settings.policy) };
  const nodes: readonly RabbitmqNodeSettings[] = c.nodes;
  // A plain boolean: Array.isArray would narrow the readonly array to any[].
  const isList: boolean = Array.isArray(settings.nodes);
  if (!isList || nodes.length === 0 || nodes.length > 9) throw new CloudConfigError('nodes', 'must name 1 to 9 nodes');
  nodes.forEach(validateNode);
  const names = nodes.map((n) => `${n.name}@${n.host}`);
  if (new Set(names).size !== names.length) throw new CloudConfigError('nodes', 'node names must differ');
  const ports = nodes.flatMap((n) => [`${n.host}:${n.mqttPort}`, `${n.host}:${n.distPort}`]);
  ports.push(...nodes.flatMap((n) => (n.amqpPort === undefined ? [] : [`${n.host}:${n.amqpPort}`])));
  if (new Set(ports).size !== ports.length) throw new CloudConfigError('nodes', 'a port is used twice on one host');
  if (isIP(c.listenHost) === 0 || addressScope(c.listenHost) === 'public')
    throw new CloudConfigError('listenHost', 'must be a loopback or private IP address');
  const url = validateAuthorizerUrl(c.authorizerUrl);
  if (c.authorizerServerName !== undefined && !HOST_NAME.test(c.authorizerServerName))
    throw new CloudConfigError('authorizerServerName', 'must be a DNS name');
  if (url.protocol === 'https:' && isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0 && !c.authorizerServerName)
    throw new CloudConfigError(
      'authorizerServerName',
      "an https URL with an IP address needs the certificate's DNS name",
    );
  if (typeof c.clusterName !== 'string' || !CLUSTER_NAME.test(c.clusterName))
    throw new CloudConfigError('clusterName', 'must be 1 to 32 lower-case letters, digits or -');
  int(c, 'authRequestTimeoutMs', 100, 60_000);
  int(c, 'authConnectTimeoutMs', 100, 60_000);
  int(c, 'mqttLoginTimeoutMs', 1_000, 120_000);
  int(c, 'mqttPrefetch', 1, 65_535);
  int(c, 'handshakeTimeoutMs', 1_000, 120_000);
  return Object.freeze({ ...c, nodes: nodes.map((n) => Object.freeze({ ...n })) });
}

/** The shared files every node's configuration names. */
export interface RabbitmqPaths {
  /** The CAs whose client certificates are accepted (devices and cloud instances). */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that signed the authorizer's certificate, when the authorizer is HTTPS. */
  readonly authorizerCaFile?: string;
}

/** The files of one node. */
export interface RabbitmqNodeFiles {
  readonly confFile: string;
  readonly advancedConfigFile: string;
  readonly enabledPluginsFile: string;
  readonly definitionsFile: string;
  /** rabbitmq-env.conf: point `RABBITMQ_CONF_ENV_FILE` at it and the node finds everything else. */
  readonly envFile: string;
  readonly logDir: string;
  readonly pidFile: string;
}

/** The Erlang node name of `node`. */
export function rabbitmqNodeName(node: Pick<RabbitmqNodeSettings, 'name' | 'host'>): string {
  return `${node.name}@${node.host}`;
}

function address(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The TLS lines shared by the MQTT and AMQP listeners (RabbitMQ has one `ssl_options` for both). */
function tlsLines(s: RabbitmqSettings, paths: RabbitmqPaths): string[] {
  return [
    '# TLS 1.3 with a client certificate from the trusted CAs, required; its CN is the user name.',
    `ssl_options.cacertfile = ${paths.caFile}`,
    `ssl_options.certfile = ${paths.certFile}`,
    `ssl_options.keyfile = ${paths.keyFile}`,
    'ssl_options.verify = verify_peer',
    'ssl_options.fail_if_no_peer_cert = true',
    'ssl_options.versions.1 = tlsv1.3',
    `ssl_handshake_timeout = ${s.handshakeTimeoutMs}`,
    'ssl_cert_login_from = common_name',
    '',
  ];
}

/** The MQTT plugin's lines. */
function mqttLines(s: RabbitmqSettings, node: RabbitmqNodeSettings): string[] {
  return [
    '# MQTT: TLS only; the certificate is the login, anonymous connections are refused.',
    'mqtt.listeners.tcp = none',
    `mqtt.listeners.ssl.default = ${address(s.listenHost, node.mqttPort)}`,
    'mqtt.ssl_cert_login = true',
    'mqtt.allow_anonymous = false',
    `mqtt.vhost = ${s.policy.vhost}`,
    `mqtt.exchange = ${s.policy.exchange}`,
    `mqtt.login_timeout = ${s.mqttLoginTimeoutMs}`,
    `mqtt.prefetch = ${s.mqttPrefetch}`,
    '# A session that outlives its connection (clean session false: the cloud) is a quorum queue, replicated',
    '# on the cluster: with the default classic queue, killing its node lost acknowledged messages.',
    'mqtt.durable_queue_type = quorum',
    '# No retained messages, as on the other brokers.',
    'mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_noop',
    '',
  ];
}

/** The HTTP auth backend's lines: every question to the cloud, by POST, within bounded time. */
function authLines(s: RabbitmqSettings): string[] {
  const base = validateAuthorizerUrl(s.authorizerUrl).origin;
  return [
    '# Every login and permission is asked of the Bulwark cloud (no internal users, no cache: a revocation',
    '# holds from the next question). POST, so no client-sent password ever sits in a URL.',
    'auth_backends.1 = http',
    'auth_http.http_method = post',
    ...(['user', 'vhost', 'resource', 'topic'] as const).map((k) => `auth_http.${k}_path = ${base}/auth/${k}`),
    `auth_http.request_timeout = ${s.authRequestTimeoutMs}`,
    `auth_http.connection_timeout = ${s.authConnectTimeoutMs}`,
    '# AMQP logins by certificate only (EXTERNAL): no PLAIN or AMQPLAIN, so no password mechanism.',
    'auth_mechanisms.1 = EXTERNAL',
    '',
  ];
}

/** Where the files of `node` go: its configuration under `<outDir>/<name>/`, its logs and pid in its data folder. */
export function rabbitmqNodeFiles(
  outDir: string,
  node: Pick<RabbitmqNodeSettings, 'name' | 'dataDir'>,
): RabbitmqNodeFiles {
  const dir = join(resolve(outDir), node.name);
  return {
    confFile: join(dir, 'rabbitmq.conf'),
    advancedConfigFile: join(dir, 'advanced.config'),
    enabledPluginsFile: join(dir, 'enabled_plugins'),
    definitionsFile: join(dir, 'definitions.json'),
    envFile: join(dir, 'rabbitmq-env.conf'),
    logDir: join(node.dataDir, 'log'),
    pidFile: join(node.dataDir, `${node.name}.pid`),
  };
}

/** rabbitmq.conf of `node`. */
export function renderRabbitmqConf(
  s: RabbitmqSettings,
  node: RabbitmqNodeSettings,
  paths: RabbitmqPaths,
  files: Pick<RabbitmqNodeFiles, 'definitionsFile'>,
): string {
  const n = s.nodes.length;
  return [
    `# Written by \`bulwark cloud broker-config --kind rabbitmq\`: node ${rabbitmqNodeName(node)} of ${n}.`,
    `cluster_name = ${s.clusterName}`,
    '',
    '# No plain listener; AMQP over TLS only for the cloud instances, when asked for.',
    'listeners.tcp = none',
    node.amqpPort === undefined
      ? 'listeners.ssl = none'
      : `listeners.ssl.default = ${address(s.listenHost, node.amqpPort)}`,
    '',
    ...tlsLines(s, paths),
    ...mqttLines(s, node),
    ...authLines(s),
    '# No guest: loading definitions at boot stops RabbitMQ from seeding its default user and vhost.',
    'definitions.import_backend = local_filesystem',
    `definitions.local.path = ${files.definitionsFile}`,
    '',
    '# The cluster: every node named; with three or more, a minority side pauses rather than diverge.',
    'cluster_formation.peer_discovery_backend = classic_config',
    ...s.nodes.map((peer, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${rabbitmqNodeName(peer)}`),
    ...(n >= 3 ? ['cluster_partition_handling = pause_minority'] : []),
    '',
  ].join('\n');
}

/** An Erlang string literal of a path (validated: no quote or backslash can be in it). */
function erlangString(path: string): string {
  return JSON.stringify(path);
}

/** advanced.config: what rabbitmq.conf cannot say (the distribution's interface, the authorizer's TLS). */
export function renderAdvancedConfig(s: RabbitmqSettings, paths: RabbitmqPaths): string {
  const sections: string[] = [];
  if (isIP(s.listenHost) === 4)
    sections.push(` {kernel, [{inet_dist_use_interface, {${s.listenHost.split('.').join(',')}}}]}`);
  if (paths.authorizerCaFile !== undefined) {
    sections.push(
      ' {rabbitmq_auth_backend_http, [{ssl_options, [' +
        `{cacertfile, ${erlangString(paths.authorizerCaFile)}}, {verify, verify_peer}, ` +
        "{versions, ['tlsv1.3', 'tlsv1.2']}" +
        (s.authorizerServerName === undefined
          ? ''
          : `, {server_name_indication, ${erlangString(s.authorizerServerName)}}`) +
        ']}]}',
    );
  }
  return [
    `%% Written by \`bulwark cloud broker-config --kind rabbitmq\`.`,
    '%% The Erlang distribution (full control of the node, to whoever holds the cookie) listens on the',
    '%% listen address only; an HTTPS authorizer is verified against its CA.',
    '[',
    sections.join(',\n'),
    '].',
    '',
  ].join('\n');
}

/** enabled_plugins. */
export function renderEnabledPlugins(): string {
  return `[${RABBITMQ_PLUGINS.join(',')}].\n`;
}

/** definitions.json: the virtual host and nothing else (no user: every login is the authorizer's). */
export function renderDefinitions(s: RabbitmqSettings): string {
  const definitions = {
    vhosts: [{ name: s.policy.vhost }],
    users: [],
    permissions: [],
    topic_permissions: [],
    parameters: [],
    global_parameters: [],
    policies: [],
    queues: [],
    exchanges: [],
    bindings: [],
  };
  return JSON.stringify(definitions, null, 2) + '\n';
}

/** rabbitmq-env.conf of `node` (sourced by RabbitMQ's scripts: every value was validated). */
export function renderRabbitmqEnv(node: RabbitmqNodeSettings, files: RabbitmqNodeFiles): string {
  return [
    `# Written by \`bulwark cloud broker-config --kind rabbitmq\`. Start the node with`,
    `# RABBITMQ_CONF_ENV_FILE=${files.envFile} rabbitmq-server`,
    `NODENAME=${rabbitmqNodeName(node)}`,
    'USE_LONGNAME=false',
    `DIST_PORT=${node.distPort}`,
    `CONFIG_FILE=${files.confFile}`,
    `ADVANCED_CONFIG_FILE=${files.advancedConfigFile}`,
    `ENABLED_PLUGINS_FILE=${files.enabledPluginsFile}`,
    `MNESIA_BASE=${node.dataDir}`,
    `LOG_BASE=${files.logDir}`,
    `PID_FILE=${files.pidFile}`,
    '',
  ].join('\n');
}

/** What {@link writeRabbitmqConfig} wrote for one node. */
export interface WrittenRabbitmqNode {
  readonly settings: RabbitmqNodeSettings;
  /** `<name>@<host>`. */
  readonly nodeName: string;
  readonly files: RabbitmqNodeFiles;
  /** mqtts://<listenHost>:<mqttPort>. */
  readonly mqttUrl: string;
  /** amqps://<listenHost>:<amqpPort>, when the node has an AMQP listener. */
  readonly amqpUrl?: string;
}

/** What {@link writeRabbitmqConfig} wrote. */
export interface WrittenRabbitmqConfig {
  readonly settings: RabbitmqSettings;
  readonly paths: RabbitmqPaths;
  readonly nodes: readonly WrittenRabbitmqNode[];
}

/** Writes one node's five files and makes its data and log folders (0700). */
async function writeNode(s: RabbitmqSettings, node: RabbitmqNodeSettings, outDir: string, paths: RabbitmqPaths) {
  const files = rabbitmqNodeFiles(outDir, node);
  await mkdir(join(outDir, node.name), { recursive: true, mode: 0o700 });
  await mkdir(files.logDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(files.confFile, renderRabbitmqConf(s, node, paths, files), PUBLIC_FILE_MODE);
  await writeFileAtomic(files.advancedConfigFile, renderAdvancedConfig(s, paths), PUBLIC_FILE_MODE);
  await writeFileAtomic(files.enabledPluginsFile, renderEnabledPlugins(), PUBLIC_FILE_MODE);
  await writeFileAtomic(files.definitionsFile, renderDefinitions(s), PUBLIC_FILE_MODE);
  await writeFileAtomic(files.envFile, renderRabbitmqEnv(node, files), PUBLIC_FILE_MODE);
  const host = isIP(s.listenHost) === 6 ? `[${s.listenHost}]` : s.listenHost;
  return {
    settings: node,
    nodeName: rabbitmqNodeName(node),
    files,
    mqttUrl: `mqtts://${host}:${node.mqttPort}`,
    ...(node.amqpPort === undefined ? {} : { amqpUrl: `amqps://${host}:${node.amqpPort}` }),
  };
}

/**
 * Writes the CA bundle the listeners trust, the broker's certificate and key (0600) and, per node,
 * rabbitmq.conf, advanced.config, enabled_plugins, definitions.json and rabbitmq-env.conf under
 * `<outDir>/<node name>/`. An https authorizer needs `authorizerCaPem` (written as authorizer-ca.pem).
 *
 * @example
 * const { nodes } = await writeRabbitmqConfig({ outDir: 'rabbitmq', caCertPem, server, settings: {
 *   authorizerUrl: authorizer.url,
 *   nodes: [{ name: 'bulwark1', host: 'localhost', mqttPort: 8883, distPort: 25672, dataDir: '/var/lib/b1' }],
 * } });
 * // RABBITMQ_CONF_ENV_FILE=rabbitmq/bulwark1/rabbitmq-env.conf rabbitmq-server
 */
export async function writeRabbitmqConfig(o: {
  outDir: string;
  caCertPem: string;
  server: { certPem: string; keyPem: string };
  settings: Partial<RabbitmqSettings> & Pick<RabbitmqSettings, 'nodes' | 'authorizerUrl'>;
  authorizerCaPem?: string;
}): Promise<WrittenRabbitmqConfig> {
  const settings = validateRabbitmqSettings(o.settings);
  const https = new URL(settings.authorizerUrl).protocol === 'https:';
  if (https && o.authorizerCaPem === undefined)
    throw new CloudConfigError(
      'authorizerCaPem',
      'an https authorizer needs the CA its certificate is checked against',
    );
  const dir = resolve(o.outDir);
  absolutePath({ outDir: dir }, 'outDir');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths: RabbitmqPaths = {
    caFile: join(dir, 'ca-cert.pem'),
    certFile: join(dir, 'server-cert.pem'),
    keyFile: join(dir, 'server-key.pem'),
    ...(https ? { authorizerCaFile: join(dir, 'authorizer-ca.pem') } : {}),
  };
  await writeFileAtomic(paths.caFile, o.caCertPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.certFile, o.server.certPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.keyFile, o.server.keyPem, SECRET_FILE_MODE);
  if (paths.authorizerCaFile !== undefined)
    await writeFileAtomic(paths.authorizerCaFile, o.authorizerCaPem!, PUBLIC_FILE_MODE);
  const nodes: WrittenRabbitmqNode[] = [];
  for (const node of settings.nodes) nodes.push(await writeNode(settings, node, dir, paths));
  return { settings, paths, nodes };
}
