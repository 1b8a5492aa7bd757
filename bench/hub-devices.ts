/**
 * Simulated paired devices for the hub benchmark, in their own process (so the hub's thread is
 * measured alone): `node bench/hub-devices.ts <count> <hub pin hex>` starts `count` channel
 * servers on loopback, each with its own key and a plug's power switch, pinning the hub's key.
 * Prints one JSON line per device ({ i, port, pin }) and then {"ready":true}; exits when stdin
 * closes.
 */
import { createChannelServer, pinnedPeers, ChannelRequestError, type ChannelServer } from '../src/channel/index.ts';
import { createHubIdentity } from '../src/hub/index.ts';

const count = Number(process.argv[2] ?? '0');
const hubPin = Buffer.from(process.argv[3] ?? '', 'hex');
if (!Number.isInteger(count) || count < 1 || count > 5_000 || hubPin.length !== 32) {
  process.stderr.write('usage: hub-devices.ts <count 1..5000> <hub pin hex>\n');
  process.exit(2);
}

const servers: ChannelServer<string>[] = [];
const pinned = pinnedPeers([[hubPin, 'hub']]);
for (let i = 0; i < count; i++) {
  const me = await createHubIdentity(`Simulated device ${i}`);
  let power = false;
  const server = await createChannelServer<string>({
    key: me.key,
    cert: me.cert,
    host: '127.0.0.1',
    port: 0,
    pinnedPeer: pinned,
    config: { maxConnections: 4 },
    onConnection: (conn) =>
      conn.onRequest(({ capability, action }) => {
        if (capability === 'link' && action === 'sync') {
          conn.sendEvent('state', power, { capability: 'power' });
          return 1;
        }
        if (capability !== 'power') throw new ChannelRequestError('UNKNOWN_CAPABILITY', 'no such capability');
        if (action === 'on' || action === 'off') power = action === 'on';
        else if (action === 'toggle') power = !power;
        else if (action !== 'get') throw new ChannelRequestError('UNKNOWN_ACTION', 'no such action');
        if (action !== 'get') conn.sendEvent('state', power, { capability: 'power' });
        return power;
      }),
  });
  servers.push(server);
  process.stdout.write(JSON.stringify({ i, port: server.port, pin: me.pin.toString('hex') }) + '\n');
}
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
});
