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
  responderFor,
  responseTo,
  SERVICE_TYPE,
  SERVICE_ENUMERATION,
} from './advertiser-records.ts';
import { defaultAdvertiserConfig, MDNS_GROUP, MDNS_PORT, validateAdvertiserConfig } from './advertiser-config.ts';
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

const limits = {
  maxAnswersPerSecond: 3,
  maxAnswersPerSourcePerSecond: 3,
  maxTrackedSources: 64,
  minAnswerIntervalMs: 1_000,
};
const browse = (): Packet => wire({ id: 7, questions: [{ name: SERVICE_TYPE, type: 'PTR' }] });

test('answers are bounded: per second overall, and the same multicast answer once per interval', () => {
  const budget = new AnswerBudget(limits);
  const key = answerKey(answersFor(browse(), service)!);
  assert.equal(budget.take('192.0.2.1', key, 0), true);
  assert.equal(budget.take('192.0.2.2', key, 500), false, 'the same answer within a second');
  assert.equal(budget.take('192.0.2.2', undefined, 600), true);
  assert.equal(budget.take('192.0.2.3', undefined, 700), true);
  assert.equal(budget.take('192.0.2.4', undefined, 800), false, 'three a second at most, whoever asks');
  assert.equal(budget.take('192.0.2.4', key, 1_100), true, 'a second later both bounds allow it');
});

test("one source asking without end does not stop another source's query being answered", () => {
  const budget = new AnswerBudget(defaultAdvertiserConfig);
  const flooder = { address: '192.168.1.66', unicast: true };
  const hub = { address: '192.168.1.20', unicast: true };
  const flood = Array.from({ length: 1_000 }, (_, i) => responseTo(browse(), flooder, service, budget, i / 2));
  const answered = flood.filter((r) => r !== 'limited').length;
  assert.equal(answered, defaultAdvertiserConfig.maxAnswersPerSourcePerSecond, 'the flooder gets its own share only');
  const reply = responseTo(browse(), hub, service, budget, 400);
  assert.ok(reply && reply !== 'limited', "the hub's query within the same second is answered");
  assert.equal((reply.answers?.[0] as { data?: unknown }).data, `${service.instance}.${SERVICE_TYPE}`);
});

test('many sources together get at most the overall ceiling a second', () => {
  const budget = new AnswerBudget({ ...limits, maxAnswersPerSecond: 5, maxAnswersPerSourcePerSecond: 2 });
  const taken = Array.from({ length: 20 }, (_, i) => budget.take(`10.0.0.${i}`, undefined, i)).filter(Boolean);
  assert.equal(taken.length, 5);
  assert.equal(budget.take('10.0.0.99', undefined, 1_000), true, 'the next second, a new source is answered');
});

test('at most maxTrackedSources are counted; the one heard from longest ago is forgotten, not a flooder', () => {
  const budget = new AnswerBudget({
    ...limits,
    maxAnswersPerSecond: 100,
    maxAnswersPerSourcePerSecond: 2,
    maxTrackedSources: 2,
  });
  const [a, b, c] = ['10.0.0.1', '10.0.0.2', '10.0.0.3'] as const;
  assert.equal(budget.take(a, undefined, 0), true);
  assert.equal(budget.take(a, undefined, 1), true);
  assert.equal(budget.take(a, undefined, 2), false, 'a has used its share');
  assert.equal(budget.take(b, undefined, 3), true);
  assert.equal(budget.take(a, undefined, 4), false, 'a asks again: it is the newest heard');
  assert.equal(budget.take(c, undefined, 5), true, 'c replaces b, heard from longest ago');
  assert.equal(budget.take(a, undefined, 6), false, 'a, still counted, is still held back');
  assert.equal(budget.take(b, undefined, 7), true);
  assert.equal(budget.take(b, undefined, 8), true, 'b was forgotten: it starts again from nothing');
});

test('a one-shot resolver gets a unicast answer with its id and questions and no cache-flush bits', () => {
  const budget = new AnswerBudget(defaultAdvertiserConfig);
  const unicast = responseTo(browse(), { address: '192.0.2.9', unicast: true }, service, budget, 0);
  assert.ok(unicast && unicast !== 'limited');
  assert.equal(unicast.id, 7);
  assert.deepEqual(unicast.questions, browse().questions);
  assert.ok([...unicast.answers!, ...unicast.additionals!].every((r) => !(r as { flush?: boolean }).flush));
  const multicast = responseTo(browse(), { address: '192.0.2.9', unicast: false }, service, budget, 0);
  assert.ok(multicast && multicast !== 'limited');
  assert.equal(multicast.questions, undefined, 'a multicast answer repeats no question');
  assert.ok(
    multicast.additionals!.some((r) => (r as { flush?: boolean }).flush),
    'unique records flush caches',
  );
  const other = wire({ questions: [{ name: '_http._tcp.local', type: 'PTR' }] });
  assert.equal(responseTo(other, { address: '192.0.2.9', unicast: true }, service, budget, 0), undefined);
});

test('a host flooding the unit with queries leaves the hub its answer; off-link and garbage get none', () => {
  const counts = { queries: 0, answered: 0, limited: 0, malformed: 0, offLink: 0 };
  const lan = { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', internal: false } as const;
  const iface = { ...lan, mac: '02:00:00:00:00:01', cidr: '192.168.1.20/24' } as const;
  const config = defaultAdvertiserConfig;
  const unit = { channelPin: () => pin, host: lan.address, port: 5541, iface: lan.address, config, counts };
  const respond = responderFor(dnsPacket, { ...unit, interfaces: () => [iface] });
  const query = dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: SERVICE_TYPE, type: 'PTR' }] });
  const started = performance.now();
  const flood = Array.from({ length: 200 }, () => respond(query, { address: '192.168.1.66', port: 40_000 }));
  const seconds = Math.ceil((performance.now() - started) / 1_000);
  const answered = flood.filter((d) => d !== undefined).length;
  assert.ok(answered <= config.maxAnswersPerSourcePerSecond * seconds, `${answered} answers to the flooder`);
  const toHub = respond(query, { address: '192.168.1.10', port: 41_000 });
  assert.deepEqual([toHub?.address, toHub?.port], ['192.168.1.10', 41_000], 'the hub is answered, by unicast');
  const reply = dnsPacket.decode(Buffer.from(toHub!.bytes));
  assert.equal(reply.id, 9);
  assert.equal((reply.answers?.[0] as { data?: unknown }).data, `${service.instance}.${SERVICE_TYPE}`);
  const multicast = respond(query, { address: '192.168.1.11', port: MDNS_PORT });
  assert.deepEqual([multicast?.address, multicast?.port], [MDNS_GROUP, MDNS_PORT], 'a port-5353 querier: the group');
  assert.equal(respond(query, { address: '10.0.0.1', port: 40_000 }), undefined, 'off the link');
  assert.throws(() => respond(Buffer.from([1, 2, 3]), { address: '192.168.1.66', port: 40_000 }));
  assert.equal(counts.offLink, 1);
  assert.equal(counts.limited, 200 - answered);
  assert.equal(counts.answered, answered + 2);
});

test('the advertising settings are validated, with the key at fault named', () => {
  assert.equal(validateAdvertiserConfig(undefined).enabled, true, 'on by default');
  assert.equal(validateAdvertiserConfig({ enabled: false }).enabled, false);
  for (const [bad, key] of [
    [{ minAnswerIntervalMs: 10 }, 'advertise.minAnswerIntervalMs'],
    [{ maxAnswersPerSecond: 0 }, 'advertise.maxAnswersPerSecond'],
    [{ maxAnswersPerSecond: 5, maxAnswersPerSourcePerSecond: 6 }, 'advertise.maxAnswersPerSourcePerSecond'],
    [{ maxTrackedSources: 0 }, 'advertise.maxTrackedSources'],
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
