// The device's small MQTT client (src/mqtt) against the real embedded broker: QoS 1 publishes
// complete on the PUBACK, subscriptions deliver and are acknowledged, a refused or impostor
// broker never says 'connect', and a publish outstanding when the broker goes away fails
// MQTT_CLOSED after 'close' (the cloud link's outbox sends it again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  startEmbeddedBroker,
  factoryIssuer,
  createTestCa,
  certificateIssuer,
  type EmbeddedBroker,
  type CertificateWithKey,
} from '../../src/cloud/index.ts';
import { connectMqtt, type MqttClient, type MqttClientOptions } from '../../src/mqtt/index.ts';
import { makeUnits } from './support.ts';

let broker: EmbeddedBroker;
let caPem: string;
let device: CertificateWithKey;
let service: CertificateWithKey;
let serial: string;
const open: MqttClient[] = [];

before(async () => {
  const fleet = await makeUnits('plug', 1);
  serial = fleet.units[0]!.serial;
  const issuer = await factoryIssuer(fleet.factoryDir);
  caPem = issuer.caCertPem;
  // The plug connects with an operational certificate, as an enrolled unit does: birth ones only enrol.
  const operational = await createTestCa('Test Operational CA');
  device = await (await certificateIssuer(operational.certPem, operational.keyPem)).issueClient(serial);
  service = await issuer.issueClient('bulwark-cloud-1');
  const server = await issuer.issueServer(['localhost']);
  broker = await startEmbeddedBroker({
    caCertPem: caPem,
    issuingCaPems: [operational.certPem],
    certPem: server.certPem,
    keyPem: server.keyPem,
    config: { port: 0 },
  });
});
after(async () => {
  for (const c of open) c.end(true);
  await broker.close();
});

function options(who: CertificateWithKey, clientId: string, more: Partial<MqttClientOptions> = {}): MqttClientOptions {
  return {
    host: '127.0.0.1',
    port: broker.port,
    ca: caPem,
    cert: who.certPem,
    key: who.keyPem,
    clientId,
    keepaliveSeconds: 30,
    connectTimeoutMs: 5_000,
    ...more,
  };
}

async function connected(o: MqttClientOptions): Promise<MqttClient> {
  const c = connectMqtt(o);
  open.push(c);
  await Promise.race([
    once(c, 'connect'),
    once(c, 'close').then(() => {
      throw new Error('closed before CONNACK');
    }),
  ]);
  return c;
}

/** Connects and waits for the error and the close; says whether 'connect' ever came. */
async function refused(o: MqttClientOptions): Promise<{ up: boolean; err: Error & { code?: string } }> {
  const c = connectMqtt(o);
  open.push(c);
  let up = false;
  c.on('connect', () => {
    up = true;
  });
  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  const [err] = (await once(c, 'error')) as [Error & { code?: string }];
  await closed;
  return { up, err };
}

test('a QoS 1 publish completes on the PUBACK and reaches a subscriber, which acknowledges it', async () => {
  const cloud = await connected(options(service, 'bulwark-cloud-1'));
  const got: Array<[string, string]> = [];
  cloud.on('message', (topic, payload) => got.push([topic, payload.toString()]));
  await new Promise<void>((resolve, reject) =>
    cloud.subscribe(['devices/+/telemetry'], 1, (err) => (err ? reject(err) : resolve())),
  );
  const plug = await connected(options(device, serial));
  for (let i = 0; i < 50; i++) {
    await new Promise<void>((resolve, reject) =>
      plug.publish(`devices/${serial}/telemetry`, Buffer.from(`{"seq":${i}}`), 1, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  for (let i = 0; i < 100 && got.length < 50; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(got.length, 50);
  assert.deepEqual(got[49], [`devices/${serial}/telemetry`, '{"seq":49}']);
  // A subscription outside the device's own topics is refused by the broker: the callback says so.
  const refused = await new Promise<Error | undefined>((resolve) =>
    plug.subscribe(['devices/OTHER/commands'], 1, resolve),
  );
  assert.equal((refused as { code?: string } | undefined)?.code, 'MQTT_REFUSED');
  plug.end();
  cloud.end();
});

test("a client id other than the certificate's CN is refused: MQTT_REFUSED, then close, never connect", async () => {
  const { up, err } = await refused(options(device, 'PLG-SOMEONEELSE'));
  assert.equal(up, false);
  assert.equal(err.code, 'MQTT_REFUSED');
});

test('a broker whose certificate is not from the pinned CA is never connected to', async () => {
  const other = await createTestCa('Impostor CA');
  const impostorServer = await (await certificateIssuer(other.certPem, other.keyPem)).issueServer(['localhost']);
  const impostor = await startEmbeddedBroker({
    caCertPem: caPem,
    certPem: impostorServer.certPem,
    keyPem: impostorServer.keyPem,
    config: { port: 0 },
  });
  try {
    const { up, err } = await refused({ ...options(device, serial), port: impostor.port });
    assert.equal(up, false);
    assert.match(String(err.code), /CERT|SIGNATURE|ISSUER|SELF_SIGNED|UNABLE/);
  } finally {
    await impostor.close();
  }
});

test(
  'a publish still waiting for its PUBACK when the connection drops fails MQTT_CLOSED, after close; ' +
    'publishing while closed fails too',
  async () => {
    const plug = await connected(options(device, serial));
    const events: string[] = [];
    plug.on('close', () => events.push('close'));
    // Cut the connection from under the client with the PUBACK not yet received.
    const failed = new Promise<string | undefined>((resolve) =>
      plug.publish(`devices/${serial}/telemetry`, Buffer.from('{"seq":1}'), 1, (err) => {
        events.push('callback');
        resolve((err as { code?: string } | undefined)?.code);
      }),
    );
    plug.end(true);
    assert.equal(await failed, 'MQTT_CLOSED');
    assert.deepEqual(events, ['close', 'callback']);
    const later = await new Promise<string | undefined>((resolve) =>
      plug.publish('x', Buffer.alloc(0), 1, (err) => resolve((err as { code?: string } | undefined)?.code)),
    );
    assert.equal(later, 'MQTT_CLOSED');
  },
);
