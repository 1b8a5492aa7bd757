/**
 * One paired device as the hub reaches it: a reconnecting channel pinned to the device's key
 * (jittered back-off, TLS resumption), the latest value of each capability, and the signs that
 * the device has unpaired us (its 'unpaired' event, or a bye saying 'unpaired' or 'not-paired').
 */
import {
  ReconnectingChannel,
  pinnedPeers,
  ChannelRequestError,
  type ChannelClientContext,
  type ChannelConfig,
  type ChannelValue,
  type EventMessage,
  type ChannelCloseInfo,
  type ChannelResumption,
  type PinnedPeerLookup,
} from '../channel/index.ts';
import type { HubDeviceRecord } from './store.ts';
import { HubError } from './errors.ts';
import { isUserName } from '../auth/index.ts';

/** The capability the device answers link control on ('sync', 'unpair'). */
export const LINK_CAPABILITY = 'link';

/** The latest value of a capability and when it came, ms since the epoch. */
export interface CapabilityState {
  readonly value: ChannelValue;
  readonly at: number;
}

/** What a link tells the hub. */
export interface DeviceLinkEvents {
  /** A state or telemetry value arrived; `previous` is the value before it. */
  onValue(serial: string, capability: string, value: ChannelValue, previous: ChannelValue | undefined): void;
  /** The device no longer pins this hub (it was unpaired or reset on the device side). */
  onUnpairedByDevice(serial: string, reason: string): void;
  /** The device's channel came up (`connected`) or went down. */
  onConnectionChange?(serial: string, connected: boolean): void;
  /** Each connection attempt: 'success' when the pinned channel is up, 'failure' with the error's code. */
  onAttempt?(serial: string, result: 'success' | 'failure', detail?: string): void;
  /** The channel came up with the device showing the key of `spkiSha256`. */
  onPeerKey?(serial: string, spkiSha256: Buffer): void;
  /** The device has a signed statement of a new channel key, in `parts` parts ('key-rotation' event). */
  onKeyRotation?(serial: string, parts: ChannelValue): void;
  /**
   * The device says the household removed person `name` there (its request 'link' 'person-removed'); resolves with
   * whether someone of that name was removed here. Without it, the device hears UNKNOWN_ACTION.
   */
  onPersonRemoved?(serial: string, name: string): Promise<boolean>;
}

/**
 * Keeps the channel to one device up.
 *
 * @example
 * const link = new DeviceLink(record, hubContext, channelConfig, events);
 * await link.whenConnected(5_000);
 * await link.request('power', 'on');
 */
export class DeviceLink {
  readonly serial: string;
  readonly channel: ReconnectingChannel<string>;
  readonly state = new Map<string, CapabilityState>();
  readonly #events: DeviceLinkEvents;
  #connected = false;
  #synced = false;
  #unpaired = false;
  readonly #syncWaiters = new Set<() => void>();
  // Replaced when the device rotates its key: the new pin, and the old one until it is seen on the new.
  #pins: PinnedPeerLookup<string>;

  constructor(
    record: HubDeviceRecord,
    context: ChannelClientContext,
    config: Partial<ChannelConfig> | undefined,
    events: DeviceLinkEvents,
    resumption?: ChannelResumption,
  ) {
    this.serial = record.serial;
    this.#events = events;
    this.#pins = pinnedPeers([[record.pin, record.serial]]);
    if (record.previousPin) this.setPins([record.pin, record.previousPin]);
    this.channel = new ReconnectingChannel<string>({
      host: record.host,
      port: record.port,
      key: context.key,
      cert: context.cert,
      context,
      pinnedPeer: (spki) => this.#pins(spki),
      ...(config ? { config } : {}),
      // Only a ticket from a session with this very key (the pairing connection) is taken.
      ...(resumption && resumption.peerSpkiSha256.equals(record.pin) ? { resumption } : {}),
    });
    this.channel.onEvent((event) => this.#onEvent(event));
    this.channel.onRequest(({ capability, action, value }) => this.#onRequest(capability, action, value));
    this.channel.on('connected', (conn) => {
      this.#connected = true;
      this.#events.onConnectionChange?.(this.serial, true);
      this.#events.onAttempt?.(this.serial, 'success');
      this.#events.onPeerKey?.(this.serial, conn.peerSpkiSha256);
      // The device answers with every value as events first, then the count.
      conn.request(LINK_CAPABILITY, 'sync').then(
        () => {
          if (this.channel.connection !== conn) return;
          this.#synced = true;
          for (const wake of this.#syncWaiters) wake();
          this.#syncWaiters.clear();
        },
        (err: unknown) => {
          if (err instanceof ChannelRequestError && err.remoteCode === 'CAPABILITY_DENIED')
            this.#unpairedByDevice('not-paired');
        },
      );
    });
    this.channel.on('disconnected', (info: ChannelCloseInfo) => {
      this.#connected = false;
      this.#synced = false;
      this.#events.onConnectionChange?.(this.serial, false);
      if (info.initiator === 'peer' && (info.reason === 'unpaired' || info.reason === 'not-paired'))
        this.#unpairedByDevice(info.reason);
    });
    // Failed attempts are retried with back-off; each is recorded.
    this.channel.on('retrying', (info) => this.#events.onAttempt?.(this.serial, 'failure', info.error.code));
    this.channel.on('gave-up', (error) => this.#events.onAttempt?.(this.serial, 'failure', `gave up: ${error.code}`));
    this.channel.start();
  }

  /** The device keys this link accepts from the next handshake on (SPKI SHA-256 pins). */
  setPins(pins: readonly Uint8Array[]): void {
    this.#pins = pinnedPeers(pins.map((pin) => [pin, this.serial] as const));
  }

  /** Whether the channel is up now. */
  get connected(): boolean {
    return this.#connected;
  }

  #onEvent(event: EventMessage): void {
    if (event.name === 'unpaired') {
      this.#unpairedByDevice('unpaired');
      return;
    }
    if (event.name === 'key-rotation') {
      // Sent as the device accepted us, it can come before the channel is handed over.
      const parts = event.value;
      this.channel.whenConnected().then(
        () => this.#events.onKeyRotation?.(this.serial, parts),
        () => undefined,
      );
      return;
    }
    if (event.capability === undefined) return;
    const previous = this.state.get(event.capability)?.value;
    this.state.set(event.capability, { value: event.value, at: event.at });
    this.#events.onValue(this.serial, event.capability, event.value, previous);
  }

  /** The one request a device may make of the hub: telling it of a person removed on the device. */
  async #onRequest(capability: string, action: string, value: ChannelValue | undefined): Promise<ChannelValue> {
    if (capability !== LINK_CAPABILITY) throw new ChannelRequestError('UNKNOWN_CAPABILITY', 'the hub offers none');
    if (action !== 'person-removed' || !this.#events.onPersonRemoved)
      throw new ChannelRequestError('UNKNOWN_ACTION', `link has no action '${action.slice(0, 32)}'`);
    const name = typeof value === 'string' ? value.toLowerCase() : undefined;
    if (!isUserName(name)) throw new ChannelRequestError('BAD_VALUE', "person-removed takes a person's name");
    return this.#events.onPersonRemoved(this.serial, name);
  }

  #unpairedByDevice(reason: string): void {
    if (this.#unpaired) return;
    this.#unpaired = true;
    void this.channel.close('unpaired');
    this.#events.onUnpairedByDevice(this.serial, reason);
  }

  /** Resolves once connected and every value has come in; rejects after `timeoutMs`. */
  async whenConnected(timeoutMs: number): Promise<void> {
    if (this.#synced) return;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        wake = resolve;
        this.#syncWaiters.add(resolve);
        timer = setTimeout(
          () => reject(new HubError('HUB_DEVICE_OFFLINE', `${this.serial} did not connect within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
      if (wake) this.#syncWaiters.delete(wake);
    }
  }

  /** Asks the device to act (see ChannelConnection.request). */
  request(capability: string, action: string, value?: ChannelValue, timeoutMs?: number): Promise<ChannelValue> {
    return this.channel.request(capability, action, value, timeoutMs === undefined ? undefined : { timeoutMs });
  }

  /** Stops reconnecting and closes the channel. */
  close(reason = 'shutdown'): Promise<void> {
    return this.channel.close(reason);
  }
}
