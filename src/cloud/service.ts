/**
 * The cloud service: one instance composes the store (SQLite by default, PostgreSQL with a URL),
 * the broker (embedded aedes by default, or an external Mosquitto), its own MQTT client into
 * that broker, the device traffic handler, commands and the owner API. An instance keeps no
 * state of its own beyond the broker and the database, so instances run side by side against
 * one external broker (sharing the device stream through `$share/bulwark/...`) and one database.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateFingerprint, loadCaSigner, MANIFEST_FORMAT, type CaSigner } from '../identity/index.ts';
import { SERIAL, UP_KINDS, SHARED_GROUP, TOPIC_ROOT } from '../cloudprotocol/index.ts';
import { MODEL_SCHEMA_ID, modelDigest, modelFromDocument, type ModelSpec } from '../models/index.ts';
import { CloudConfigError, CloudError } from './errors.ts';
import { ensureCloudCredentials, type CloudCredentials } from './pki.ts';
import {
  defaultEmbeddedBrokerConfig,
  startEmbeddedBroker,
  type EmbeddedBroker,
  type EmbeddedBrokerConfig,
} from './broker.ts';
import { ServiceMqttClient, type ServiceMqttConfig } from './service-mqtt.ts';
import { parseMqttsUrl } from '../mqtt/index.ts';
import { ConnectionJournal, type JournalConfig } from '../journal/index.ts';
import { DeviceTraffic, type IngestConfig } from './ingest.ts';
import { CommandCenter, type CommandConfig } from './commands.ts';
import { PersonRemovals } from './person-removals.ts';
import { startOwnerApi, type OwnerApi, type OwnerApiConfig, type OwnerApiOptions } from './api.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';
import { openPostgresDriver } from './pg-driver.ts';
import type { CloudStore, RegistryUnit, TelemetryRow } from './store.ts';
import { RevocationEnforcer, DEFAULT_REVOCATION_POLL_MS, describeRevocation } from './revocation-enforcer.ts';
import {
  startRabbitmqAuthorizer,
  type RabbitmqAuthorizer,
  type RabbitmqAuthorizerConfig,
} from './rabbitmq-authorizer.ts';
import { CloneWatch, type CloneDetectionConfig } from './clone-detection.ts';
import { OperationalIdentities } from './identities.ts';
import type { IssuingConfig } from './issuing.ts';
import { MosquittoRevocation, type MosquittoRevocationConfig } from './mosquitto-revocation.ts';
import { factsFolder } from './facts-records.ts';
import { Mailer, validateMailConfig, type MailConfig } from './mail.ts';
import type { AccountLinkConfig } from './account-links.ts';

/** The external Mosquitto written by `bulwark cloud broker-config`, which revocations reach. */
export interface CloudMosquittoOptions {
  /** The broker-config folder: crl.pem (rewritten by the cloud), the admin identities. */
  readonly configDir: string;
  /** Mosquitto's pid file, for SIGHUP; absent: the systemd .path unit broker-config wrote reloads it. */
  readonly pidFile?: string;
  /** This instance's admin identity; default: `bulwark-admin-<instance>-{cert,key}.pem` in `configDir`. */
  readonly dynsecAdmin?: { readonly certPem: string; readonly keyPem: string };
  /** The CA that signs the CRL; default: the factory folder's. */
  readonly ca?: CaSigner;
  /** Re-issue, retry and answer bounds. */
  readonly revocation?: Partial<MosquittoRevocationConfig>;
  /**
   * Whether Mosquitto's device listener trusts birth certificates too ('full') or operational ones only
   * ('enrolment': birth certificates then reach only the enrolment listener). Default: the `broker` option's,
   * itself 'enrolment' by default.
   */
  readonly birthCertificates?: 'enrolment' | 'full';
}

/** Settings of a cloud instance. */
export interface CloudServiceOptions {
  /** Mutable state: credentials (pki/), the SQLite database, the published security facts records (facts/). */
  readonly stateDir: string;
  /** The journal's bounds (tier sizes, aggregation rate and window, age); src/journal's defaults otherwise. */
  readonly journal?: Partial<JournalConfig>;
  /** The factory folder: its CA issues this instance's certificates on first start. */
  readonly factoryDir?: string;
  /** Credentials made elsewhere (then `factoryDir` is not needed). */
  readonly credentials?: CloudCredentials;
  /** This instance's name (its certificate CN is `bulwark-cloud-<instance>`). */
  readonly instance?: string;
  /** An external broker, `mqtts://host:port`; absent: the embedded one. */
  readonly brokerUrl?: string;
  /** Share the device stream with other instances (`$share/bulwark/...`); default: when the broker is external. */
  readonly sharedSubscriptions?: boolean;
  /** `postgres://...`; absent: SQLite in the state dir. */
  readonly databaseUrl?: string;
  /** SQLite's durability (see sqlite-driver.ts). */
  readonly sqliteSynchronous?: 'full' | 'normal';
  /** Host names of this cloud for its server certificate (beyond loopback). */
  readonly hostnames?: readonly string[];
  readonly broker?: Partial<EmbeddedBrokerConfig>;
  readonly api?: Partial<OwnerApiConfig>;
  readonly mqtt?: Partial<ServiceMqttConfig>;
  readonly ingest?: Partial<IngestConfig>;
  readonly commands?: Partial<CommandConfig>;
  /** Manifests to import at start. */
  readonly manifests?: readonly string[];
  /** Telemetry older than this is deleted, days. */
  readonly telemetryRetentionDays?: number;
  /** The service log (imports, broker connection, refusals, maintenance); silent by default. */
  readonly log?: (msg: string) => void;
  /** The issuing CA's settings: operational certificate lifetime (default 365 days), CA lifetime. */
  readonly issuing?: Partial<IssuingConfig>;
  /** Clone detection on the embedded broker (clone-detection.ts): window, flag and revoke thresholds. */
  readonly cloneDetection?: Partial<CloneDetectionConfig>;
  /** How often revocations made elsewhere (the CLI, another instance) are looked for, ms (50 to 10000). */
  readonly revocationPollMs?: number;
  /** With `brokerUrl`: the Mosquitto that `broker-config` wrote, kept in step with the revocations. */
  readonly mosquitto?: CloudMosquittoOptions;
  /**
   * Answer RabbitMQ's HTTP auth backend (docs/rabbitmq.md) on this address, plain HTTP on loopback; a public
   * address is refused at start. Absent: no authorizer.
   */
  readonly rabbitmqAuthorizer?: Partial<RabbitmqAuthorizerConfig>;
  /** Mail to owners: an SMTP server (STARTTLS required) or, by default, the maildir `<stateDir>/mail`. */
  readonly mail?: Partial<MailConfig>;
  /** How long mailed links work (address confirmation, password reset, invitations), ms. */
  readonly accountLinks?: Partial<AccountLinkConfig>;
  /** Hears every stored telemetry batch (the benchmark measures latency with it). */
  readonly onTelemetryStored?: (rows: readonly TelemetryRow[], storedAt: number) => void;
}

/** A running cloud instance. */
export interface CloudService {
  readonly instance: string;
  readonly store: CloudStore;
  /** The embedded broker, when there is one. */
  readonly broker: EmbeddedBroker | undefined;
  /** Where devices connect. */
  readonly brokerUrl: string;
  readonly api: OwnerApi;
  readonly mqtt: ServiceMqttClient;
  readonly traffic: DeviceTraffic;
  readonly commands: CommandCenter;
  readonly credentials: CloudCredentials;
  /** This instance's connection journal (owner API and broker attempts, logins, CSRF refusals). */
  readonly journal: ConnectionJournal;
  /** The revocations this instance enforces; `revocations.revoke()` revokes and enforces at once. */
  readonly revocations: RevocationEnforcer;
  /** The issuing CA of operational certificates and the enrolment it answers. */
  readonly identities: OperationalIdentities;
  /** The outgoing mail to owners; `maildir` is where messages go when no SMTP server is configured. */
  readonly mail: Mailer & { readonly maildir: string };
  /** RabbitMQ's authorizer, when `rabbitmqAuthorizer` was given. */
  readonly rabbitmqAuthorizer: RabbitmqAuthorizer | undefined;
  /** Imports a factory manifest into the registry. */
  importManifest(path: string): Promise<{ added: number; existing: number }>;
  /** Stops the instance: everything it started, in reverse order, the store last. */
  close(): Promise<void>;
}

/** Opens the store a cloud instance would use. */
export async function openCloudStore(o: {
  stateDir: string;
  databaseUrl?: string;
  sqliteSynchronous?: 'full' | 'normal';
}): Promise<CloudStore> {
  if (o.databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(o.databaseUrl))
      throw new CloudConfigError('databaseUrl', 'must be a postgres:// URL');
    return SqlStore.open(await openPostgresDriver({ url: o.databaseUrl }));
  }
  return SqlStore.open(
    openSqliteDriver({
      path: join(o.stateDir, 'cloud.db'),
      ...(o.sqliteSynchronous ? { synchronous: o.sqliteSynchronous } : {}),
    }),
  );
}

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;
/** Most distinct models one manifest may carry. */
const MAX_MANIFEST_MODELS = 1_000;

/**
 * The manifest's `models` (digest -> model): each checked as a model file and under the digest of
 * its canonical form, so a unit's digest names exactly one model. An old manifest has none.
 */
function manifestModels(models: unknown, path: string): Map<string, ModelSpec> {
  const out = new Map<string, ModelSpec>();
  if (models === undefined) return out;
  if (typeof models !== 'object' || models === null || Array.isArray(models))
    throw new CloudError('MANIFEST_INVALID', `models of ${path} is not an object`);
  const entries = Object.entries(models);
  if (entries.length > MAX_MANIFEST_MODELS) throw new CloudError('MANIFEST_INVALID', `${path} has too many models`);
  for (const [digest, doc] of entries) {
    let model: ModelSpec;
    try {
      model = modelFromDocument({ schema: MODEL_SCHEMA_ID, ...(doc as object) }, `${digest.slice(0, 80)} in ${path}`);
    } catch (err) {
      throw new CloudError('MANIFEST_INVALID', (err as Error).message.slice(0, 400));
    }
    if (!FINGERPRINT.test(digest) || modelDigest(model) !== digest)
      throw new CloudError('MANIFEST_INVALID', `a model of ${path} is not under its own digest`);
    out.set(digest, model);
  }
  return out;
}

/**
 * Reads and validates a factory manifest (docs/bundle.md) issued under `caCertPem`. Each unit
 * carries its own model when the manifest has it (`modelDigest` into `models`).
 */
export async function readManifest(path: string, caCertPem: string): Promise<RegistryUnit[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new CloudError('MANIFEST_INVALID', `${path} is not a JSON manifest`);
  }
  const m = raw as { format?: unknown; caFingerprint?: unknown; units?: unknown; models?: unknown };
  if (typeof raw !== 'object' || raw === null || m.format !== MANIFEST_FORMAT || !Array.isArray(m.units))
    throw new CloudError('MANIFEST_INVALID', `${path} is not a ${MANIFEST_FORMAT} manifest`);
  if (m.caFingerprint !== certificateFingerprint(caCertPem))
    throw new CloudError('MANIFEST_OTHER_CA', `${path} comes from another factory's CA`);
  if (m.units.length > 1_000_000) throw new CloudError('MANIFEST_INVALID', 'too many units');
  const models = manifestModels(m.models, path);
  return (m.units as unknown[]).map((u, i) => {
    const x = u as Record<string, unknown>;
    const ok =
      typeof u === 'object' &&
      u !== null &&
      typeof x.serial === 'string' &&
      SERIAL.test(x.serial) &&
      typeof x.model === 'string' &&
      /^[a-z][a-z0-9-]{0,31}$/.test(x.model) &&
      typeof x.deviceCertFingerprint === 'string' &&
      FINGERPRINT.test(x.deviceCertFingerprint) &&
      typeof x.claimCodeHash === 'string' &&
      FINGERPRINT.test(x.claimCodeHash) &&
      typeof x.createdAt === 'string' &&
      x.createdAt.length <= 40 &&
      (x.modelDigest === undefined || (typeof x.modelDigest === 'string' && FINGERPRINT.test(x.modelDigest))) &&
      (x.deviceCertSerialNumber === undefined ||
        (typeof x.deviceCertSerialNumber === 'string' && /^[0-9a-f]{2,40}$/.test(x.deviceCertSerialNumber)));
    if (!ok) throw new CloudError('MANIFEST_INVALID', `unit ${i} of ${path} is malformed`);
    const digest = x.modelDigest as string | undefined;
    const model = digest === undefined ? undefined : models.get(digest);
    // A digest must name a model of this manifest, and that model must be the one the unit names.
    if (digest !== undefined && model?.id !== x.model)
      throw new CloudError('MANIFEST_INVALID', `unit ${i} of ${path} names a model the manifest does not carry`);
    return {
      serial: x.serial as string,
      model: x.model as string,
      ...(digest !== undefined && model ? { modelDigest: digest, modelSpec: model } : {}),
      deviceCertFingerprint: x.deviceCertFingerprint as string,
      ...(x.deviceCertSerialNumber !== undefined ? { deviceCertSerialNumber: x.deviceCertSerialNumber as string } : {}),
      claimCodeHash: x.claimCodeHash as string,
      createdAt: x.createdAt as string,
    };
  });
}

async function cloudCredentials(o: CloudServiceOptions, instance: string): Promise<CloudCredentials> {
  if (o.credentials) return o.credentials;
  if (!o.factoryDir)
    throw new CloudConfigError('factoryDir', "needed to issue the cloud's certificates (or pass credentials)");
  return ensureCloudCredentials({
    factoryDir: o.factoryDir,
    dir: join(o.stateDir, 'pki'),
    instance,
    ...(o.hostnames ? { hostnames: o.hostnames } : {}),
  });
}

function revocationPollMs(value: number | undefined): number {
  if (value === undefined) return DEFAULT_REVOCATION_POLL_MS;
  if (!Number.isInteger(value) || value < 50 || value > 10_000)
    throw new CloudConfigError('revocationPollMs', 'must be an integer from 50 to 10000');
  return value;
}

/** The CA that signs the Mosquitto CRL: given, or the factory folder's (the same CA the devices pin). */
async function crlSigner(o: CloudServiceOptions, m: CloudMosquittoOptions, caCertPem: string): Promise<CaSigner> {
  let ca = m.ca;
  if (!ca) {
    if (!o.factoryDir) throw new CloudConfigError('mosquitto.ca', 'needed to sign the CRL (or give factoryDir)');
    const dir = join(o.factoryDir, 'ca');
    const [cert, key] = await Promise.all([
      readFile(join(dir, 'ca-cert.pem'), 'utf8'),
      readFile(join(dir, 'ca-key.pem'), 'utf8'),
    ]).catch(() => {
      throw new CloudError('FACTORY_CA_MISSING', `no manufacturer CA key in ${dir} to sign the CRL`, { dir });
    });
    ca = await loadCaSigner(cert, key);
  }
  if (ca.certPem.trim() !== caCertPem.trim())
    throw new CloudConfigError('mosquitto.ca', 'must be the CA the devices and the broker trust');
  return ca;
}

/** Starts keeping the external Mosquitto in step with the revocations (every one applied now). */
async function startMosquittoRevocation(
  o: CloudServiceOptions,
  creds: CloudCredentials,
  store: CloudStore,
  revocations: RevocationEnforcer,
  log: (line: string) => void,
): Promise<void> {
  const m = o.mosquitto;
  if (!m || !o.brokerUrl) return;
  const enforcer = new MosquittoRevocation({
    configDir: m.configDir,
    ...(m.pidFile !== undefined ? { pidFile: m.pidFile } : {}),
    ...(m.dynsecAdmin ? { admin: m.dynsecAdmin } : {}),
    ...(m.revocation ? { config: m.revocation } : {}),
    ca: await crlSigner(o, m, creds.caCertPem),
    birthCertificates:
      m.birthCertificates ?? o.broker?.birthCertificates ?? defaultEmbeddedBrokerConfig.birthCertificates,
    brokerUrl: o.brokerUrl,
    instance: o.instance ?? '1',
    store,
    log,
  });
  await revocations.enforceOnMosquitto(enforcer);
}

/** The embedded broker, journalling every connection; refusals are logged, then only one in 1000. */
/** The instance's issuing CA and enrolment (started once the instance can publish). */
async function openIdentities(
  o: CloudServiceOptions,
  parts: { store: CloudStore; journal: ConnectionJournal; caCertPem: string; log: (line: string) => void },
  closers: Array<() => Promise<void>>,
): Promise<OperationalIdentities> {
  const identities = await OperationalIdentities.open({ ...parts, ...(o.issuing ? { config: o.issuing } : {}) });
  closers.push(() => Promise.resolve(identities.stop()));
  return identities;
}

/** What the broker's checks answer from: the journal, the revocations and the issuing CAs it trusts. */
interface BrokerGuards {
  readonly journal: ConnectionJournal;
  readonly revocations: RevocationEnforcer;
  readonly identities: OperationalIdentities;
  readonly log: (line: string) => void;
}

function startBroker(o: CloudServiceOptions, creds: CloudCredentials, g: BrokerGuards): Promise<EmbeddedBroker> {
  const { journal, revocations, log } = g;
  const clones = new CloneWatch({
    store: revocations.store,
    ...(o.cloneDetection ? { config: o.cloneDetection } : {}),
    note: (source, event, detail) => journal.record({ surface: 'cloud', source, event, result: 'info', detail }),
    revoke: (serial) => revocations.revoke({ serial, reason: 'clone' }, 'clone-detection'),
    log,
  });
  let refusals = 0;
  return startEmbeddedBroker({
    caCertPem: creds.caCertPem,
    issuingCaPems: g.identities.authority.trustedPems(),
    certPem: creds.server.certPem,
    keyPem: creds.server.keyPem,
    config: o.broker ?? {},
    onRefusal: (reason, detail) => {
      if (refusals++ < 1000 || refusals % 1000 === 0) log(`broker refused (${reason}): ${detail}`);
    },
    onConnectionRecord: (r) => journal.record({ surface: 'cloud', ...r }),
    revoked: revocations.revoked,
    onRevokedDisconnect: revocations.disconnected,
    onTakeover: (t) => clones.takeover(t),
  });
}

/** The external broker named in the options, or the embedded one started here (its closer added to `closers`). */
async function brokerOf(
  o: CloudServiceOptions,
  creds: CloudCredentials,
  g: BrokerGuards,
  closers: Array<() => Promise<void>>,
): Promise<{ broker: EmbeddedBroker | undefined; brokerUrl: string }> {
  if (o.mosquitto && !o.brokerUrl) throw new CloudConfigError('mosquitto', 'only with brokerUrl (an external broker)');
  if (o.brokerUrl) {
    parseMqttsUrl(o.brokerUrl);
    return { broker: undefined, brokerUrl: o.brokerUrl };
  }
  const broker = await startBroker(o, creds, g);
  g.revocations.enforceOn(broker);
  closers.push(() => broker.close());
  return { broker, brokerUrl: broker.url };
}

/** The cloud's own MQTT client; `holder.traffic` handles what it receives. */
function serviceClient(
  o: CloudServiceOptions,
  creds: CloudCredentials,
  brokerUrl: string,
  prefix: string,
  holder: { traffic?: DeviceTraffic },
  log: (line: string) => void,
): ServiceMqttClient {
  const instance = o.instance ?? '1';
  return new ServiceMqttClient({
    url: brokerUrl,
    caCertPem: creds.caCertPem,
    certPem: creds.service.certPem,
    keyPem: creds.service.keyPem,
    clientId: creds.serviceName,
    subscriptions: UP_KINDS.map((k) => ({ filter: `${prefix}${TOPIC_ROOT}/+/${k}`, qos: 1 as const })),
    onMessages: (batch) => holder.traffic!.handle(batch),
    onConnect: (present) => log(`cloud ${instance} connected to ${brokerUrl} (session ${present ? 'resumed' : 'new'})`),
    onDisconnect: (reason) => log(`cloud ${instance} lost the broker: ${reason}`),
    config: o.mqtt ?? {},
  });
}

/** Prunes old sessions, attempts and telemetry every 10 minutes; returns the closer that stops it. */
function startMaintenance(store: CloudStore, retentionMs: number, log: (line: string) => void): () => Promise<void> {
  const maintenance = setInterval(() => {
    const now = Date.now();
    Promise.all([
      store.pruneSessions(now - 900_000, now - 43_200_000),
      store.pruneAttempts(now - 86_400_000),
      store.pruneTelemetry(now - retentionMs),
    ]).catch((err: unknown) => log(`maintenance failed: ${(err as Error).message}`));
  }, 600_000);
  maintenance.unref();
  return () => {
    clearInterval(maintenance);
    return Promise.resolve();
  };
}

/** The outgoing mail to owners: SMTP when configured, else the maildir `<state>/mail`; its closer goes in `closers`. */
function openMail(
  o: CloudServiceOptions,
  log: (line: string) => void,
  closers: Array<() => Promise<void>>,
): { mail: CloudService['mail']; mailOptions: Pick<OwnerApiOptions, 'mailer' | 'linkBase' | 'links'> } {
  const maildir = join(o.stateDir, 'mail');
  const config = validateMailConfig(o.mail);
  const mail = Object.assign(new Mailer({ config, maildir, log }), { maildir });
  closers.push(() => mail.close());
  log(`mail to owners goes ${config.smtp ? `over SMTP to ${config.smtp.host}` : `to ${maildir}`}`);
  const links = o.accountLinks ? { links: o.accountLinks } : {};
  return { mail, mailOptions: { mailer: mail, linkBase: config.linkBase, ...links } };
}

/**
 * RabbitMQ's authorizer, when asked for, answering from this instance's revocation list and journalling into its
 * journal; started before the broker so a bad address stops the cloud before anything else listens.
 */
async function startAuthorizer(
  o: CloudServiceOptions,
  g: Pick<BrokerGuards, 'journal' | 'revocations' | 'log'>,
  closers: Array<() => Promise<void>>,
): Promise<RabbitmqAuthorizer | undefined> {
  if (o.rabbitmqAuthorizer === undefined) return undefined;
  const authorizer = await startRabbitmqAuthorizer({
    config: o.rabbitmqAuthorizer,
    // A CN, never a certificate: a unit revoked as a whole is refused, one revoked certificate is not (docs).
    revoked: (cn) => {
      const r = g.revocations.list.covering(cn, undefined);
      return r === undefined ? undefined : describeRevocation(r);
    },
    journal: g.journal,
    log: g.log,
  });
  closers.push(() => authorizer.close());
  g.log(`rabbitmq authorizer listening on ${authorizer.url}`);
  return authorizer;
}

/** Per instance, in its state dir: every connection attempt on the owner API and the broker. */
function openCloudJournal(o: CloudServiceOptions): Promise<ConnectionJournal> {
  return ConnectionJournal.open({
    stateDir: o.stateDir,
    privacyClass: 'standard',
    ...(o.journal ? { config: o.journal } : {}),
  });
}

/**
 * Starts a cloud instance.
 *
 * @example
 * const cloud = await startCloud({ factoryDir: 'factory', stateDir: 'cloud', manifests: ['units/manifest.json'] });
 * // devices: mqtts://127.0.0.1:8883, owners: https://127.0.0.1:9443
 */
export async function startCloud(o: CloudServiceOptions): Promise<CloudService> {
  const log = o.log ?? (() => undefined);
  const instance = o.instance ?? '1';
  const creds = await cloudCredentials(o, instance);
  const store = await openCloudStore(o);
  const journal = await openCloudJournal(o).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const closers: Array<() => Promise<void>> = [() => store.close(), () => journal.close()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const revocations = new RevocationEnforcer({ store, journal, log });
    await revocations.start(revocationPollMs(o.revocationPollMs));
    closers.push(() => Promise.resolve(revocations.stop()));
    const rabbitmqAuthorizer = await startAuthorizer(o, { journal, revocations, log }, closers);
    const identities = await openIdentities(o, { store, journal, caCertPem: creds.caCertPem, log }, closers);
    const { broker, brokerUrl } = await brokerOf(o, creds, { journal, revocations, identities, log }, closers);
    const shared = o.sharedSubscriptions ?? o.brokerUrl !== undefined;
    const prefix = shared ? `$share/${SHARED_GROUP}/` : '';
    // The client and the traffic handler refer to each other; the handler is set before start().
    const holder: { traffic?: DeviceTraffic } = {};
    const mqtt = serviceClient(o, creds, brokerUrl, prefix, holder, log);
    const publish = (topic: string, payload: Uint8Array, qos: 0 | 1): Promise<void> =>
      mqtt.publish(topic, payload, qos);
    const enrolment = await identities.start(publish, broker);
    const traffic = new DeviceTraffic({
      store,
      publish,
      config: o.ingest ?? {},
      log,
      enrol: (serial, body, now) => enrolment.handle(serial, body, now),
      ...(o.onTelemetryStored ? { onStored: o.onTelemetryStored } : {}),
    });
    holder.traffic = traffic;
    const commands = new CommandCenter({ store, publish, replies: traffic.events, config: o.commands ?? {} });
    // A device back online is sent the household removals it missed.
    const removals = new PersonRemovals({ store, commands, log });
    traffic.events.on('online', (serial: string) => void removals.deliverPending(serial).catch(() => undefined));
    for (const path of o.manifests ?? []) {
      const r = await store.importUnits(await readManifest(path, creds.caCertPem), Date.now());
      log(`imported ${path}: ${r.added} new, ${r.existing} known`);
    }
    mqtt.start();
    closers.push(() => mqtt.close());
    await mqtt.waitConnected(30_000);
    await startMosquittoRevocation(o, creds, store, revocations, log);
    const { mail, mailOptions } = openMail(o, log, closers);
    const api = await startOwnerApi({
      ...mailOptions,
      ...{ store, commands, removals, certPem: creds.server.certPem, keyPem: creds.server.keyPem, config: o.api ?? {} },
      ...{ log, journal, revoke: (input, by) => revocations.revoke(input, by), factsDir: factsFolder(o.stateDir) },
    });
    closers.push(() => api.close());
    closers.push(startMaintenance(store, (o.telemetryRetentionDays ?? 30) * 86_400_000, log));
    return {
      instance,
      store,
      broker,
      brokerUrl,
      api,
      mqtt,
      traffic,
      commands,
      credentials: creds,
      journal,
      revocations,
      identities,
      mail,
      rabbitmqAuthorizer,
      async importManifest(path: string) {
        return store.importUnits(await readManifest(path, creds.caCertPem), Date.now());
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
