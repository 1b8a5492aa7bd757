/**
 * `bulwark cloud broker-config`: a Mosquitto (2.0) configuration that enforces what the embedded
 * broker enforces. TLS 1.3 with a client certificate from the manufacturer CA required; the
 * certificate CN is the user name (`use_identity_as_username`) and the client id
 * (`use_username_as_clientid`), so a device cannot take over another's session; an ACL that
 * confines each device to its own topics and lets only the cloud instances read `devices/+/...`;
 * and queues sized so that nothing acknowledged is dropped (Mosquitto's default
 * `max_queued_messages 1000` silently discards QoS 1 messages for a slow subscriber).
 *
 * The text is made by pure functions; {@link writeBrokerConfig} writes it with the certificates.
 */
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { serviceCommonName, UP_KINDS, DOWN_KINDS, TOPIC_ROOT } from '../cloudprotocol/index.ts';
import { CloudConfigError } from './errors.ts';

/** Settings of the Mosquitto configuration. */
export interface MosquittoSettings {
  readonly host: string;
  readonly port: number;
  /** Names of the cloud service instances that connect (CN `bulwark-cloud-<name>`). */
  readonly instances: readonly string[];
  /** QoS 1 messages queued per client beyond those in flight: sized for the cloud being away (messages). */
  readonly maxQueuedMessages: number;
  /** QoS 1 messages in flight per client: lets the cloud acknowledge in batches (messages). */
  readonly maxInflightMessages: number;
  /** Largest packet accepted, bytes. */
  readonly maxPacketBytes: number;
  /** Longest keepalive a client may ask for, seconds. */
  readonly maxKeepaliveSeconds: number;
  /** Most simultaneous connections. */
  readonly maxConnections: number;
  /** The in-memory database is written to disk this often, seconds. */
  readonly autosaveIntervalSeconds: number;
  /** The user Mosquitto drops privileges to when started as root (it must be able to read these files). */
  readonly user: string;
}

/** The defaults: sized for 2,000 devices at one message a second through a 10-minute cloud outage, with room. */
export const defaultMosquittoSettings: Readonly<MosquittoSettings> = Object.freeze({
  host: '127.0.0.1',
  port: 8883,
  instances: ['1', '2'],
  maxQueuedMessages: 2_000_000,
  maxInflightMessages: 1_000,
  maxPacketBytes: 8_192,
  maxKeepaliveSeconds: 600,
  maxConnections: 20_000,
  autosaveIntervalSeconds: 60,
  user: 'mosquitto',
});

function int(c: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
}

/** Validates settings; refuses a queue bound that would drop acknowledged messages under normal load. */
export function validateMosquittoSettings(settings: Partial<MosquittoSettings> = {}): MosquittoSettings {
  const c = { ...defaultMosquittoSettings, ...settings };
  if (typeof c.host !== 'string' || !/^[0-9A-Za-z.:-]{1,64}$/.test(c.host))
    throw new CloudConfigError('host', 'must be an address or host name');
  int(c, 'port', 1, 65_535);
  const instances: unknown = c.instances;
  if (!Array.isArray(instances) || instances.length === 0 || instances.length > 64)
    throw new CloudConfigError('instances', 'must name 1 to 64 instances');
  for (const i of instances as readonly string[]) serviceCommonName(i);
  // The default 1000 is exactly the silent drop this configuration exists to prevent.
  int(c, 'maxQueuedMessages', 100_000, 100_000_000);
  int(c, 'maxInflightMessages', 20, 65_535);
  int(c, 'maxPacketBytes', 256, 1_048_576);
  int(c, 'maxKeepaliveSeconds', 10, 65_535);
  int(c, 'maxConnections', 1, 1_000_000);
  int(c, 'autosaveIntervalSeconds', 1, 86_400);
  if (typeof c.user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(c.user))
    throw new CloudConfigError('user', 'must be a system user name');
  return Object.freeze({ ...c, instances: [...(instances as readonly string[])] });
}

/**
 * The ACL file: each cloud instance reads every device's up topics and writes the down ones;
 * each device only its own.
 */
export function renderMosquittoAcl(settings: MosquittoSettings): string {
  const lines = [
    '# Written by `bulwark cloud broker-config`. The user name is the certificate CN (use_identity_as_username).',
    '',
  ];
  lines.push('# The cloud service instances: the only identities that may read devices/+/...');
  for (const name of settings.instances) {
    lines.push(`user ${serviceCommonName(name)}`);
    for (const k of UP_KINDS) lines.push(`topic read ${TOPIC_ROOT}/+/${k}`);
    for (const k of DOWN_KINDS) lines.push(`topic write ${TOPIC_ROOT}/+/${k}`);
    lines.push('');
  }
  lines.push(
    '# Every device (CN = serial): publish on its own up topics, subscribe to its own down topics, nothing else.',
  );
  for (const k of UP_KINDS) lines.push(`pattern write ${TOPIC_ROOT}/%u/${k}`);
  for (const k of DOWN_KINDS) lines.push(`pattern read ${TOPIC_ROOT}/%u/${k}`);
  return lines.join('\n') + '\n';
}

/** Absolute paths of the files the configuration names. */
export interface MosquittoPaths {
  readonly aclFile: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly persistenceDir: string;
}

/** mosquitto.conf. */
export function renderMosquittoConf(settings: MosquittoSettings, paths: MosquittoPaths): string {
  return [
    "# Written by `bulwark cloud broker-config`: Bulwark's device broker rules for Mosquitto 2.0.",
    'per_listener_settings false',
    `user ${settings.user}`,
    'allow_anonymous false',
    `acl_file ${paths.aclFile}`,
    '',
    '# Nothing acknowledged is dropped: queues far above the default 1000, kept on disk across restarts.',
    'persistence true',
    `persistence_location ${paths.persistenceDir.endsWith('/') ? paths.persistenceDir : paths.persistenceDir + '/'}`,
    `autosave_interval ${settings.autosaveIntervalSeconds}`,
    `max_queued_messages ${settings.maxQueuedMessages}`,
    'max_queued_bytes 0',
    `max_inflight_messages ${settings.maxInflightMessages}`,
    'retain_available false',
    `max_packet_size ${settings.maxPacketBytes}`,
    `max_keepalive ${settings.maxKeepaliveSeconds}`,
    'set_tcp_nodelay true',
    '',
    'connection_messages true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
    '',
    `listener ${settings.port} ${settings.host}`,
    'protocol mqtt',
    `max_connections ${settings.maxConnections}`,
    `cafile ${paths.caFile}`,
    `certfile ${paths.certFile}`,
    `keyfile ${paths.keyFile}`,
    'tls_version tlsv1.3',
    '# The certificate is the identity: its CN becomes the user name, and the user name the client id,',
    "# so a device asking for another's client id gets its own session and never displaces the other.",
    'require_certificate true',
    'use_identity_as_username true',
    'use_username_as_clientid true',
    '',
  ].join('\n');
}

/** What {@link writeBrokerConfig} wrote. */
export interface WrittenBrokerConfig {
  readonly confFile: string;
  readonly paths: MosquittoPaths;
  readonly settings: MosquittoSettings;
}

/**
 * Writes mosquitto.conf, acl, the CA and the broker's certificate and key (0600) into `outDir`.
 *
 * @example
 * const { confFile } = await writeBrokerConfig({ outDir: 'broker', caCertPem, server });
 * // mosquitto -c broker/mosquitto.conf
 */
export async function writeBrokerConfig(o: {
  outDir: string;
  caCertPem: string;
  server: { certPem: string; keyPem: string };
  settings?: Partial<MosquittoSettings>;
}): Promise<WrittenBrokerConfig> {
  const settings = validateMosquittoSettings(o.settings);
  const dir = resolve(o.outDir);
  await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
  const paths: MosquittoPaths = {
    aclFile: join(dir, 'acl'),
    caFile: join(dir, 'ca-cert.pem'),
    certFile: join(dir, 'server-cert.pem'),
    keyFile: join(dir, 'server-key.pem'),
    persistenceDir: join(dir, 'data'),
  };
  await writeFileAtomic(paths.caFile, o.caCertPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.certFile, o.server.certPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.keyFile, o.server.keyPem, SECRET_FILE_MODE);
  await writeFileAtomic(paths.aclFile, renderMosquittoAcl(settings), PUBLIC_FILE_MODE);
  const confFile = join(dir, 'mosquitto.conf');
  await writeFileAtomic(confFile, renderMosquittoConf(settings, paths), PUBLIC_FILE_MODE);
  return { confFile, paths, settings };
}
