// Helpers test/hub/discovery.test.ts runs inside a network namespace (`ip netns exec <ns> node this-file ...`):
//   impostor <host> <port> <sha256 hex pin>: a channel server on a key of its own, advertised under the digest of
//     another unit's pin (what a thief on the network would claim); prints {"event":"listening"} when up.
//   garbage <device host>: sends malformed mDNS packets to the group, then a one-shot (legacy unicast) query for the
//     service, and prints the instance names answered, as one JSON line.
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { createChannelServer } from '../../src/channel/index.ts';
import { createHubIdentity } from '../../src/hub/index.ts';
import { startAdvertiser } from '../../src/device/advertiser.ts';
import { validateAdvertiserConfig } from '../../src/device/advertiser-config.ts';

const [role, host = '', port = '5541', pinHex = ''] = process.argv.slice(2);

async function impostor(): Promise<void> {
  const stranger = await createHubIdentity('Impostor');
  const server = await createChannelServer<string>({
    key: stranger.key,
    cert: stranger.cert,
    host,
    port: Number(port),
    pinnedPeer: () => 'anyone',
    onConnection: (conn) => void conn.close('impostor'),
  });
  const pin = Buffer.from(pinHex, 'hex');
  const advertiser = await startAdvertiser({
    channelPin: () => pin,
    host,
    port: server.port,
    config: validateAdvertiserConfig({}),
    log: (m) => process.stderr.write(m + '\n'),
  });
  process.stdout.write(JSON.stringify({ event: 'listening', port: server.port }) + '\n');
  process.once('SIGTERM', () => {
    void Promise.all([advertiser.close(), server.close('shutdown')]).then(() => process.exit(0));
  });
}

async function garbage(): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const send = (bytes: Buffer, to: string, toPort: number): Promise<void> =>
    new Promise((resolve, reject) => socket.send(bytes, toPort, to, (err) => (err ? reject(err) : resolve())));
  const malformed = [
    Buffer.alloc(0),
    Buffer.from([0, 0, 0, 0, 0, 1]),
    Buffer.from('ffffffffffffffffffffffff', 'hex'),
    // A question whose name is a compression pointer to itself.
    Buffer.from('000000000001000000000000c00c000c0001', 'hex'),
    Buffer.alloc(9_000, 0x41),
  ];
  for (const bytes of malformed) await send(bytes, '224.0.0.251', 5353);
  const answered = new Promise<string[]>((resolve) => {
    const timer = setTimeout(() => resolve([]), 5_000);
    socket.on('message', (message) => {
      const packet = dnsPacket.decode(message);
      clearTimeout(timer);
      resolve((packet.answers ?? []).map((a) => (a.type === 'PTR' ? a.data : '')));
    });
  });
  const query = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: '_bulwark._tcp.local', type: 'PTR' }] });
  await send(query, host, 5353);
  process.stdout.write(JSON.stringify({ event: 'answered', names: await answered }) + '\n');
  socket.close();
}

await (role === 'impostor' ? impostor() : garbage());
