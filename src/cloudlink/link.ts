/**
 * The device's connection to the manufacturer: MQTT 3.1.1 (src/mqtt) over mutual TLS 1.3 with the
 * factory device certificate, trusting only the manufacturer CA from the bundle (the `ca` option
 * replaces the system store), client id = serial. It reconnects with jittered exponential
 * back-off, sends the outbox (telemetry and the factory-reset release) at QoS 1 and keeps each
 * message until the cloud's receipt says it is stored, runs commands at most once (their ids are
 * recorded on disk before they run), and opens the claim window when the button is pressed.
 * The rest of the device never waits for it: the web page and the hub work while it is away.
 */
import { readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { MqttClient } from '../mqtt/index.ts';
import { ConfigError, BulwarkError } from '../errors/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE, type DamagedStateSink } from '../storage/index.ts';
import { reconnectDelay } from '../channel/index.ts';
import {
  deviceTopic,
  encodePayload,
  parseJsonPayload,
  parseCommand,
  parseReceipt,
  parseClaimWindow,
  type ClaimWindowMessage,
  toRanges,
  inRanges,
  PAYLOAD_LIMITS,
  type CommandMessage,
  type FirmwareMessage,
  type ScalarValue,
  type StateMessage,
} from '../cloudprotocol/index.ts';
import { Outbox, type OutboxLimits } from './outbox.ts';
import { OperationalIdentityStore, type CredentialKind } from './operational-identity.ts';
import { DeviceEnrolment, type CloudIdentityStatus, type EnrolmentEvent } from './enrolment.ts';

/** Settings of the cloud link. Times in ms. */
export interface CloudLinkConfig {
  /** The cloud's broker, `mqtts://host:port`. */
  readonly url: string;
  /**
   * Where the unit connects with its birth certificate to enrol: absent, the same broker (the
   * embedded one); on Mosquitto, its enrolment listener (`bulwark cloud broker-config` prints it).
   */
  readonly enrolUrl?: string;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** Fraction of each delay taken off at random, so a fleet does not reconnect in step. */
  readonly reconnectJitter: number;
  /** Outbox messages in flight (published, not yet acknowledged) at once. */
  readonly maxInFlight: number;
  /** How often to ask the cloud which acknowledged messages it has stored. */
  readonly syncIntervalMs: number;
  /** Only messages acknowledged at least this long ago are asked about. */
  readonly syncAgeMs: number;
  /** A sync with no receipt after this is asked again. */
  readonly receiptTimeoutMs: number;
  /** The outbox is saved at most this long after a change. */
  readonly saveDelayMs: number;
  /** Command ids remembered (at-most-once). */
  readonly maxRememberedCommands: number;
  /**
   * The firmware report goes on connect and on every new update outcome, and again this often (a report the
   * broker lost is not missed for long), ms.
   */
  readonly firmwareReportIntervalMs: number;
  readonly outbox: Partial<OutboxLimits>;
  /**
   * Which certificate the unit uses for MQTT: 'operational' (the default: it enrols with its birth
   * certificate for one from the cloud's issuing CA, uses that and renews it) or 'birth' (the factory
   * certificate for everything, for a cloud that does not issue certificates).
   */
  readonly identity: 'operational' | 'birth';
  /** How long an enrol request waits for the cloud's answer. */
  readonly enrolTimeoutMs: number;
  /** First wait after a failed or refused enrol request; it doubles up to `enrolRetryMaxMs`. */
  readonly enrolRetryBaseMs: number;
  readonly enrolRetryMaxMs: number;
  /** How often the operational certificate's renewal time is checked while connected. */
  readonly identityCheckIntervalMs: number;
}

/** The defaults (everything but the URL). */
export const defaultCloudLinkConfig: Omit<CloudLinkConfig, 'url'> = Object.freeze({
  keepaliveSeconds: 60,
  connectTimeoutMs: 15_000,
  reconnectBaseMs: 1_000,
  reconnectMaxMs: 120_000,
  reconnectJitter: 0.5,
  maxInFlight: 32,
  syncIntervalMs: 60_000,
  syncAgeMs: 5_000,
  receiptTimeoutMs: 30_000,
  saveDelayMs: 1_000,
  maxRememberedCommands: 256,
  firmwareReportIntervalMs: 3_600_000,
  outbox: {},
  identity: 'operational',
  enrolTimeoutMs: 30_000,
  enrolRetryBaseMs: 60_000,
  enrolRetryMaxMs: 21_600_000,
  identityCheckIntervalMs: 3_600_000,
});

function requireMqttsUrl(value: unknown, key: string): void {
  let u: URL | undefined;
  try {
    u = new URL(String(value));
  } catch {
    u = undefined;
  }
  if (typeof value !== 'string' || !u || u.protocol !== 'mqtts:' || !u.hostname || u.username || u.password)
    throw new ConfigError('CLOUDLINK_CONFIG_INVALID', key, 'must be mqtts://host:port (TLS only)');
}

/** Validates a config; only mqtts:// is accepted (never a plain connection). */
export function validateCloudLinkConfig(config: Partial<CloudLinkConfig> & { url: string }): CloudLinkConfig {
  const c = { ...defaultCloudLinkConfig, ...config };
  requireMqttsUrl(c.url, 'url');
  if (c.enrolUrl !== undefined) requireMqttsUrl(c.enrolUrl, 'enrolUrl');
  const int = (key: keyof CloudLinkConfig, min: number, max: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ConfigError('CLOUDLINK_CONFIG_INVALID', key, `must be an integer from ${min} to ${max}`);
  };
  int('keepaliveSeconds', 10, 3_600);
  int('connectTimeoutMs', 1_000, 120_000);
  int('reconnectBaseMs', 10, 60_000);
  int('reconnectMaxMs', c.reconnectBaseMs, 3_600_000);
  int('maxInFlight', 1, 1_000);
  int('syncIntervalMs', 1_000, 86_400_000);
  int('syncAgeMs', 0, 3_600_000);
  int('receiptTimeoutMs', 1_000, 600_000);
  int('saveDelayMs', 0, 60_000);
  int('maxRememberedCommands', 16, 100_000);
  int('firmwareReportIntervalMs', 10_000, 86_400_000);
  int('enrolTimeoutMs', 1_000, 600_000);
  int('enrolRetryBaseMs', 100, 86_400_000);
  int('enrolRetryMaxMs', c.enrolRetryBaseMs, 86_400_000);
  int('identityCheckIntervalMs', 50, 86_400_000);
  if (c.identity !== 'operational' && c.identity !== 'birth')
    throw new ConfigError('CLOUDLINK_CONFIG_INVALID', 'identity', "must be 'operational' or 'birth'");
  if (typeof c.reconnectJitter !== 'number' || c.reconnectJitter < 0 || c.reconnectJitter > 1)
    throw new ConfigError('CLOUDLINK_CONFIG_INVALID', 'reconnectJitter', 'must be from 0 to 1');
  return c;
}

/** The device's credentials and identity, from its bundle (the birth certificate). `deviceKeyPem` is a secret. */
export interface CloudLinkIdentity {
  readonly serial: string;
  readonly caCertPem: string;
  readonly deviceCertPem: string;
  readonly deviceKeyPem: string;
}

/** A connection attempt's outcome, for the device's connection journal. */
export interface CloudLinkEvent {
  readonly event: 'connect' | 'disconnect' | 'command' | 'claim-window' | 'release' | EnrolmentEvent['event'];
  readonly result: 'success' | 'failure' | 'refused' | 'info';
  readonly detail?: string;
}

/** Options of {@link CloudLink.open}. */
export interface CloudLinkOptions {
  readonly identity: CloudLinkIdentity;
  readonly stateDir: string;
  readonly config: Partial<CloudLinkConfig> & { url: string };
  /** Runs a command on the device; throws a BulwarkError (its code goes back to the cloud) to refuse. */
  readonly execute: (capability: string, action: string, value: ScalarValue | undefined) => Promise<unknown>;
  /** The device's current state (published on connect and on every change). */
  readonly state: () => StateMessage;
  /** The running image and the newest update outcomes (sent on connect and by {@link CloudLink.publishFirmware}). */
  readonly firmware?: () => FirmwareMessage | undefined;
  readonly onEvent?: (e: CloudLinkEvent) => void;
  /**
   * Asked at each connection attempt: a check of the broker's certificate to use instead of OpenSSL's,
   * or undefined for OpenSSL's. The agent gives one only while the unit's wall clock is below its clock
   * floor, where every certificate would look not yet valid (it verifies at the floor, docs/clock.md).
   */
  readonly peerCheckBelowFloor?: (host: string) => ((peer: X509Certificate | undefined) => void) | undefined;
  /** Where an unusable operational identity file goes (default `<stateDir>/damaged`, told as an event). */
  readonly damaged?: DamagedStateSink;
  /** The time the operational certificate is judged at, ms (default Date.now; the agent's clock, a test's). */
  readonly now?: () => number;
  /** Draws in [0, 1) for the renewal jitter and the enrolment back-off (default Math.random). */
  readonly random?: () => number;
}

interface RememberedCommand {
  id: string;
  ok: boolean;
  value?: ScalarValue;
  error?: { code: string; message: string };
}

/** A window-open the device sent, and the cloud's answer to it once heard. */
interface ClaimWindowAsked {
  readonly seq: number;
  lengthMs?: number;
  closesAt?: number;
  heard?: () => void;
}

/** How long a button press waits for the cloud to say until when its claim window is open, ms. */
const CLAIM_ANSWER_WAIT_MS = 2_000;

const COMMANDS_FILE = 'cloud-commands.json';

/** Failures before the broker was reached: they say nothing about the certificate offered. */
const NETWORK_FAILURES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'MQTT_TIMEOUT',
]);

function scalarOf(v: unknown): ScalarValue | undefined {
  if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (typeof v === 'string' && v.length <= PAYLOAD_LIMITS.maxStringValue) return v;
  return undefined;
}

/**
 * The link.
 *
 * @example
 * const link = await CloudLink.open({ identity: bundle, stateDir, config: { url: 'mqtts://cloud:8883' },
 *   execute: (cap, action, value) => capabilities.invoke(cap, action, value), state: () => currentState() });
 * link.start();
 * link.queueTelemetry({ energy: 60 });
 */
export class CloudLink {
  readonly config: CloudLinkConfig;
  readonly outbox: Outbox;
  readonly #o: CloudLinkOptions;
  readonly #topic: (kind: Parameters<typeof deviceTopic>[1]) => string;
  #client: MqttClient | undefined;
  #connected = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #syncTimer: NodeJS.Timeout | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  #firmwareTimer: NodeJS.Timeout | undefined;
  #inFlight = new Set<number>();
  #asked: { seqs: Set<number>; at: number } | undefined;
  #commands: RememberedCommand[];
  #commandIds: Map<string, RememberedCommand>;
  #commandChain: Promise<void> = Promise.resolve();
  #connections = 0;
  /** The claim window the cloud confirmed last: the `window-open` it answered and when it closes (this clock). */
  #claimWindow: ClaimWindowAsked | undefined;
  #lastFailure: string | undefined;
  /** Enrolment and renewal; undefined with `identity: 'birth'`. */
  readonly #enrolment: DeviceEnrolment | undefined;
  /** Closing the connection to reconnect at once with a new certificate. */
  #switching = false;
  /** Until when (Date.now) a switch of certificate may keep the session down. */
  #switchUntil = 0;
  /**
   * Counters: outbox messages published, confirmed stored by a receipt, and sent again after a receipt said they were
   * missing.
   */
  readonly stats = { published: 0, confirmed: 0, resent: 0 };

  private constructor(
    o: CloudLinkOptions,
    config: CloudLinkConfig,
    outbox: Outbox,
    commands: RememberedCommand[],
    store: OperationalIdentityStore | undefined,
  ) {
    this.#o = o;
    this.#enrolment = store
      ? new DeviceEnrolment({
          serial: o.identity.serial,
          birth: { certPem: o.identity.deviceCertPem, keyPem: o.identity.deviceKeyPem },
          store,
          config,
          now: o.now ?? Date.now,
          random: o.random ?? Math.random,
          onEvent: (e) => o.onEvent?.(e),
          reconnect: () => void this.#switchIdentity(),
        })
      : undefined;
    this.config = config;
    this.outbox = outbox;
    this.#commands = commands;
    this.#commandIds = new Map(commands.map((c) => [c.id, c]));
    this.#topic = (kind) => deviceTopic(o.identity.serial, kind);
  }

  /** Loads the outbox, the remembered command ids and the operational identity from the state dir. */
  static async open(o: CloudLinkOptions): Promise<CloudLink> {
    const config = validateCloudLinkConfig(o.config);
    const outbox = await Outbox.load(o.stateDir, config.outbox);
    let commands: RememberedCommand[] = [];
    try {
      const raw = JSON.parse(await readFile(join(o.stateDir, COMMANDS_FILE), 'utf8')) as unknown;
      if (Array.isArray(raw))
        commands = (raw as RememberedCommand[])
          .filter((c) => typeof c?.id === 'string')
          .slice(-config.maxRememberedCommands);
    } catch {
      /* first start */
    }
    const damaged: DamagedStateSink = o.damaged ?? {
      dir: join(o.stateDir, 'damaged'),
      note: (e) =>
        o.onEvent?.({
          event: 'identity-switched',
          result: 'failure',
          detail: `${e.reason}: moved aside, enrolling again`,
        }),
    };
    const store =
      config.identity === 'operational' ? await OperationalIdentityStore.load(o.stateDir, damaged) : undefined;
    return new CloudLink(o, config, outbox, commands, store);
  }

  /** Which certificate the link uses: its kind, and for an operational one its expiry and renewal time. */
  get identity(): CloudIdentityStatus {
    if (this.#enrolment) return this.#enrolment.status('operational');
    return { mode: 'birth', kind: 'birth', pending: false, ...(this.#connected ? { connectedWith: 'birth' } : {}) };
  }

  /** True while connected to the cloud's broker with a session (not on a birth certificate that may only enrol). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves once connected (true), or false after `timeoutMs`. */
  async waitConnected(timeoutMs = 30_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.#connected && !this.#closed && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return this.#connected;
  }

  /** Successful connections since start: above 0 once this process has had a mutual-TLS session with the cloud. */
  get connections(): number {
    return this.#connections;
  }

  /** Why the last connection attempt failed (an error code such as ECONNREFUSED), or undefined before any failure. */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }

  /** Starts connecting (and keeps reconnecting until `close`). */
  start(): void {
    if (this.#closed) return;
    void this.#connect();
  }

  /** Adds a telemetry reading to the outbox; it reaches the cloud whenever the link is up. Returns its seq. */
  queueTelemetry(values: Record<string, ScalarValue>, at = Date.now()): number {
    const seq = this.outbox.add('telemetry', { at, values });
    this.#scheduleSave();
    this.#pump();
    return seq;
  }

  /** Publishes the current state now (QoS 1) if connected; the next connect publishes it anyway. */
  publishState(): void {
    const client = this.#client;
    if (!this.#connected || !client) return;
    client.publish(this.#topic('state'), encodePayload(this.#o.state()), 1);
  }

  /**
   * Publishes the firmware report now (QoS 1) if connected; the next connect publishes it anyway, and the
   * report carries the outcomes kept on the device, so one lost in between is sent with the next.
   */
  publishFirmware(): void {
    const client = this.#client;
    const report = this.#o.firmware?.();
    if (!this.#connected || !client || !report) return;
    client.publish(this.#topic('firmware'), encodePayload(report), 1);
  }

  /**
   * The button was pressed: asks the cloud to open this device's claim window. Only while
   * connected (a window opened by a press long ago would surprise the owner); false otherwise.
   */
  async openClaimWindow(): Promise<boolean> {
    // A press during a switch to a new certificate waits for the new connection (bounded).
    if (!this.#connected && Date.now() < this.#switchUntil) await this.waitConnected(this.#switchUntil - Date.now());
    const client = this.#client;
    if (!this.#connected || !client) {
      this.#o.onEvent?.({ event: 'claim-window', result: 'failure', detail: 'not connected to the cloud' });
      return false;
    }
    const seq = this.outbox.add('claim', { event: 'window-open', at: Date.now() });
    // Not kept in the outbox: a stale window-open must not be replayed later.
    this.outbox.applyReceipt(new Set([seq]), () => true);
    const asked: ClaimWindowAsked = { seq };
    this.#claimWindow = asked;
    const heard = new Promise<void>((resolve) => (asked.heard = resolve));
    const ok = await new Promise<boolean>((resolve) => {
      client.publish(this.#topic('claim'), encodePayload({ seq, event: 'window-open', at: Date.now() }), 1, (err) =>
        resolve(!err),
      );
      setTimeout(() => resolve(false), this.config.connectTimeoutMs).unref();
    });
    // The cloud's answer says until when; without one (an older cloud, or lost) the window is open all the same.
    if (ok) await Promise.race([heard, new Promise((r) => setTimeout(r, CLAIM_ANSWER_WAIT_MS).unref())]);
    const until =
      asked.closesAt && asked.lengthMs !== undefined
        ? `open for ${Math.round(asked.lengthMs / 1000)} s, until ${new Date(asked.closesAt).toISOString()}`
        : undefined;
    this.#o.onEvent?.({
      event: 'claim-window',
      result: ok ? 'success' : 'failure',
      ...(until ? { detail: until } : {}),
    });
    return ok;
  }

  /**
   * The claim window the cloud confirmed last, while it is open: when it closes (ms, this unit's clock) and its
   * length as the cloud opened it.
   */
  get claimWindow(): { readonly closesAt: number; readonly lengthMs: number } | undefined {
    const w = this.#claimWindow;
    if (w?.closesAt === undefined || w.lengthMs === undefined || w.closesAt <= Date.now()) return undefined;
    return { closesAt: w.closesAt, lengthMs: w.lengthMs };
  }

  #onClaimWindow(body: unknown): void {
    let answer: ClaimWindowMessage;
    try {
      answer = parseClaimWindow(body);
    } catch {
      return;
    }
    const asked = this.#claimWindow;
    if (!asked || asked.seq !== answer.seq) return;
    // Kept as a length on this unit's clock: the cloud's clock may differ from ours.
    asked.lengthMs = answer.until - answer.openedAt;
    asked.closesAt = Date.now() + asked.lengthMs;
    asked.heard?.();
  }

  /**
   * Factory reset: forget the previous owner's messages and commands, and tell the cloud to release the claim
   * (reliably, via the outbox).
   */
  async releaseClaim(): Promise<void> {
    this.outbox.clear();
    this.outbox.add('claim', { event: 'release', at: Date.now() });
    this.#commands = [];
    this.#commandIds.clear();
    await this.outbox.save();
    await writeFileAtomic(join(this.#o.stateDir, COMMANDS_FILE), '[]\n', SECRET_FILE_MODE);
    this.#o.onEvent?.({
      event: 'release',
      result: 'info',
      detail: this.#connected ? 'sent to the cloud' : 'queued until the cloud is reachable',
    });
    this.#pump();
  }

  /** Stops the link; the outbox is saved. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#enrolment?.close();
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#syncTimer);
    clearInterval(this.#firmwareTimer);
    clearTimeout(this.#saveTimer);
    const client = this.#client;
    const wasConnected = this.#connected;
    this.#client = undefined;
    this.#connected = false;
    if (client) {
      // A clean disconnect sends no will: say offline ourselves.
      if (wasConnected)
        await new Promise<void>((resolve) => {
          client.publish(this.#topic('presence'), encodePayload({ online: false }), 1, () => resolve());
          setTimeout(resolve, 1_000).unref();
        });
      await new Promise<void>((resolve) => client.end(false, () => resolve()));
    }
    await this.#commandChain.catch(() => undefined);
    if (this.outbox.dirty) await this.outbox.save().catch(() => undefined);
  }

  /** The broker check of this attempt: the agent's check at the clock floor while the clock is below it. */
  #peerCheck(host: string): { verifyPeer?: (peer: X509Certificate | undefined) => void } {
    const verifyPeer = this.#o.peerCheckBelowFloor?.(host);
    if (verifyPeer)
      this.#o.onEvent?.({
        event: 'connect',
        result: 'info',
        detail: 'clock below its floor: TLS checked at the floor',
      });
    return verifyPeer ? { verifyPeer } : {};
  }

  #scheduleSave(): void {
    if (this.#saveTimer || this.#closed) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      if (this.outbox.dirty) this.outbox.save().catch(() => this.#scheduleSave());
    }, this.config.saveDelayMs);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const { connectMqtt, parseMqttsUrl } = await import('../mqtt/index.ts');
    if (this.#closed) return;
    const id = this.#o.identity;
    const credential = this.#enrolment?.choose() ?? {
      kind: 'birth' as const,
      certPem: id.deviceCertPem,
      keyPem: id.deviceKeyPem,
    };
    const enrolUrl = credential.kind === 'birth' && this.#enrolment ? this.config.enrolUrl : undefined;
    const { host, port } = parseMqttsUrl(enrolUrl ?? this.config.url);
    // A birth certificate of a unit that enrols may only enrol: no will on a topic it may not use.
    const enrolOnly = credential.kind === 'birth' && this.#enrolment !== undefined;
    const will = { topic: this.#topic('presence'), payload: encodePayload({ online: false }), qos: 1 as const };
    // The bundle's CA replaces the system store; TLS 1.3 only (src/mqtt's client).
    const client = connectMqtt({
      host,
      port,
      ca: [id.caCertPem],
      cert: credential.certPem,
      key: credential.keyPem,
      clientId: id.serial,
      keepaliveSeconds: this.config.keepaliveSeconds,
      connectTimeoutMs: this.config.connectTimeoutMs,
      // The outbox's window, plus room for state, presence, sync and command replies.
      maxInFlight: this.config.maxInFlight + 1_000,
      ...(enrolOnly ? {} : { will: { ...will, retain: false } }),
      ...this.#peerCheck(host),
    });
    this.#client = client;
    let up = false;
    client.on('connect', () => {
      up = true;
      void this.#onConnected(client, credential.kind, `${host}:${port}`);
    });
    client.on('message', (topic, payload) => this.#onMessage(topic, payload));
    let failed = false;
    client.on('error', (err) => {
      if (up) return;
      failed = true;
      this.#lastFailure = ((err as { code?: string }).code ?? err.message).slice(0, 80);
      this.#o.onEvent?.({ event: 'connect', result: 'failure', detail: this.#lastFailure });
    });
    client.on('close', () => {
      // A broker that drops a certificate it does not accept may close without a word: that is a failure too.
      if (!up && !failed && this.#client === client) {
        this.#lastFailure = 'closed by the broker';
        this.#o.onEvent?.({ event: 'connect', result: 'failure', detail: `closed by the broker (${credential.kind})` });
      }
      this.#onClosed(client, up, credential.kind);
    });
  }

  /** A connection is up: the enrolment hears which credential worked, then the session (or enrolment only) starts. */
  async #onConnected(client: MqttClient, kind: CredentialKind, where: string): Promise<void> {
    this.#attempt = 0;
    this.#connections++;
    const what = kind === 'birth' ? 'birth certificate' : 'operational certificate';
    this.#o.onEvent?.({ event: 'connect', result: 'success', detail: `${where} (${what})` });
    const enrolment = this.#enrolment;
    await enrolment?.connected(kind).catch(() => undefined);
    if (this.#client !== client) return;
    if (!enrolment) {
      this.#startSession(client, false);
      return;
    }
    client.subscribe([this.#topic('certificate')], 1);
    if (kind !== 'birth') {
      this.#startSession(client, false);
      enrolment.attach(client, this.#topic('enrol'));
      return;
    }
    // A birth certificate does the rest only where the broker still lets it (a cloud that does not issue yet):
    // a refused subscription is harmless, a refused publish would close the connection.
    client.subscribe([this.#topic('commands'), this.#topic('receipts')], 1, (err) => {
      if (this.#client !== client) return;
      if (!err) this.#startSession(client, true);
      enrolment.attach(client, this.#topic('enrol'));
    });
  }

  /** The device's session: presence, state, firmware, the outbox and its receipts, commands. */
  #startSession(client: MqttClient, subscribed: boolean): void {
    this.#connected = true;
    this.#inFlight.clear();
    this.#asked = undefined;
    if (!subscribed) client.subscribe([this.#topic('commands'), this.#topic('receipts')], 1);
    // Its own call: a cloud that predates the answer refuses this one topic and nothing else.
    client.subscribe([this.#topic('claim-window')], 0);
    client.publish(this.#topic('presence'), encodePayload({ online: true }), 1);
    this.publishState();
    this.publishFirmware();
    clearInterval(this.#firmwareTimer);
    this.#firmwareTimer = setInterval(() => this.publishFirmware(), this.config.firmwareReportIntervalMs);
    this.#firmwareTimer.unref();
    // What was acknowledged on an earlier connection is asked about now (the cloud confirms
    // only what it stored a few seconds ago; the rest is asked about again later).
    this.#sync(Date.now() - this.config.syncAgeMs);
    this.#pump();
    clearInterval(this.#syncTimer);
    this.#syncTimer = setInterval(() => this.#sync(Date.now() - this.config.syncAgeMs), this.config.syncIntervalMs);
    this.#syncTimer.unref();
  }

  #onClosed(client: MqttClient, up: boolean, kind: CredentialKind): void {
    if (this.#client !== client) return;
    if (up) this.#o.onEvent?.({ event: 'disconnect', result: 'info' });
    else this.#enrolment?.failed(kind, !NETWORK_FAILURES.has(this.#lastFailure ?? ''));
    this.#enrolment?.detach();
    this.#connected = false;
    this.#inFlight.clear();
    clearInterval(this.#syncTimer);
    clearInterval(this.#firmwareTimer);
    client.removeAllListeners('message');
    client.end(true);
    this.#client = undefined;
    if (this.#closed) return;
    // A switch to a new certificate reconnects at once; anything else backs off.
    const delay = this.#switching ? 0 : reconnectDelay(this.#attempt++, this.config, Math.random());
    this.#switching = false;
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }

  /**
   * A new certificate is stored: close this connection (cleanly, after what is in flight is acknowledged,
   * for at most 2 s) and connect again at once, trying the new certificate first. Anything not
   * acknowledged stays in the outbox and goes again on the new connection.
   */
  async #switchIdentity(): Promise<void> {
    const client = this.#client;
    if (!client || this.#closed) return;
    this.#switching = true;
    this.#switchUntil = Date.now() + 2_000 + this.config.connectTimeoutMs;
    const until = Date.now() + 2_000;
    while (this.#inFlight.size > 0 && Date.now() < until && this.#client === client)
      await new Promise((r) => setTimeout(r, 20));
    if (this.#client !== client) return;
    this.#o.onEvent?.({ event: 'identity-switched', result: 'info', detail: 'reconnecting with the new certificate' });
    client.end(false);
  }

  /** Publishes pending outbox entries, oldest first, within the in-flight window. */
  #pump(): void {
    const client = this.#client;
    if (!this.#connected || !client || this.#switching) return;
    for (const e of this.outbox.pending()) {
      if (this.#inFlight.size >= this.config.maxInFlight) break;
      if (this.#inFlight.has(e.seq)) continue;
      this.#inFlight.add(e.seq);
      this.stats.published++;
      const topic = this.#topic(e.kind === 'telemetry' ? 'telemetry' : 'claim');
      client.publish(topic, encodePayload({ seq: e.seq, ...e.body }), 1, (err) => {
        if (this.#client !== client) return;
        this.#inFlight.delete(e.seq);
        if (!err) {
          this.outbox.markSent(e.seq, Date.now());
          this.#scheduleSave();
        }
        this.#pump();
      });
    }
  }

  /** Asks which of the acknowledged messages (acknowledged before `before`) the cloud has stored. */
  #sync(before: number): void {
    const client = this.#client;
    if (!this.#connected || !client) return;
    if (this.#asked && Date.now() - this.#asked.at < this.config.receiptTimeoutMs) return;
    const seqs = this.outbox
      .unconfirmed(before)
      .map((e) => e.seq)
      .slice(0, 4_096);
    if (seqs.length === 0) {
      this.#asked = undefined;
      return;
    }
    const ranges = toRanges(seqs, PAYLOAD_LIMITS.maxRanges);
    const asked = new Set(seqs.filter((s) => inRanges(s, ranges)));
    this.#asked = { seqs: asked, at: Date.now() };
    client.publish(this.#topic('sync'), encodePayload({ ranges }), 1);
  }

  #onMessage(topic: string, payload: Buffer): void {
    let body: unknown;
    try {
      body = parseJsonPayload(payload);
    } catch {
      return;
    }
    if (topic === this.#topic('receipts')) {
      let stored: ReadonlyArray<readonly [number, number]>;
      try {
        stored = parseReceipt(body).stored;
      } catch {
        return;
      }
      const asked = this.#asked;
      if (!asked) return;
      this.#asked = undefined;
      const r = this.outbox.applyReceipt(asked.seqs, (seq) => inRanges(seq, stored));
      this.stats.confirmed += r.confirmed;
      this.stats.resent += r.resend;
      if (r.confirmed || r.resend) this.#scheduleSave();
      if (r.resend) this.#pump();
      // More to ask about (a long outage): ask again at once.
      if (this.outbox.unconfirmed(Date.now() - this.config.syncAgeMs).length > 0 && r.confirmed > 0)
        this.#sync(Date.now() - this.config.syncAgeMs);
      return;
    }
    if (topic === this.#topic('certificate')) {
      this.#enrolment?.onMessage(body);
      return;
    }
    if (topic === this.#topic('claim-window')) {
      this.#onClaimWindow(body);
      return;
    }
    if (topic === this.#topic('commands')) {
      let cmd: CommandMessage;
      try {
        cmd = parseCommand(body);
      } catch {
        return;
      }
      // One at a time, in order of arrival.
      this.#commandChain = this.#commandChain.then(() => this.#runCommand(cmd)).catch(() => undefined);
    }
  }

  async #runCommand(cmd: CommandMessage): Promise<void> {
    const reply = (r: RememberedCommand): void => {
      this.#client?.publish(this.#topic('replies'), encodePayload(r), 1);
    };
    const seen = this.#commandIds.get(cmd.id);
    if (seen) {
      reply(seen);
      return;
    } // a redelivery: answer again, never run again
    if (cmd.expiresAt < Date.now()) {
      const r = {
        id: cmd.id,
        ok: false,
        error: { code: 'COMMAND_EXPIRED', message: 'the command arrived after its expiry' },
      };
      this.#remember(r);
      await this.#saveCommands();
      reply(r);
      this.#o.onEvent?.({ event: 'command', result: 'refused', detail: `${cmd.capability} ${cmd.action}: expired` });
      return;
    }
    // Recorded before it runs: a crash mid-command and a redelivery must not run it twice.
    const started: RememberedCommand = {
      id: cmd.id,
      ok: false,
      error: { code: 'COMMAND_INTERRUPTED', message: 'the device restarted while running the command' },
    };
    this.#remember(started);
    await this.#saveCommands();
    let outcome: RememberedCommand;
    try {
      const value = scalarOf(await this.#o.execute(cmd.capability, cmd.action, cmd.value));
      outcome = { id: cmd.id, ok: true, ...(value !== undefined ? { value } : {}) };
      this.#o.onEvent?.({ event: 'command', result: 'success', detail: `${cmd.capability} ${cmd.action}` });
    } catch (err) {
      const known = err instanceof BulwarkError ? (err as BulwarkError).code : undefined;
      const code = known !== undefined && /^[A-Z][A-Z0-9_]{0,63}$/.test(known) ? known : 'COMMAND_FAILED';
      outcome = {
        id: cmd.id,
        ok: false,
        error: { code, message: (err instanceof BulwarkError ? err.message : 'the command failed').slice(0, 200) },
      };
      this.#o.onEvent?.({ event: 'command', result: 'failure', detail: `${cmd.capability} ${cmd.action}: ${code}` });
    }
    this.#remember(outcome);
    await this.#saveCommands();
    // State first: the broker keeps one client's messages in order, so the cloud has the new
    // state by the time it hears the reply.
    this.publishState();
    reply(outcome);
  }

  #remember(r: RememberedCommand): void {
    const i = this.#commands.findIndex((c) => c.id === r.id);
    if (i >= 0) this.#commands[i] = r;
    else this.#commands.push(r);
    this.#commandIds.set(r.id, r);
    while (this.#commands.length > this.config.maxRememberedCommands)
      this.#commandIds.delete(this.#commands.shift()!.id);
  }

  async #saveCommands(): Promise<void> {
    await writeFileAtomic(
      join(this.#o.stateDir, COMMANDS_FILE),
      JSON.stringify(this.#commands) + '\n',
      SECRET_FILE_MODE,
    ).catch(() => undefined);
  }
}
