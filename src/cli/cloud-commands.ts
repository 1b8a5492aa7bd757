/**
 * `bulwark cloud ...`: run a cloud instance, import factory manifests, list the fleet's releases, write a
 * Mosquitto configuration.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { portArgument } from './arguments.ts';
import { addLogFormatOption, chooseLogFormat, openLogOutput, type LogFormat } from './log-output.ts';
import { registerCloudFacts } from './facts-command.ts';
import { addMailOptions, mailOption, registerCloudMail, type MailOptions } from './cloud-mail-command.ts';
import type {
  CertificateWithKey,
  CloudStore,
  CraDeadline,
  RabbitmqNodeSettings,
  RevocationRecord,
  SecurityConfig,
  WrittenRabbitmqConfig,
} from '../cloud/index.ts';

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const port = (value: string, name: string): number => portArgument(value, name, 'CLOUD_CONFIG_INVALID');

/** `cloud revoke`'s options as commander parses them. */
interface RevokeOptions {
  serial?: string;
  certificate?: string;
  reason?: string;
  list?: boolean;
  state?: string;
  database?: string;
  json?: boolean;
}

/** `cloud run`'s options as commander parses them. */
interface RunOptions extends MailOptions {
  factory: string;
  state: string;
  host: string;
  mqttPort: string;
  apiPort: string;
  broker?: string;
  database?: string;
  instance: string;
  import?: string[];
  hostname?: string;
  makerTokenFile?: string;
  mosquittoConfig?: string;
  mosquittoPidFile?: string;
  birthCertificates?: string;
  securityConfig?: string;
  securityContact?: string;
  securityPolicy?: string;
  securityExpiresDays?: string;
  rabbitmqAuthorizer?: string;
  logFormat?: LogFormat;
}

/** `cloud broker-config`'s options as commander parses them. */
interface BrokerConfigOptions {
  factory: string;
  out: string;
  host: string;
  port: string;
  instances: string;
  hostname?: string;
  user: string;
  dynsecPlugin?: string;
  pidFile?: string;
  enrolmentPort?: string;
  kind: string;
  node?: string[];
  authorizerUrl?: string;
  authorizerCa?: string;
  authorizerServerName?: string;
}

/** Registers the cloud commands on `program`. */
export function registerCloudCommands(program: Command): void {
  const cloud = program
    .command('cloud')
    .description('the manufacturer cloud: device broker, registry, claims, owner API and app');
  registerRun(cloud);
  registerImport(cloud);
  registerReleases(cloud);
  registerRevoke(cloud);
  registerCloneSuspects(cloud);
  registerRotateCa(cloud);
  registerRevokedIdentity(cloud);
  registerBrokerConfig(cloud);
  registerCra(cloud);
  registerAdvisory(cloud);
  registerCloudFacts(cloud);
  registerCloudMail(cloud);
}

/** `cloud run`: a cloud instance until a signal. */
function registerRun(cloud: Command): void {
  const run = cloud
    .command('run')
    .description('run a cloud instance (embedded broker and SQLite unless --broker / --database)')
    .requiredOption('--factory <dir>', "factory folder (its CA issues the cloud's certificates on first start)")
    .requiredOption('--state <dir>', 'state folder: certificates, SQLite database')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--mqtt-port <port>', 'embedded broker port (mqtts)', '8883')
    .option('--api-port <port>', 'owner API and app port (https)', '9443')
    .option('--broker <url>', 'external broker, mqtts://host:port (e.g. Mosquitto with `cloud broker-config`)')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .option('--instance <name>', "this instance's name (certificate CN bulwark-cloud-<name>)", '1')
    .option('--import <manifest...>', 'factory manifests to import at start')
    .option('--hostname <names>', 'host names for the server certificate, comma-separated')
    .option('--maker-token-file <file>', "file holding the maker's API token (turns on /v1/maker/ routes)")
    .option('--mosquitto-config <dir>', 'with --broker: the `cloud broker-config` folder; revocations reach Mosquitto')
    .option(
      '--mosquitto-pid-file <file>',
      "Mosquitto's pid file, signalled to reload the CRL (else a systemd .path unit)",
    )
    .option(
      '--birth-certificates <mode>',
      "'enrolment' (the default: a factory certificate may only enrol) or 'full' (for units that do not enrol yet)",
    )
    .option('--security-config <file>', 'JSON file of the security settings: securityTxt, intake, csaf (docs/cloud.md)')
    .option('--security-contact <uris>', 'security.txt contacts (https:, mailto:, tel:), comma-separated')
    .option('--security-policy <url>', "security.txt's disclosure policy URL (https:)")
    .option('--security-expires-days <days>', "security.txt's Expires, days after it is served (1 to 365)")
    .option(
      '--rabbitmq-authorizer <host:port>',
      "answer RabbitMQ's HTTP auth backend here (loopback; docs/rabbitmq.md)",
    );
  addLogFormatOption(addMailOptions(run)).action(async (o: RunOptions) => {
    const { startCloud, makerTokenSha256 } = await import('../cloud/index.ts');
    const security = await securitySettings(o);
    const maker = o.makerTokenFile
      ? { makerTokenSha256: makerTokenSha256(await readFile(resolve(o.makerTokenFile), 'utf8')) }
      : {};
    const out = await openLogOutput(chooseLogFormat(o.logFormat, process.stdout.isTTY === true));
    const c = await startCloud({
      factoryDir: resolve(o.factory),
      stateDir: resolve(o.state),
      instance: o.instance,
      ...(o.broker ? { brokerUrl: o.broker } : {}),
      ...(o.database ? { databaseUrl: o.database } : {}),
      ...(o.hostname ? { hostnames: list(o.hostname) } : {}),
      broker: { host: o.host, port: port(o.mqttPort, 'mqttPort'), ...birthCertificatesOption(o) },
      api: { host: o.host, port: port(o.apiPort, 'apiPort'), ...maker, security },
      manifests: (o.import ?? []).map((p) => resolve(p)),
      ...mosquittoOption(o),
      ...rabbitmqAuthorizerOption(o),
      ...(await mailOption(o)),
      log: (msg) => out.log(msg),
    });
    const authorizer = c.rabbitmqAuthorizer?.url;
    const ready = {
      instance: c.instance,
      devices: c.brokerUrl,
      owners: c.api.url,
      store: c.store.kind,
      ...(authorizer === undefined ? {} : { rabbitmqAuthorizer: authorizer }),
    };
    // Listening for the signals before the ready line: a caller may stop the cloud as soon as it reads it.
    const stopped = new Promise<void>((done) => {
      const stop = (): void => {
        c.close().then(done, done);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    out.event(
      'ready',
      `cloud ${c.instance} ready: devices ${c.brokerUrl}, owners ${c.api.url} (${c.store.kind})` +
        (authorizer === undefined ? '' : `, rabbitmq authorizer ${authorizer}`),
      ready,
    );
    await stopped;
  });
}

/** Largest security settings file read, bytes. */
const MAX_SECURITY_CONFIG_BYTES = 65_536;
const SECURITY_SECTIONS = {
  securityTxt: ['contact', 'policy', 'preferredLanguages', 'expiresInDays'],
  intake: [
    'reportsPerSource',
    'sourceWindowMs',
    'maxSummaryChars',
    'maxDetailsChars',
    'maxProductChars',
    'maxVersionChars',
    'maxContactChars',
    'maxListed',
  ],
  csaf: ['maxAdvisoryBytes', 'maxAdvisories', 'listOnAggregators', 'mirrorOnAggregators', 'publisher'],
} as const;

const securityError = (key: string, message: string): ConfigError =>
  new ConfigError('CLOUD_CONFIG_INVALID', key, message);

/** Reads `--security-config`: a bounded JSON object whose every key is a known setting (a typo is refused). */
async function readSecurityFile(file: string): Promise<Record<string, Record<string, unknown>>> {
  const { open } = await import('node:fs/promises');
  const handle = await open(resolve(file), 'r');
  const buffer = Buffer.alloc(MAX_SECURITY_CONFIG_BYTES + 1);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0).finally(() => handle.close());
  if (bytesRead > MAX_SECURITY_CONFIG_BYTES)
    throw securityError('securityConfig', `${file} is over ${MAX_SECURITY_CONFIG_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(buffer.subarray(0, bytesRead).toString('utf8'));
  } catch {
    throw securityError('securityConfig', `${file} is not JSON`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(doc)) throw securityError('security', 'must be a JSON object');
  for (const [section, value] of Object.entries(doc)) {
    const keys: readonly string[] | undefined = SECURITY_SECTIONS[section as keyof typeof SECURITY_SECTIONS];
    if (!keys) throw securityError(`security.${section}`, 'is not a setting (securityTxt, intake or csaf)');
    if (!isObject(value)) throw securityError(`security.${section}`, 'must be an object');
    const unknown = Object.keys(value).find((k) => !keys.includes(k));
    if (unknown !== undefined) throw securityError(`security.${section}.${unknown}`, 'is not a setting');
  }
  return doc as Record<string, Record<string, unknown>>;
}

/**
 * `cloud run`'s and `cloud advisory publish`'s security settings: the file, then the options over it, validated
 * here so a bad value stops the command before anything starts.
 */
async function securitySettings(o: Partial<RunOptions>): Promise<SecurityConfig> {
  const { validateSecurityConfig } = await import('../cloud/index.ts');
  const file = o.securityConfig ? await readSecurityFile(o.securityConfig) : {};
  const securityTxt = {
    ...file.securityTxt,
    ...(o.securityContact !== undefined ? { contact: list(o.securityContact) } : {}),
    ...(o.securityPolicy !== undefined ? { policy: o.securityPolicy } : {}),
    ...(o.securityExpiresDays !== undefined ? { expiresInDays: Number(o.securityExpiresDays) } : {}),
  };
  return validateSecurityConfig({ ...file, securityTxt });
}

/** `cloud run`'s Mosquitto revocation option, from --mosquitto-config and --mosquitto-pid-file. */
function mosquittoOption(o: RunOptions): { mosquitto?: { configDir: string; pidFile?: string } } {
  if (o.mosquittoConfig === undefined) {
    if (o.mosquittoPidFile !== undefined)
      throw new ConfigError('CLOUD_CONFIG_INVALID', 'mosquittoPidFile', 'only with --mosquitto-config');
    return {};
  }
  if (o.broker === undefined)
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'mosquittoConfig', 'only with --broker (an external Mosquitto)');
  const pid = o.mosquittoPidFile === undefined ? {} : { pidFile: resolve(o.mosquittoPidFile) };
  return { mosquitto: { configDir: resolve(o.mosquittoConfig), ...pid, ...birthCertificatesOption(o) } };
}

/** `--rabbitmq-authorizer host:port` (`[v6]:port`); the authorizer itself refuses a public address. */
function rabbitmqAuthorizerOption(o: RunOptions): { rabbitmqAuthorizer?: { host: string; port: number } } {
  if (o.rabbitmqAuthorizer === undefined) return {};
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):([^:]*)$/.exec(o.rabbitmqAuthorizer);
  if (!m) throw new ConfigError('CLOUD_CONFIG_INVALID', 'rabbitmqAuthorizer', 'must be <address>:<port>');
  return { rabbitmqAuthorizer: { host: m[1] ?? m[2]!, port: port(m[3]!, 'rabbitmqAuthorizer') } };
}

/** `--birth-certificates`, for the embedded broker and Mosquitto's trust file alike. */
function birthCertificatesOption(o: RunOptions): { birthCertificates?: 'enrolment' | 'full' } {
  const mode = o.birthCertificates;
  if (mode === undefined) return {};
  if (mode !== 'enrolment' && mode !== 'full')
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'birthCertificates', "must be 'enrolment' or 'full'");
  return { birthCertificates: mode };
}

/** `cloud import`: factory manifests into the store. */
function registerImport(cloud: Command): void {
  cloud
    .command('import')
    .description('import factory manifests (public data: serials, certificate fingerprints, claim-code hashes)')
    .argument('<manifest...>', 'manifest.json files from `bulwark factory provision`')
    .requiredOption('--factory <dir>', 'factory folder (the manifests must come from its CA)')
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .action(async (manifests: string[], o: { factory: string; state?: string; database?: string }) => {
      const { readManifest } = await import('../cloud/index.ts');
      const { loadFactory } = await import('../identity/index.ts');
      requireStore(o);
      const factory = await loadFactory(resolve(o.factory));
      await withStoreOf(o, async (store) => {
        for (const m of manifests) {
          const r = await store.importUnits(await readManifest(resolve(m), factory.caCertPem), Date.now());
          process.stdout.write(`${m}: ${r.added} units added, ${r.existing} already known\n`);
        }
      });
    });
}

/** Refuses a store command given neither `--state` nor `--database`. */
function requireStore(o: { state?: string; database?: string }): void {
  if (!o.state && !o.database) {
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'state', 'give --state (SQLite) or --database (PostgreSQL)');
  }
}

/** Runs `work` on the store named by `--state` (SQLite) or `--database` (PostgreSQL), closing it after. */
async function withStoreOf<T>(
  o: { state?: string; database?: string },
  work: (store: CloudStore) => Promise<T>,
): Promise<T> {
  const { openCloudStore } = await import('../cloud/index.ts');
  requireStore(o);
  const store = await openCloudStore({
    stateDir: resolve(o.state ?? '.'),
    ...(o.database ? { databaseUrl: o.database } : {}),
  });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** `cloud releases`: per release, how many units run it, installed, committed and rolled it back. */
function registerReleases(cloud: Command): void {
  cloud
    .command('releases')
    .description('per firmware release: units running it, installed, committed (healthy) and rolled back')
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; database?: string; json?: boolean }) => {
      await withStoreOf(o, async (store) => {
        const releases = await store.releaseCounts();
        if (o.json) process.stdout.write(JSON.stringify({ releases }, null, 2) + '\n');
        else if (releases.length === 0) process.stdout.write('no firmware reported yet\n');
        else
          for (const r of releases)
            process.stdout.write(
              `${r.model} ${r.version}: ${r.running} running, ${r.installed} installed, ` +
                `${r.committed} committed, ${r.rolledBack} rolled back\n`,
            );
      });
    });
}

/** `cloud revoke`: withdraws a unit or one certificate; a running cloud drops it within its poll (250 ms). */
function registerRevoke(cloud: Command): void {
  cloud
    .command('revoke')
    .description('revoke a unit (every certificate it holds) or one certificate; permanent')
    .option('--serial <serial>', 'the unit to revoke: it can no longer connect or enrol')
    .option('--certificate <sha256>', 'the fingerprint of one certificate to revoke (sha256:<hex>)')
    .option('--reason <reason>', 'key-compromise, clone, stolen, retired, superseded or other')
    .option('--list', 'list the revocations instead')
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .option('--json', 'print JSON')
    .action(async (o: RevokeOptions) => {
      const { parseRevocationRequest } = await import('../cloud/index.ts');
      const request = o.list ? undefined : parseRevocationRequest(o);
      await withStoreOf(o, async (store) => {
        if (!request) {
          const revocations = await store.revocations();
          if (o.json) process.stdout.write(JSON.stringify({ revocations }, null, 2) + '\n');
          else if (revocations.length === 0) process.stdout.write('nothing is revoked\n');
          else for (const r of revocations) process.stdout.write(describeRevocationLine(r) + '\n');
          return;
        }
        const done = await store.revoke(request.target, request.reason, 'cli', Date.now());
        if (o.json) process.stdout.write(JSON.stringify(done, null, 2) + '\n');
        else
          process.stdout.write(
            (done.outcome === 'revoked' ? 'revoked: ' : 'already revoked: ') +
              describeRevocationLine(done.record) +
              '\n',
          );
      });
    });
}

/**
 * `cloud rotate-ca`: a new generation of the issuing CA, and every unit asked to renew (a running
 * cloud trusts the new generation and tells the fleet within a second).
 */
function registerRotateCa(cloud: Command): void {
  cloud
    .command('rotate-ca')
    .description('rotate the issuing CA of operational certificates and renew the whole fleet')
    .option('--state <dir>', 'state folder of the SQLite database (its pki/ca-cert.pem names the maker)')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .option('--factory <dir>', 'factory folder (its CA names the maker) when --state has no pki/ca-cert.pem')
    .action(async (o: { state?: string; database?: string; factory?: string }) => {
      const { IssuingAuthority, makerOf } = await import('../cloud/index.ts');
      const caFile = o.factory
        ? resolve(o.factory, 'ca', 'ca-cert.pem')
        : resolve(o.state ?? '.', 'pki', 'ca-cert.pem');
      const caCertPem = await readFile(caFile, 'utf8').catch(() => {
        throw new ConfigError('CLOUD_CONFIG_INVALID', 'factory', `no CA certificate at ${caFile}: give --factory`);
      });
      await withStoreOf(o, async (store) => {
        const authority = await IssuingAuthority.open(store, { maker: makerOf(caCertPem) });
        const generation = await authority.rotate();
        process.stdout.write(
          `issuing CA generation ${generation} created; earlier generations stay trusted until their certificates ` +
            'expire; every unit will be asked to renew\n',
        );
      });
    });
}

/** `cloud revoked-identity`: a certificate from the CA, revoked at once, for the audit's --revoked. */
function registerRevokedIdentity(cloud: Command): void {
  cloud
    .command('revoked-identity')
    .description('make a certificate from the CA for a unit nobody made and revoke it (for bulwark audit --revoked)')
    .requiredOption('--factory <dir>', 'factory folder (its CA issues the certificate)')
    .requiredOption('--out <dir>', 'folder for device-cert.pem, device-key.pem and ca-cert.pem')
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .action(async (o: { factory: string; out: string; state?: string; database?: string }) => {
      const { factoryIssuer, writeRevokedIdentity } = await import('../cloud/index.ts');
      const issuer = await factoryIssuer(resolve(o.factory));
      await withStoreOf(o, async (store) => {
        const fingerprint = await writeRevokedIdentity({
          issuer,
          revoke: (input) =>
            store.revoke({ kind: 'certificate', fingerprint: input.certificate }, input.reason, 'cli', Date.now()),
          outDir: resolve(o.out),
        });
        process.stdout.write(
          `revoked certificate ${fingerprint} written to ${resolve(o.out)}; ` +
            'a running cloud refuses it within a second\n',
        );
      });
    });
}

/** `cloud clones`: the units whose identity was seen connected from two places at once. */
function registerCloneSuspects(cloud: Command): void {
  cloud
    .command('clones')
    .description('units suspected of being cloned: their identity took its own session over from an open connection')
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db')
    .option('--json', 'print JSON')
    .action(async (o: { state?: string; database?: string; json?: boolean }) => {
      await withStoreOf(o, async (store) => {
        const suspects = await store.cloneSuspects(1_000);
        if (o.json) process.stdout.write(JSON.stringify({ suspects }, null, 2) + '\n');
        else if (suspects.length === 0) process.stdout.write('no clone suspects\n');
        else
          for (const c of suspects)
            process.stdout.write(
              `${c.serial}: ${c.takeovers} takeovers since ${new Date(c.flaggedAt).toISOString()}, ` +
                `last ${new Date(c.lastAt).toISOString()} (${c.lastSources})\n`,
            );
      });
    });
}

function describeRevocationLine(r: RevocationRecord): string {
  const what =
    r.kind === 'unit' ? `unit ${r.serial}` : `certificate ${r.fingerprint}${r.serial ? ` (${r.serial})` : ''}`;
  return `${what}, ${r.reason}, ${new Date(r.revokedAt).toISOString()} by ${r.by}`;
}

/** `cloud broker-config`: a Mosquitto (or RabbitMQ) configuration with the embedded broker's rules. */
function registerBrokerConfig(cloud: Command): void {
  cloud
    .command('broker-config')
    .description('write a Mosquitto (or RabbitMQ) configuration with the same rules as the embedded broker')
    .requiredOption('--factory <dir>', "factory folder (its CA issues the broker's certificate)")
    .requiredOption('--out <dir>', 'output folder: mosquitto.conf, acl, certificates (rabbitmq: a folder per node)')
    .option('--kind <kind>', "'mosquitto' or 'rabbitmq' (docs/rabbitmq.md)", 'mosquitto')
    .option('--host <address>', 'address the broker listens on', '127.0.0.1')
    .option('--port <port>', 'port (mqtts)', '8883')
    .option('--instances <names>', 'cloud instance names allowed to read device traffic, comma-separated', '1,2')
    .option('--hostname <names>', 'host names for the broker certificate, comma-separated')
    .option('--user <name>', 'user Mosquitto drops privileges to when started as root', 'mosquitto')
    .option('--dynsec-plugin <file>', "Mosquitto's dynamic-security plugin (default: Debian's path)")
    .option('--pid-file <file>', "Mosquitto's pid_file, for `cloud run --mosquitto-pid-file`")
    .option('--enrolment-port <port>', 'enrolment listener port (birth certificates, the cloud); default port + 1')
    .option(
      '--node <spec>',
      `rabbitmq: a node, ${NODE_SPEC}; once per node`,
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--authorizer-url <url>', "rabbitmq: the cloud's authorizer, http://127.0.0.1:<port> or https://...")
    .option('--authorizer-ca <pem>', 'rabbitmq, https authorizer: the CA file its certificate is checked against')
    .option(
      '--authorizer-server-name <name>',
      "rabbitmq, https authorizer at an IP address: its certificate's DNS name",
    )
    .action(async (o: BrokerConfigOptions) => {
      if (brokerKind(o) === 'mosquitto') return writeMosquitto(o, await brokerCertificate(o));
      const nodes = (o.node ?? []).map(parseRabbitmqNode);
      printRabbitmqConfig(await writeRabbitmq(o, nodes, await brokerCertificate(o)));
    });
}

const NODE_SPEC = 'name@host:mqttPort:distPort:dataDir[:amqpPort]';
const RABBITMQ_ONLY = ['authorizerUrl', 'authorizerCa', 'authorizerServerName'] as const;
const MOSQUITTO_ONLY = ['dynsecPlugin', 'pidFile', 'enrolmentPort'] as const;

/** `--kind`, refusing an option of the other kind (an option with a default cannot be told apart). */
function brokerKind(o: BrokerConfigOptions): 'mosquitto' | 'rabbitmq' {
  const refuse = (key: string, kind: string): ConfigError =>
    new ConfigError('CLOUD_CONFIG_INVALID', key, `only with --kind ${kind}`);
  if (o.kind === 'mosquitto') {
    const other = o.node !== undefined ? 'node' : RABBITMQ_ONLY.find((k) => o[k] !== undefined);
    if (other !== undefined) throw refuse(other, 'rabbitmq');
    return 'mosquitto';
  }
  if (o.kind !== 'rabbitmq') throw new ConfigError('CLOUD_CONFIG_INVALID', 'kind', "must be 'mosquitto' or 'rabbitmq'");
  const other = MOSQUITTO_ONLY.find((k) => o[k] !== undefined);
  if (other !== undefined) throw refuse(other, 'mosquitto');
  return 'rabbitmq';
}

/** The CA and a server certificate from the factory's issuer for `--hostname` (default localhost), for either kind. */
async function brokerCertificate(o: BrokerConfigOptions): Promise<{ caCertPem: string; server: CertificateWithKey }> {
  const { factoryIssuer } = await import('../cloud/index.ts');
  const issuer = await factoryIssuer(resolve(o.factory));
  const server = await issuer.issueServer(o.hostname ? list(o.hostname) : ['localhost']);
  return { caCertPem: issuer.caCertPem, server };
}

/** Writes and explains the Mosquitto configuration. */
async function writeMosquitto(
  o: BrokerConfigOptions,
  tls: { caCertPem: string; server: CertificateWithKey },
): Promise<void> {
  const { writeBrokerConfig } = await import('../cloud/index.ts');
  const { loadCaSigner } = await import('../identity/index.ts');
  const caKeyPem = await readFile(resolve(o.factory, 'ca', 'ca-key.pem'), 'utf8');
  const w = await writeBrokerConfig({
    outDir: resolve(o.out),
    caCertPem: tls.caCertPem,
    server: tls.server,
    ca: await loadCaSigner(tls.caCertPem, caKeyPem),
    settings: {
      host: o.host,
      port: port(o.port, 'port'),
      instances: list(o.instances),
      user: o.user,
      ...(o.dynsecPlugin ? { dynsecPluginPath: resolve(o.dynsecPlugin) } : {}),
      ...(o.pidFile ? { pidFile: resolve(o.pidFile) } : {}),
      ...(o.enrolmentPort ? { enrolmentPort: port(o.enrolmentPort, 'enrolmentPort') } : {}),
    },
  });
  const host = w.settings.host.includes(':') ? `[${w.settings.host}]` : w.settings.host;
  const enrolmentUrl = `mqtts://${host}:${w.settings.enrolmentPort}`;
  process.stdout.write(
    `Mosquitto configuration written: ${w.confFile}\n  run: mosquitto -c ${w.confFile}\n` +
      `  devices (operational certificates): mqtts://${host}:${w.settings.port}; enrolment (birth ` +
      `certificates): ${enrolmentUrl}\n` +
      `  the cloud connects to the enrolment listener: cloud run --broker ${enrolmentUrl}\n` +
      `  the files must be readable by the user '${w.settings.user}'; the keys are mode 0600;\n` +
      `  the cloud rewrites crl.pem and device-cas.pem: run it with --mosquitto-config ${resolve(o.out)}\n` +
      `  and --mosquitto-pid-file,\n` +
      `  or install bulwark-mosquitto-crl.path/.service (systemd reloads Mosquitto when crl.pem changes)\n`,
  );
}

/** One `--node`; its name, host and data folder are checked with the rest of the settings by the writer. */
function parseRabbitmqNode(spec: string): RabbitmqNodeSettings {
  const at = spec.indexOf('@');
  const parts = spec.slice(at + 1).split(':');
  if (at < 1 || parts.length < 4 || parts.length > 5 || parts.some((p) => p === ''))
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'node', `'${spec.slice(0, 200)}' is not ${NODE_SPEC}`);
  const [host, mqttPort, distPort, dataDir, amqpPort] = parts as [string, string, string, string, string?];
  const nodePort = (value: string, key: string): number =>
    portArgument(value, `node.${key}`, 'CLOUD_CONFIG_INVALID', 1);
  return {
    name: spec.slice(0, at),
    host,
    mqttPort: nodePort(mqttPort, 'mqttPort'),
    distPort: nodePort(distPort, 'distPort'),
    dataDir: resolve(dataDir),
    ...(amqpPort === undefined ? {} : { amqpPort: nodePort(amqpPort, 'amqpPort') }),
  };
}

/** Writes each node's RabbitMQ configuration (docs/rabbitmq.md). */
async function writeRabbitmq(
  o: BrokerConfigOptions,
  nodes: RabbitmqNodeSettings[],
  tls: { caCertPem: string; server: CertificateWithKey },
): Promise<WrittenRabbitmqConfig> {
  const { writeRabbitmqConfig } = await import('../cloud/index.ts');
  if (o.authorizerUrl === undefined)
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'authorizerUrl', "give --authorizer-url: the cloud's authorizer");
  if (o.authorizerCa !== undefined && !o.authorizerUrl.startsWith('https:'))
    throw new ConfigError('CLOUD_CONFIG_INVALID', 'authorizerCa', 'only with an https --authorizer-url');
  const authorizerCa =
    o.authorizerCa === undefined ? {} : { authorizerCaPem: await readFile(resolve(o.authorizerCa), 'utf8') };
  return writeRabbitmqConfig({
    outDir: resolve(o.out),
    ...tls,
    ...authorizerCa,
    settings: {
      nodes,
      listenHost: o.host,
      authorizerUrl: o.authorizerUrl,
      ...(o.authorizerServerName === undefined ? {} : { authorizerServerName: o.authorizerServerName }),
    },
  });
}

/** What `broker-config --kind rabbitmq` wrote, and how to start it. */
function printRabbitmqConfig(w: WrittenRabbitmqConfig): void {
  const url = new URL(w.settings.authorizerUrl);
  const lines = [
    `RabbitMQ configuration written: ${w.nodes.length} node(s), CA and certificate in ${dirname(w.paths.caFile)}`,
  ];
  for (const n of w.nodes) {
    const amqp = n.amqpUrl === undefined ? '' : `; the cloud over AMQP: ${n.amqpUrl}`;
    lines.push(
      `  ${n.nodeName}: devices ${n.mqttUrl}${amqp}`,
      `    run: RABBITMQ_CONF_ENV_FILE=${n.files.envFile} rabbitmq-server`,
    );
  }
  lines.push(
    `  every login and permission is asked of the cloud at ${url.origin}` +
      (url.protocol === 'http:' ? `: cloud run --rabbitmq-authorizer ${url.host}` : ''),
    '  the nodes of one cluster share one Erlang cookie (~/.erlang.cookie of the user that runs them);',
    `  the files must be readable by that user; server-key.pem is mode 0600`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}

/** The store options every `cloud cra` and `cloud advisory` command takes. */
function storeOptions(c: Command): Command {
  return c
    .option('--state <dir>', 'state folder of the SQLite database')
    .option('--database <url>', 'PostgreSQL, postgres://user@host:port/db');
}

/** The facts a CRA case's drafts are filled from, as options. */
function factOptions(c: Command): Command {
  return c
    .option('--product <name>', 'the product concerned')
    .option('--versions <text>', 'the affected versions')
    .option('--member-states <codes>', 'EU Member States where it is made available or has effects, e.g. DE,FR')
    .option('--suspected-malicious <yes|no>', 'incident: suspected unlawful or malicious acts')
    .option('--nature <text>', 'the general nature of the exploit and vulnerability, or of the incident')
    .option('--assessment <text>', 'incident: the initial assessment')
    .option('--severity <text>', 'severity')
    .option('--impact <text>', 'impact')
    .option('--corrective-measures <text>', 'corrective or mitigating measures taken')
    .option('--user-measures <text>', 'corrective or mitigating measures users can take')
    .option('--sensitivity <text>', 'how sensitive the information is, e.g. TLP:AMBER')
    .option('--malicious-actor <text>', 'vulnerability: what is known of a malicious actor')
    .option('--security-update <text>', 'vulnerability: the security update or other corrective measure')
    .option('--root-cause <text>', 'incident: type of threat or root cause');
}

type CraOptions = Record<string, string | boolean | undefined> & { state?: string; database?: string; json?: boolean };

/** A deadline in words: 'due <ISO time> (provisional)', 'submitted <ISO time>', or what it waits for. */
function deadlineText(d: CraDeadline): string {
  if (d.submittedAt !== null) return `submitted ${new Date(d.submittedAt).toISOString()}`;
  if (d.dueAt === null) return `due ${d.basis}`;
  return `due ${new Date(d.dueAt).toISOString()}${d.provisional ? ' (provisional)' : ''} (${d.basis})`;
}

function printCase(o: CraOptions, value: object, line: string): void {
  process.stdout.write(o.json ? JSON.stringify(value, null, 2) + '\n' : line + '\n');
}

/** `cloud cra ...`: the CRA reporting clocks (Article 14): open cases, add facts, mark reports submitted, list. */
function registerCra(cloud: Command): void {
  const cra = cloud.command('cra').description('CRA reporting: exploited vulnerabilities and severe incidents');
  const open = (name: string, kind: 'vulnerability' | 'incident', refOption: string, what: string): void => {
    factOptions(storeOptions(cra.command(name)))
      .description(`start the reporting clocks for ${what}`)
      .requiredOption(refOption, kind === 'vulnerability' ? 'the vulnerability id (CVE, GHSA, own)' : 'a short title')
      .requiredOption('--known-at <iso>', 'when you became aware, ISO 8601 with offset, e.g. 2026-10-05T09:30:00Z')
      .option('--json', 'print JSON')
      .action(async (o: CraOptions) => {
        const { openCase, deadlinesOf } = await import('../cloud/index.ts');
        const ref = kind === 'vulnerability' ? o.vuln : o.incident;
        await withStoreOf(o, async (store) => {
          const now = Date.now();
          const done = await openCase(store, kind, { ...o, ref, knownAt: o.knownAt }, now);
          const c = done.record;
          const deadlines = deadlinesOf(c, now);
          const lines = deadlines.map((d) => `  ${d.report} ${deadlineText(d)}`);
          const head = `${done.created ? 'opened' : 'already open'}: ${c.id} ${c.kind} ${c.ref}`;
          printCase(o, { ...done, deadlines }, [head, ...lines].join('\n'));
        });
      });
  };
  open('exploited', 'vulnerability', '--vuln <id>', 'an actively exploited vulnerability');
  open('incident', 'incident', '--incident <title>', 'a severe incident');
  factOptions(storeOptions(cra.command('facts')))
    .description("add facts to a case's drafts")
    .requiredOption('--case <id>', 'the case id (cra-...)')
    .option('--json', 'print JSON')
    .action(async (o: CraOptions) => {
      const { addFacts } = await import('../cloud/index.ts');
      await withStoreOf(o, async (store) => {
        const c = await addFacts(store, String(o.case), o);
        printCase(o, c, `facts recorded: ${c.id}`);
      });
    });
  storeOptions(cra.command('fix'))
    .description('record when a corrective or mitigating measure became available (starts the final report clock)')
    .requiredOption('--case <id>', 'the case id (cra-...)')
    .requiredOption('--available-at <iso>', 'ISO 8601 with offset')
    .action(async (o: CraOptions) => {
      const { recordFix } = await import('../cloud/index.ts');
      await withStoreOf(o, async (store) => {
        const c = await recordFix(store, String(o.case), o.availableAt, Date.now());
        process.stdout.write(`fix recorded: ${c.id} ${new Date(c.fixAt!).toISOString()}\n`);
      });
    });
  storeOptions(cra.command('submitted'))
    .description('mark a report submitted (a person submitted it on the reporting platform)')
    .requiredOption('--case <id>', 'the case id (cra-...)')
    .requiredOption('--report <name>', 'early-warning, notification or final')
    .action(async (o: CraOptions) => {
      const { markSubmitted } = await import('../cloud/index.ts');
      await withStoreOf(o, async (store) => {
        const c = await markSubmitted(store, String(o.case), o.report, 'cli', Date.now());
        process.stdout.write(`marked submitted: ${c.id} ${String(o.report)}\n`);
      });
    });
  storeOptions(cra.command('list'))
    .description('the reports due (overdue first) and each case with its drafts (--json)')
    .option('--json', 'print JSON: cases with deadlines and drafts, and the reports due')
    .action(async (o: CraOptions) => {
      const { craOverview } = await import('../cloud/index.ts');
      await withStoreOf(o, async (store) => {
        const now = Date.now();
        const view = await craOverview(store, now);
        if (o.json) return void process.stdout.write(JSON.stringify(view, null, 2) + '\n');
        if (view.due.length === 0) process.stdout.write('no CRA report is due\n');
        for (const d of view.due)
          process.stdout.write(`${d.state.toUpperCase()} ${d.caseId} ${d.ref}: ${d.report} ${deadlineText(d)}\n`);
      });
    });
}

/** `cloud advisory publish`: a CSAF 2.0 advisory onto the cloud's CSAF provider. */
function registerAdvisory(cloud: Command): void {
  const advisory = cloud
    .command('advisory')
    .description('CSAF advisories the cloud publishes under /.well-known/csaf/');
  storeOptions(advisory.command('publish'))
    .description('publish a CSAF 2.0 security advisory (from `bulwark release advisory`)')
    .requiredOption('--file <file>', 'the advisory, JSON')
    .option('--security-config <file>', "the cloud's security settings file (its csaf limits apply)")
    .action(async (o: { file: string; state?: string; database?: string; securityConfig?: string }) => {
      const { publishAdvisory } = await import('../cloud/index.ts');
      const config = (await securitySettings(o)).csaf;
      const { open } = await import('node:fs/promises');
      // Read at most one byte past the limit, so a huge file is refused without being read whole.
      const handle = await open(resolve(o.file), 'r');
      const buffer = Buffer.alloc(config.maxAdvisoryBytes + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0).finally(() => handle.close());
      await withStoreOf(o, async (store) => {
        const done = await publishAdvisory(store, buffer.subarray(0, bytesRead), config, Date.now());
        process.stdout.write(`${done.outcome}: /.well-known/csaf/${done.path} (${done.trackingId})\n`);
      });
    });
}
