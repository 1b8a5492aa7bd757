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
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createChannelServer, pinnedPeers, spkiSha256, ChannelRequestError,
  type ChannelConfig, type ChannelConnection, type ChannelServer, type ChannelValue,
} from '../channel/index.ts';
import {
  DevicePairingExchange, PairingWindow, PAIRING_CAPABILITY, prepareVerifier, pairingVerifierFromRecord, parsePairingVerifierRecord, servePairingExchange,
  validatePairingConfig,
  type DevicePairingOutcome, type PairingConfig, type PairingMode, type PairingWindowStatus,
} from '../pairing/index.ts';
import { allowsPushButtonPairing, type ModelSpec } from '../models/index.ts';
import { formatSource } from '../journal/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { BulwarkError, ConfigError } from '../errors/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import { CapabilityError, type DeviceCapabilities } from './capabilities.ts';
import type { DeviceJournal } from './journal-bridge.ts';

/** The capability name a hub uses for link control: 'sync' (push every state now), 'unpair'. */
export const LINK_CAPABILITY = 'link';

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

/** A hub this device has paired with. */
export interface PairedHub {
  /** 'sha256:<hex>' of the hub's SubjectPublicKeyInfo: the only key accepted as this hub. */
  readonly pin: string;
  readonly mode: PairingMode;
  readonly pairedAt: string;
  /** The capabilities this hub may use. */
  readonly rights: readonly string[];
}

/** Thrown when the hub surface cannot start as configured ('HUB_SURFACE_CONFIG_INVALID'). */
export class HubSurfaceError extends BulwarkError {}

/** The running hub surface. */
export interface HubSurface {
  readonly host: string;
  readonly port: number;
  /** Opens the pairing window (button press or the owner's page); returns what to tell the person. */
  openPairingWindow(by: 'button' | 'owner'): string;
  pairingStatus(): PairingWindowStatus;
  /** A line for the owner's dashboard. */
  describe(): string;
  hubs(): readonly PairedHub[];
  /** Forgets one hub: its channels end ('unpaired') and its key is no longer accepted. */
  unpairHub(pin: string): Promise<boolean>;
  /** Factory reset: forgets every hub and shuts the window. */
  forgetAllHubs(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startHubSurface}. */
export interface HubSurfaceOptions {
  readonly bundle: DeviceBundle;
  readonly model: ModelSpec;
  readonly stateDir: string;
  readonly capabilities: DeviceCapabilities;
  readonly journal: DeviceJournal;
  readonly config?: Partial<HubSurfaceConfig>;
  readonly log?: (message: string) => void;
}

const HUBS_FILE = 'hubs.json';
const PIN_TEXT = /^sha256:[0-9a-f]{64}$/;

type Peer = { readonly kind: 'hub'; readonly pin: string } | { readonly kind: 'candidate'; readonly pin: string };

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
}

function validate(config: Partial<HubSurfaceConfig> | undefined): HubSurfaceConfig {
  const c = { ...defaultHubSurfaceConfig, ...config };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new ConfigError('HUB_SURFACE_CONFIG_INVALID', 'hubPort', 'must be 0..65535');
  if (!Number.isInteger(c.telemetryIntervalMs) || c.telemetryIntervalMs < 100 || c.telemetryIntervalMs > 86_400_000) {
    throw new ConfigError('HUB_SURFACE_CONFIG_INVALID', 'telemetryIntervalMs', 'must be an integer from 100 to 86400000');
  }
  validatePairingConfig(c.pairing);
  return c;
}

function parseHubs(text: string, model: ModelSpec, maxHubs: number): PairedHub[] {
  const v = JSON.parse(text) as { version?: unknown; hubs?: unknown };
  if (typeof v !== 'object' || v === null || v.version !== 1 || !Array.isArray(v.hubs) || v.hubs.length > maxHubs) throw new Error('bad hubs file');
  const ids = new Set(model.capabilities.map((c) => c.id));
  return v.hubs.map((h: unknown) => {
    const r = h as Partial<PairedHub>;
    if (typeof r !== 'object' || r === null || typeof r.pin !== 'string' || !PIN_TEXT.test(r.pin) ||
      (r.mode !== 'setup-code' && r.mode !== 'push-button') || typeof r.pairedAt !== 'string' || r.pairedAt.length > 40 ||
      !Array.isArray(r.rights) || !r.rights.every((x) => typeof x === 'string' && ids.has(x))) throw new Error('bad hub record');
    return { pin: r.pin, mode: r.mode, pairedAt: r.pairedAt, rights: [...r.rights] as string[] };
  });
}

/** A capability's value as a channel value: scalars as they are, anything else as bounded JSON text. */
function channelValueOf(value: unknown): ChannelValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number') return value;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length > 256) throw new ChannelRequestError('UNAVAILABLE', 'the value is too large for the channel');
  return text;
}

function requestErrorOf(err: unknown): ChannelRequestError {
  if (err instanceof ChannelRequestError) return err;
  if (err instanceof CapabilityError) {
    switch (err.code) {
      case 'UNKNOWN_CAPABILITY': return new ChannelRequestError('UNKNOWN_CAPABILITY', err.message);
      case 'UNKNOWN_ACTION': return new ChannelRequestError('UNKNOWN_ACTION', err.message);
      case 'CAPABILITY_VALUE_INVALID': return new ChannelRequestError('BAD_VALUE', err.message);
      case 'CAPABILITY_UNAVAILABLE': return new ChannelRequestError('UNAVAILABLE', err.message);
    }
  }
  return new ChannelRequestError('INTERNAL', 'internal error');
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
  const pairing = window.config;
  // Parsed on first use: checking L loads the curve code, which only a pairing needs.
  let verifierCache: ReturnType<typeof loadVerifier> | undefined;
  const loadVerifier = (): ReturnType<typeof pairingVerifierFromRecord> & { salt: Uint8Array; iterations: number } => {
    const record = parsePairingVerifierRecord(bundle.pairingVerifierJson);
    return { ...pairingVerifierFromRecord(record), salt: new Uint8Array(Buffer.from(record.pbkdf2.salt, 'base64')), iterations: record.pbkdf2.iterations };
  };
  const verifier = (): ReturnType<typeof loadVerifier> => (verifierCache ??= loadVerifier());
  const ownPin = spkiSha256(bundle.webCertPem);
  const pushButton = allowsPushButtonPairing(model);
  const path = join(options.stateDir, HUBS_FILE);

  let hubs: PairedHub[] = [];
  try {
    hubs = parseHubs(await readFile(path, 'utf8'), model, pairing.maxHubs);
  } catch (err) {
    // Fail closed: a damaged list pins nobody; the owner pairs again.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log('hubs.json was damaged: no hub is paired');
  }
  let lookup = pinnedPeers(hubs.map((h) => [Buffer.from(h.pin.slice(7), 'hex'), h.pin] as const));
  let writing: Promise<void> = Promise.resolve();
  const persist = (): Promise<void> => {
    const text = JSON.stringify({ version: 1, hubs }, null, 2) + '\n';
    writing = writing.catch(() => undefined).then(() => writeFileAtomic(path, text, SECRET_FILE_MODE));
    return writing;
  };
  const setHubs = (next: PairedHub[]): void => {
    hubs = next;
    lookup = pinnedPeers(hubs.map((h) => [Buffer.from(h.pin.slice(7), 'hex'), h.pin] as const));
  };

  const hubConnections = new Map<string, Set<ChannelConnection<Peer>>>();
  let candidates = 0;
  // One address lookup per connection, not one per journal line.
  const sources = new WeakMap<ChannelConnection<Peer>, string>();
  const sourceOf = (conn: ChannelConnection<Peer>): string => {
    let source = sources.get(conn);
    if (source === undefined) {
      source = formatSource(conn.remoteAddress?.replace(/^::ffff:/, ''), conn.remotePort);
      sources.set(conn, source);
    }
    return source;
  };
  const note = (surface: 'hub' | 'pairing', conn: ChannelConnection<Peer> | undefined, event: string, result: 'success' | 'failure' | 'refused' | 'info', identity?: string, detail?: string): void => {
    journal.record({ surface, source: conn ? sourceOf(conn) : 'local', event, result, ...(identity ? { identity } : {}), ...(detail ? { detail } : {}) });
  };

  const endHubChannels = async (pin: string): Promise<void> => {
    const conns = [...(hubConnections.get(pin) ?? [])];
    hubConnections.delete(pin);
    await Promise.all(conns.map(async (c) => {
      try { if (c.isOpen) c.sendEvent('unpaired', null); } catch { /* closing anyway */ }
      await c.close('unpaired');
    }));
  };

  const onPairingStep = async (conn: ChannelConnection<Peer>, peerPin: string, outcome: DevicePairingOutcome | undefined): Promise<void> => {
    if (!outcome) return;
    // Details avoid 'key: value' shapes with 'code' in the key: the journal's redactor removes those.
    const mode = outcome.mode ? ` (${outcome.mode})` : '';
    if (outcome.kind !== 'paired') {
      note('pairing', conn, 'pairing', outcome.kind === 'failed' ? 'failure' : 'refused', peerPin, `${outcome.code}${mode}`);
      if (outcome.kind === 'failed' && !window.status(performance.now()).open && window.status(performance.now()).reason === 'too-many-failures') {
        note('pairing', undefined, 'window-close', 'info', undefined, `after ${pairing.maxFailures} failed attempts`);
      }
      return;
    }
    const rights = model.capabilities.filter((c) => outcome.mode === 'setup-code' || c.sensitive !== true).map((c) => c.id);
    const previous = hubs;
    setHubs([...hubs.filter((h) => h.pin !== peerPin), { pin: peerPin, mode: outcome.mode, pairedAt: new Date().toISOString(), rights }]);
    try {
      await persist();
    } catch (err) {
      setHubs(previous);
      note('pairing', conn, 'pairing', 'failure', peerPin, `could not store the hub (${outcome.mode})`);
      throw err;
    }
    note('pairing', conn, 'pairing', 'success', peerPin, `${outcome.mode}; window closed`);
    log(`paired with hub ${peerPin.slice(0, 23)}... by ${outcome.mode}`);
  };

  const serveCandidate = (conn: ChannelConnection<Peer>): void => {
    const peerPin = conn.peer.pin;
    if (candidates >= pairing.maxExchanges) {
      note('pairing', conn, 'connect', 'refused', peerPin, 'too many pairing connections at once');
      void conn.close('pairing-busy');
      return;
    }
    candidates++;
    conn.onClose(() => { candidates--; });
    note('pairing', conn, 'connect', 'info', peerPin, window.status(performance.now()).open ? 'unpaired key; window open' : 'unpaired key; window closed');
    const exchange = new DevicePairingExchange({
      serial: bundle.unit.serial, model: model.id, allowsPushButton: pushButton, verifier: verifier(),
      ownPin, peerPin: conn.peerSpkiSha256, window, hubCount: () => hubs.length,
    });
    servePairingExchange(conn, exchange, {
      timeoutMs: pairing.exchangeTimeoutMs,
      onStep: (step) => onPairingStep(conn, peerPin, step.outcome),
      onNotPaired: (capability, action) => note('hub', conn, 'request', 'refused', peerPin, `not paired: ${capability} ${action}`),
      onTimeout: () => note('pairing', conn, 'pairing', 'failure', peerPin, 'exchange timed out'),
      onAbandoned: () => {
        note('pairing', conn, 'pairing', 'failure', peerPin, 'PAIRING_CONFIRMATION_FAILED (setup-code); the hub left after the device\'s confirmation');
        if (window.status(performance.now()).reason === 'too-many-failures') note('pairing', undefined, 'window-close', 'info', undefined, `after ${pairing.maxFailures} failed attempts`);
      },
    });
  };

  const sendStates = (conn: ChannelConnection<Peer>, rights: readonly string[]): number => {
    let sent = 0;
    for (const c of capabilities.list()) {
      if (!rights.includes(c.id) || c.kind === 'snapshot') continue;
      try {
        conn.sendEvent(c.kind === 'reading' ? 'telemetry' : 'state', channelValueOf(c.value), { capability: c.id });
        sent++;
      } catch { /* a value the channel cannot carry is skipped */ }
    }
    return sent;
  };

  const serveHub = (conn: ChannelConnection<Peer>): void => {
    const pin = conn.peer.pin;
    const set = hubConnections.get(pin) ?? new Set();
    set.add(conn);
    hubConnections.set(pin, set);
    note('hub', conn, 'channel-connect', 'success', pin, conn.resumed ? 'TLS 1.3, resumed' : 'TLS 1.3');
    conn.onClose((info) => {
      hubConnections.get(pin)?.delete(conn);
      // A clean end (bye, shutdown) is the normal life of a channel; faults are worth a line.
      if (info.error) note('hub', conn, 'channel-close', 'failure', pin, `${info.initiator}: ${info.reason} (${info.error.code})`);
    });
    let repairing: DevicePairingExchange | undefined;
    conn.onRequest(async ({ capability, action, value }) => {
      if (capability === PAIRING_CAPABILITY) {
        // A paired hub pairing again (e.g. after losing its store): the same exchange, the same window.
        repairing ??= new DevicePairingExchange({
          serial: bundle.unit.serial, model: model.id, allowsPushButton: pushButton, verifier: verifier(),
          ownPin, peerPin: conn.peerSpkiSha256, window, hubCount: () => hubs.filter((h) => h.pin !== pin).length,
        });
        const step = repairing.step(action, value, performance.now());
        await onPairingStep(conn, pin, step.outcome);
        if (step.done) setImmediate(() => { void conn.close(step.outcome?.kind === 'paired' ? 'paired' : 'pairing-ended'); });
        return step.reply;
      }
      const hub = hubs.find((h) => h.pin === pin);
      if (!hub) {
        setImmediate(() => { void conn.close('not-paired'); });
        throw new ChannelRequestError('CAPABILITY_DENIED', 'this hub is no longer paired with this device');
      }
      if (capability === LINK_CAPABILITY) {
        if (action === 'sync') return sendStates(conn, hub.rights);
        if (action === 'unpair') {
          setHubs(hubs.filter((h) => h.pin !== pin));
          await persist();
          note('hub', conn, 'unpair', 'success', pin, 'the hub unpaired itself');
          setImmediate(() => { void endHubChannels(pin); });
          return true;
        }
        throw new ChannelRequestError('UNKNOWN_ACTION', `link has no action '${action}'`);
      }
      const cap = model.capabilities.find((c) => c.id === capability);
      if (!cap) throw new ChannelRequestError('UNKNOWN_CAPABILITY', `this ${model.id} has no capability '${capability}'`);
      if (!hub.rights.includes(cap.id)) {
        note('hub', conn, 'control', 'refused', pin, `${cap.id} ${action}: not granted`);
        throw new ChannelRequestError('CAPABILITY_DENIED', `this hub may not use ${cap.id}`);
      }
      if (!cap.actions.includes(action)) throw new ChannelRequestError('UNKNOWN_ACTION', `${cap.id} has no action '${action}'`);
      try {
        const result = await capabilities.invoke(cap.id, action, value);
        if (action !== 'get') note('hub', conn, 'control', 'success', pin, `${cap.id} ${action}`);
        return channelValueOf(result);
      } catch (err) {
        throw requestErrorOf(err);
      }
    });
  };

  const maxHubs = pairing.maxHubs;
  const server: ChannelServer<Peer> = await createChannelServer<Peer>({
    key: bundle.webKeyPem, cert: bundle.webCertPem, host: config.host, port: config.port,
    // A reconnecting hub's old channel may linger next to its new one; pairing peers are bounded apart.
    config: { maxConnections: 2 * maxHubs + pairing.maxExchanges, ...config.channel },
    pinnedPeer: (spki) => {
      const pin = lookup(spki);
      return pin !== undefined ? { kind: 'hub', pin } : { kind: 'candidate', pin: pinText(spki) };
    },
    onConnection: (conn) => (conn.peer.kind === 'hub' ? serveHub(conn) : serveCandidate(conn)),
    // Resets, failed handshakes, per-source refusals and flood summaries, sourced at accept.
    onAttempt: (attempt) => journal.record({ surface: 'hub', ...attempt }),
    onRefused: (error, remote) => {
      journal.record({ surface: 'hub', source: formatSource(remote.address?.replace(/^::ffff:/, ''), remote.port), event: 'tls-error', result: 'refused', detail: error.code });
    },
  }).catch((err: unknown) => {
    throw new HubSurfaceError('HUB_SURFACE_LISTEN_FAILED', `cannot listen on ${config.host}:${config.port}: ${(err as { code?: string }).code ?? 'error'}`);
  });

  // State changes and readings go to every connected hub that has the right.
  capabilities.onChange((id) => {
    for (const [pin, conns] of hubConnections) {
      const hub = hubs.find((h) => h.pin === pin);
      if (!hub) continue;
      for (const conn of conns) {
        if (!conn.isOpen) continue;
        try {
          const changed = capabilities.list().filter((c) => hub.rights.includes(c.id) && (c.id === id || c.kind === 'reading'));
          for (const c of changed) conn.sendEvent(c.kind === 'reading' ? 'telemetry' : 'state', channelValueOf(c.value), { capability: c.id });
        } catch { /* the channel is closing */ }
      }
    }
  });
  const telemetry = setInterval(() => {
    for (const [pin, conns] of hubConnections) {
      const hub = hubs.find((h) => h.pin === pin);
      if (!hub) continue;
      for (const conn of conns) {
        if (!conn.isOpen) continue;
        for (const c of capabilities.list()) {
          if (c.kind !== 'reading' || !hub.rights.includes(c.id)) continue;
          try { conn.sendEvent('telemetry', channelValueOf(c.value), { capability: c.id }); } catch { /* closing */ }
        }
      }
    }
  }, config.telemetryIntervalMs);
  telemetry.unref();

  let closeTimer: NodeJS.Timeout | undefined;
  const surface: HubSurface = {
    host: server.host,
    port: server.port,
    openPairingWindow(by) {
      const s = window.open(performance.now(), by);
      // The exchange comes seconds after the physical act: build the verifier's table meanwhile.
      setImmediate(() => prepareVerifier(verifier()));
      note('pairing', undefined, 'window-open', 'info', undefined, `opened by ${by === 'button' ? 'the button' : 'the owner'}`);
      if (closeTimer) clearTimeout(closeTimer);
      // Only for the journal line: the window shuts itself by its own clock.
      closeTimer = setTimeout(() => {
        if (window.status(performance.now()).reason === 'expired') note('pairing', undefined, 'window-close', 'info', undefined, 'expired');
      }, (s.closesAt ?? 0) - performance.now() + 10);
      closeTimer.unref();
      const minutes = Math.round(pairing.windowMs / 60_000);
      return `pairing window open for ${minutes} min: pair with the setup code from the label` + (pushButton ? ' or by push button' : ' (this model refuses push-button pairing)');
    },
    pairingStatus: () => window.status(performance.now()),
    describe() {
      const s = window.status(performance.now());
      const state = s.open ? `window open, ${Math.max(0, Math.ceil(((s.closesAt ?? 0) - performance.now()) / 1000))} s left, ${s.failures} failed attempts` : `window closed (${s.reason ?? 'never opened'})`;
      return `${hubs.length} paired hub(s); ${state}; port ${server.port}`;
    },
    hubs: () => hubs,
    async unpairHub(pin) {
      if (!hubs.some((h) => h.pin === pin)) return false;
      setHubs(hubs.filter((h) => h.pin !== pin));
      await persist();
      note('hub', undefined, 'unpair', 'success', pin, 'unpaired on the device');
      await endHubChannels(pin);
      return true;
    },
    async forgetAllHubs() {
      window.close('closed');
      const pins = hubs.map((h) => h.pin);
      setHubs([]);
      await writing.catch(() => undefined);
      await rm(path, { force: true });
      await Promise.all(pins.map((p) => endHubChannels(p)));
      note('hub', undefined, 'unpair', 'success', undefined, `factory reset: ${pins.length} hub(s) forgotten`);
    },
    async close() {
      clearInterval(telemetry);
      if (closeTimer) clearTimeout(closeTimer);
      await server.close('shutdown');
      await writing.catch(() => undefined);
    },
  };
  return surface;
}
