/**
 * `bulwark cloud broker-config`: a Mosquitto (2.0) configuration that enforces what the embedded
 * broker enforces. TLS 1.3 with a client certificate from the manufacturer CA required; the
 * certificate CN is the user name (`use_identity_as_username`) and the client id
 * (`use_username_as_clientid`), so a device cannot take over another's session; an ACL that
 * confines each device to its own topics and lets only the cloud instances read `devices/+/...`;
 * and queues sized so that nothing acknowledged is dropped (Mosquitto's default
 * `max_queued_messages 1000` silently discards QoS 1 messages for a slow subscriber).
 *
 * Revocation reaches the running broker two ways, because neither alone does both halves (measured
 * on Mosquitto 2.0.11): a CRL (`crlfile`, reloaded on SIGHUP) refuses a revoked certificate's new
 * connections and disturbs nobody, but leaves a live connection up; the dynamic-security plugin's
 * `disableClient`, sent by an admin identity (`bulwark-admin-<instance>`), drops the live connection
 * but does not refuse a reconnect when the identity comes from the certificate. The plugin knows
 * only the admin identities, so the acl_file still decides for every device and cloud instance.
 * mosquitto-revocation.ts keeps both in step with the store.
 *
 * The text is made by pure functions; {@link writeBrokerConfig} writes it with the certificates.
 */
import { join, resolve } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { serviceCommonName, UP_KINDS, DOWN_KINDS, ENROLMENT_KINDS, TOPIC_ROOT } from '../cloudprotocol/index.ts';
import { createRevocationList, issueClientCertificate, readRevocationList, type CaSigner } from '../identity/index.ts';
import { CloudConfigError } from './errors.ts';

/** Settings of the Mosquitto configuration. */
export interface MosquittoSettings {
  readonly host: string;
  /** The device listener: operational certificates (and birth ones while the cloud trusts them there). */
  readonly port: number;
  /**
   * The enrolment listener: birth certificates (the manufacturer CA's), which may only ask for an operational
   * certificate there, and the cloud instances and their admin identities. Default: `port` + 1.
   */
  readonly enrolmentPort?: number;
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
  /** Mosquitto's dynamic-security plugin (Debian's path by default): it drops a revoked identity's live connection. */
  readonly dynsecPluginPath: string;
  /** Where Mosquitto writes its pid (`pid_file`; the folder must be writable by `user`), for the cloud's SIGHUP. */
  readonly pidFile?: string;
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
  dynsecPluginPath: '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
});

/** An absolute path Mosquitto's configuration can carry on one line: no spaces, no `..`, nothing to inject. */
const CONFIG_PATH = /^\/(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]{1,4000}$/;

/** Refuses `c[key]` unless it is an absolute path a configuration line can carry (ending in `suffix`). */
export function absolutePath(c: Record<string, unknown>, key: string, suffix = ''): void {
  const v = c[key];
  if (typeof v !== 'string' || !CONFIG_PATH.test(v) || !v.endsWith(suffix))
    throw new CloudConfigError(
      key,
      `must be an absolute path${suffix ? ` ending in ${suffix}` : ''} (no spaces, no ..)`,
    );
}

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
  absolutePath(c, 'dynsecPluginPath', '.so');
  if (c.pidFile !== undefined) absolutePath(c, 'pidFile');
  const enrolmentPort = c.enrolmentPort ?? c.port + 1;
  int({ enrolmentPort }, 'enrolmentPort', 1, 65_535);
  if (enrolmentPort === c.port) throw new CloudConfigError('enrolmentPort', 'must differ from port');
  return Object.freeze({ ...c, enrolmentPort, instances: [...(instances as readonly string[])] });
}

/**
 * An ACL file. Each cloud instance reads every device's up topics and writes the down ones (on both
 * listeners). A device (CN = serial) on the device listener publishes on its own up topics and
 * subscribes to its own down topics; on the enrolment listener it may only ask for an operational
 * certificate (`enrol`) and read the answer (`certificate`).
 */
export function renderMosquittoAcl(settings: MosquittoSettings, listener: 'device' | 'enrolment' = 'device'): string {
  const lines = [
    '# Written by `bulwark cloud broker-config`. The user name is the certificate CN (use_identity_as_username).',
    `# The ${listener} listener (per_listener_settings true).`,
    '',
  ];
  lines.push('# The cloud service instances: the only identities that may read devices/+/...');
  for (const name of settings.instances) {
    lines.push(`user ${serviceCommonName(name)}`);
    for (const k of UP_KINDS) lines.push(`topic read ${TOPIC_ROOT}/+/${k}`);
    for (const k of DOWN_KINDS) lines.push(`topic write ${TOPIC_ROOT}/+/${k}`);
    lines.push('');
  }
  if (listener === 'enrolment') {
    lines.push(
      '# Every device (CN = serial) with its birth certificate: ask for an operational certificate, nothing else.',
    );
    lines.push(`pattern write ${TOPIC_ROOT}/%u/${ENROLMENT_KINDS.up}`);
    lines.push(`pattern read ${TOPIC_ROOT}/%u/${ENROLMENT_KINDS.down}`);
    return lines.join('\n') + '\n';
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
  /** The device listener's ACL. */
  readonly aclFile: string;
  /** The enrolment listener's ACL. */
  readonly enrolmentAclFile: string;
  /** The manufacturer CA: the enrolment listener's trust. */
  readonly caFile: string;
  /**
   * The device listener's CA bundle, kept by the cloud (the issuing CAs it trusts, with the manufacturer CA
   * unless birth certificates are confined to enrolment); absent: the device listener trusts `caFile`.
   */
  readonly trustFile?: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly persistenceDir: string;
  /** The CRL Mosquitto reloads on SIGHUP; absent: no revocation on this broker. */
  readonly crlFile?: string;
  /** The dynamic-security plugin's state (written by the plugin after the seed). */
  readonly dynsecFile?: string;
}

/** The lines that load the dynamic-security plugin, when the configuration has revocation. */
function dynsecLines(settings: MosquittoSettings, paths: MosquittoPaths): string[] {
  if (paths.dynsecFile === undefined) return [];
  return [
    '# Revocation, live half: the admin identities disable a revoked client, which drops its connection on',
    '# either listener. The plugin knows no device and no cloud instance, so for them it defers to acl_file.',
    `plugin ${settings.dynsecPluginPath}`,
    `plugin_opt_config_file ${paths.dynsecFile}`,
    '',
  ];
}

/** The TLS and identity lines every listener has. */
function listenerTlsLines(paths: MosquittoPaths, caFile: string): string[] {
  return [
    `cafile ${caFile}`,
    `certfile ${paths.certFile}`,
    `keyfile ${paths.keyFile}`,
    'tls_version tlsv1.3',
    '# The certificate is the identity: its CN becomes the user name, and the user name the client id,',
    "# so a device asking for another's client id gets its own session and never displaces the other.",
    'require_certificate true',
    'use_identity_as_username true',
    'use_username_as_clientid true',
    ...(paths.crlFile === undefined
      ? []
      : [
          '# Revocation, new connections: a certificate these CRLs list is refused at the handshake (one CRL per CA:',
          '# a CA without one has all its certificates refused). The cloud rewrites it atomically and signals',
          '# SIGHUP, which re-reads cafile and crlfile; keep the paths fixed (a reload does not re-read a new path).',
          `crlfile ${paths.crlFile}`,
        ]),
  ];
}

/** The two listeners: devices with operational certificates, and enrolment (birth certificates, the cloud). */
function listenerLines(settings: MosquittoSettings, paths: MosquittoPaths): string[] {
  return [
    '# Devices: operational certificates (the issuing CAs in the bundle the cloud keeps).',
    `listener ${settings.port} ${settings.host}`,
    'protocol mqtt',
    `max_connections ${settings.maxConnections}`,
    'allow_anonymous false',
    `acl_file ${paths.aclFile}`,
    ...listenerTlsLines(paths, paths.trustFile ?? paths.caFile),
    '',
    '# Enrolment: birth certificates (the manufacturer CA), which may only ask for an operational certificate;',
    '# the cloud instances and their admin identities (certificates of the same CA) connect here too.',
    `listener ${settings.enrolmentPort ?? settings.port + 1} ${settings.host}`,
    'protocol mqtt',
    `max_connections ${settings.maxConnections}`,
    'allow_anonymous false',
    `acl_file ${paths.enrolmentAclFile}`,
    ...dynsecLines(settings, paths),
    ...listenerTlsLines(paths, paths.caFile),
    '',
  ];
}

/** mosquitto.conf. */
export function renderMosquittoConf(settings: MosquittoSettings, paths: MosquittoPaths): string {
  return [
    "# Written by `bulwark cloud broker-config`: Bulwark's device broker rules for Mosquitto 2.0.",
    '# Security settings (allow_anonymous, acl_file, auth modules) are per listener, under each listener line.',
    'per_listener_settings true',
    `user ${settings.user}`,
    ...(settings.pidFile === undefined ? [] : [`pid_file ${settings.pidFile}`]),
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
    ...listenerLines(settings, paths),
  ].join('\n');
}

/** The admin identity of cloud instance `instance`: the only client the dynamic-security plugin knows. */
export function dynsecAdminName(instance: string): string {
  return `bulwark-admin-${serviceCommonName(instance).slice('bulwark-cloud-'.length)}`;
}

/** The files of the admin identity of `instance` in a broker-config folder. */
export function dynsecAdminFiles(outDir: string, instance: string): { certFile: string; keyFile: string } {
  const name = dynsecAdminName(instance);
  return { certFile: join(outDir, `${name}-cert.pem`), keyFile: join(outDir, `${name}-key.pem`) };
}

/**
 * The dynamic-security plugin's seed: the admin identities only, in one role allowed
 * `$CONTROL/dynamic-security/#`; a client it does not know (every device and cloud instance) is left
 * to acl_file. A client the cloud disables later gets the default access: it may publish nothing.
 */
export function renderDynsecSeed(settings: MosquittoSettings): string {
  const acl = (acltype: string, topic: string): Record<string, unknown> => ({
    acltype,
    topic,
    priority: 0,
    allow: true,
  });
  const seed = {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
    clients: settings.instances.map((i) => ({
      username: dynsecAdminName(i),
      textname: `cloud instance ${i}: revocation (certificate identity, no password)`,
      roles: [{ rolename: 'bulwark-revocation-admin' }],
    })),
    groups: [],
    roles: [
      {
        rolename: 'bulwark-revocation-admin',
        acls: [
          acl('publishClientSend', '$CONTROL/dynamic-security/#'),
          acl('publishClientReceive', '$CONTROL/dynamic-security/#'),
          acl('subscribePattern', '$CONTROL/dynamic-security/#'),
          acl('unsubscribePattern', '#'),
        ],
      },
    ],
  };
  return JSON.stringify(seed, null, 2) + '\n';
}

/** The systemd units that reload Mosquitto when the CRL changes, for a cloud that cannot signal it itself. */
export const CRL_RELOAD_UNIT = 'bulwark-mosquitto-crl';

/**
 * A systemd .path unit: when the cloud renames a new crl.pem into place, start the reload service.
 * The alternative to giving the cloud Mosquitto's pid file (signalling needs the same user or root).
 */
export function renderCrlPathUnit(crlFile: string): string {
  return [
    '# Written by `bulwark cloud broker-config`. Install with bulwark-mosquitto-crl.service in /etc/systemd/system,',
    '# then: systemctl enable --now bulwark-mosquitto-crl.path',
    '[Unit]',
    'Description=Reload Mosquitto when Bulwark rewrites its certificate revocation list',
    '',
    '[Path]',
    `PathChanged=${crlFile}`,
    `Unit=${CRL_RELOAD_UNIT}.service`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The oneshot service the .path unit starts: Debian's mosquitto.service reloads with SIGHUP. */
export function renderCrlReloadService(): string {
  return [
    '# Written by `bulwark cloud broker-config`; started by bulwark-mosquitto-crl.path.',
    '[Unit]',
    "Description=Reload Mosquitto's certificate revocation list",
    '',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/bin/systemctl reload mosquitto.service',
    '',
  ].join('\n');
}

/** How long a CRL the cloud writes stays valid, ms: re-issued daily, so a stopped cloud leaves weeks of margin. */
export const CRL_VALIDITY_MS = 30 * 86_400_000;

/** True when `file` holds a CRL this CA signed that is still valid for a day. */
async function usableCrl(file: string, caCertPem: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  try {
    const crl = await readRevocationList(await readFile(file, 'utf8'), caCertPem);
    return (crl.nextUpdate?.getTime() ?? 0) > Date.now() + 86_400_000;
  } catch {
    return false;
  }
}

/**
 * The revocation files: an empty CRL (kept when one from this CA is there: it may list revocations),
 * the plugin's seed (kept when there: the plugin writes its state to it), and each instance's admin
 * certificate and key (0600).
 */
async function writeRevocationFiles(
  dir: string,
  ca: CaSigner,
  settings: MosquittoSettings,
  paths: Required<Pick<MosquittoPaths, 'crlFile' | 'dynsecFile'>>,
): Promise<void> {
  if (!(await usableCrl(paths.crlFile, ca.certPem))) {
    const now = new Date();
    const window = {
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
    };
    await writeFileAtomic(paths.crlFile, await createRevocationList(ca, [], window), PUBLIC_FILE_MODE);
  }
  if (!existsSync(paths.dynsecFile)) await writeFileAtomic(paths.dynsecFile, renderDynsecSeed(settings), 0o600);
  await writeFileAtomic(join(dir, `${CRL_RELOAD_UNIT}.path`), renderCrlPathUnit(paths.crlFile), PUBLIC_FILE_MODE);
  await writeFileAtomic(join(dir, `${CRL_RELOAD_UNIT}.service`), renderCrlReloadService(), PUBLIC_FILE_MODE);
  for (const instance of settings.instances) {
    const admin = await issueClientCertificate(ca, dynsecAdminName(instance), { organisation: 'Bulwark' });
    const files = dynsecAdminFiles(dir, instance);
    await writeFileAtomic(files.keyFile, admin.privateKeyPem, SECRET_FILE_MODE);
    await writeFileAtomic(files.certFile, admin.certPem, PUBLIC_FILE_MODE);
  }
}

/** What {@link writeBrokerConfig} wrote. */
export interface WrittenBrokerConfig {
  readonly confFile: string;
  readonly paths: MosquittoPaths;
  readonly settings: MosquittoSettings;
}

/**
 * Writes mosquitto.conf, acl, the CA and the broker's certificate and key (0600) into `outDir`;
 * with the CA's signer `ca`, also revocation: crl.pem, the dynamic-security plugin's seed and each
 * cloud instance's admin certificate and key (0600). Without `ca` the broker cannot be told of a
 * revocation (the benchmark's broker only).
 *
 * @example
 * const { confFile } = await writeBrokerConfig({ outDir: 'broker', caCertPem, server, ca: await loadCaSigner(c, k) });
 * // mosquitto -c broker/mosquitto.conf
 */
export async function writeBrokerConfig(o: {
  outDir: string;
  caCertPem: string;
  server: { certPem: string; keyPem: string };
  ca?: CaSigner;
  settings?: Partial<MosquittoSettings>;
}): Promise<WrittenBrokerConfig> {
  const settings = validateMosquittoSettings(o.settings);
  if (o.ca && o.ca.certPem.trim() !== o.caCertPem.trim())
    throw new CloudConfigError(
      'ca',
      'must be the signer of caCertPem (the CRL and the admin certificates come from it)',
    );
  const dir = resolve(o.outDir);
  await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
  const paths: MosquittoPaths = {
    aclFile: join(dir, 'acl'),
    enrolmentAclFile: join(dir, 'acl-enrolment'),
    caFile: join(dir, 'ca-cert.pem'),
    certFile: join(dir, 'server-cert.pem'),
    keyFile: join(dir, 'server-key.pem'),
    persistenceDir: join(dir, 'data'),
    // Mosquitto re-reads cafile on SIGHUP only when the listener has a crlfile, so the kept bundle needs it.
    ...(o.ca
      ? {
          crlFile: join(dir, 'crl.pem'),
          dynsecFile: join(dir, 'dynamic-security.json'),
          trustFile: join(dir, 'device-cas.pem'),
        }
      : {}),
  };
  if (o.ca) {
    await writeRevocationFiles(dir, o.ca, settings, {
      crlFile: join(dir, 'crl.pem'),
      dynsecFile: join(dir, 'dynamic-security.json'),
    });
  }
  await writeFileAtomic(paths.caFile, o.caCertPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.certFile, o.server.certPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.keyFile, o.server.keyPem, SECRET_FILE_MODE);
  // The cloud keeps the bundle from its first start; until then the manufacturer CA alone, as before.
  if (paths.trustFile !== undefined && !existsSync(paths.trustFile))
    await writeFileAtomic(paths.trustFile, o.caCertPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.aclFile, renderMosquittoAcl(settings, 'device'), PUBLIC_FILE_MODE);
  await writeFileAtomic(paths.enrolmentAclFile, renderMosquittoAcl(settings, 'enrolment'), PUBLIC_FILE_MODE);
  const confFile = join(dir, 'mosquitto.conf');
  await writeFileAtomic(confFile, renderMosquittoConf(settings, paths), PUBLIC_FILE_MODE);
  return { confFile, paths, settings };
}
