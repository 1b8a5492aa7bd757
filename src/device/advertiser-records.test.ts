import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import {
  AnswerBudget,
  addressesToAdvertise,
  answerKey,
  answersFor,
  fromOwnLink,
  instanceNameOf,
  SERVICE_TYPE,
  SERVICE_ENUMERATION,
} from './advertiser-records.ts';
import { validateAdvertiserConfig } from './advertiser-config.ts';
import { advertisingInterface } from './advertiser.ts';
import { hasCode } from '../errors/index.ts';

const pin = createHash('sha256').update(randomBytes(91)).digest();
const service = { instance: instanceNameOf(pin), port: 5541, addresses: ['192.0.2.7', '2001:db8::7'] };

/** A query as it comes off the wire: encoded and decoded by the library the advertiser uses. */
function wire(packet: Packet): Packet {
  return dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 0, ...packet }));
}

test('the instance name is the first 16 bytes of the channel pin in hex, and nothing else', () => {
  assert.equal(service.instance, pin.subarray(0, 16).toString('hex'));
  assert.match(service.instance, /^[0-9a-f]{32}$/);
  assert.throws(() => instanceNameOf(new Uint8Array(8)), RangeError);
});

test('a browse gets the pointer, with SRV, TXT (only the version) and the addresses as additionals', () => {
  const set = answersFor(wire({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }), service)!;
  assert.deepEqual(
    set.answers.map((a) => [a.type, a.data]),
    [['PTR', `${service.instance}.${SERVICE_TYPE}`]],
  );
  const byType = new Map(set.additionals.map((a) => [a.type, a]));
  assert.deepEqual(byType.get('SRV')?.data, {
    priority: 0,
    weight: 0,
    port: 5541,
    target: `${service.instance}.local`,
  });
  assert.deepEqual(byType.get('TXT')?.data, ['v=1']);
  assert.equal(byType.get('A')?.data, '192.0.2.7');
  assert.equal(byType.get('AAAA')?.data, '2001:db8::7');
  // The answer encodes, and decodes back to the same records (the hub reads it with the same library).
  const decoded = dnsPacket.decode(dnsPacket.encode({ type: 'response', ...set }));
  assert.equal(decoded.answers?.length, 1);
  assert.equal(decoded.additionals?.length, 4);
});

test('every record is named by the service type or the key digest: no host name, serial or model', () => {
  // dns-packet's types lack ANY, which it encodes all the same.
  const set = answersFor(wire({ questions: [{ name: SERVICE_TYPE, type: 'ANY' as 'PTR' }] }), service)!;
  const names = [...set.answers, ...set.additionals].map((a) => a.name);
  for (const name of names) assert.ok(name === SERVICE_TYPE || name.startsWith(service.instance), name);
});

test('names are matched without regard to case, and a resolve of the instance or its host is answered', () => {
  const fqdn = `${service.instance}.${SERVICE_TYPE}`.toUpperCase();
  const srv = answersFor(wire({ questions: [{ name: fqdn, type: 'SRV' }] }), service)!;
  assert.deepEqual(
    srv.answers.map((a) => a.type),
    ['SRV'],
  );
  assert.deepEqual(srv.additionals.map((a) => a.type).sort(), ['A', 'AAAA']);
  const a = answersFor(wire({ questions: [{ name: `${service.instance}.local`, type: 'A' }] }), service)!;
  assert.deepEqual(
    a.answers.map((r) => r.data),
    ['192.0.2.7'],
  );
  const enumeration = answersFor(wire({ questions: [{ name: SERVICE_ENUMERATION, type: 'PTR' }] }), service)!;
  assert.equal(enumeration.answers[0]?.data, SERVICE_TYPE);
});

test('a query for anything else, or for another instance, gets no answer', () => {
  assert.equal(answersFor(wire({ questions: [{ name: '_http._tcp.local', type: 'PTR' }] }), service), undefined);
  const other = `${'0'.repeat(32)}.${SERVICE_TYPE}`;
  assert.equal(answersFor(wire({ questions: [{ name: other, type: 'SRV' }] }), service), undefined);
  assert.equal(answersFor({ questions: [{ name: 42, type: 'PTR' }] } as unknown as Packet, service), undefined);
  assert.equal(answersFor({}, service), undefined);
});

test('a querier that already holds the pointer with half its life left is not answered again (known answer)', () => {
  const fresh = answersFor(wire({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }), service)!;
  const ptr = fresh.answers[0]!;
  const known = wire({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }], answers: [{ ...ptr, ttl: 4_000 }] });
  assert.equal(answersFor(known, service), undefined);
  const stale = wire({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }], answers: [{ ...ptr, ttl: 100 }] });
  assert.equal(answersFor(stale, service)?.answers.length, 1);
});

test('a wildcard host advertises the outside addresses, never IPv6 link-local; a given host only itself', () => {
  const interfaces = [
    { address: '127.0.0.1', family: 'IPv4', internal: true },
    { address: '10.1.2.3', family: 'IPv4', internal: false },
    { address: 'fe80::1', family: 'IPv6', internal: false },
    { address: 'fd00::3', family: 'IPv6', internal: false },
  ];
  assert.deepEqual(addressesToAdvertise('0.0.0.0', interfaces), ['10.1.2.3']);
  assert.deepEqual(addressesToAdvertise('::', interfaces), ['10.1.2.3', 'fd00::3']);
  assert.deepEqual(addressesToAdvertise('10.9.9.9', interfaces), ['10.9.9.9']);
  assert.deepEqual(addressesToAdvertise('0.0.0.0', [interfaces[0]!]), ['127.0.0.1'], 'loopback only when alone');
  assert.deepEqual(addressesToAdvertise('not-an-address', interfaces), []);
});

test('answers are bounded: per second overall, and the same multicast answer once per interval', () => {
  const budget = new AnswerBudget(3, 1_000);
  const key = answerKey(answersFor(wire({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }), service)!);
  assert.equal(budget.take(key, 0), true);
  assert.equal(budget.take(key, 500), false, 'the same answer within a second');
  assert.equal(budget.take(undefined, 600), true);
  assert.equal(budget.take(undefined, 700), true);
  assert.equal(budget.take(undefined, 800), false, 'three a second at most');
  assert.equal(budget.take(key, 1_100), true, 'a second later both bounds allow it');
});

test('the advertising settings are validated, with the key at fault named', () => {
  assert.equal(validateAdvertiserConfig(undefined).enabled, true, 'on by default');
  assert.equal(validateAdvertiserConfig({ enabled: false }).enabled, false);
  for (const [bad, key] of [
    [{ minAnswerIntervalMs: 10 }, 'advertise.minAnswerIntervalMs'],
    [{ maxAnswersPerSecond: 0 }, 'advertise.maxAnswersPerSecond'],
    [{ enabled: 'yes' }, 'advertise.enabled'],
    [{ port: 1 }, 'advertise.port'],
  ] as const)
    assert.throws(
      () => validateAdvertiserConfig(bad as never),
      (e: unknown) => hasCode(e, 'DEVICE_CONFIG_INVALID') && (e as { key: string }).key === key,
    );
});

test('a unit listening on one address answers on that interface only, a wildcard on every one', () => {
  assert.equal(advertisingInterface('127.0.0.1'), '127.0.0.1');
  assert.equal(advertisingInterface('127.0.0.2'), '127.0.0.1');
  assert.equal(advertisingInterface('10.77.0.2'), '10.77.0.2');
  assert.equal(advertisingInterface('0.0.0.0'), undefined);
  assert.equal(advertisingInterface('::'), undefined);
});

test("a query is answered only from the unit's own link: loopback, or the subnet of the interface it serves", () => {
  const interfaces = [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' },
    { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4' },
    { address: '10.9.0.2', netmask: '255.255.0.0', family: 'IPv4' },
  ];
  assert.equal(fromOwnLink('192.168.1.7', undefined, interfaces), true);
  assert.equal(fromOwnLink('10.9.44.1', undefined, interfaces), true);
  assert.equal(fromOwnLink('127.0.0.1', undefined, interfaces), true);
  assert.equal(fromOwnLink('203.0.113.9', undefined, interfaces), false, 'a far (or spoofed far) source');
  assert.equal(fromOwnLink('10.9.44.1', '192.168.1.20', interfaces), false, 'another interface than the one it serves');
  assert.equal(fromOwnLink('192.168.1.7', '192.168.1.20', interfaces), true);
  assert.equal(fromOwnLink('127.0.0.5', '127.0.0.1', interfaces), true);
  assert.equal(fromOwnLink('127.0.0.5', '192.168.1.20', interfaces), false);
  assert.equal(fromOwnLink('fe80::1', undefined, interfaces), false);
});
