/**
 * The unit's DNS-SD records (RFC 6763) as a pure core: which answers a query gets, and the bound
 * on how many go out. The instance name is a digest of the hub channel's public key, the key a
 * paired hub pins, so a hub can tell its device from any other without the unit naming itself:
 * no serial, model or anything printed on the label is advertised (the name of a unit on the
 * network is no more than what its TLS handshake already shows).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { inIpv4Subnet, isLoopbackIpv4 } from '../channel/index.ts';
import type { Packet, Question, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';

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

/**
 * The bound on answers: at most `perSecond` in any one-second window, and the same answer
 * multicast at most once per `minIntervalMs`. Times are the caller's monotonic ms.
 *
 * @example
 * const budget = new AnswerBudget(10, 1_000);
 * if (budget.take(answerKey(set), performance.now())) send(set);
 */
export class AnswerBudget {
  readonly #perSecond: number;
  readonly #minIntervalMs: number;
  readonly #sent: number[] = [];
  readonly #lastByKey = new Map<string, number>();

  constructor(perSecond: number, minIntervalMs: number) {
    this.#perSecond = perSecond;
    this.#minIntervalMs = minIntervalMs;
  }

  /** Whether an answer keyed `key` may go out at `now` (and counts it when it may); no key: unicast, not paced. */
  take(key: string | undefined, now: number): boolean {
    while (this.#sent.length && now - this.#sent[0]! >= 1_000) this.#sent.shift();
    if (this.#sent.length >= this.#perSecond) return false;
    if (key !== undefined) {
      const last = this.#lastByKey.get(key);
      if (last !== undefined && now - last < this.#minIntervalMs) return false;
      // Few distinct keys exist (one per kind of question): the map stays small.
      this.#lastByKey.set(key, now);
    }
    this.#sent.push(now);
    return true;
  }
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
