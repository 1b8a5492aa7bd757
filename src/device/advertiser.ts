/**
 * The unit's DNS-SD advertisement over mDNS (RFC 6762/6763; the wire format through dns-packet): answers
 * queries for `_bulwark._tcp.local` and sends nothing unasked. Loaded by the agent after it
 * listens (a dynamic import), so a unit with advertising off never loads it; dns-packet and the
 * records (advertiser-records.ts) come with the first packet, so an idle unit on a quiet network
 * carries none of them. Why the agent and not the supervisor: this parses packets from anyone on
 * the network, so it must be replaceable by a signed update, and the supervisor never is; and the
 * agent knows the channel key in use, which a rotation changes.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { MDNS_GROUP, MDNS_PORT, type AdvertiserConfig, type AdvertiserStats } from './advertiser-config.ts';

export type { AdvertiserStats } from './advertiser-config.ts';
import type * as AdvertiserRecords from './advertiser-records.ts';

/** The group is joined on interfaces that appear later at this interval, ms. */
const MEMBERSHIP_REFRESH_MS = 5_000;

/** A running advertisement. */
export interface Advertiser {
  stats(): AdvertiserStats;
  /** Stops answering and closes the socket. */
  close(): Promise<void>;
}

/** Options of {@link startAdvertiser}. */
export interface AdvertiserOptions {
  /** SHA-256 of the channel key's SPKI now (read at each answer: a key rotation changes it). */
  readonly channelPin: () => Uint8Array;
  /** Where the hub channel listens. */
  readonly host: string;
  readonly port: number;
  readonly config: AdvertiserConfig;
  readonly log: (message: string) => void;
}

/** The answering of one packet (advertiser-records.ts' responderFor). */
type Respond = ReturnType<typeof AdvertiserRecords.responderFor>;

/** Loads the answering with the first packet: an idle unit on a quiet network never carries it. */
async function loadResponder(unit: AdvertiserRecords.AdvertisingUnit): Promise<Respond> {
  const [dns, records] = await Promise.all([import('dns-packet'), import('./advertiser-records.ts')]);
  return records.responderFor(dns.default, unit);
}

/**
 * Starts answering DNS-SD queries for the unit's channel: a UDP socket on the mDNS port in the group, on the unit's
 * interface (every one for a wildcard host); packets are parsed with dns-packet, loaded when the first one arrives.
 *
 * @example
 * const advertiser = await startAdvertiser({ channelPin: () => pin, host: '0.0.0.0', port: 5541, config, log });
 */
export async function startAdvertiser(options: AdvertiserOptions): Promise<Advertiser> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  // A unit listening on one address answers on that interface only (loopback in tests); a wildcard, on every one.
  const iface = advertisingInterface(options.host);
  const counts = { queries: 0, answered: 0, limited: 0, malformed: 0, offLink: 0 };
  const { channelPin, host, port, config } = options;
  const unit: AdvertiserRecords.AdvertisingUnit = {
    channelPin,
    host,
    port,
    config,
    iface,
    counts,
    interfaces: () =>
      Object.values(networkInterfaces())
        .flat()
        .filter((a) => !!a),
  };
  let responder: Promise<Respond> | undefined;
  socket.on('message', (message, rinfo) => {
    void (responder ??= loadResponder(unit)).then((respond) => {
      try {
        const out = respond(message, rinfo);
        if (out) socket.send(out.bytes, out.port, out.address, () => undefined);
      } catch {
        // Whatever a packet holds, the unit keeps running: it is counted and dropped.
        counts.malformed++;
      }
    });
  });
  socket.on('error', (err) => options.log(`mDNS advertising stopped: ${err.message.slice(0, 120)}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(MDNS_PORT, '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    socket.close();
    throw err;
  });
  const refresh = joinGroup(socket, iface);
  let closing: Promise<void> | undefined;
  return {
    stats: () => ({ ...counts }),
    // Once: a second close (an agent closed twice) finds the socket gone and resolves at once.
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        clearInterval(refresh);
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      })),
  };
}

/** The IPv4 address to answer on for a channel listening on `host`; undefined (every interface) for a wildcard. */
export function advertisingInterface(host: string): string | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') return undefined;
  return host.startsWith('127.') ? '127.0.0.1' : host;
}

/**
 * Joins the mDNS group on the unit's interface (every IPv4 one for a wildcard), now and as interfaces come; the socket
 * keeps no process alive.
 */
function joinGroup(socket: Socket, iface: string | undefined): NodeJS.Timeout {
  const joined = new Set<string>();
  const join = (): void => {
    const addresses = iface
      ? [iface]
      : Object.values(networkInterfaces())
          .flat()
          .filter((a) => a?.family === 'IPv4')
          .map((a) => a.address);
    for (const address of addresses) {
      if (joined.has(address)) continue;
      try {
        socket.addMembership(MDNS_GROUP, address);
        joined.add(address);
      } catch {
        // An interface going away between the listing and the join: tried again at the next refresh.
      }
    }
  };
  try {
    socket.setMulticastTTL(255);
    socket.setMulticastLoopback(true);
    if (iface) socket.setMulticastInterface(iface);
  } catch {
    // A socket that failed to bind has been reported through 'error'.
  }
  socket.unref();
  join();
  const refresh = setInterval(join, MEMBERSHIP_REFRESH_MS);
  refresh.unref();
  return refresh;
}
