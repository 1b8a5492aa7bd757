/**
 * Finding a paired device that moved: when its link fails, the hub browses DNS-SD over mDNS for
 * `_bulwark._tcp.local` (multicast-dns, loaded on the first browse), takes the instances named by
 * the digest of the device's pinned key, and dials each address with that pin. The pinned
 * mutual-TLS handshake decides: a device showing the pinned key is followed to its new address;
 * one that answers by the same digest with another key is refused and journalled
 * ('identity-mismatch'), and the recorded address stays. Browses are bounded per device: at most
 * one per `minBrowseIntervalMs`, backing off to `maxBrowseIntervalMs` while it stays lost.
 */
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Packet } from 'dns-packet';
import {
  connectChannel,
  pinnedPeers,
  ChannelError,
  inIpv4Subnet,
  isLoopbackIpv4,
  type ChannelClientContext,
  type ChannelConfig,
  type ChannelResumption,
} from '../channel/index.ts';
import { ConfigError, integerSettings } from '../errors/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import { LINK_CAPABILITY } from './links.ts';
import { DiscoveryRecords, SERVICE_TYPE, instanceNameOfPin, type DiscoveredInstance } from './discovery-records.ts';

/** Settings of the hub's discovery; times in ms. */
export interface HubDiscoveryConfig {
  /** Browse for a paired device whose link fails. */
  readonly enabled: boolean;
  /** How long one browse listens for answers, ms (the whole window: an early answer from anyone ends nothing). */
  readonly browseWindowMs: number;
  /** The query is repeated this often within a browse, ms (a lost packet is not the end of it). */
  readonly queryIntervalMs: number;
  /** A device is browsed for at most once per this, ms. */
  readonly minBrowseIntervalMs: number;
  /** While a device stays lost the interval doubles up to this, ms. */
  readonly maxBrowseIntervalMs: number;
}

/** On; a 3 s browse at most every 10 s per device, backing off to every 5 minutes. */
export const defaultHubDiscoveryConfig: HubDiscoveryConfig = Object.freeze({
  enabled: true,
  browseWindowMs: 3_000,
  queryIntervalMs: 1_000,
  minBrowseIntervalMs: 10_000,
  maxBrowseIntervalMs: 300_000,
});

const int = integerSettings('HUB_CONFIG_INVALID');

/** The complete settings, or ConfigError 'HUB_CONFIG_INVALID' naming the key at fault. */
export function validateHubDiscoveryConfig(partial: Partial<HubDiscoveryConfig> | undefined): HubDiscoveryConfig {
  const c = { ...defaultHubDiscoveryConfig, ...partial };
  for (const key of Object.keys(partial ?? {}))
    if (!Object.hasOwn(defaultHubDiscoveryConfig, key))
      throw new ConfigError('HUB_CONFIG_INVALID', `discovery.${key}`, 'is not a discovery setting');
  if (typeof c.enabled !== 'boolean') throw new ConfigError('HUB_CONFIG_INVALID', 'discovery.enabled', 'boolean');
  int('discovery.browseWindowMs', c.browseWindowMs, 500, 30_000);
  int('discovery.queryIntervalMs', c.queryIntervalMs, 250, c.browseWindowMs);
  // Faster than once a second per device would make the hub a source of mDNS floods.
  int('discovery.minBrowseIntervalMs', c.minBrowseIntervalMs, Math.max(1_000, c.browseWindowMs), 3_600_000);
  int('discovery.maxBrowseIntervalMs', c.maxBrowseIntervalMs, c.minBrowseIntervalMs, 86_400_000);
  return c;
}

/**
 * When each lost device is due a browse, a pure core on the caller's monotonic ms: a device is due
 * when it is lost and `minIntervalMs` has passed since its last browse; each browse that leaves it
 * lost doubles its interval up to `maxIntervalMs`.
 *
 * @example
 * schedule.lost('PLG-1', now); for (const serial of schedule.due(now)) { browse(); schedule.browsed(serial, now); }
 */
export class BrowseSchedule {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #lost = new Map<string, { dueAt: number; intervalMs: number }>();
  readonly #lastBrowseAt = new Map<string, number>();

  constructor(minIntervalMs: number, maxIntervalMs: number) {
    this.#minMs = minIntervalMs;
    this.#maxMs = maxIntervalMs;
  }

  /** The device's link failed at `now` (again: no change). */
  lost(serial: string, now: number): void {
    if (this.#lost.has(serial)) return;
    const last = this.#lastBrowseAt.get(serial);
    this.#lost.set(serial, {
      dueAt: last === undefined ? now : Math.max(now, last + this.#minMs),
      intervalMs: this.#minMs,
    });
  }

  /** The device's link is up: no more browses, and its back-off starts over next time. */
  up(serial: string): void {
    this.#lost.delete(serial);
  }

  /** The device is no longer paired. */
  forget(serial: string): void {
    this.#lost.delete(serial);
    this.#lastBrowseAt.delete(serial);
  }

  /** The lost devices due a browse at `now`. */
  due(now: number): string[] {
    return [...this.#lost].filter(([, s]) => s.dueAt <= now).map(([serial]) => serial);
  }

  /** A browse for `serial` ran at `now`. */
  browsed(serial: string, now: number): void {
    this.#lastBrowseAt.set(serial, now);
    const s = this.#lost.get(serial);
    if (!s) return;
    s.dueAt = now + s.intervalMs;
    s.intervalMs = Math.min(this.#maxMs, s.intervalMs * 2);
  }

  /** When the next browse is due, or undefined when no device is lost. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.#lost.values()) if (next === undefined || s.dueAt < next) next = s.dueAt;
    return next;
  }
}

/** A browse on the interface with address `iface`: the instances among `wanted` that answered within the window. */
export type BrowseForDevices = (
  wanted: ReadonlySet<string>,
  config: HubDiscoveryConfig,
  iface: string,
) => Promise<DiscoveredInstance[]>;

/**
 * The hub's own IPv4 address on the network a device was last seen on (loopback for a loopback device): the hub asks
 * there only, never on networks the device was not on. Undefined when no interface of the hub reaches that address.
 */
export function interfaceReaching(
  address: string,
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string | undefined {
  if (isLoopbackIpv4(address)) return '127.0.0.1';
  for (const a of Object.values(interfaces).flat()) {
    if (a && a.family === 'IPv4' && !a.internal && inIpv4Subnet(address, a.address, a.netmask)) return a.address;
  }
  return undefined;
}

/** The part of a multicast-dns instance a browse uses. */
interface Querier {
  on(event: 'response', listener: (packet: Packet, rinfo: { address: string }) => void): unknown;
  on(event: 'warning' | 'error', listener: (err: Error) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  query(packet: Packet): void;
  update(): void;
  destroy(callback?: () => void): void;
}

/**
 * Asks the local network for `_bulwark._tcp.local` for `config.browseWindowMs`, repeating the query
 * every `config.queryIntervalMs`; each answer's records count only for the address that sent it.
 */
export const browseForDevices: BrowseForDevices = async (wanted, config, iface) => {
  const { default: multicastDns } = await import('multicast-dns');
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  // One interface: the group is joined and the query sent there only.
  const mdns = multicastDns({ socket, multicast: false, interface: iface, bind: '0.0.0.0' }) as unknown as Querier;
  const pool = new DiscoveryRecords();
  mdns.on('warning', () => undefined); // an unparsable answer is no answer
  mdns.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      mdns.once('ready', resolve);
      mdns.once('error', reject);
    });
    socket.setMulticastTTL(255);
    socket.setMulticastLoopback(true);
    mdns.update();
    await new Promise<void>((resolve) => {
      const ask = (): void => mdns.query({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] });
      const repeat = setInterval(ask, config.queryIntervalMs);
      const end = setTimeout(finish, config.browseWindowMs);
      function finish(): void {
        clearInterval(repeat);
        clearTimeout(end);
        resolve();
      }
      // The whole window, not until the first answer: an early answer from anyone must not shut out the device's own.
      mdns.on('response', (packet, rinfo) => pool.add(packet, rinfo.address));
      ask();
    });
  } finally {
    await new Promise<void>((resolve) => mdns.destroy(() => resolve()));
  }
  return pool.instances().filter((i) => wanted.has(i.instance));
};

/** What the finder needs from the hub. */
export interface DeviceFinderHost {
  /** A paired device's accepted pins (current, and the previous one during a key rotation) and where it is dialled. */
  device(serial: string): { pins: readonly Uint8Array[]; host: string; port: number; connected: boolean } | undefined;
  /** The device showed its pinned key at `host:port`: record the address and dial it there from now on. */
  moved(serial: string, host: string, port: number, resumption: ChannelResumption | undefined): Promise<void>;
  record(entry: JournalRecordInput): void;
  log(message: string): void;
}

/** Options of a {@link DeviceFinder}. */
export interface DeviceFinderOptions {
  readonly config: HubDiscoveryConfig;
  /** The hub's key, as the links use it. */
  readonly context: ChannelClientContext;
  readonly channel: Partial<ChannelConfig>;
  readonly host: DeviceFinderHost;
  /** The browse; the mDNS one unless a caller brings its own. */
  readonly browse?: BrowseForDevices;
}

/**
 * Follows lost devices to their new addresses.
 *
 * @example
 * const finder = new DeviceFinder({ config, context, channel: {}, host });
 * link.on('down', () => finder.linkDown(serial)); link.on('up', () => finder.linkUp(serial));
 */
export class DeviceFinder {
  readonly #o: DeviceFinderOptions;
  readonly #schedule: BrowseSchedule;
  readonly #browse: BrowseForDevices;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: DeviceFinderOptions) {
    this.#o = options;
    this.#schedule = new BrowseSchedule(options.config.minBrowseIntervalMs, options.config.maxBrowseIntervalMs);
    this.#browse = options.browse ?? browseForDevices;
  }

  /** The device's link failed or went down. */
  linkDown(serial: string): void {
    if (!this.#o.config.enabled || this.#closed) return;
    this.#schedule.lost(serial, performance.now());
    this.#arm();
  }

  /** The device's link is up. */
  linkUp(serial: string): void {
    this.#schedule.up(serial);
  }

  /** The device was unpaired. */
  forget(serial: string): void {
    this.#schedule.forget(serial);
  }

  /** Stops browsing; resolves once a browse under way has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #arm(): void {
    if (this.#closed || this.#timer || this.#running) return;
    const at = this.#schedule.nextDueAt();
    if (at === undefined) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#running = this.#run().finally(() => {
          this.#running = undefined;
          this.#arm();
        });
      },
      Math.max(0, at - performance.now()),
    );
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const now = performance.now();
    const sought = new Map<string, Map<string, string>>(); // interface -> instance name -> serial
    for (const serial of this.#schedule.due(now)) {
      this.#schedule.browsed(serial, now);
      const device = this.#o.host.device(serial);
      const iface = device && interfaceReaching(device.host);
      if (!device || iface === undefined) continue;
      const names = sought.get(iface) ?? new Map<string, string>();
      for (const pin of device.pins) names.set(instanceNameOfPin(pin), serial);
      sought.set(iface, names);
    }
    for (const [iface, names] of sought) {
      let found: DiscoveredInstance[];
      try {
        found = await this.#browse(new Set(names.keys()), this.#o.config, iface);
      } catch (err) {
        this.#o.host.log(`mDNS browse failed: ${err instanceof Error ? err.message.slice(0, 120) : String(err)}`);
        continue;
      }
      for (const instance of found) {
        const serial = names.get(instance.instance);
        if (serial !== undefined && !this.#closed) await this.#follow(serial, instance);
      }
    }
  }

  /** Tries each address `instance` gave that is not the one recorded, until the pinned key answers. */
  async #follow(serial: string, instance: DiscoveredInstance): Promise<void> {
    for (const address of instance.addresses) {
      const device = this.#o.host.device(serial);
      if (!device || device.connected) return;
      if (address === device.host && instance.port === device.port) continue;
      if (await this.#dial(serial, device.pins, address, instance)) return;
    }
  }

  async #dial(
    serial: string,
    pins: readonly Uint8Array[],
    host: string,
    instance: DiscoveredInstance,
  ): Promise<boolean> {
    const { context, channel } = this.#o;
    const source = formatSource(host, instance.port);
    try {
      const connection = await connectChannel<string>({
        host,
        port: instance.port,
        key: context.key,
        cert: context.cert,
        context,
        pinnedPeer: pinnedPeers(pins.map((pin) => [pin, serial] as const)),
        config: channel,
      });
      // A unit with the pinned key greets any key that may pair; only one that pins this hub answers 'sync'.
      const paired = await connection.request(LINK_CAPABILITY, 'sync').then(
        () => true,
        () => false,
      );
      const resumption = connection.resumption;
      await connection.close(paired ? 'moved' : 'not-paired');
      if (!paired) {
        this.#o.host.log(`${serial} answered at ${source} with its key but does not pin this hub: not followed`);
        return false;
      }
      await this.#o.host.moved(serial, host, instance.port, resumption);
      return true;
    } catch (err) {
      const code = err instanceof ChannelError ? err.code : 'error';
      if (code === 'CHANNEL_PEER_NOT_PINNED')
        this.#o.host.record({
          surface: 'hub',
          source,
          event: 'identity-mismatch',
          result: 'refused',
          identity: serial,
          detail: `answered as ${instance.instance} without the pinned key: refused, address kept`,
        });
      else this.#o.host.log(`${serial} was advertised at ${source} but did not answer there (${code})`);
      return false;
    }
  }
}
