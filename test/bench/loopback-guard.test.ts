// The loopback guard, in a process of its own (node --test runs each file alone): it patches Node's sockets globally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { installLoopbackGuard, isLoopbackAddress } from '../../bench/peers/loopback-guard.ts';

const record = installLoopbackGuard();

async function boundUdp(type: 'udp4' | 'udp6', bind: (s: dgram.Socket) => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type, reuseAddr: true });
  bind(socket);
  await once(socket, 'listening');
  return socket;
}

test('pins a UDP socket bound to every address onto loopback, IPv4 and IPv6', async () => {
  const v4 = await boundUdp('udp4', (s) => s.bind(0));
  const v6 = await boundUdp('udp6', (s) => s.bind({ port: 0, address: '::' }));
  assert.equal(v4.address().address, '127.0.0.1');
  assert.equal(v6.address().address, '::1');
  v4.close();
  v6.close();
});

test('binds an IPv4 mDNS socket to the mDNS group and joins the group on loopback only', async () => {
  const mdns = await boundUdp('udp4', (s) => s.bind(5353));
  mdns.addMembership('224.0.0.251');
  assert.equal(mdns.address().address, '224.0.0.251');
  assert.ok(record.pinned.includes('membership 224.0.0.251 on default -> 127.0.0.1'));
  mdns.close();
});

test('refuses a UDP send to a unicast address off loopback and lets loopback through', async () => {
  const a = await boundUdp('udp4', (s) => s.bind(0));
  const b = await boundUdp('udp4', (s) => s.bind(0));
  const refused = await new Promise<Error | null>((resolve) => a.send('x', 9, '192.0.2.1', resolve));
  assert.match(String(refused), /refused a UDP send to 192\.0\.2\.1/);
  const received = once(b, 'message');
  a.send('hello', b.address().port, '127.0.0.1');
  const [message] = (await received) as [Buffer];
  assert.equal(message.toString(), 'hello');
  a.close();
  b.close();
});

test('pins a TCP server listening on every address to 127.0.0.1', async () => {
  const server = net.createServer();
  server.listen(0);
  await once(server, 'listening');
  assert.equal((server.address() as net.AddressInfo).address, '127.0.0.1');
  server.close();
});

test('refuses a TCP connection off loopback', () => {
  assert.throws(() => net.connect(80, '192.0.2.1'), /refused a TCP connection to 192\.0\.2\.1/);
  assert.ok(record.refused.includes('tcp connect to 192.0.2.1'));
});

test('tells loopback addresses from others', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost'])
    assert.ok(isLoopbackAddress(a), a);
  for (const a of ['0.0.0.0', '::', '192.0.2.1', 'fd00::2', '224.0.0.251']) assert.ok(!isLoopbackAddress(a), a);
});
