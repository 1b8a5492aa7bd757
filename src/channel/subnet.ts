/**
 * The one IPv4 subnet test the two ends of the channel use to stay on their own link: the device answers discovery
 * only from its own network, and the hub browses only on the network a device was last seen on.
 */
import { isIPv4 } from 'node:net';

/** An IPv4 address as a 32-bit number, or undefined for anything else. */
function ipv4Number(address: string): number | undefined {
  if (!isIPv4(address)) return undefined;
  return address.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

/** Whether `address` is an IPv4 loopback address (127.0.0.0/8). */
export function isLoopbackIpv4(address: string): boolean {
  const n = ipv4Number(address);
  return n !== undefined && n >>> 24 === 127;
}

/** Whether `address` lies in the subnet of the interface address `own` with `netmask` (IPv4 only; false otherwise). */
export function inIpv4Subnet(address: string, own: string, netmask: string): boolean {
  const [a, o, m] = [ipv4Number(address), ipv4Number(own), ipv4Number(netmask)];
  return a !== undefined && o !== undefined && m !== undefined && (a & m) >>> 0 === (o & m) >>> 0;
}
