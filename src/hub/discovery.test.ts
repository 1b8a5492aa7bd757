import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import {
  BrowseSchedule,
  validateHubDiscoveryConfig,
  defaultHubDiscoveryConfig,
  interfaceReaching,
} from './discovery.ts';
import { DiscoveryRecords, DISCOVERY_RECORD_LIMITS, instanceNameOfPin, SERVICE_TYPE } from './discovery-records.ts';
import { hasCode } from '../errors/index.ts';

const pin = createHash('sha256').update(randomBytes(91)).digest();
const name = instanceNameOfPin(pin);

/** A response as it comes off the wire. */
function wire(answers: Answer[], additionals: Answer[] = []): Packet {
  return dnsPacket.decode(dnsPacket.encode({ type: 'response', id: 0, answers, additionals }));
}

function serviceRecords(instance: string, port: number, address: string, txt = 'v=1'): Answer[] {
  const fqdn = `${instance}.${SERVICE_TYPE}`;
  return [
    { name: SERVICE_TYPE, type: 'PTR', data: fqdn },
    { name: fqdn, type: 'SRV', data: { port, target: `${instance}.local` } },
    { name: fqdn, type: 'TXT', data: [txt] },
    { name: `${instance}.local`, type: address.includes(':') ? 'AAAA' : 'A', data: address },
  ];
}

test('the instance name of a pin is its first 16 bytes in hex', () => {
  assert.equal(name, pin.subarray(0, 16).toString('hex'));
});

test('a browse resolves instances from answers and additionals, across packets', () => {
  const pool = new DiscoveryRecords();
  const [ptr, srv, txt, a] = serviceRecords(name, 5541, '10.0.0.12');
  pool.add(wire([ptr!], [srv!, txt!]));
  assert.deepEqual(pool.instances(), [], 'no address yet');
  assert.equal(pool.resolved(new Set([name])), false);
  pool.add(wire([a!, { ...a!, data: '2001:db8::12', type: 'AAAA' }, { ...a!, data: 'fe80::1', type: 'AAAA' }]));
  assert.deepEqual(pool.instances(), [{ instance: name, port: 5541, addresses: ['10.0.0.12', '2001:db8::12'] }]);
  assert.equal(pool.resolved(new Set([name])), true);
});

test('an instance of another protocol version, a bad port or a foreign name is passed over', () => {
  const pool = new DiscoveryRecords();
  pool.add(wire(serviceRecords(name, 5541, '10.0.0.12', 'v=2')));
  const other = 'a'.repeat(32);
  const [, srv, txt, a] = serviceRecords(other, 5541, '10.0.0.13');
  pool.add(wire([{ ...srv!, data: { port: 0, target: `${other}.local` } } as Answer, txt!, a!]));
  pool.add(wire(serviceRecords('not-a-digest', 5541, '10.0.0.14')));
  pool.add(wire([{ name: `${other}.example.com`, type: 'A', data: '10.0.0.15' }]));
  assert.deepEqual(pool.instances(), []);
});

test('whatever the network sends, the pool keeps at most its bounds', () => {
  const pool = new DiscoveryRecords();
  for (let i = 0; i < DISCOVERY_RECORD_LIMITS.instances + 20; i++) {
    const instance = i.toString(16).padStart(32, '0');
    pool.add(wire(serviceRecords(instance, 5541, `10.0.${i >> 8}.${i & 255}`)));
  }
  assert.equal(pool.instances().length, DISCOVERY_RECORD_LIMITS.instances);
  const many: Answer[] = [];
  for (let i = 0; i < 40; i++) many.push({ name: `${name}.local`, type: 'A', data: `10.1.0.${i}` });
  const one = new DiscoveryRecords();
  one.add(wire(serviceRecords(name, 5541, '10.1.1.1'), many));
  assert.equal(one.instances()[0]?.addresses.length, DISCOVERY_RECORD_LIMITS.addressesPerHost);
});

test('a lost device is browsed for at once, then at most once per interval, backing off to the cap', () => {
  const s = new BrowseSchedule(10_000, 40_000);
  assert.equal(s.nextDueAt(), undefined);
  s.lost('A', 0);
  assert.deepEqual(s.due(0), ['A']);
  s.browsed('A', 0);
  s.lost('A', 500); // failing again changes nothing
  assert.deepEqual(s.due(9_999), []);
  assert.equal(s.nextDueAt(), 10_000);
  s.browsed('A', 10_000);
  assert.equal(s.nextDueAt(), 30_000, 'the interval doubled');
  s.browsed('A', 30_000);
  s.browsed('A', 70_000);
  assert.equal(s.nextDueAt(), 110_000, 'capped at the maximum');
  s.up('A');
  assert.equal(s.nextDueAt(), undefined, 'found: no more browses');
  s.lost('A', 75_000);
  assert.equal(s.nextDueAt(), 80_000, 'lost again soon after a browse: not before the minimum interval');
  s.forget('A');
  assert.equal(s.nextDueAt(), undefined);
});

test('the discovery settings are validated, with the key at fault named', () => {
  assert.deepEqual(validateHubDiscoveryConfig(undefined), defaultHubDiscoveryConfig);
  for (const [bad, key] of [
    [{ minBrowseIntervalMs: 100 }, 'discovery.minBrowseIntervalMs'],
    [{ maxBrowseIntervalMs: 5_000 }, 'discovery.maxBrowseIntervalMs'],
    [{ browseWindowMs: 60_000 }, 'discovery.browseWindowMs'],
    [{ enabled: 1 }, 'discovery.enabled'],
    [{ interface: 'eth0' }, 'discovery.interface'],
  ] as const)
    assert.throws(
      () => validateHubDiscoveryConfig(bad as never),
      (e: unknown) => hasCode(e, 'HUB_CONFIG_INVALID') && (e as { key: string }).key === key,
    );
});

test('the hub browses only on its own interface on the network the device was last seen on', () => {
  const interfaces = {
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true }],
    eth0: [{ address: '192.168.1.10', netmask: '255.255.255.0', family: 'IPv4', internal: false }],
    eth1: [{ address: '10.20.0.1', netmask: '255.255.0.0', family: 'IPv4', internal: false }],
  } as unknown as Parameters<typeof interfaceReaching>[1];
  assert.equal(interfaceReaching('127.0.0.1', interfaces), '127.0.0.1');
  assert.equal(interfaceReaching('127.4.5.6', interfaces), '127.0.0.1');
  assert.equal(interfaceReaching('192.168.1.77', interfaces), '192.168.1.10');
  assert.equal(interfaceReaching('10.20.33.4', interfaces), '10.20.0.1');
  assert.equal(interfaceReaching('172.16.0.9', interfaces), undefined, 'no network of the hub reaches it: no browse');
  assert.equal(interfaceReaching('fe80::1', interfaces), undefined);
  assert.equal(interfaceReaching('not an address', interfaces), undefined);
});

test("an answer counts only for its sender's address, and nobody else's answer overwrites the device's", () => {
  const pool = new DiscoveryRecords();
  pool.add(wire(serviceRecords(name, 5541, '10.0.0.12')), '10.0.0.12');
  // Another host answers for the same name: a wrong port, its own address, and a third address it points at.
  pool.add(wire(serviceRecords(name, 9, '10.0.0.66')), '10.0.0.66');
  pool.add(wire(serviceRecords(name, 9, '192.0.2.7')), '10.0.0.66');
  const found = pool.instances().filter((i) => i.instance === name);
  assert.deepEqual(
    found.map((i) => [i.port, i.addresses]),
    [
      [5541, ['10.0.0.12']],
      [9, ['10.0.0.66']],
    ],
    "the device's own answer stands; the other host can name only itself (the pinned key then refuses it)",
  );
});
