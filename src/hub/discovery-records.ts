/**
 * The hub's reading of DNS-SD answers (RFC 6763) for `_bulwark._tcp.local`, a pure core: records
 * from any number of response packets gathered in a bounded pool, then resolved into instances
 * (instance name, port, addresses). Nothing read here is trusted: an instance name only says
 * where to try, and the pinned mutual-TLS handshake decides who answered.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, Packet } from 'dns-packet';

/** The service type devices answer for (src/device/advertiser-records.ts). */
export const SERVICE_TYPE = '_bulwark._tcp.local';
/** The only protocol version this hub speaks; an instance with another TXT version is passed over. */
export const PROTOCOL_TXT = 'v=1';
/** Bytes of the pin's digest in an instance name. */
export const INSTANCE_DIGEST_BYTES = 16;
/** Bounds on what one browse keeps, whatever the network sends. */
export const DISCOVERY_RECORD_LIMITS = Object.freeze({
  /** Records read from one packet. */
  recordsPerPacket: 64,
  /** Instances kept. */
  instances: 64,
  /** Addresses kept per host name. */
  addressesPerHost: 8,
  /** Host names kept. */
  hosts: 64,
});

const INSTANCE = /^([0-9a-f]{32})\._bulwark\._tcp\.local\.?$/i;
const HOST = /^[a-z0-9-]{1,63}\.local\.?$/i;

/**
 * The instance name a device whose channel key has SPKI SHA-256 `pin` answers by: the pin's first
 * 16 bytes in hex (the device's `instanceNameOf` makes the same).
 */
export function instanceNameOfPin(pin: Uint8Array): string {
  return Buffer.from(pin.subarray(0, INSTANCE_DIGEST_BYTES)).toString('hex');
}

/** One device found: where its channel says it listens. */
export interface DiscoveredInstance {
  /** 32 lowercase hex characters: the digest of the key it claims. */
  readonly instance: string;
  readonly port: number;
  /** IPv4 and IPv6 addresses of its host name, at most {@link DISCOVERY_RECORD_LIMITS}.addressesPerHost. */
  readonly addresses: readonly string[];
}

function lower(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function txtVersionOk(data: unknown): boolean {
  const entries = Array.isArray(data) ? data : [data];
  return entries.some((e) => (Buffer.isBuffer(e) || typeof e === 'string') && e.toString() === PROTOCOL_TXT);
}

/**
 * The records of a browse, gathered from every response.
 *
 * @example
 * const pool = new DiscoveryRecords();
 * mdns.on('response', (packet) => pool.add(packet));
 * const found = pool.instances().filter((i) => i.instance === instanceNameOfPin(pin));
 */
export class DiscoveryRecords {
  readonly #srv = new Map<string, { instance: string; port: number; target: string }>();
  readonly #versionOk = new Set<string>();
  readonly #addresses = new Map<string, Set<string>>();

  /**
   * Reads a response's answers and additionals; anything malformed or past a bound is passed over. With `source` (the
   * packet's sender), records are kept apart per sender and only an address equal to the sender's is taken: nobody
   * can point the hub at a third address, nor overwrite what the device itself answered.
   */
  add(packet: Packet, source = ''): void {
    const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
    for (const r of records.slice(0, DISCOVERY_RECORD_LIMITS.recordsPerPacket)) this.#read(r, source);
  }

  #read(r: Answer, source: string): void {
    if (typeof r?.name !== 'string') return;
    const instance = INSTANCE.exec(r.name)?.[1]?.toLowerCase();
    const key = (name: string): string => `${source}\u0000${name}`;
    if (r.type === 'SRV' && instance !== undefined) {
      const { port, target } = (r.data ?? {}) as { port?: unknown; target?: unknown };
      if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) return;
      if (typeof target !== 'string' || !HOST.test(target)) return;
      if (!this.#srv.has(key(instance)) && this.#srv.size >= DISCOVERY_RECORD_LIMITS.instances) return;
      this.#srv.set(key(instance), { instance, port: port as number, target: key(lower(target)) });
    } else if (r.type === 'TXT' && instance !== undefined) {
      if (txtVersionOk(r.data) && this.#versionOk.size < DISCOVERY_RECORD_LIMITS.instances)
        this.#versionOk.add(key(instance));
    } else if ((r.type === 'A' || r.type === 'AAAA') && HOST.test(r.name)) {
      if (source === '' || r.data === source) this.#address(key(lower(r.name)), r.data);
    }
  }

  #address(host: string, data: unknown): void {
    if (typeof data !== 'string') return;
    // A link-local IPv6 address cannot be dialled without its zone, which DNS does not carry.
    const usable = isIPv4(data) || (isIPv6(data) && !/^fe[89ab]/i.test(data));
    if (!usable) return;
    let set = this.#addresses.get(host);
    if (!set) {
      if (this.#addresses.size >= DISCOVERY_RECORD_LIMITS.hosts) return;
      this.#addresses.set(host, (set = new Set()));
    }
    if (set.size < DISCOVERY_RECORD_LIMITS.addressesPerHost) set.add(data);
  }

  /** The instances with an SRV record, a TXT of this protocol's version, and at least one address, per sender. */
  instances(): DiscoveredInstance[] {
    const out: DiscoveredInstance[] = [];
    for (const [key, { instance, port, target }] of this.#srv) {
      const addresses = [...(this.#addresses.get(target) ?? [])];
      if (this.#versionOk.has(key) && addresses.length) out.push({ instance, port, addresses });
    }
    return out;
  }

  /** Whether every one of `names` has resolved. */
  resolved(names: ReadonlySet<string>): boolean {
    const found = new Set(this.instances().map((i) => i.instance));
    return [...names].every((n) => found.has(n));
  }
}
