/**
 * What the hub surface does on its channels: pairing exchanges with unpaired keys, and requests,
 * state and telemetry with paired hubs. {@link HubLink} holds what they share; hub-surface.ts
 * starts the server around it.
 */
import {
  ChannelRequestError,
  type ChannelConnection,
  type ChannelErrorCode,
  type ChannelIncomingRequest,
  type ChannelValue,
} from '../channel/index.ts';
import {
  DevicePairingExchange,
  PAIRING_CAPABILITY,
  pairingVerifierFromRecord,
  parsePairingVerifierRecord,
  servePairingExchange,
  type DevicePairingOutcome,
  type PairingConfig,
  type PairingWindow,
} from '../pairing/index.ts';
import { canonicalModel, type ModelSpec } from '../models/index.ts';
import { formatSource } from '../journal/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import { CapabilityError, type UnitHardware } from './capabilities.ts';
import type { DeviceJournal } from './journal-bridge.ts';
import { MAX_PENDING_REMOVALS, type HubRegistry } from './hub-registry.ts';
import { isUserName } from '../auth/index.ts';
import { ROTATION_PART_CHARS } from './channel-key.ts';

/** The capability name a hub uses for link control: 'sync' (push every state now), 'unpair'. */
export const LINK_CAPABILITY = 'link';

/** Longest text value sent on the channel, characters. */
const MAX_CHANNEL_TEXT_CHARS = 256;

/** Who is on the other end of a channel: a paired hub, or a key that may pair. */
export type Peer =
  { readonly kind: 'hub'; readonly pin: string } | { readonly kind: 'candidate'; readonly pin: string };
type Conn = ChannelConnection<Peer>;
type Result = 'success' | 'failure' | 'refused' | 'info';
type Verifier = ReturnType<typeof pairingVerifierFromRecord> & { salt: Uint8Array; iterations: number };

/** A capability's value as a channel value: scalars as they are, anything else as bounded JSON text. */
export function channelValueOf(value: unknown): ChannelValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number') return value;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length > MAX_CHANNEL_TEXT_CHARS) {
    throw new ChannelRequestError('UNAVAILABLE', 'the value is too large for the channel');
  }
  return text;
}

/** The channel protocol's answer code for each code a capability throws. */
const CHANNEL_CODE_OF = {
  UNKNOWN_CAPABILITY: 'UNKNOWN_CAPABILITY',
  UNKNOWN_ACTION: 'UNKNOWN_ACTION',
  CAPABILITY_VALUE_INVALID: 'BAD_VALUE',
  CAPABILITY_UNAVAILABLE: 'UNAVAILABLE',
} as const satisfies Record<CapabilityError['code'], ChannelErrorCode>;

/** The channel refusal for an error a capability threw; anything unexpected is 'INTERNAL'. */
export function requestErrorOf(err: unknown): ChannelRequestError {
  if (err instanceof ChannelRequestError) return err;
  if (err instanceof CapabilityError) return new ChannelRequestError(CHANNEL_CODE_OF[err.code], err.message);
  return new ChannelRequestError('INTERNAL', 'internal error');
}

/** What {@link HubLink} is built from. */
export interface HubLinkParts {
  readonly bundle: DeviceBundle;
  readonly model: ModelSpec;
  readonly capabilities: UnitHardware;
  readonly journal: DeviceJournal;
  readonly log: (message: string) => void;
  readonly window: PairingWindow;
  readonly registry: HubRegistry;
  readonly ownPin: Uint8Array;
  readonly pushButton: boolean;
  /** A person a paired hub removed from the household: removed here too (see WebService.revokePerson). */
  readonly revokePerson?: (name: string, by: string) => Promise<number | undefined>;
}

/** What the channels need of a channel key rotation (hub-surface.ts keeps it in channel-key.ts). */
export interface ChannelKeyRotationPort {
  /** The encoded statement of the pending rotation, if one is pending. */
  statement(): string | undefined;
  /** Whether the hub `pin` has still to acknowledge the pending rotation. */
  awaits(pin: string): boolean;
  /** The hub `pin` re-pinned to `newPin`; false when `newPin` is not the pending key. */
  acknowledge(pin: string, newPin: string): Promise<boolean>;
}

/** The channels of the hub surface and what they share. */
export class HubLink {
  readonly parts: HubLinkParts;
  readonly pairing: PairingConfig;
  /** The pin of the key the channel server shows now (it changes when a rotation switches). */
  ownPin: Uint8Array;
  /** The channel key rotation, once the surface has loaded it. */
  rotation: ChannelKeyRotationPort | undefined;
  readonly #connections = new Map<string, Set<Conn>>();
  #candidates = 0;
  // One address lookup per connection, not one per journal line.
  readonly #sources = new WeakMap<Conn, string>();
  // Parsed on first use: checking L loads the curve code, which only a pairing needs.
  #verifier: Verifier | undefined;
  /** The model document a pairing hub is given: the canonical form of the bundle's model. */
  readonly #modelDocument: Uint8Array;

  constructor(parts: HubLinkParts) {
    this.parts = parts;
    this.pairing = parts.window.config;
    this.ownPin = parts.ownPin;
    this.#modelDocument = new Uint8Array(Buffer.from(canonicalModel(parts.model), 'utf8'));
  }

  verifier(): Verifier {
    this.#verifier ??= HubLink.#loadVerifier(this.parts.bundle);
    return this.#verifier;
  }

  static #loadVerifier(bundle: DeviceBundle): Verifier {
    const record = parsePairingVerifierRecord(bundle.pairingVerifierJson);
    const salt = new Uint8Array(Buffer.from(record.pbkdf2.salt, 'base64'));
    return { ...pairingVerifierFromRecord(record), salt, iterations: record.pbkdf2.iterations };
  }

  #sourceOf(conn: Conn): string {
    let source = this.#sources.get(conn);
    if (source === undefined) {
      source = formatSource(conn.remoteAddress?.replace(/^::ffff:/, ''), conn.remotePort);
      this.#sources.set(conn, source);
    }
    return source;
  }

  note(
    surface: 'hub' | 'pairing',
    conn: Conn | undefined,
    event: string,
    result: Result,
    identity?: string,
    detail?: string,
  ): void {
    this.parts.journal.record({
      surface,
      source: conn ? this.#sourceOf(conn) : 'local',
      event,
      result,
      ...(identity ? { identity } : {}),
      ...(detail ? { detail } : {}),
    });
  }

  #noteFailureLockout(): void {
    const detail = `after ${this.pairing.maxFailures} failed attempts`;
    this.note('pairing', undefined, 'window-close', 'info', undefined, detail);
  }

  /** Ends every channel of the hub with `pin`, telling it first that it is unpaired. */
  async endHubChannels(pin: string): Promise<void> {
    const conns = [...(this.#connections.get(pin) ?? [])];
    this.#connections.delete(pin);
    await Promise.all(
      conns.map(async (c) => {
        try {
          if (c.isOpen) c.sendEvent('unpaired', null);
        } catch {
          /* closing anyway */
        }
        await c.close('unpaired');
      }),
    );
  }

  /** Ends every paired hub's channel with `reason` (they reconnect): after the channel key switched. */
  async closeHubChannels(reason: string): Promise<void> {
    const conns = [...this.#connections.values()].flatMap((set) => [...set]);
    await Promise.all(conns.map((c) => c.close(reason)));
  }

  serve(conn: Conn): void {
    if (conn.peer.kind === 'hub') this.#serveHub(conn);
    else this.#serveCandidate(conn);
  }

  async #onPairingStep(conn: Conn, peerPin: string, outcome: DevicePairingOutcome | undefined): Promise<void> {
    if (!outcome) return;
    // Details avoid 'key: value' shapes with 'code' in the key: the journal's redactor removes those.
    const mode = outcome.mode ? ` (${outcome.mode})` : '';
    if (outcome.kind !== 'paired') {
      const result = outcome.kind === 'failed' ? 'failure' : 'refused';
      this.note('pairing', conn, 'pairing', result, peerPin, `${outcome.code}${mode}`);
      const status = this.parts.window.status(performance.now());
      const lockedOut = !status.open && status.reason === 'too-many-failures';
      if (outcome.kind === 'failed' && lockedOut) this.#noteFailureLockout();
      return;
    }
    const { model, registry } = this.parts;
    const rights = model.capabilities
      .filter((c) => outcome.mode === 'setup-code' || c.sensitive !== true)
      .map((c) => c.id);
    const previous = registry.hubs;
    const hub = { pin: peerPin, mode: outcome.mode, pairedAt: new Date().toISOString(), rights };
    registry.set([...previous.filter((h) => h.pin !== peerPin), hub]);
    try {
      await registry.persist();
    } catch (err) {
      registry.set(previous);
      this.note('pairing', conn, 'pairing', 'failure', peerPin, `could not store the hub (${outcome.mode})`);
      throw err;
    }
    this.note('pairing', conn, 'pairing', 'success', peerPin, `${outcome.mode}; window closed`);
    this.parts.log(`paired with hub ${peerPin.slice(0, 23)}... by ${outcome.mode}`);
  }

  #exchange(conn: Conn, hubCount: () => number): DevicePairingExchange {
    const { bundle, model, pushButton, window } = this.parts;
    const ownPin = this.ownPin;
    return new DevicePairingExchange({
      serial: bundle.unit.serial,
      model: model.id,
      modelDocument: this.#modelDocument,
      allowsPushButton: pushButton,
      verifier: this.verifier(),
      ownPin,
      peerPin: conn.peerSpkiSha256,
      window,
      hubCount,
    });
  }

  #serveCandidate(conn: Conn): void {
    const peerPin = conn.peer.pin;
    if (this.#candidates >= this.pairing.maxExchanges) {
      this.note('pairing', conn, 'connect', 'refused', peerPin, 'too many pairing connections at once');
      void conn.close('pairing-busy');
      return;
    }
    this.#candidates++;
    conn.onClose(() => {
      this.#candidates--;
    });
    const open = this.parts.window.status(performance.now()).open;
    this.note('pairing', conn, 'connect', 'info', peerPin, `unpaired key; window ${open ? 'open' : 'closed'}`);
    const exchange = this.#exchange(conn, () => this.parts.registry.hubs.length);
    servePairingExchange(conn, exchange, {
      timeoutMs: this.pairing.exchangeTimeoutMs,
      onStep: (step) => this.#onPairingStep(conn, peerPin, step.outcome),
      onNotPaired: (capability, action) =>
        this.note('hub', conn, 'request', 'refused', peerPin, `not paired: ${capability} ${action}`),
      onTimeout: () => this.note('pairing', conn, 'pairing', 'failure', peerPin, 'exchange timed out'),
      onAbandoned: () => {
        this.note(
          'pairing',
          conn,
          'pairing',
          'failure',
          peerPin,
          "PAIRING_CONFIRMATION_FAILED (setup-code); the hub left after the device's confirmation",
        );
        if (this.parts.window.status(performance.now()).reason === 'too-many-failures') this.#noteFailureLockout();
      },
    });
  }

  /** Sends every state and reading the hub has rights to; returns how many. */
  sendStates(conn: Conn, rights: readonly string[]): number {
    let sent = 0;
    for (const c of this.parts.capabilities.list()) {
      if (!rights.includes(c.id) || c.kind === 'snapshot') continue;
      try {
        conn.sendEvent(c.kind === 'reading' ? 'telemetry' : 'state', channelValueOf(c.value), { capability: c.id });
        sent++;
      } catch {
        /* a value the channel cannot carry is skipped */
      }
    }
    return sent;
  }

  #serveHub(conn: Conn): void {
    const pin = conn.peer.pin;
    const set = this.#connections.get(pin) ?? new Set();
    set.add(conn);
    this.#connections.set(pin, set);
    this.note('hub', conn, 'channel-connect', 'success', pin, conn.resumed ? 'TLS 1.3, resumed' : 'TLS 1.3');
    this.#announceRotation(conn, pin);
    if (this.parts.registry.find(pin)?.pendingRemovals?.length) void this.#deliverPendingRemovals(conn, pin);
    conn.onClose((info) => {
      this.#connections.get(pin)?.delete(conn);
      // A clean end (bye, shutdown) is the normal life of a channel; faults are worth a line.
      if (info.error) {
        const detail = `${info.initiator}: ${info.reason} (${info.error.code})`;
        this.note('hub', conn, 'channel-close', 'failure', pin, detail);
      }
    });
    let repairing: DevicePairingExchange | undefined;
    conn.onRequest(async (request) => {
      if (request.capability !== PAIRING_CAPABILITY) return this.#hubRequest(conn, pin, request);
      // A paired hub pairing again (e.g. after losing its store): the same exchange, the same window.
      repairing ??= this.#exchange(conn, () => this.parts.registry.hubs.filter((h) => h.pin !== pin).length);
      const step = repairing.step(request.action, request.value, performance.now());
      await this.#onPairingStep(conn, pin, step.outcome);
      const reason = step.outcome?.kind === 'paired' ? 'paired' : 'pairing-ended';
      if (step.done)
        setImmediate(() => {
          void conn.close(reason);
        });
      return step.reply;
    });
  }

  async #hubRequest(conn: Conn, pin: string, request: ChannelIncomingRequest): Promise<ChannelValue> {
    const { capability, action, value } = request;
    const hub = this.parts.registry.find(pin);
    if (!hub) {
      setImmediate(() => {
        void conn.close('not-paired');
      });
      throw new ChannelRequestError('CAPABILITY_DENIED', 'this hub is no longer paired with this device');
    }
    if (capability === LINK_CAPABILITY) return this.#linkRequest(conn, pin, action, hub.rights, value);
    const model = this.parts.model;
    const cap = model.capabilities.find((c) => c.id === capability);
    if (!cap) throw new ChannelRequestError('UNKNOWN_CAPABILITY', `this ${model.id} has no capability '${capability}'`);
    if (!hub.rights.includes(cap.id)) {
      this.note('hub', conn, 'control', 'refused', pin, `${cap.id} ${action}: not granted`);
      throw new ChannelRequestError('CAPABILITY_DENIED', `this hub may not use ${cap.id}`);
    }
    if (!cap.actions.includes(action)) {
      throw new ChannelRequestError('UNKNOWN_ACTION', `${cap.id} has no action '${action}'`);
    }
    try {
      const result = await this.parts.capabilities.invoke(cap.id, action, value);
      if (action !== 'get') this.note('hub', conn, 'control', 'success', pin, `${cap.id} ${action}`);
      return channelValueOf(result);
    } catch (err) {
      throw requestErrorOf(err);
    }
  }

  async #linkRequest(
    conn: Conn,
    pin: string,
    action: string,
    rights: readonly string[],
    value: ChannelValue | undefined,
  ): Promise<ChannelValue> {
    if (action === 'sync') return this.sendStates(conn, rights);
    if (action === 'rotation-part' || action === 'rotation-ack') return this.#rotationRequest(conn, pin, action, value);
    if (action === 'revoke-person') return this.#revokePerson(conn, pin, value);
    if (action !== 'unpair') throw new ChannelRequestError('UNKNOWN_ACTION', `link has no action '${action}'`);
    const registry = this.parts.registry;
    registry.set(registry.hubs.filter((h) => h.pin !== pin));
    await registry.persist();
    this.note('hub', conn, 'unpair', 'success', pin, 'the hub unpaired itself');
    setImmediate(() => {
      void this.endHubChannels(pin);
    });
    return true;
  }

  /**
   * A paired hub removed a person from the household: the same name is removed here (never the first owner) and their
   * sessions end. Any paired hub may ask: a removal only takes access away. Answers whether someone was removed.
   */
  async #revokePerson(conn: Conn, pin: string, value: ChannelValue | undefined): Promise<ChannelValue> {
    const name = typeof value === 'string' ? value.toLowerCase() : undefined;
    if (!isUserName(name)) throw new ChannelRequestError('BAD_VALUE', "revoke-person takes a person's name");
    const ended = await this.parts.revokePerson?.(name, `paired hub ${pin.slice(7, 15)}`);
    const said = ended === undefined ? `${value}: nobody of that name here` : `${value}: ${ended} session(s) ended`;
    this.note('hub', conn, 'revoke-person', ended === undefined ? 'info' : 'success', pin, said);
    if (ended !== undefined) void this.announcePersonRemoved(name, pin);
    return ended !== undefined;
  }

  /**
   * Tells each paired hub (but `exceptPin`, the one that told us) that the household removed `name` here, so it ends
   * their sessions on its own page and passes it on to its other devices. A hub not connected now, or not answering,
   * is told when its channel is next up (kept in hubs.json). An older hub answers that it takes no such request; each
   * answer is journalled.
   */
  async announcePersonRemoved(name: string, exceptPin?: string): Promise<void> {
    const open = new Map<string, Conn>();
    for (const [conn] of this.#openHubChannels()) if (!open.has(conn.peer.pin)) open.set(conn.peer.pin, conn);
    const hubs = this.parts.registry.hubs.filter((h) => h.pin !== exceptPin);
    const heard = await Promise.all(hubs.map((h) => this.#tellHub(open.get(h.pin), h.pin, name)));
    const missed = new Set(hubs.filter((_, i) => !heard[i]).map((h) => h.pin));
    if (missed.size) await this.#keepForLater(missed, name);
  }

  /** Sends one removal to a hub; false when it was not heard (not connected, or no answer). */
  async #tellHub(conn: Conn | undefined, pin: string, name: string): Promise<boolean> {
    if (!conn) {
      this.note('hub', undefined, 'person-removed', 'failure', pin, `${name}: the hub is not connected; told later`);
      return false;
    }
    try {
      const removed = await conn.request(LINK_CAPABILITY, 'person-removed', name, { timeoutMs: 5_000 });
      const said = removed === true ? 'removed on the hub too' : 'nobody of that name on the hub';
      this.note('hub', conn, 'person-removed', removed === true ? 'success' : 'info', pin, `${name}: ${said}`);
      return true;
    } catch (err) {
      // An answer, even a refusal (an older hub), is final; only silence is tried again.
      const code = err instanceof ChannelRequestError ? err.remoteCode : undefined;
      const said = code ? `the hub did not take it (${code})` : 'no answer; told later';
      this.note('hub', conn, 'person-removed', 'failure', pin, `${name}: ${said}`);
      return code !== undefined && code !== 'TIMEOUT';
    }
  }

  async #keepForLater(pins: ReadonlySet<string>, name: string): Promise<void> {
    const registry = this.parts.registry;
    registry.set(
      registry.hubs.map((h) => {
        if (!pins.has(h.pin)) return h;
        const kept = [...new Set([...(h.pendingRemovals ?? []), name])].slice(-MAX_PENDING_REMOVALS);
        return { ...h, pendingRemovals: kept };
      }),
    );
    await registry.persist();
  }

  /** A hub is back: the removals it missed are sent, and forgotten once it has answered. */
  async #deliverPendingRemovals(conn: Conn, pin: string): Promise<void> {
    const pending = this.parts.registry.find(pin)?.pendingRemovals ?? [];
    const heard: string[] = [];
    for (const name of pending) if (await this.#tellHub(conn, pin, name)) heard.push(name);
    if (!heard.length) return;
    const registry = this.parts.registry;
    registry.set(
      registry.hubs.map((h) => {
        if (h.pin !== pin) return h;
        const { pendingRemovals: _was, ...rest } = h;
        const left = (h.pendingRemovals ?? []).filter((n) => !heard.includes(n));
        return left.length ? { ...rest, pendingRemovals: left } : rest;
      }),
    );
    await registry.persist();
  }

  /** Tells the hub on `conn` of a pending rotation it has not acknowledged: the statement's part count. */
  #announceRotation(conn: Conn, pin: string): void {
    const statement = this.rotation?.awaits(pin) ? this.rotation.statement() : undefined;
    if (statement === undefined) return;
    try {
      conn.sendEvent('key-rotation', Math.ceil(statement.length / ROTATION_PART_CHARS));
    } catch {
      /* closing: it hears again when it reconnects */
    }
  }

  /** Tells every connected hub that has not acknowledged it of the pending rotation. */
  announceRotation(): void {
    for (const [pin, conns] of this.#connections) {
      if (!this.parts.registry.find(pin)) continue;
      for (const conn of conns) if (conn.isOpen) this.#announceRotation(conn, pin);
    }
  }

  /** 'rotation-part' i: the statement's i-th part; 'rotation-ack' 'sha256:<hex>': the hub re-pinned to that key. */
  async #rotationRequest(
    conn: Conn,
    pin: string,
    action: string,
    value: ChannelValue | undefined,
  ): Promise<ChannelValue> {
    const rotation = this.rotation;
    const statement = rotation?.statement();
    if (!rotation || statement === undefined)
      throw new ChannelRequestError('UNAVAILABLE', 'no key rotation is pending');
    if (action === 'rotation-part') {
      const parts = Math.ceil(statement.length / ROTATION_PART_CHARS);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= parts)
        throw new ChannelRequestError('BAD_VALUE', `the part must be an integer from 0 to ${parts - 1}`);
      return statement.slice(value * ROTATION_PART_CHARS, (value + 1) * ROTATION_PART_CHARS);
    }
    if (typeof value !== 'string' || !(await rotation.acknowledge(pin, value)))
      throw new ChannelRequestError('BAD_VALUE', 'that is not the pending key');
    this.note('hub', conn, 'channel-key-acknowledged', 'success', pin, `re-pinned to ${value.slice(0, 23)}...`);
    return true;
  }

  /** Each open channel of a paired hub, with that hub's record. */
  *#openHubChannels(): Generator<[Conn, { readonly rights: readonly string[] }]> {
    for (const [pin, conns] of this.#connections) {
      const hub = this.parts.registry.find(pin);
      if (!hub) continue;
      for (const conn of conns) if (conn.isOpen) yield [conn, hub];
    }
  }

  /** A state changed: it and every reading go to each connected hub that has the right. */
  pushChange(id: string): void {
    for (const [conn, hub] of this.#openHubChannels()) {
      try {
        const changed = this.parts.capabilities
          .list()
          .filter((c) => hub.rights.includes(c.id) && (c.id === id || c.kind === 'reading'));
        for (const c of changed) {
          conn.sendEvent(c.kind === 'reading' ? 'telemetry' : 'state', channelValueOf(c.value), { capability: c.id });
        }
      } catch {
        /* the channel is closing */
      }
    }
  }

  /** The periodic readings, to each connected hub that has the right. */
  pushTelemetry(): void {
    for (const [conn, hub] of this.#openHubChannels()) {
      for (const c of this.parts.capabilities.list()) {
        if (c.kind !== 'reading' || !hub.rights.includes(c.id)) continue;
        try {
          conn.sendEvent('telemetry', channelValueOf(c.value), { capability: c.id });
        } catch {
          /* closing */
        }
      }
    }
  }
}
