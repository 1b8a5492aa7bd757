/**
 * The local automation hub: pairs with devices (setup code or push button), keeps them in
 * SQLite with their key pins and access lists, keeps a pinned channel up to each, answers
 * control requests within each device's access list, and runs automations.
 */
import { mkdir, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  createChannelClientContext,
  ChannelClosedError,
  validateChannelConfig,
  type ChannelClientContext,
  type ChannelConfig,
  type ChannelResumption,
  type ChannelValue,
} from '../channel/index.ts';
import { pairWithDevice, defaultPairingConfig, PairingRefusedError, type PairingMode } from '../pairing/index.ts';
import {
  allowsPushButtonPairing,
  canonicalModel,
  getModel,
  modelFromDocument,
  ModelFileError,
  type Capability,
  type ModelSpec,
} from '../models/index.ts';
import { ConfigError, InvalidInputError, codeOf } from '../errors/index.ts';
import { isUserName } from '../auth/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import { HubError } from './errors.ts';
import { loadOrCreateHubIdentity, type HubIdentity } from './identity.ts';
import { HubStore, type AutomationRule, type HubDeviceRecord } from './store.ts';
import { DeviceLink, LINK_CAPABILITY } from './links.ts';
import { dueRules } from './automations.ts';
import { DeviceFinder, validateHubDiscoveryConfig, type HubDiscoveryConfig } from './discovery.ts';
import { receiveKeyRotation, type KeyRotationHost } from './key-rotation.ts';

/** The store's row of removals a paired device has not heard yet, per serial. */
const PENDING_REVOCATIONS_KEY = 'people.pending-revocations';
/** Names kept per device at most; the oldest go first. */
const MAX_PENDING_REVOCATIONS = 32;

/**
 * The hub's own row of pending person removals: `{ serial: [name, ...] }`. Throws InvalidInputError on anything else.
 */
export function parsePendingRevocations(text: string): Record<string, string[]> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidInputError('pending removals: not an object');
  const out: Record<string, string[]> = {};
  for (const [serial, names] of Object.entries(value)) {
    if (!Array.isArray(names) || !names.every(isUserName))
      throw new InvalidInputError('pending removals: a list of names per device');
    out[serial] = names;
  }
  return out;
}

/** Settings of the hub; times in ms. */
export interface HubConfig {
  /** The port dialled on a device when its address gives none (the devices' hub port). */
  readonly devicePort: number;
  /** Settings of the channels to devices (keepalive, back-off, timeouts). */
  readonly channel: Partial<ChannelConfig>;
  /** Most PBKDF2 iterations the hub computes for a device's setup-code parameters. */
  readonly maxIterations: number;
  /** A rule runs at most once per this, ms. */
  readonly automationMinIntervalMs: number;
  /** Finding a paired device at a new address by DNS-SD (discovery.ts); on by default. */
  readonly discovery: Partial<HubDiscoveryConfig>;
}

/** The defaults. */
export const defaultHubConfig: HubConfig = Object.freeze({
  devicePort: 5541,
  channel: {},
  maxIterations: defaultPairingConfig.maxIterations,
  automationMinIntervalMs: 1_000,
  discovery: {},
});

function validate(config: Partial<HubConfig> | undefined): HubConfig {
  const c = { ...defaultHubConfig, ...config };
  for (const key of Object.keys(config ?? {}))
    if (!Object.hasOwn(defaultHubConfig, key)) throw new ConfigError('HUB_CONFIG_INVALID', key, 'is not a hub setting');
  if (!Number.isInteger(c.devicePort) || c.devicePort < 1 || c.devicePort > 65535)
    throw new ConfigError('HUB_CONFIG_INVALID', 'devicePort', 'must be 1..65535');
  if (
    !Number.isInteger(c.automationMinIntervalMs) ||
    c.automationMinIntervalMs < 10 ||
    c.automationMinIntervalMs > 86_400_000
  ) {
    throw new ConfigError('HUB_CONFIG_INVALID', 'automationMinIntervalMs', 'must be an integer from 10 to 86400000');
  }
  validateChannelConfig(c.channel);
  validateHubDiscoveryConfig(c.discovery);
  return c;
}

/** A paired device as the hub shows it. */
export interface HubDeviceView {
  readonly serial: string;
  /** The model id (src/models): its capabilities and which of them are sensitive. */
  readonly model: string;
  /** The model's name, from the document the device gave (or the built-in of its id). */
  readonly modelName: string;
  /** The model's capabilities, from the same document. */
  readonly capabilities: readonly Capability[];
  /** Where the hub reaches the device (host:port of its hub port). */
  readonly address: string;
  /** How it was paired: by the setup code or by push button. */
  readonly mode: PairingMode;
  readonly pairedAt: string;
  /** 'sha256:<hex>' of the device's key: the only key the hub accepts from it. */
  readonly pin: string;
  readonly connected: boolean;
  /** The capabilities the hub may use on this device. */
  readonly access: readonly string[];
  /** Capabilities that need an explicit grant (sensitive ones) and do not have it. */
  readonly notGranted: readonly string[];
  readonly state: Readonly<Record<string, ChannelValue>>;
}

/** What pairing returns: the device, and the grants a second pairing kept or dropped. */
export interface HubPairedView extends HubDeviceView {
  /** Grants of sensitive capabilities kept from the device's earlier pairing (the owner confirmed). */
  readonly keptGrants?: readonly string[];
  /** Grants of the earlier pairing that did not carry over: the owner grants them again if wanted. */
  readonly droppedGrants?: readonly string[];
}

/** One device's in-memory entry. */
interface Entry {
  readonly record: HubDeviceRecord;
  readonly model: ModelSpec;
  readonly access: Set<string>;
  readonly link: DeviceLink;
}

/** A value change the hub saw, for listeners (the admin page, tests, the demo). */
export interface HubValueEvent {
  readonly serial: string;
  readonly capability: string;
  readonly value: ChannelValue;
}

/** Options of {@link Hub.start}. */
export interface HubOptions {
  readonly stateDir: string;
  readonly config?: Partial<HubConfig>;
  /** The hub's log (pairings, grants, unpairings, automation failures); silent by default. */
  readonly log?: (message: string) => void;
  /**
   * Where the hub records each connection attempt to a device and each pairing attempt (the hub
   * service passes its connection journal): the device's address, its serial, the result.
   */
  readonly journal?: HubConnectionJournal;
}

/** The hub's connection journal as the hub core writes it. */
export interface HubConnectionJournal {
  record(entry: JournalRecordInput): void;
}

/** Parses 'host', 'host:port', '[v6]' or '[v6]:port'. */
export function parseDeviceAddress(address: string, defaultPort: number): { host: string; port: number } {
  const bad = (): never => {
    throw new HubError('HUB_ADDRESS_INVALID', `not a device address (host:port): ${String(address).slice(0, 64)}`);
  };
  if (typeof address !== 'string' || address.length === 0 || address.length > 270) return bad();
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(address);
  if (v6) [, host = '', port] = v6;
  else if (isIP(address) === 6) host = address;
  else {
    const m = /^([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(address);
    if (!m) return bad();
    [, host = '', port] = m;
  }
  const n = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return bad();
  return { host, port: n };
}

/**
 * The access list a newly paired device starts with: its non-sensitive capabilities. Sensitive
 * ones (a lock's bolt, a camera's snapshot) need an explicit grant by the owner.
 */
export function initialAccess(model: ModelSpec): string[] {
  return model.capabilities.filter((c) => c.sensitive !== true).map((c) => c.id);
}

/**
 * The access list of a device paired again: its {@link initialAccess}, plus the grants it had
 * beyond that when the owner confirms (`keepGrants`) and the device showed a key the hub had
 * pinned for it (the same unit); otherwise those grants are `dropped`, for the owner to be told.
 */
export function accessAfterPairing(
  model: ModelSpec,
  before: { readonly pins: readonly Uint8Array[]; readonly access: Iterable<string> } | undefined,
  pin: Uint8Array,
  keepGrants: boolean,
): { access: string[]; kept: string[]; dropped: string[] } {
  const access = initialAccess(model);
  const granted = [...(before?.access ?? [])].filter(
    (id) => !access.includes(id) && model.capabilities.some((c) => c.id === id),
  );
  const sameUnit = before?.pins.some((p) => Buffer.from(p).equals(Buffer.from(pin))) === true;
  if (keepGrants && sameUnit) return { access: [...access, ...granted], kept: granted.sort(), dropped: [] };
  return { access, kept: [], dropped: granted.sort() };
}

/**
 * The model a device gave while pairing: its document checked as a model file, naming the id the
 * device announced. Throws HubError 'HUB_MODEL_INVALID' otherwise.
 */
export function modelOfDocument(document: string, id: string): ModelSpec {
  let model: ModelSpec;
  try {
    model = modelFromDocument(JSON.parse(document) as unknown, 'from the device');
  } catch (err) {
    const why = err instanceof ModelFileError ? err.message : 'is not JSON';
    throw new HubError('HUB_MODEL_INVALID', `the device's model document is refused: ${why.slice(0, 300)}`);
  }
  if (model.id !== id)
    throw new HubError(
      'HUB_MODEL_INVALID',
      `the device announced model '${id}' but its model document is '${model.id.slice(0, 32)}'`,
    );
  return model;
}

/** A stored device's model: its own document, or for a device paired before hubs kept one, the built-in of its id. */
function storedModel(record: HubDeviceRecord): ModelSpec {
  return record.modelDocument !== undefined
    ? modelOfDocument(record.modelDocument, record.model)
    : getModel(record.model);
}

/**
 * The hub's judgement of a pairing device's model, before the deciding step: its document (or,
 * from a device that gives none, the built-in of its id), and push button only for a model that
 * allows it. Throws HubError 'HUB_MODEL_INVALID' / 'HUB_MODEL_UNKNOWN', or PairingRefusedError.
 */
function judgePairingModel(document: string | undefined, id: string, mode: PairingMode): ModelSpec {
  let model: ModelSpec;
  if (document !== undefined) model = modelOfDocument(document, id);
  else {
    try {
      model = getModel(id);
    } catch {
      throw new HubError('HUB_MODEL_UNKNOWN', `the device is a model this hub does not know: ${id}`);
    }
  }
  if (mode === 'push-button' && !allowsPushButtonPairing(model))
    throw new PairingRefusedError(
      'PAIRING_PUSH_BUTTON_REFUSED',
      `a ${model.name.slice(0, 64)} (risk class ${model.riskClass}) pairs only by setup code`,
    );
  return model;
}

/** The keys a paired device is known by (its pin, and the previous one during a rotation) and its grants. */
function pinsAndAccess(entry: Entry): { pins: Uint8Array[]; access: Iterable<string> } {
  const { pin, previousPin } = entry.record;
  return { pins: previousPin ? [pin, previousPin] : [pin], access: entry.access };
}

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
}

/**
 * A running hub.
 *
 * @example
 * const hub = await Hub.start({ stateDir: '/var/lib/bulwark-hub' });
 * const plug = await hub.pair({ address: '192.0.2.10:5541' });             // push button
 * const lock = await hub.pair({ address: '192.0.2.11', setupCode: '1234-5678-9012' });
 * await hub.call(plug.serial, 'power', 'on');
 * hub.grant(lock.serial, 'bolt');                                           // sensitive: explicit grant
 * await hub.call(lock.serial, 'bolt', 'lock');
 */
export class Hub {
  readonly stateDir: string;
  readonly config: HubConfig;
  readonly identity: HubIdentity;
  readonly store: HubStore;
  readonly #context: ChannelClientContext;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(event: HubValueEvent) => void>();
  readonly #lastRun = new Map<number, number>();
  readonly #log: (message: string) => void;
  readonly #journal: HubConnectionJournal | undefined;
  readonly #finder: DeviceFinder;
  /** Each rule's last reading, as stored (rule id -> value). */
  #lastSeen: Map<number, number>;
  #automations: AutomationRule[];
  #personRemover: ((name: string, by: string) => Promise<number | undefined>) | undefined;
  #closed = false;

  private constructor(
    stateDir: string,
    config: HubConfig,
    identity: HubIdentity,
    store: HubStore,
    log: (m: string) => void,
    journal: HubConnectionJournal | undefined,
  ) {
    this.stateDir = stateDir;
    this.#journal = journal;
    this.config = config;
    this.identity = identity;
    this.store = store;
    this.#log = log;
    this.#context = createChannelClientContext(identity);
    this.#automations = store.automations();
    this.#lastSeen = store.automationLastValues();
    this.#finder = new DeviceFinder({
      config: validateHubDiscoveryConfig(config.discovery),
      context: this.#context,
      channel: config.channel,
      host: {
        device: (serial) => {
          const e = this.#entries.get(serial);
          if (!e) return undefined;
          const pins = e.record.previousPin ? [e.record.pin, e.record.previousPin] : [e.record.pin];
          return { pins, host: e.record.host, port: e.record.port, connected: e.link.connected };
        },
        moved: (serial, host, port, resumption) => this.#moved(serial, host, port, resumption),
        record: (entry) => this.#record(entry),
        log: (message) => this.#log(message),
      },
    });
  }

  /** Opens the state dir (0700), makes the hub's key on first run, and connects to every paired device. */
  static async start(options: HubOptions): Promise<Hub> {
    const config = validate(options.config);
    await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
    await chmod(options.stateDir, 0o700);
    const identity = await loadOrCreateHubIdentity(options.stateDir);
    const store = HubStore.open(options.stateDir);
    const hub = new Hub(options.stateDir, config, identity, store, options.log ?? (() => undefined), options.journal);
    for (const record of store.devices()) hub.#attach(record);
    return hub;
  }

  /** The hub's key pin, 'sha256:<hex>' (what devices pin). */
  get pin(): string {
    return pinText(this.identity.pin);
  }

  /** Records a connection or pairing attempt; the journal refusing an entry never stops the hub. */
  #record(entry: JournalRecordInput): void {
    try {
      this.#journal?.record(entry);
    } catch (err) {
      this.#log(`journal refused an entry: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #attach(record: HubDeviceRecord, resumption?: ChannelResumption, access?: readonly string[]): Entry | undefined {
    let model: ModelSpec;
    try {
      model = storedModel(record);
    } catch {
      this.#log(`device ${record.serial} has an unknown or invalid model '${record.model}': not connected`);
      return undefined;
    }
    const link = new DeviceLink(
      record,
      this.#context,
      this.config.channel,
      {
        onValue: (serial, capability, value, previous) => this.#onValue(serial, capability, value, previous),
        onUnpairedByDevice: (serial, reason) => {
          this.#log(`device ${serial} unpaired this hub (${reason}): its key is forgotten`);
          this.#forget(serial);
        },
        onPeerKey: (serial, spki) => this.#onPeerKey(serial, spki),
        onConnectionChange: (serial, up) => {
          if (!up) return this.#finder.linkDown(serial);
          this.#finder.linkUp(serial);
          void this.#deliverRevocations(serial);
        },
        onKeyRotation: (serial, parts) => void receiveKeyRotation(this.#rotationHost, serial, parts),
        onPersonRemoved: (serial, name) => this.#personRemovedByDevice(serial, name),
        onAttempt: (serial, result, detail) => {
          if (result === 'failure') this.#finder.linkDown(serial);
          this.#record({
            surface: 'hub',
            source: formatSource(record.host, record.port),
            event: 'channel-connect',
            result,
            identity: serial,
            ...(detail ? { detail } : {}),
          });
        },
      },
      resumption,
    );
    const entry: Entry = { record, model, access: new Set(access ?? this.store.access(record.serial)), link };
    this.#entries.set(record.serial, entry);
    return entry;
  }

  /** The hub core as a device's key rotation sees it (key-rotation.ts). */
  readonly #rotationHost: KeyRotationHost = {
    device: (serial) => this.#entries.get(serial),
    rotatePin: (serial, oldPin, newPin) => {
      const entry = this.#entries.get(serial);
      if (!entry || !this.store.rotatePin(serial, oldPin, newPin)) return false;
      this.#entries.set(serial, { ...entry, record: { ...entry.record, pin: newPin, previousPin: oldPin } });
      entry.link.setPins([newPin, oldPin]);
      return true;
    },
    record: (entry) => this.#record(entry),
    log: (message) => this.#log(message),
  };

  /** A device seen on the key it rotated to: the old pin is no longer accepted. */
  #onPeerKey(serial: string, spki: Buffer): void {
    const entry = this.#entries.get(serial);
    const { pin, previousPin } = entry?.record ?? {};
    if (!entry || !pin || !previousPin || !spki.equals(pin)) return;
    this.store.forgetPreviousPin(serial);
    const { previousPin: _dropped, ...record } = entry.record;
    this.#entries.set(serial, { ...entry, record });
    entry.link.setPins([pin]);
    this.#log(`${serial} is on its new channel key: the previous key is no longer accepted`);
  }

  #forget(serial: string): void {
    const entry = this.#entries.get(serial);
    this.#entries.delete(serial);
    this.store.removeDevice(serial);
    this.#automations = this.store.automations();
    this.#lastSeen = this.store.automationLastValues();
    this.#finder.forget(serial);
    this.#setPendingRevocations(serial, []);
    if (entry) void entry.link.close('unpaired');
  }

  /** The device answered with its pinned key at a new address (discovery.ts): recorded, and dialled there. */
  async #moved(serial: string, host: string, port: number, resumption: ChannelResumption | undefined): Promise<void> {
    const entry = this.#entries.get(serial);
    if (!entry || this.#closed || entry.link.connected) return;
    const from = formatSource(entry.record.host, entry.record.port);
    const to = formatSource(host, port);
    if (!this.store.moveDevice(serial, host, port)) return;
    // The new link replaces the entry first, so the device is never missing from the hub's list.
    this.#attach({ ...entry.record, host, port }, resumption, [...entry.access]);
    await entry.link.close('moved');
    this.#record({
      surface: 'hub',
      source: to,
      event: 'device-moved',
      result: 'success',
      identity: serial,
      detail: `from ${from} to ${to}`,
    });
    this.#log(`${serial} moved from ${from} to ${to}: found by its key's digest, its pinned key confirmed`);
  }

  #onValue(serial: string, capability: string, value: ChannelValue, previous: ChannelValue | undefined): void {
    for (const listener of this.#listeners) {
      try {
        listener({ serial, capability, value });
      } catch {
        /* a listener's fault stays its own */
      }
    }
    this.#saveLastSeen(serial, capability, value);
    const due = dueRules(
      this.#automations,
      serial,
      capability,
      previous,
      value,
      this.#lastRun,
      performance.now(),
      this.config.automationMinIntervalMs,
      this.#lastSeen,
    );
    for (const rule of due) {
      this.#log(
        `automation ${rule.id}: ${serial} ${capability} ${rule.op} ${rule.threshold} -> ${rule.thenSerial}` +
          ` ${rule.thenCapability} ${rule.thenAction}`,
      );
      this.call(rule.thenSerial, rule.thenCapability, rule.thenAction).catch((err: unknown) => {
        this.#log(`automation ${rule.id} failed: ${(err as { code?: string }).code ?? 'error'}`);
      });
    }
  }

  /** Stores the new reading of the rules that watch it (before dueRules updates #lastSeen), so a restart keeps it. */
  #saveLastSeen(serial: string, capability: string, value: ChannelValue): void {
    if (typeof value !== 'number') return;
    const changed = new Map<number, number>();
    for (const r of this.#automations)
      if (r.whenSerial === serial && r.whenCapability === capability && this.#lastSeen.get(r.id) !== value)
        changed.set(r.id, value);
    try {
      this.store.setAutomationLastValues(changed);
    } catch (err) {
      this.#log(`automation readings not stored: ${err instanceof Error ? err.message.slice(0, 120) : String(err)}`);
    }
  }

  /** Hears every value change from every device; returns a function that stops listening. */
  onValue(listener: (event: HubValueEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #entry(serial: string): Entry {
    const entry = this.#entries.get(serial);
    if (!entry) throw new HubError('HUB_DEVICE_UNKNOWN', `no paired device ${String(serial).slice(0, 32)}`);
    return entry;
  }

  /**
   * Pairs with the device at `address` ('host[:port]'): by its setup code when given, else by
   * push button (the device's window must be open). Waits until the pinned channel is up.
   * Throws HubError 'HUB_SETUP_CODE_MALFORMED' (a typo caught by the check digit, before the
   * device spends an attempt), PairingRefusedError/PairingError, or a ChannelError.
   */
  async pair(options: {
    address: string;
    setupCode?: string;
    connectTimeoutMs?: number;
    /** The owner confirms: a device paired again with the key pinned for it keeps its grants. */
    keepGrants?: boolean;
  }): Promise<HubPairedView> {
    this.#requireOpen();
    const { host, port } = parseDeviceAddress(options.address, this.config.devicePort);
    const mode: PairingMode = options.setupCode === undefined ? 'push-button' : 'setup-code';
    if (options.setupCode !== undefined) {
      const { isWellFormedSetupCode } = await import('../identity/index.ts');
      if (!isWellFormedSetupCode(options.setupCode))
        throw new HubError('HUB_SETUP_CODE_MALFORMED', 'that is not a setup code: check the digits on the label');
    }
    const source = formatSource(host, port);
    let model: ModelSpec | undefined;
    const paired = await pairWithDevice({
      host,
      port,
      identity: this.identity,
      context: this.#context,
      mode,
      ...(options.setupCode !== undefined ? { setupCode: options.setupCode } : {}),
      config: this.config.channel,
      maxIterations: this.config.maxIterations,
      acceptModel: (document, id, m) => {
        model = judgePairingModel(document, id, m);
      },
    }).catch((err: unknown) => {
      const code = codeOf(err);
      this.#record({ surface: 'pairing', source, event: 'pairing', result: 'failure', detail: `${mode}: ${code}` });
      throw err;
    });
    this.#record({
      surface: 'pairing',
      source,
      event: 'pairing',
      result: 'success',
      identity: paired.serial,
      detail: mode,
    });
    // The exchange judged the model before its deciding step; `acceptModel` always ran.
    model ??= judgePairingModel(paired.modelDocument, paired.model, paired.mode);
    const previous = this.#entries.get(paired.serial);
    const grants = accessAfterPairing(
      model,
      previous && pinsAndAccess(previous),
      paired.devicePin,
      !!options.keepGrants,
    );
    if (previous) {
      this.#entries.delete(paired.serial);
      await previous.link.close('re-paired');
    }
    const record: HubDeviceRecord = {
      serial: paired.serial,
      model: model.id,
      modelDocument: canonicalModel(model),
      host,
      port,
      pin: Buffer.from(paired.devicePin),
      mode: paired.mode,
      pairedAt: new Date().toISOString(),
    };
    const { access } = grants;
    // The pinned channel starts first: the device answers its handshake while the store syncs to disk.
    const entry = this.#attach(record, paired.resumption, access)!;
    await new Promise((resolve) => setImmediate(resolve));
    try {
      this.store.addDevice(record, access);
    } catch (err) {
      this.#entries.delete(record.serial);
      await entry.link.close('not-stored');
      throw err;
    }
    this.#log(`paired ${record.serial} (${model.id}) by ${mode}; device key ${pinText(record.pin).slice(0, 23)}...`);
    await entry.link.whenConnected(options.connectTimeoutMs ?? 10_000).catch(() => undefined);
    return this.#pairedView(entry, grants);
  }

  /** The device just paired, with what became of the grants of its earlier pairing. */
  #pairedView(entry: Entry, grants: { kept: string[]; dropped: string[] }): HubPairedView {
    const { kept, dropped } = grants;
    if (dropped.length) this.#log(`${entry.record.serial} paired again: grants dropped (${dropped.join(', ')})`);
    return {
      ...this.#view(entry),
      ...(kept.length ? { keptGrants: kept } : {}),
      ...(dropped.length ? { droppedGrants: dropped } : {}),
    };
  }

  #view(entry: Entry): HubDeviceView {
    const { record, model, access, link } = entry;
    const state: Record<string, ChannelValue> = {};
    for (const [k, v] of link.state) state[k] = v.value;
    return {
      serial: record.serial,
      model: model.id,
      modelName: model.name,
      capabilities: model.capabilities,
      address: record.host.includes(':') ? `[${record.host}]:${record.port}` : `${record.host}:${record.port}`,
      mode: record.mode,
      pairedAt: record.pairedAt,
      pin: pinText(record.pin),
      connected: link.connected,
      access: [...access].sort(),
      notGranted: model.capabilities.filter((c) => c.sensitive === true && !access.has(c.id)).map((c) => c.id),
      state,
    };
  }

  /** Every paired device. */
  devices(): HubDeviceView[] {
    return [...this.#entries.values()]
      .sort((a, b) => a.record.serial.localeCompare(b.record.serial))
      .map((e) => this.#view(e));
  }

  /** One paired device; throws HubError 'HUB_DEVICE_UNKNOWN' when there is none. */
  device(serial: string): HubDeviceView {
    return this.#view(this.#entry(serial));
  }

  /** Resolves once the device's channel is up (or rejects after `timeoutMs`). */
  async whenConnected(serial: string, timeoutMs = 10_000): Promise<void> {
    await this.#entry(serial).link.whenConnected(timeoutMs);
  }

  /**
   * Tells every connected paired device that `name` was removed from the household here, so it ends their sessions
   * on its own page too (only removals travel, never additions). Resolves with the devices that removed someone of
   * that name and those that could not be reached; each is journalled.
   */
  async revokePersonOnDevices(name: string, except?: string): Promise<{ removed: string[]; unreachable: string[] }> {
    this.#requireOpen();
    const removed: string[] = [];
    const unreachable: string[] = [];
    await Promise.all(
      [...this.#entries.values()].map(async (entry) => {
        if (entry.link.serial === except) return;
        const serial = entry.link.serial;
        try {
          if ((await entry.link.request(LINK_CAPABILITY, 'revoke-person', name, 5_000)) === true) removed.push(serial);
        } catch {
          unreachable.push(serial);
        }
      }),
    );
    for (const serial of unreachable) {
      this.#setPendingRevocations(serial, [...this.#pendingRevocations(serial), name]);
      this.#record({
        surface: 'hub',
        source: 'local',
        event: 'revoke-person',
        result: 'failure',
        identity: serial,
        detail: `${name}: the device was not reached; sent again when it is`,
      });
    }
    return { removed: removed.sort(), unreachable: unreachable.sort() };
  }

  /**
   * Sets what removes a person from the hub's own pages when a paired device says the household removed them there
   * (the hub's web does: the person goes, their sessions end). It resolves with the sessions ended, or undefined when
   * nobody removable has that name (the first owner never is).
   */
  onPersonRemovedByDevice(remover: (name: string, by: string) => Promise<number | undefined>): void {
    this.#personRemover = remover;
  }

  /**
   * A paired device removed `name`: removed here too and, when someone was, passed on to the household's other devices
   * (never back to the one that told us). Any paired device may say so: a removal only takes access away, and the
   * journal keeps who.
   */
  async #personRemovedByDevice(serial: string, name: string): Promise<boolean> {
    const ended = await this.#personRemover?.(name, `paired device ${serial}`);
    const here = ended === undefined ? 'nobody of that name here' : `${ended} session(s) ended here`;
    this.#record({
      surface: 'hub',
      source: 'local',
      event: 'revoke-person',
      result: ended === undefined ? 'info' : 'success',
      identity: serial,
      detail: `${name}: removed on the device; ${here}`,
    });
    // Passed on only when it changed something here: a removal the household already made stops at once.
    if (ended !== undefined) void this.revokePersonOnDevices(name, serial).catch(() => undefined);
    return ended !== undefined;
  }

  /** The removals a device has not heard yet (kept in the store: a restart of the hub keeps them). */
  #pendingRevocations(serial: string): string[] {
    const text = this.store.getMeta(PENDING_REVOCATIONS_KEY);
    if (text === undefined) return [];
    try {
      return parsePendingRevocations(text)[serial] ?? [];
    } catch {
      this.#log('pending person removals: the stored list is unreadable and is dropped');
      return [];
    }
  }

  #setPendingRevocations(serial: string, names: readonly string[]): void {
    const text = this.store.getMeta(PENDING_REVOCATIONS_KEY);
    let all: Record<string, string[]> = {};
    try {
      all = text === undefined ? {} : parsePendingRevocations(text);
    } catch {
      all = {};
    }
    const kept = [...new Set(names)].slice(-MAX_PENDING_REVOCATIONS);
    if (kept.length) all[serial] = kept;
    else delete all[serial];
    this.store.setMeta(PENDING_REVOCATIONS_KEY, Object.keys(all).length ? JSON.stringify(all) : undefined);
  }

  /** A device is back: the removals it missed are sent now, each journalled once it has heard it. */
  async #deliverRevocations(serial: string): Promise<void> {
    const entry = this.#entries.get(serial);
    for (const name of this.#pendingRevocations(serial)) {
      if (!entry?.link.connected) return;
      try {
        const removed = (await entry.link.request(LINK_CAPABILITY, 'revoke-person', name, 5_000)) === true;
        this.#setPendingRevocations(
          serial,
          this.#pendingRevocations(serial).filter((n) => n !== name),
        );
        this.#record({
          surface: 'hub',
          source: 'local',
          event: 'revoke-person',
          result: 'success',
          identity: serial,
          detail: `${name}: ${removed ? 'removed' : 'nobody of that name'} on the device once it was back`,
        });
      } catch {
        return; // still not reachable: tried again at its next connection
      }
    }
  }

  /**
   * Runs `action` on a device's capability, within the access list. Throws HubError
   * ('HUB_DEVICE_UNKNOWN', 'HUB_CAPABILITY_UNKNOWN', 'HUB_ACTION_UNKNOWN',
   * 'HUB_CAPABILITY_NOT_GRANTED', 'HUB_DEVICE_OFFLINE') or the device's ChannelRequestError.
   */
  async call(serial: string, capability: string, action: string, value?: ChannelValue): Promise<ChannelValue> {
    this.#requireOpen();
    const entry = this.#entry(serial);
    const cap = entry.model.capabilities.find((c) => c.id === capability);
    if (!cap)
      throw new HubError(
        'HUB_CAPABILITY_UNKNOWN',
        `a ${entry.model.id} has no capability '${String(capability).slice(0, 32)}'`,
      );
    if (!cap.actions.includes(action))
      throw new HubError(
        'HUB_ACTION_UNKNOWN',
        `${cap.id} has no action '${String(action).slice(0, 32)}' (it has: ${cap.actions.join(', ')})`,
      );
    if (!entry.access.has(cap.id)) {
      throw new HubError(
        'HUB_CAPABILITY_NOT_GRANTED',
        `${cap.id} on ${serial} is not in the hub's access` +
          ` list${cap.sensitive ? ' (sensitive: grant it explicitly)' : ''}`,
      );
    }
    try {
      return await entry.link.request(cap.id, action, value);
    } catch (err) {
      if (
        err instanceof ChannelClosedError &&
        (err.code === 'CHANNEL_NOT_CONNECTED' || err.code === 'CHANNEL_CLOSED')
      ) {
        throw new HubError('HUB_DEVICE_OFFLINE', `${serial} is not connected right now`, {}, { cause: err });
      }
      throw err;
    }
  }

  /** Adds a capability to a device's access list (sensitive ones need this). */
  grant(serial: string, capability: string): HubDeviceView {
    return this.#setAccess(serial, capability, true);
  }

  /** Removes a capability from a device's access list. */
  revoke(serial: string, capability: string): HubDeviceView {
    return this.#setAccess(serial, capability, false);
  }

  #setAccess(serial: string, capability: string, allowed: boolean): HubDeviceView {
    const entry = this.#entry(serial);
    if (!entry.model.capabilities.some((c) => c.id === capability))
      throw new HubError(
        'HUB_CAPABILITY_UNKNOWN',
        `a ${entry.model.id} has no capability '${String(capability).slice(0, 32)}'`,
      );
    this.store.setAccess(serial, capability, allowed);
    if (allowed) entry.access.add(capability);
    else entry.access.delete(capability);
    this.#log(`${allowed ? 'granted' : 'revoked'} ${capability} on ${serial}`);
    return this.#view(entry);
  }

  /**
   * Unpairs a device: tells it (when connected) to forget this hub's key, then forgets its key,
   * access list and automations here. An offline device is forgotten here all the same.
   */
  async unpair(serial: string): Promise<{ toldDevice: boolean }> {
    const entry = this.#entry(serial);
    let toldDevice = false;
    try {
      toldDevice = (await entry.link.request('link', 'unpair', undefined, 5_000)) === true;
    } catch {
      // Offline or refused: forgotten here all the same.
    }
    this.#forget(serial);
    this.#log(`unpaired ${serial}${toldDevice ? '' : ' (the device was not told: it was not connected)'}`);
    return { toldDevice };
  }

  /** Every automation rule. */
  automations(): readonly AutomationRule[] {
    return this.#automations;
  }

  /** Adds "when `whenSerial`'s reading crosses `threshold`, run `thenAction` on `thenSerial`'s capability". */
  addAutomation(rule: Omit<AutomationRule, 'id'>): AutomationRule {
    const sensor = this.#entry(rule.whenSerial);
    const target = this.#entry(rule.thenSerial);
    if (
      !sensor.model.capabilities.some(
        (c) => c.id === rule.whenCapability && (c.kind === 'reading' || c.kind === 'level'),
      )
    ) {
      throw new HubError(
        'HUB_CAPABILITY_UNKNOWN',
        `${rule.whenSerial} has no numeric reading '${String(rule.whenCapability).slice(0, 32)}'`,
      );
    }
    const cap = target.model.capabilities.find((c) => c.id === rule.thenCapability);
    if (!cap || !cap.actions.includes(rule.thenAction))
      throw new HubError(
        'HUB_ACTION_UNKNOWN',
        `${rule.thenSerial} has no action ${String(rule.thenCapability).slice(0, 32)}` +
          ` ${String(rule.thenAction).slice(0, 32)}`,
      );
    if (rule.op !== 'above' && rule.op !== 'below')
      throw new HubError('HUB_CONFIG_INVALID', 'op must be above or below');
    if (typeof rule.threshold !== 'number' || !Number.isFinite(rule.threshold))
      throw new HubError('HUB_CONFIG_INVALID', 'threshold must be a finite number');
    const added = this.store.addAutomation(rule);
    this.#automations = this.store.automations();
    // The reading now is the rule's first previous one: a crossing while the hub is down is then seen at its start.
    const now = sensor.link.state.get(rule.whenCapability)?.value;
    if (typeof now === 'number') {
      this.#saveLastSeen(rule.whenSerial, rule.whenCapability, now);
      this.#lastSeen.set(added.id, now);
    }
    return added;
  }

  /** Deletes an automation; false when there was none with this id. */
  removeAutomation(id: number): boolean {
    const removed = this.store.removeAutomation(id);
    this.#automations = this.store.automations();
    // An id SQLite hands out again must not start with the old rule's reading.
    this.#lastSeen.delete(id);
    return removed;
  }

  #requireOpen(): void {
    if (this.#closed) throw new HubError('HUB_CLOSED', 'the hub is shutting down');
  }

  /** Closes every channel and the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#finder.close();
    await Promise.all([...this.#entries.values()].map((e) => e.link.close('shutdown')));
    this.#entries.clear();
    this.store.close();
  }
}
