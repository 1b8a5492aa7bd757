/**
 * The unit's DNS-SD advertisement over mDNS (RFC 6762/6763; the wire format through dns-packet): answers
 * queries for `_bulwark._tcp.local` and sends nothing unasked. Loaded by the agent after it
 * listens (a dynamic import), so a unit with advertising off never loads it; dns-packet comes with
 * the first packet, so an idle unit on a quiet network carries none of it. Why the agent and not
 * the supervisor: this parses packets from anyone on the network, so it must be replaceable by a
 * signed update, and the supervisor never is; and the agent knows the channel key in use, which a
 * rotation changes.
 */
import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Packet } from 'dns-packet';
import type * as DnsPacket from 'dns-packet';
import type { RemoteInfo } from 'node:dgram';
import type { AdvertiserConfig } from './advertiser-config.ts';
import {
  AnswerBudget,
  addressesToAdvertise,
  answerKey,
  answersFor,
  fromOwnLink,
  instanceNameOf,
  type AdvertisedService,
  type ServiceRecord,
} from './advertiser-records.ts';

/** The mDNS port and group (RFC 6762 section 3). */
const MDNS_PORT = 5353;
/** The group is joined on interfaces that appear later at this interval, ms. */
const MEMBERSHIP_REFRESH_MS = 5_000;

/** What the advertiser has seen and done since it started. */
export interface AdvertiserStats {
  readonly queries: number;
  readonly answered: number;
  /** Answers held back by the rate bound. */
  readonly limited: number;
  /** Packets the library could not parse (dropped, counted). */
  readonly malformed: number;
  /** Packets from outside the unit's own link (dropped unread, counted). */
  readonly offLink: number;
}

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

/** The wire format, loaded with the first packet: an idle unit on a quiet network never carries it. */
type Wire = Pick<typeof DnsPacket, 'decode' | 'encode'>;

/** The mDNS group (RFC 6762 section 3). */
const MDNS_GROUP = '224.0.0.251';

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
  const budget = new AnswerBudget(options.config.maxAnswersPerSecond, options.config.minAnswerIntervalMs);
  let wire: Promise<Wire> | undefined;
  const answer = (dns: Wire, message: Buffer, rinfo: RemoteInfo): void => {
    const interfaces = Object.values(networkInterfaces())
      .flat()
      .filter((a) => !!a);
    if (!fromOwnLink(rinfo.address, iface, interfaces)) {
      counts.offLink++;
      return;
    }
    const query = dns.decode(message);
    if (query.type !== 'query') return;
    counts.queries++;
    const service: AdvertisedService = {
      instance: instanceNameOf(options.channelPin()),
      port: options.port,
      addresses: addressesToAdvertise(options.host, interfaces),
    };
    const set = answersFor(query, service);
    if (!set) return;
    // A querier not on port 5353 is a one-shot resolver: it gets a unicast answer (RFC 6762 section 6.7).
    const legacy = rinfo.port !== MDNS_PORT;
    if (!budget.take(legacy ? undefined : answerKey(set), performance.now())) {
      counts.limited++;
      return;
    }
    counts.answered++;
    const strip = (a: ServiceRecord): ServiceRecord => ({ ...a, flush: false });
    const packet: Packet = legacy
      ? {
          type: 'response',
          id: query.id ?? 0,
          questions: query.questions ?? [],
          answers: set.answers.map(strip),
          additionals: set.additionals.map(strip),
        }
      : { type: 'response', ...set };
    const to = legacy ? rinfo : { address: MDNS_GROUP, port: MDNS_PORT };
    socket.send(dns.encode(packet), to.port, to.address, () => undefined);
  };
  socket.on('message', (message, rinfo) => {
    const loading = (wire ??= import('dns-packet').then((m): Wire => m.default));
    void loading.then((dns) => {
      try {
        answer(dns, message, rinfo);
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
