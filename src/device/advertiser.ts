/**
 * The unit's DNS-SD advertisement over mDNS (RFC 6762/6763, through multicast-dns): answers
 * queries for `_bulwark._tcp.local` and sends nothing unasked. Loaded by the agent after it
 * listens (a dynamic import), so a unit with advertising off never loads the library. Why the
 * agent and not the supervisor: this parses packets from anyone on the network, so it must be
 * replaceable by a signed update, and the supervisor never is; and the agent knows the channel key
 * in use, which a rotation changes.
 */
import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Packet } from 'dns-packet';
import type { RemoteInfo } from 'node:dgram';
import type { AdvertiserConfig } from './advertiser-config.ts';
import {
  AnswerBudget,
  addressesToAdvertise,
  answerKey,
  answersFor,
  instanceNameOf,
  type AdvertisedService,
  type ServiceRecord,
} from './advertiser-records.ts';

/** The mDNS port and group (RFC 6762 section 3). */
const MDNS_PORT = 5353;
/** multicast-dns joins the group on interfaces that appear later only when asked: this often, ms. */
const MEMBERSHIP_REFRESH_MS = 5_000;

/** What the advertiser has seen and done since it started. */
export interface AdvertiserStats {
  readonly queries: number;
  readonly answered: number;
  /** Answers held back by the rate bound. */
  readonly limited: number;
  /** Packets the library could not parse (dropped, counted). */
  readonly malformed: number;
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

/** The part of a multicast-dns instance used here (its `update` joins the group on new interfaces). */
interface Responder {
  on(event: 'query', listener: (query: Packet, rinfo: RemoteInfo) => void): unknown;
  on(event: 'error' | 'warning', listener: (err: Error & { syscall?: string }) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  respond(response: Packet, rinfo?: { port: number; address: string }): void;
  update(): void;
  destroy(callback?: () => void): void;
}

/**
 * Starts answering DNS-SD queries for the unit's channel.
 *
 * @example
 * const advertiser = await startAdvertiser({ channelPin: () => pin, host: '0.0.0.0', port: 5541, config, log });
 */
export async function startAdvertiser(options: AdvertiserOptions): Promise<Advertiser> {
  const { default: multicastDns } = await import('multicast-dns');
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  // A unit listening on one address answers on that interface only (loopback in tests); a wildcard, on every one.
  const iface = advertisingInterface(options.host);
  const mdns = multicastDns({
    socket,
    multicast: false,
    bind: '0.0.0.0',
    ...(iface ? { interface: iface } : {}),
  }) as unknown as Responder;
  const counts = { queries: 0, answered: 0, limited: 0, malformed: 0 };
  const budget = new AnswerBudget(options.config.maxAnswersPerSecond, options.config.minAnswerIntervalMs);
  mdns.on('warning', (err) => {
    // A socket's complaint (a membership on an interface gone) has a syscall; a parse error has none.
    if (err.syscall === undefined) counts.malformed++;
  });
  mdns.on('error', (err) => options.log(`mDNS advertising stopped: ${err.message.slice(0, 120)}`));
  mdns.on('query', (query, rinfo) => {
    counts.queries++;
    try {
      const service: AdvertisedService = {
        instance: instanceNameOf(options.channelPin()),
        port: options.port,
        addresses: addressesToAdvertise(
          options.host,
          Object.values(networkInterfaces())
            .flat()
            .filter((a) => !!a),
        ),
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
      if (legacy) {
        const strip = (a: ServiceRecord): ServiceRecord => ({ ...a, flush: false });
        const unicast = { answers: set.answers.map(strip), additionals: set.additionals.map(strip) };
        mdns.respond({ id: query.id ?? 0, questions: query.questions ?? [], ...unicast }, rinfo);
      } else mdns.respond(set);
    } catch {
      // Whatever a packet holds, the unit keeps running: it is counted and dropped.
      counts.malformed++;
    }
  });
  await new Promise<void>((resolve, reject) => {
    mdns.once('ready', resolve);
    mdns.once('error', reject);
  }).catch((err: unknown) => {
    mdns.destroy();
    throw err;
  });
  const refresh = joinGroup(socket, mdns);
  return {
    stats: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(refresh);
        mdns.destroy(() => resolve());
      }),
  };
}

/** The IPv4 address to answer on for a channel listening on `host`; undefined (every interface) for a wildcard. */
export function advertisingInterface(host: string): string | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host === '0.0.0.0') return undefined;
  return host.startsWith('127.') ? '127.0.0.1' : host;
}

/**
 * Joins the mDNS group on the unit's interface (every one for a wildcard), now and as interfaces come; the socket
 * keeps no process alive.
 */
function joinGroup(socket: ReturnType<typeof createSocket>, mdns: Responder): NodeJS.Timeout {
  try {
    socket.setMulticastTTL(255);
    socket.setMulticastLoopback(true);
  } catch {
    // A socket that failed to bind has been reported through 'error'.
  }
  socket.unref();
  mdns.update();
  const refresh = setInterval(() => mdns.update(), MEMBERSHIP_REFRESH_MS);
  refresh.unref();
  return refresh;
}
