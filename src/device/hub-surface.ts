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
import { HubLink, type Peer } from './hub-link.ts';

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
}

const HUBS_FILE = 'hubs.json';

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
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
async function listenForHubs(link: HubLink, config: HubSurfaceConfig): Promise<ChannelServer<Peer>> {
  const { bundle, journal, registry } = link.parts;
  const pairing = link.pairing;
  return createChannelServer<Peer>({
    key: bundle.webKeyPem,
    cert: bundle.webCertPem,
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

  describe(port: number): string {
    const s = this.#link.parts.window.status(performance.now());
    const secondsLeft = Math.max(0, Math.ceil(((s.closesAt ?? 0) - performance.now()) / 1000));
    const state = s.open
      ? `window open, ${secondsLeft} s left, ${s.failures} failed attempts`
      : `window closed (${s.reason ?? 'never opened'})`;
    return `${this.#link.parts.registry.hubs.length} paired hub(s); ${state}; port ${port}`;
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
  const link = new HubLink({
    bundle,
    model,
    capabilities,
    journal,
    log,
    window,
    registry,
    ownPin: spkiSha256(bundle.webCertPem),
    pushButton: allowsPushButtonPairing(model),
  });
  const server = await listenForHubs(link, config);
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
    describe: () => controls.describe(server.port),
    hubs: () => registry.hubs,
    async unpairHub(pin) {
      if (!registry.find(pin)) return false;
      registry.set(registry.hubs.filter((h) => h.pin !== pin));
      await registry.persist();
      link.note('hub', undefined, 'unpair', 'success', pin, 'unpaired on the device');
      await link.endHubChannels(pin);
      return true;
    },
    async forgetAllHubs() {
      window.close('closed');
      const pins = registry.hubs.map((h) => h.pin);
      await registry.clear();
      await Promise.all(pins.map((p) => link.endHubChannels(p)));
      link.note('hub', undefined, 'unpair', 'success', undefined, `factory reset: ${pins.length} hub(s) forgotten`);
    },
    async close() {
      clearInterval(telemetry);
      controls.stop();
      await server.close('shutdown');
      await registry.settled();
    },
  };
}
