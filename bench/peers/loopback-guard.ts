/**
 * Keeps a peer's process on the loopback interface (issue 20, part 5). The peers advertise over mDNS and listen on
 * unspecified addresses by design (HAP-NodeJS 1.2 binds its server to 0.0.0.0 or :: whatever `bind` says, and
 * matter.js joins the IPv4 mDNS group on the default interface even when told to use `lo`), and this machine must
 * not answer or send on its network. So, before the peer's code loads, every TCP listen and UDP bind in the process
 * is pinned to a loopback address (an IPv4 mDNS socket to the mDNS group, see bindAddressFor), every multicast
 * membership and multicast interface to the loopback interface, and every outgoing TCP connection or UDP send to a
 * unicast address off loopback is refused. What it changed goes into the peer's ready line.
 *
 * Limit: Linux delivers a group's datagrams to every socket bound to the group, whichever socket joined it on
 * whichever interface (IP_MULTICAST_ALL, which Node cannot clear); the peers join 224.0.0.251 on lo only, and on a
 * machine where another program joins it on another interface, that interface's mDNS would reach the peers too.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { networkInterfaces } from 'node:os';

/** What the guard changed or refused in this process, for the peer's ready line. */
export interface LoopbackGuardRecord {
  /** Addresses rewritten, e.g. 'udp4 bind 0.0.0.0:5353 -> 127.0.0.1'. */
  readonly pinned: string[];
  /** Operations refused because they would have left the loopback interface. */
  readonly refused: string[];
}

const record: LoopbackGuardRecord = { pinned: [], refused: [] };
/** At most this many entries per list are kept, so a chatty peer cannot grow the record without bound. */
const MAX_ENTRIES = 50;

function note(list: string[], entry: string): void {
  if (list.length < MAX_ENTRIES && !list.includes(entry)) list.push(entry);
}

/** The loopback interface's name (lo on Linux), for IPv6 scoped multicast interfaces and peers' own options. */
export function loopbackInterfaceName(): string {
  for (const [name, infos] of Object.entries(networkInterfaces())) if (infos?.some((i) => i.internal)) return name;
  return 'lo';
}

const LOOPBACK_V6_SCOPED = `::%${loopbackInterfaceName()}`;

/** Whether an address stays on this machine: 127/8, ::1, or an IPv4-mapped 127/8. */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  return /^127\./.test(bare) || bare === '::1' || /^::ffff:127\./.test(bare) || bare === 'localhost';
}

function isMulticast(address: string): boolean {
  return /^(22[4-9]|23\d)\./.test(address) || /^ff/i.test(address);
}

function loopbackFor(type: string): string {
  return type === 'udp6' ? '::1' : '127.0.0.1';
}

function socketType(socket: dgram.Socket): string {
  // The type is private in Node's typings; it is set by createSocket and never changes.
  return (socket as unknown as { type?: string }).type ?? 'udp4';
}

/** A prototype method taken as a plain function, called later with its receiver. */
type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Replaces `proto[name]` with `wrap(original)`. */
function patch(proto: object, name: string, wrap: (original: Method) => Method): void {
  const original = Reflect.get(proto, name) as Method;
  Reflect.set(proto, name, wrap(original));
}

/** mDNS's port and IPv4 group. */
const MDNS_PORT = 5353;
const MDNS_GROUP_V4 = '224.0.0.251';

/**
 * Where a UDP socket may bind: an mDNS socket (IPv4, port 5353) to the mDNS group itself, so it receives the group's
 * datagrams (joined on loopback only, below) and no unicast from the network; every other socket to loopback, where
 * multicast never arrives (IPv6 multicast does not run on lo at all: sends there fail with ENETUNREACH).
 */
function bindAddressFor(type: string, port: number): string {
  return type === 'udp4' && port === MDNS_PORT ? MDNS_GROUP_V4 : loopbackFor(type);
}

/** dgram bind(port, address, cb) or bind({port, address}, cb): an address off loopback becomes a pinned one. */
function pinnedBindArgs(type: string, args: unknown[]): unknown[] {
  const [first] = args;
  if (first !== null && typeof first === 'object') {
    const o = first as dgram.BindOptions;
    if (o.address !== undefined && isLoopbackAddress(o.address)) return args;
    const lo = bindAddressFor(type, o.port ?? 0);
    note(record.pinned, `${type} bind ${o.address ?? '*'}:${o.port ?? 0} -> ${lo}`);
    return [{ ...o, address: lo }, ...args.slice(1)];
  }
  const port = typeof first === 'number' ? first : 0;
  const address = typeof args[1] === 'string' ? args[1] : undefined;
  if (address !== undefined && isLoopbackAddress(address)) return args;
  const lo = bindAddressFor(type, port);
  note(record.pinned, `${type} bind ${address ?? '*'}:${port} -> ${lo}`);
  const callback = args.find((a) => typeof a === 'function');
  return callback ? [port, lo, callback] : [port, lo];
}

function multicastLoopback(socket: dgram.Socket): string {
  return socketType(socket) === 'udp6' ? LOOPBACK_V6_SCOPED : '127.0.0.1';
}

function groupLoopback(group: unknown): string {
  return String(group).includes(':') ? LOOPBACK_V6_SCOPED : '127.0.0.1';
}

/** bind, pinned; and multicast from the socket leaves by loopback even if the peer never names an interface. */
function pinBind(bind: Method, setMulticastInterface: Method): Method {
  return function (this: unknown, ...args: unknown[]) {
    const socket = this as dgram.Socket;
    // Before any queued send: an unbound socket's send binds first, then waits for this same event.
    socket.once('listening', () => {
      try {
        setMulticastInterface.call(socket, multicastLoopback(socket));
      } catch {
        note(record.refused, `${socketType(socket)} socket left without a loopback multicast interface`);
      }
    });
    return bind.apply(this, pinnedBindArgs(socketType(socket), args));
  };
}

function pinMembership(add: Method): Method {
  return function (this: unknown, group: unknown, iface: unknown) {
    const lo = groupLoopback(group);
    const on = typeof iface === 'string' ? iface : 'default';
    if (iface !== lo) note(record.pinned, `membership ${String(group)} on ${on} -> ${lo}`);
    return add.call(this, group, lo);
  };
}

function pinMulticastInterface(setIf: Method): Method {
  return function (this: unknown, iface: unknown) {
    const lo = multicastLoopback(this as dgram.Socket);
    if (iface !== lo) note(record.pinned, `multicast interface ${String(iface)} -> ${lo}`);
    return setIf.call(this, lo);
  };
}

function refuseOffLoopbackSend(send: Method): Method {
  return function (this: unknown, ...args: unknown[]) {
    // The address is the first string after the message; a connected socket's peer was checked at connect.
    const address = args.slice(1).find((a): a is string => typeof a === 'string');
    if (address === undefined || isLoopbackAddress(address) || isMulticast(address)) return send.apply(this, args);
    note(record.refused, `udp send to ${address}`);
    const callback = args.find((a): a is (e: Error) => void => typeof a === 'function');
    callback?.(new Error(`loopback guard: refused a UDP send to ${address}`));
  };
}

function guardUdp(): void {
  const proto = dgram.Socket.prototype;
  const setMulticastInterface = Reflect.get(proto, 'setMulticastInterface') as Method;
  patch(proto, 'bind', (bind) => pinBind(bind, setMulticastInterface));
  patch(proto, 'addMembership', pinMembership);
  patch(
    proto,
    'dropMembership',
    (drop) =>
      function (this: unknown, group: unknown) {
        return drop.call(this, group, groupLoopback(group));
      },
  );
  patch(proto, 'setMulticastInterface', pinMulticastInterface);
  patch(proto, 'send', refuseOffLoopbackSend);
}

/** net listen(port, host, ...) or listen({port, host}, cb): a host off loopback (or none) becomes the loopback. */
function pinnedListenArgs(args: unknown[]): unknown[] {
  const [first] = args;
  if (first !== null && typeof first === 'object' && 'port' in first) {
    const o = first as net.ListenOptions;
    if (o.host !== undefined && isLoopbackAddress(o.host)) return args;
    const lo = o.host?.includes(':') ? '::1' : '127.0.0.1';
    note(record.pinned, `tcp listen ${o.host ?? '*'}:${o.port ?? 0} -> ${lo}`);
    return [{ ...o, host: lo }, ...args.slice(1)];
  }
  if (typeof first !== 'number' && first !== undefined) return args; // a path or a handle: not a network address
  const host = typeof args[1] === 'string' ? args[1] : undefined;
  if (host !== undefined && isLoopbackAddress(host)) return args;
  const lo = host?.includes(':') ? '::1' : '127.0.0.1';
  note(record.pinned, `tcp listen ${host ?? '*'}:${first ?? 0} -> ${lo}`);
  return [first ?? 0, lo, ...args.slice(host === undefined ? 1 : 2)];
}

/** The host an outgoing net connect names (undefined for a path or for the default, localhost). */
function connectHost(args: unknown[]): string | undefined {
  const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (first !== null && typeof first === 'object') {
    const o = first as { host?: string; path?: string };
    return o.path ? undefined : o.host;
  }
  return typeof args[1] === 'string' ? args[1] : undefined;
}

function pinListen(listen: Method): Method {
  return function (this: unknown, ...args: unknown[]) {
    return listen.apply(this, pinnedListenArgs(args));
  };
}

function refuseOffLoopbackConnect(connect: Method): Method {
  return function (this: unknown, ...args: unknown[]) {
    const host = connectHost(args);
    if (host === undefined || isLoopbackAddress(host)) return connect.apply(this, args);
    note(record.refused, `tcp connect to ${host}`);
    throw new Error(`loopback guard: refused a TCP connection to ${host}`);
  };
}

function guardTcp(): void {
  patch(net.Server.prototype, 'listen', pinListen);
  patch(net.Socket.prototype, 'connect', refuseOffLoopbackConnect);
}

let installed = false;

/**
 * Pins this process's sockets to loopback; call it before the peer's code is loaded.
 *
 * @example
 * const guard = installLoopbackGuard();
 * await import(peerEntry);
 * console.log(JSON.stringify({ ready: true, guard }));
 */
export function installLoopbackGuard(): LoopbackGuardRecord {
  if (!installed) {
    guardUdp();
    guardTcp();
    installed = true;
  }
  return record;
}
