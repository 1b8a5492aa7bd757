/**
 * The device's hub surface: the pinned mutual-TLS channel port (default 5541) through which
 * paired hubs use the unit's capabilities, and the pairing window through which a new hub gets
 * pinned. The device shows its factory web key here too (see docs/pairing.md for why).
 *
 * A connection from a pinned hub is a channel serving the capabilities that hub has rights to,
 * with state and telemetry pushed as events. A connection from any other key gets one pairing
 * exchange at most (src/pairing): inside an open window it may pin its key; outside one it is
 * told PAIRING_WINDOW_CLOSED; asking for anything else is refused ('not-paired'). Every
 * connection, pairing attempt and control is written to the connection journal.
 */
import { join } from 'node:path';
import { createChannelServer, spkiSha256, type ChannelConfig, type ChannelServer } from '../channel/index.ts';
import {
  PairingWindow,
  prepareVerifier,
  validatePairingConfig,
  type PairingConfig,
  type PairingWindowStatus,
} from '../pairing/index.ts';
import { allowsPushButtonPairing, type ModelSpec } from '../models/index.ts';
import { formatSource } from '../journal/index.ts';
import { BulwarkError, ConfigError } from '../errors/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import type { DamagedStateSink } from '../storage/index.ts';
import type { UnitHardware } from './capabilities.ts';
import type { DeviceJournal } from './journal-bridge.ts';
import { HubRegistry, type PairedHub } from './hub-registry.ts';
import { HubLink, type ChannelKeyRotationPort, type Peer } from './hub-link.ts';
import { ChannelKeyStore, type ChannelKeyPair } from './channel-key.ts';

export { LINK_CAPABILITY } from './hub-link.ts';

/** Settings of the hub surface; times in ms. */
export interface HubSurfaceConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly pairing: Partial<PairingConfig>;
  readonly channel: Partial<ChannelConfig>;
  /** Readings (energy, temperature) are pushed to connected hubs this often, ms. */
  readonly telemetryIntervalMs: number;
}

/** The default: port 5541 on loopback, the pairing defaults (5-minute window, 20 failures). */
export const defaultHubSurfaceConfig: HubSurfaceConfig = Object.freeze({
  host: '127.0.0.1',
  port: 5541,
  pairing: {},
  channel: {},
  telemetryIntervalMs: 30_000,
});

export type { PairedHub } from './hub-registry.ts';

/** Thrown when the hub surface cannot start as configured ('HUB_SURFACE_CONFIG_INVALID'). */
export class HubSurfaceError extends BulwarkError {}

/** The unit's key on the hub channel, and the rotation waiting for hubs, if any. */
export interface ChannelKeyStatus {
  /** 'sha256:<hex>' of the key the hub port shows now: what paired hubs pin. */
  readonly pin: string;
  readonly pending?: {
    /** 'sha256:<hex>' of the new key. */
    readonly pin: string;
    readonly issuedAt: string;
    /** The paired hubs that have not acknowledged it yet; the port switches when none is left. */
    readonly waitingFor: readonly string[];
  };
}

/** The running hub surface. */
export interface HubSurface {
  readonly host: string;
  readonly port: number;
  /** Opens the pairing window (button press or the owner's page); returns what to tell the person. */
  openPairingWindow(by: 'button' | 'owner'): string;
  /** Whether the pairing window is open, why it closed, and when it closes. */
  pairingStatus(): PairingWindowStatus;
  /** A line for the owner's dashboard. */
  describe(): string;
  /** The hubs paired with this unit, with their pinned keys. */
  hubs(): readonly PairedHub[];
  /** Forgets one hub: its channels end ('unpaired') and its key is no longer accepted. */
  unpairHub(pin: string): Promise<boolean>;
  /** The channel key's pin and the rotation in progress, if any. */
  channelKey(): ChannelKeyStatus;
  /**
   * Rotates the channel key: a new key, a statement of it signed by the current key, sent to every
   * connected paired hub. The port keeps showing the current key until every paired hub has
   * acknowledged (at once when none is paired); a rotation already pending is returned as it is.
   */
  rotateChannelKey(): Promise<ChannelKeyStatus>;
  /**
   * Tells every connected paired hub that the household removed `name` on this unit (its owner's page or the cloud),
   * so their sessions end on the hubs too; each answer is journalled.
   */
  announcePersonRemoved(name: string): Promise<void>;
  /** Factory reset: forgets every hub and shuts the window. */
  forgetAllHubs(): Promise<void>;
  /** Stops listening and ends every hub channel. */
  close(): Promise<void>;
}

/** Options of {@link startHubSurface}. */
export interface HubSurfaceOptions {
  /** The unit's bundle: the channel key and the setup code's verifier. */
  readonly bundle: DeviceBundle;
  /** The model: which capabilities a hub may be granted, whether push-button pairing is allowed. */
  readonly model: ModelSpec;
  /** Where hubs.json (the paired hubs and their pins) lives. */
  readonly stateDir: string;
  readonly capabilities: UnitHardware;
  /** Every connection attempt on the hub port is recorded here. */
  readonly journal: DeviceJournal;
  readonly config?: Partial<HubSurfaceConfig>;
  /** Where an unusable hubs.json goes (the agent journals it); default `<stateDir>/damaged`, logged. */
  readonly damaged?: DamagedStateSink;
  /** Hears the surface's operational notes (a damaged hubs.json); silent by default. */
  readonly log?: (message: string) => void;
  /** Removes a person a paired hub removed from the household (the web page's people). */
  readonly revokePerson?: (name: string, by: string) => Promise<number | undefined>;
}

const HUBS_FILE = 'hubs.json';
const CHANNEL_KEY_FILE = 'channel-key.json';

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
}

/** The key the hub port shows until the first rotation: the bundle's web key (see docs/pairing.md). */
function factoryKey(bundle: DeviceBundle): ChannelKeyPair {
  return { key: bundle.webKeyPem, cert: bundle.webCertPem };
}

function validate(config: Partial<HubSurfaceConfig> | undefined): HubSurfaceConfig {
  const c = { ...defaultHubSurfaceConfig, ...config };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) {
    throw new ConfigError('HUB_SURFACE_CONFIG_INVALID', 'hubPort', 'must be 0..65535');
  }
  if (!Number.isInteger(c.telemetryIntervalMs) || c.telemetryIntervalMs < 100 || c.telemetryIntervalMs > 86_400_000) {
    const rule = 'must be an integer from 100 to 86400000';
    throw new ConfigError('HUB_SURFACE_CONFIG_INVALID', 'telemetryIntervalMs', rule);
  }
  validatePairingConfig(c.pairing);
  return c;
}

/** The pinned channel server: paired hubs by their pin, any other key as a pairing candidate. */
async function listenForHubs(
  link: HubLink,
  config: HubSurfaceConfig,
  identity: ChannelKeyPair,
): Promise<ChannelServer<Peer>> {
  const { journal, registry } = link.parts;
  const pairing = link.pairing;
  return createChannelServer<Peer>({
    key: identity.key,
    cert: identity.cert,
    host: config.host,
    port: config.port,
    // A reconnecting hub's old channel may linger next to its new one; pairing peers are bounded apart.
    config: { maxConnections: 2 * pairing.maxHubs + pairing.maxExchanges, ...config.channel },
    pinnedPeer: (spki) => {
      const pin = registry.lookup(spki);
      return pin !== undefined ? { kind: 'hub', pin } : { kind: 'candidate', pin: pinText(spki) };
    },
    onConnection: (conn) => link.serve(conn),
    // Resets, failed handshakes, per-source refusals and flood summaries, sourced at accept.
    onAttempt: (attempt) => journal.record({ surface: 'hub', ...attempt }),
    onRefused: (error, remote) => {
      const source = formatSource(remote.address?.replace(/^::ffff:/, ''), remote.port);
      journal.record({ surface: 'hub', source, event: 'tls-error', result: 'refused', detail: error.code });
    },
  }).catch((err: unknown) => {
    const code = (err as { code?: string }).code ?? 'error';
    throw new HubSurfaceError('HUB_SURFACE_LISTEN_FAILED', `cannot listen on ${config.host}:${config.port}: ${code}`);
  });
}

/**
 * The channel key's rotation on a running surface: the statement to the hubs, their
 * acknowledgements, and the switch once every paired hub has one (the reasons: channel-key.ts).
 */
class ChannelKeyRotation implements ChannelKeyRotationPort {
  readonly #keys: ChannelKeyStore;
  readonly #link: HubLink;
  #server: ChannelServer<Peer> | undefined;
  #settling: Promise<void> = Promise.resolve();

  constructor(keys: ChannelKeyStore, link: HubLink) {
    this.#keys = keys;
    this.#link = link;
  }

  statement(): string | undefined {
    return this.#keys.pending?.statement;
  }

  awaits(pin: string): boolean {
    const pending = this.#keys.pending;
    return pending !== undefined && !pending.acknowledged.includes(pin);
  }

  async acknowledge(pin: string, newPin: string): Promise<boolean> {
    if (!(await this.#keys.acknowledge(pin, newPin))) return false;
    // After the answer has gone: the switch ends the channels on the old key.
    setImmediate(
      () => void this.settle().catch((err: unknown) => this.#link.parts.log(`key switch failed: ${String(err)}`)),
    );
    return true;
  }

  attach(server: ChannelServer<Peer>): void {
    this.#server = server;
  }

  async rotate(serial: string): Promise<ChannelKeyStatus> {
    const pending = await this.#keys.rotate(serial, new Date());
    const waiting = this.status().pending?.waitingFor.length ?? 0;
    this.#link.note('hub', undefined, 'channel-key-rotation', 'info', pending.pin, `${waiting} hub(s) to acknowledge`);
    this.#link.announceRotation();
    await this.settle();
    return this.status();
  }

  /** Switches to the pending key once every paired hub has acknowledged it; one check at a time. */
  settle(): Promise<void> {
    this.#settling = this.#settling.catch(() => undefined).then(() => this.#switchIfAcknowledged());
    return this.#settling;
  }

  async #switchIfAcknowledged(): Promise<void> {
    const pending = this.#keys.pending;
    if (!pending || !this.#keys.acknowledgedBy(this.#link.parts.registry.hubs.map((h) => h.pin))) return;
    const key = await this.#keys.switchToPending();
    // Written first: a power cut before this line leaves the old key, which every hub still accepts.
    this.#server?.setIdentity(key);
    this.#link.ownPin = spkiSha256(key.cert);
    this.#link.note('hub', undefined, 'channel-key-switched', 'success', pending.pin, 'the hub port shows the new key');
    // Open channels keep the old session: end them so each hub meets the new key now.
    await this.#link.closeHubChannels('key-rotated');
  }

  status(): ChannelKeyStatus {
    const pin = pinText(this.#link.ownPin);
    const pending = this.#keys.pending;
    if (!pending) return { pin };
    const waitingFor = this.#link.parts.registry.hubs
      .map((h) => h.pin)
      .filter((p) => !pending.acknowledged.includes(p));
    return { pin, pending: { pin: pending.pin, issuedAt: pending.issuedAt, waitingFor } };
  }

  async settled(): Promise<void> {
    await this.#settling.catch(() => undefined);
    await this.#keys.settled();
  }
}

/** The pairing window's controls and the dashboard line, which the agent shows the owner. */
class PairingControls {
  readonly #link: HubLink;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(link: HubLink) {
    this.#link = link;
  }

  open(by: 'button' | 'owner'): string {
    const link = this.#link;
    const { window, pushButton } = link.parts;
    const s = window.open(performance.now(), by);
    // The exchange comes seconds after the physical act: build the verifier's table meanwhile.
    setImmediate(() => prepareVerifier(link.verifier()));
    const who = by === 'button' ? 'the button' : 'the owner';
    link.note('pairing', undefined, 'window-open', 'info', undefined, `opened by ${who}`);
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    // Only for the journal line: the window shuts itself by its own clock.
    this.#closeTimer = setTimeout(
      () => {
        if (window.status(performance.now()).reason === 'expired') {
          link.note('pairing', undefined, 'window-close', 'info', undefined, 'expired');
        }
      },
      (s.closesAt ?? 0) - performance.now() + 10,
    );
    this.#closeTimer.unref();
    const minutes = Math.round(link.pairing.windowMs / 60_000);
    return (
      `pairing window open for ${minutes} min: pair with the setup code from the label` +
      (pushButton ? ' or by push button' : ' (this model refuses push-button pairing)')
    );
  }

  /** The hubs and the pairing window in the owner's words, for the dashboard. */
  describe(): string {
    const s = this.#link.parts.window.status(performance.now());
    const n = this.#link.parts.registry.hubs.length;
    const hubs = n === 0 ? 'No hub paired.' : n === 1 ? 'One hub paired.' : `${n} hubs paired.`;
    if (s.open) {
      const minutes = Math.max(1, Math.ceil(((s.closesAt ?? 0) - performance.now()) / 60_000));
      const tries = s.failures === 0 ? '' : ` ${s.failures} wrong setup code${s.failures === 1 ? '' : 's'} so far.`;
      return `${hubs} Pairing is open for about ${minutes} more minute${minutes === 1 ? '' : 's'}.${tries}`;
    }
    const why = s.reason === 'too-many-failures' ? ' It closed after too many wrong setup codes.' : '';
    const how = n === 0 ? ' Press the button or open pairing here to add one.' : '';
    return `${hubs}${why}${how}`;
  }

  stop(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
  }
}

/**
 * Starts the hub surface on `config.port` (default 5541).
 *
 * @example
 * const surface = await startHubSurface({ bundle, model, stateDir, capabilities, journal, config: { port: 0 } });
 * surface.openPairingWindow('button');
 */
export async function startHubSurface(options: HubSurfaceOptions): Promise<HubSurface> {
  const config = validate(options.config);
  const { bundle, model, capabilities, journal } = options;
  const log = options.log ?? (() => undefined);
  const window = new PairingWindow(config.pairing);
  const registry = new HubRegistry(join(options.stateDir, HUBS_FILE));
  // Fail closed: a damaged list pins nobody; the owner pairs again.
  const damaged = options.damaged ?? { dir: join(options.stateDir, 'damaged'), note: () => undefined };
  if ((await registry.load(model, window.config.maxHubs, damaged)) === 'damaged') {
    log('hubs.json was damaged: moved aside, no hub is paired');
  }
  const keys = await ChannelKeyStore.load(join(options.stateDir, CHANNEL_KEY_FILE), factoryKey(bundle), damaged);
  const link = new HubLink({
    bundle,
    model,
    capabilities,
    journal,
    log,
    window,
    registry,
    ownPin: spkiSha256(keys.current.cert),
    pushButton: allowsPushButtonPairing(model),
    ...(options.revokePerson ? { revokePerson: options.revokePerson } : {}),
  });
  const rotation = (link.rotation = new ChannelKeyRotation(keys, link));
  // A switch a power cut interrupted (every hub had acknowledged) is finished before listening.
  await rotation.settle();
  const server = await listenForHubs(link, config, keys.current);
  rotation.attach(server);
  // State changes and readings go to every connected hub that has the right.
  capabilities.onChange((id) => link.pushChange(id));
  const telemetry = setInterval(() => link.pushTelemetry(), config.telemetryIntervalMs);
  telemetry.unref();
  const controls = new PairingControls(link);
  return {
    host: server.host,
    port: server.port,
    openPairingWindow: (by) => controls.open(by),
    pairingStatus: () => window.status(performance.now()),
    describe: () => controls.describe(),
    hubs: () => registry.hubs,
    async unpairHub(pin) {
      if (!registry.find(pin)) return false;
      registry.set(registry.hubs.filter((h) => h.pin !== pin));
      await registry.persist();
      link.note('hub', undefined, 'unpair', 'success', pin, 'unpaired on the device');
      await link.endHubChannels(pin);
      await rotation.settle();
      return true;
    },
    channelKey: () => rotation.status(),
    rotateChannelKey: () => rotation.rotate(bundle.unit.serial),
    announcePersonRemoved: (name) => link.announcePersonRemoved(name),
    async forgetAllHubs() {
      window.close('closed');
      const pins = registry.hubs.map((h) => h.pin);
      await registry.clear();
      await Promise.all(pins.map((p) => link.endHubChannels(p)));
      link.note('hub', undefined, 'unpair', 'success', undefined, `factory reset: ${pins.length} hub(s) forgotten`);
      await rotation.settle();
    },
    async close() {
      clearInterval(telemetry);
      controls.stop();
      await server.close('shutdown');
      await Promise.all([registry.settled(), rotation.settled()]);
    },
  };
}
