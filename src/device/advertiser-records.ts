/**
 * The unit's DNS-SD records (RFC 6763) as a core without sockets: which answers a query gets, the
 * bound on how many go out, and what one packet is answered with (advertiser.ts holds the socket
 * and loads this with the first packet, beside dns-packet). The instance name is a digest of the
 * hub channel's public key, the key a paired hub pins, so a hub can tell its device from any other
 * without the unit naming itself: no serial, model or anything printed on the label is advertised
 * (the name of a unit on the network is no more than what its TLS handshake already shows).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { inIpv4Subnet, isLoopbackIpv4 } from '../channel/index.ts';
import type * as DnsPacket from 'dns-packet';
import type { Packet, Question, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';
import { MDNS_GROUP, MDNS_PORT, type AdvertiserConfig, type AdvertiserStats } from './advertiser-config.ts';

/** The service type the units answer for. */
export const SERVICE_TYPE = '_bulwark._tcp.local';
/** DNS-SD's service enumeration name (RFC 6763 section 9). */
export const SERVICE_ENUMERATION = '_services._dns-sd._udp.local';
/** The TXT record's only entry: the hub channel protocol's version. */
export const PROTOCOL_TXT = 'v=1';
/** Bytes of the key digest in the instance name (hex, 32 characters). */
export const INSTANCE_DIGEST_BYTES = 16;
/** RFC 6762 section 10: 120 s for records naming a host, 75 minutes for the others. */
export const HOST_RECORD_TTL_S = 120;
export const OTHER_RECORD_TTL_S = 4_500;
/** Questions of one query looked at; a query with more is answered for the first ones only. */
export const MAX_QUESTIONS = 16;
/** Addresses advertised at most. */
export const MAX_ADDRESSES = 8;

/**
 * The instance name of the unit whose channel key has SPKI SHA-256 `channelPin` (what hubs pin):
 * the pin's first 16 bytes in hex. The hub derives the same name from its pin (src/hub/discovery-records.ts).
 */
export function instanceNameOf(channelPin: Uint8Array): string {
  if (channelPin.length < INSTANCE_DIGEST_BYTES) throw new RangeError('a pin is 32 bytes');
  return Buffer.from(channelPin.subarray(0, INSTANCE_DIGEST_BYTES)).toString('hex');
}

/** What the unit advertises. */
export interface AdvertisedService {
  /** {@link instanceNameOf} the current channel key. */
  readonly instance: string;
  /** The hub channel's port. */
  readonly port: number;
  /** Where the channel listens (IPv4 and IPv6), at most {@link MAX_ADDRESSES}. */
  readonly addresses: readonly string[];
}

/** A record the unit sends. */
export type ServiceRecord = StringAnswer | SrvAnswer | TxtAnswer;

/** The answers to one query, or undefined when it asks nothing of this unit. */
export interface AnswerSet {
  readonly answers: ServiceRecord[];
  readonly additionals: ServiceRecord[];
}

/** A network interface address as node:os lists it. */
export interface InterfaceAddress {
  readonly address: string;
  readonly family: string | number;
  readonly internal: boolean;
}

/**
 * The addresses to advertise for a channel listening on `host`: that address, or for a wildcard
 * ('0.0.0.0', '::') the unit's non-loopback addresses (IPv6 link-local left out: a hub cannot dial
 * one without its zone), the loopback ones only when there are no others.
 */
export function addressesToAdvertise(host: string, interfaces: readonly InterfaceAddress[]): string[] {
  if (host !== '0.0.0.0' && host !== '::') return isIPv4(host) || isIPv6(host) ? [host] : [];
  const wanted = (a: InterfaceAddress): boolean =>
    isIPv4(a.address) || (host === '::' && isIPv6(a.address) && !/^fe[89ab]/i.test(a.address));
  const outside = interfaces.filter((a) => !a.internal && wanted(a)).map((a) => a.address);
  const chosen = outside.length ? outside : interfaces.filter(wanted).map((a) => a.address);
  return [...new Set(chosen)].slice(0, MAX_ADDRESSES);
}

function same(a: string, b: string): boolean {
  // DNS names compare without regard to case (RFC 1035 section 2.3.3), and a trailing dot is the root.
  return a.replace(/\.$/, '').toLowerCase() === b.toLowerCase();
}

/** The service's records by what they answer. */
function recordsOf(s: AdvertisedService): {
  ptr: ServiceRecord;
  enumeration: ServiceRecord;
  srv: ServiceRecord;
  txt: ServiceRecord;
  addresses: ServiceRecord[];
} {
  const fqdn = `${s.instance}.${SERVICE_TYPE}`;
  const target = `${s.instance}.local`;
  return {
    ptr: { name: SERVICE_TYPE, type: 'PTR', ttl: OTHER_RECORD_TTL_S, data: fqdn },
    enumeration: { name: SERVICE_ENUMERATION, type: 'PTR', ttl: OTHER_RECORD_TTL_S, data: SERVICE_TYPE },
    srv: {
      name: fqdn,
      type: 'SRV',
      ttl: HOST_RECORD_TTL_S,
      flush: true,
      data: { priority: 0, weight: 0, port: s.port, target },
    },
    txt: { name: fqdn, type: 'TXT', ttl: OTHER_RECORD_TTL_S, flush: true, data: [PROTOCOL_TXT] },
    addresses: s.addresses.map((address): ServiceRecord => ({
      name: target,
      type: isIPv4(address) ? 'A' : 'AAAA',
      ttl: HOST_RECORD_TTL_S,
      flush: true,
      data: address,
    })),
  };
}

/** Whether the querier says it already holds `record` with at least half its life left (RFC 6762 section 7.1). */
function known(query: Packet, record: ServiceRecord): boolean {
  const held = (query.answers ?? []) as ReadonlyArray<{ type?: unknown; name?: unknown; data?: unknown; ttl?: number }>;
  return held.some(
    (a) =>
      a.type === record.type &&
      typeof a.name === 'string' &&
      same(a.name, record.name) &&
      typeof a.data === 'string' &&
      typeof record.data === 'string' &&
      same(a.data, record.data) &&
      (a.ttl ?? 0) >= (record.ttl ?? 0) / 2,
  );
}

function asks(q: Question, name: string, ...types: string[]): boolean {
  const type: string = q.type;
  return same(q.name, name) && (types.includes(type) || type === 'ANY');
}

/**
 * The answers `query` gets from the unit advertising `service`: a browse (PTR of the service type)
 * gets the pointer with the SRV, TXT and address records as additionals; a resolve of the instance
 * or of its host name gets those records. Undefined when nothing asked is ours.
 */
export function answersFor(query: Packet, service: AdvertisedService): AnswerSet | undefined {
  const r = recordsOf(service);
  const answers = new Set<ServiceRecord>();
  const additionals = new Set<ServiceRecord>();
  const alsoHost = (): void => {
    for (const a of r.addresses) additionals.add(a);
  };
  for (const q of (query.questions ?? []).slice(0, MAX_QUESTIONS)) {
    if (typeof q?.name !== 'string' || typeof q.type !== 'string') continue;
    if (asks(q, SERVICE_TYPE, 'PTR') && !known(query, r.ptr)) {
      answers.add(r.ptr);
      additionals.add(r.srv).add(r.txt);
      alsoHost();
    } else if (asks(q, SERVICE_ENUMERATION, 'PTR') && !known(query, r.enumeration)) answers.add(r.enumeration);
    else if (asks(q, `${service.instance}.${SERVICE_TYPE}`, 'SRV', 'TXT')) {
      if (q.type !== 'TXT') answers.add(r.srv);
      if (q.type !== 'SRV') answers.add(r.txt);
      alsoHost();
    } else if (asks(q, `${service.instance}.local`, 'A', 'AAAA'))
      for (const a of r.addresses) if ((q.type as string) === 'ANY' || a.type === q.type) answers.add(a);
  }
  if (answers.size === 0) return undefined;
  for (const a of answers) additionals.delete(a);
  return { answers: [...answers], additionals: [...additionals] };
}

/** A key for "the same answer", for the per-answer multicast interval. */
export function answerKey(set: AnswerSet): string {
  return set.answers
    .map((a) => `${a.type} ${a.name.toLowerCase()}`)
    .sort()
    .join('|');
}

/** The limits of {@link AnswerBudget}: the advertising settings' rate bounds. */
export type AnswerLimits = Pick<
  AdvertiserConfig,
  'maxAnswersPerSecond' | 'maxAnswersPerSourcePerSecond' | 'maxTrackedSources' | 'minAnswerIntervalMs'
>;

/** Drops the times of `sent` that are a second or more before `now` (oldest first). */
function lastSecond(sent: number[], now: number): number[] {
  while (sent.length && now - sent[0]! >= 1_000) sent.shift();
  return sent;
}

/**
 * The bound on answers: per source address at most `maxAnswersPerSourcePerSecond` in any one-second window, so one
 * host asking without end cannot use up the answers of another (a hub finding its device); for everyone together at
 * most `maxAnswersPerSecond`; the same answer multicast at most once per `minAnswerIntervalMs`. At most
 * `maxTrackedSources` sources are counted; a new one replaces the one heard from longest ago. Times are the caller's
 * monotonic ms.
 *
 * @example
 * const budget = new AnswerBudget(defaultAdvertiserConfig);
 * if (budget.take(rinfo.address, answerKey(set), performance.now())) send(set);
 */
export class AnswerBudget {
  readonly #limits: AnswerLimits;
  readonly #sent: number[] = [];
  /** Answer times by source; the Map's order is the order the sources were last heard from. */
  readonly #bySource = new Map<string, number[]>();
  readonly #lastByKey = new Map<string, number>();

  constructor(limits: AnswerLimits) {
    this.#limits = { ...limits };
  }

  /**
   * Whether an answer keyed `key` may go to `source` at `now` (counted when it may); no key: a unicast answer, which is
   * not paced per answer.
   */
  take(source: string, key: string | undefined, now: number): boolean {
    const mine = lastSecond(this.#sourceTimes(source), now);
    if (mine.length >= this.#limits.maxAnswersPerSourcePerSecond) return false;
    if (lastSecond(this.#sent, now).length >= this.#limits.maxAnswersPerSecond) return false;
    if (key !== undefined) {
      const last = this.#lastByKey.get(key);
      if (last !== undefined && now - last < this.#limits.minAnswerIntervalMs) return false;
      // Few distinct keys exist (one per kind of question): the map stays small.
      this.#lastByKey.set(key, now);
    }
    mine.push(now);
    this.#sent.push(now);
    return true;
  }

  /** The answer times of `source`, moved to the newest end; the source heard from longest ago goes when full. */
  #sourceTimes(source: string): number[] {
    const times = this.#bySource.get(source) ?? [];
    this.#bySource.delete(source);
    if (this.#bySource.size >= this.#limits.maxTrackedSources) {
      this.#bySource.delete(this.#bySource.keys().next().value!);
    }
    this.#bySource.set(source, times);
    return times;
  }
}

/** Who asked: the source address, and whether it is a one-shot resolver (not on the mDNS port) wanting unicast. */
export interface Querier {
  readonly address: string;
  readonly unicast: boolean;
}

/**
 * The response to `query` from `from` for the unit advertising `service`, as the budget allows at `now`: undefined
 * when nothing asked is ours, 'limited' when the budget holds it back. A one-shot resolver gets a unicast answer with
 * its query's id and questions and no cache-flush bits (RFC 6762 section 6.7); others get the multicast answer.
 */
export function responseTo(
  query: Packet,
  from: Querier,
  service: AdvertisedService,
  budget: AnswerBudget,
  now: number,
): Packet | 'limited' | undefined {
  const set = answersFor(query, service);
  if (!set) return undefined;
  if (!budget.take(from.address, from.unicast ? undefined : answerKey(set), now)) return 'limited';
  if (!from.unicast) return { type: 'response', ...set };
  const strip = (a: ServiceRecord): ServiceRecord => ({ ...a, flush: false });
  return {
    type: 'response',
    id: query.id ?? 0,
    questions: query.questions ?? [],
    answers: set.answers.map(strip),
    additionals: set.additionals.map(strip),
  };
}

/**
 * Whether a query from `source` came from a network the unit answers on (RFC 6762 section 11: a responder answers its
 * own link only): loopback from loopback, else a source inside the subnet of `iface` (or of any IPv4 interface for a
 * wildcard). A query from anywhere else, a spoofed far address included, gets no answer.
 */
export function fromOwnLink(
  source: string,
  iface: string | undefined,
  interfaces: ReadonlyArray<{ address: string; netmask: string; family: string }>,
): boolean {
  if (isLoopbackIpv4(source)) return iface === undefined || iface.startsWith('127.');
  return interfaces.some(
    (a) =>
      a.family === 'IPv4' && (iface === undefined || a.address === iface) && inIpv4Subnet(source, a.address, a.netmask),
  );
}

/** A running advertisement as its answering sees it (advertiser.ts holds the socket). */
export interface AdvertisingUnit {
  /** SHA-256 of the channel key's SPKI now (read at each answer: a key rotation changes it). */
  readonly channelPin: () => Uint8Array;
  /** Where the hub channel listens. */
  readonly host: string;
  readonly port: number;
  /** The interface answered on; undefined: every one. */
  readonly iface: string | undefined;
  /** The unit's interface addresses now (node:os). */
  readonly interfaces: () => NetworkInterfaceInfo[];
  readonly config: AdvertiserConfig;
  /** Counted in as packets are answered or dropped. */
  readonly counts: { -readonly [K in keyof AdvertiserStats]: number };
}

/** A datagram to send. */
export interface Datagram {
  readonly bytes: Uint8Array;
  readonly address: string;
  readonly port: number;
}

/**
 * The answering of `unit`, its packets read and written with `dns` (dns-packet): for each packet, the datagram to
 * send, or undefined when none goes out (each case counted in `unit.counts`). Throws on a packet it cannot parse.
 */
export function responderFor(
  dns: Pick<typeof DnsPacket, 'decode' | 'encode'>,
  unit: AdvertisingUnit,
): (message: Buffer, from: { readonly address: string; readonly port: number }) => Datagram | undefined {
  const budget = new AnswerBudget(unit.config);
  const { counts } = unit;
  return (message, from) => {
    const interfaces = unit.interfaces();
    if (!fromOwnLink(from.address, unit.iface, interfaces)) {
      counts.offLink++;
      return undefined;
    }
    const query = dns.decode(message);
    if (query.type !== 'query') return undefined;
    counts.queries++;
    const service: AdvertisedService = {
      instance: instanceNameOf(unit.channelPin()),
      port: unit.port,
      addresses: addressesToAdvertise(unit.host, interfaces),
    };
    // A querier not on port 5353 is a one-shot resolver: it gets a unicast answer (RFC 6762 section 6.7).
    const querier = { address: from.address, unicast: from.port !== MDNS_PORT };
    const response = responseTo(query, querier, service, budget, performance.now());
    if (response === undefined) return undefined;
    if (response === 'limited') {
      counts.limited++;
      return undefined;
    }
    counts.answered++;
    const to = querier.unicast ? from : { address: MDNS_GROUP, port: MDNS_PORT };
    return { bytes: dns.encode(response), address: to.address, port: to.port };
  };
}
