// One RabbitMQ 3.10 node (Debian's), configured by writeRabbitmqConfig and started as its own process
// on its own ports, epmd, cookie and folders, with the Bulwark cloud's authorizer answering its HTTP
// auth backend; real TLS clients (the project's MQTT client for the device, mqtt.js for the rest):
// a device with its certificate publishes its telemetry to the cloud's quorum-queue session; it cannot
// publish or subscribe to another device's topics; a client id other than its CN is refused without
// disturbing the device that holds it; a certificate plus a user name and password is refused; a
// revoked unit is refused. The node is stopped and its folder removed, with no beam.smp or epmd left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type MqttClient as MqttJsClient } from 'mqtt';
import {
  RevocationList,
  connectMqtt,
  describeRevocation,
  factoryIssuer,
  startRabbitmqAuthorizer,
  writeRabbitmqConfig,
  type CertificateIssuer,
  type MqttClient,
  type RabbitmqAuthorizer,
} from '../../src/cloud/index.ts';
import { ConnectionJournal } from '../../src/journal/index.ts';
import {
  createCertificateAuthority,
  issueServerCertificate,
  loadCaSigner,
  type ProvisionedUnit,
} from '../../src/identity/index.ts';
import { deviceMqttOptions, freePort, makeUnits, waitFor } from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';
import {
  makeCookieHome,
  processesMatching,
  startEpmd,
  startRabbitmqNode,
  type TestEpmd,
  type TestRabbitmqNode,
} from '../support/rabbitmq.ts';

const STEP_MS = 10_000;
/** Each test's bound; the node's start (up to two minutes on a loaded machine) is the before hook's. */
const TEST_MS = 60_000;

let work: string;
let units: ProvisionedUnit[];
let caPem: string;
let issuer: CertificateIssuer;
let home: string;
let cloudIdentity: { cert: string; key: string };
let journal: ConnectionJournal;
let authorizer: RabbitmqAuthorizer;
let epmd: TestEpmd | undefined;
let node: TestRabbitmqNode | undefined;
const revocations = new RevocationList();
const clients: Array<MqttJsClient | MqttClient> = [];
const logLines: string[] = [];

before(
  async () => {
    if (!toolAvailable('rabbitmq-server')) return;
    const made = await makeUnits('plug', 3);
    work = made.work;
    units = made.units;
    issuer = await factoryIssuer(made.factoryDir);
    caPem = issuer.caCertPem;
    const service = await issuer.issueClient('bulwark-cloud-1');
    cloudIdentity = { cert: service.certPem, key: service.keyPem };
    revocations.replace([
      { kind: 'unit', serial: units[2]!.serial, fingerprint: null, reason: 'stolen', by: 'cli', revokedAt: Date.now() },
    ]);
    journal = await ConnectionJournal.open({ stateDir: join(work, 'journal'), privacyClass: 'standard' });
    authorizer = await startRabbitmqAuthorizer({
      revoked: (cn) => {
        const r = revocations.covering(cn, undefined);
        return r === undefined ? undefined : describeRevocation(r);
      },
      journal,
      log: (line) => logLines.push(line),
    });
    const written = await writeRabbitmqConfig({
      outDir: join(work, 'rabbitmq'),
      caCertPem: caPem,
      server: await issuer.issueServer(['localhost']),
      settings: {
        authorizerUrl: authorizer.url,
        nodes: [
          {
            name: 'bulwark1',
            host: 'localhost',
            mqttPort: await freePort(),
            amqpPort: await freePort(),
            distPort: await freePort(),
            dataDir: join(work, 'data1'),
          },
        ],
      },
    });
    epmd = await startEpmd();
    home = await makeCookieHome(work);
    node = await startRabbitmqNode({ node: written.nodes[0]!, home, epmdPort: epmd.port });
  },
  { timeout: 240_000 },
);

after(
  async () => {
    for (const c of clients) c.end(true);
    const vm = epmd === undefined ? undefined : ['beam.smp', `-epmd_port ${epmd.port}`];
    // The check at the end must be able to fail: it finds the running VM first.
    const running = vm === undefined || node === undefined ? [] : await processesMatching(...vm);
    try {
      await node?.stop();
      await epmd?.stop();
      await authorizer?.close();
      await journal?.close();
    } finally {
      if (work) await rm(work, { recursive: true, force: true });
    }
    if (vm !== undefined && node !== undefined) {
      assert.equal(running.length, 1, 'the node was running');
      assert.deepEqual(await processesMatching(...vm), [], 'no RabbitMQ VM is left');
      assert.deepEqual(await processesMatching('epmd', `-port ${epmd!.port}`), [], 'no epmd is left');
    }
  },
  { timeout: 90_000 },
);

/** mqtt.js options with a unit's certificate (or the cloud's), on the node's MQTT listener. */
async function optionsOf(
  who: ProvisionedUnit | 'cloud',
  extra: mqtt.IClientOptions = {},
): Promise<mqtt.IClientOptions> {
  const base =
    who === 'cloud'
      ? { ca: caPem, ...cloudIdentity, clientId: 'bulwark-cloud-1', protocolVersion: 4 as const, reconnectPeriod: 0 }
      : await deviceMqttOptions(who);
  return { ...base, connectTimeout: STEP_MS, ...extra };
}

/** Connects; resolves with the client on CONNACK 0, or with the error when refused or closed first. */
function attempt(
  options: mqtt.IClientOptions,
  url = node!.node.mqttUrl,
): Promise<{ client: MqttJsClient; error?: Error & { code?: number } }> {
  const client = mqtt.connect(url, options);
  clients.push(client);
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => resolve({ client, error }));
    client.once('close', () => resolve({ client, error: new Error('closed before CONNACK') }));
  });
}

async function connected(options: mqtt.IClientOptions): Promise<MqttJsClient> {
  const { client, error } = await attempt(options);
  if (error) throw error;
  return client;
}

/** Resolves when `client` is no longer connected, or rejects after `ms`. */
async function closes(client: MqttJsClient, ms = STEP_MS): Promise<void> {
  await waitFor(() => !client.connected, ms, 'the broker to close the connection', 25);
}

/** The cloud's session: clean session false, so RabbitMQ keeps its QoS 1 queue (a quorum queue). */
async function cloudSession(received: Array<{ topic: string; payload: string }>): Promise<MqttJsClient> {
  const cloud = await connected(await optionsOf('cloud', { clean: false }));
  cloud.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  await cloud.subscribeAsync('devices/+/telemetry', { qos: 1 });
  return cloud;
}

test(
  "a device with its certificate publishes its telemetry into the cloud's quorum-queue session",
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const received: Array<{ topic: string; payload: string }> = [];
    await cloudSession(received);
    const a = units[0]!;
    const file = (n: string): Promise<string> => readFile(join(a.dir, n), 'utf8');
    // The device's own client, as the cloud link uses it: client id = serial, no user name, no password.
    const device = connectMqtt({
      host: '127.0.0.1',
      port: node!.node.settings.mqttPort,
      ca: await file('ca-cert.pem'),
      cert: await file('device-cert.pem'),
      key: await file('device-key.pem'),
      clientId: a.serial,
      keepaliveSeconds: 60,
      connectTimeoutMs: STEP_MS,
    });
    clients.push(device);
    await new Promise<void>((resolve, reject) => {
      device.once('connect', resolve);
      device.once('close', () => reject(new Error('the device was refused')));
    });
    const payload = JSON.stringify({ t: Date.now(), values: { power: true } });
    await new Promise<void>((resolve, reject) =>
      device.publish(`devices/${a.serial}/telemetry`, Buffer.from(payload), 1, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await waitFor(() => received.some((m) => m.payload === payload), STEP_MS, 'the cloud to receive the telemetry');
    assert.equal(received.find((m) => m.payload === payload)?.topic, `devices/${a.serial}/telemetry`);
    const queues = await node!.rabbitmqctl(['list_queues', '--quiet', '--no-table-headers', 'name', 'type']);
    assert.match(queues, /^mqtt-subscription-bulwark-cloud-1qos1\s+quorum$/m, queues);
  },
);

test("a device can neither publish nor subscribe to another device's topics", { timeout: TEST_MS }, async (t) => {
  if (!needTool(t, 'rabbitmq-server')) return;
  const [a, b] = [units[0]!, units[1]!];
  const received: Array<{ topic: string; payload: string }> = [];
  await cloudSession(received);
  const forger = await connected(await optionsOf(a));
  forger.publish(`devices/${b.serial}/telemetry`, '{"forged":true}', { qos: 1 });
  await closes(forger);
  for (const filter of [`devices/${b.serial}/commands`, 'devices/+/commands', 'devices/*/telemetry', '#']) {
    const reader = await connected(await optionsOf(a));
    // RabbitMQ 3.10 answers a refused subscription by closing the connection (its queue.bind is refused).
    const outcome = await Promise.race([
      reader.subscribeAsync(filter, { qos: 1 }).then(
        (granted) => (granted.every((g) => g.qos === 128) ? 'failure code' : 'granted'),
        () => 'closed',
      ),
      closes(reader).then(() => 'closed'),
    ]);
    assert.notEqual(outcome, 'granted', `subscription to ${filter}`);
  }
  // Its own topics still work, and the forged message never reached the cloud.
  const honest = await connected(await optionsOf(a));
  await honest.publishAsync(`devices/${a.serial}/telemetry`, '{"honest":true}', { qos: 1 });
  await waitFor(() => received.some((m) => m.payload === '{"honest":true}'), STEP_MS, 'the honest message');
  assert.ok(!received.some((m) => m.payload.includes('forged')));
  const refusals = journal.list({ result: 'refused' }).map((e) => `${e.event} ${e.detail ?? ''}`);
  assert.ok(
    refusals.some((r) => r.startsWith('rabbitmq-topic publish-denied')),
    refusals.join('\n'),
  );
  assert.ok(
    refusals.some((r) => r.startsWith('rabbitmq-topic subscribe-denied')),
    refusals.join('\n'),
  );
});

test(
  'a client id other than the certificate CN is refused, and the device holding it stays connected',
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const [a, b] = [units[0]!, units[1]!];
    const holder = await connected(await optionsOf(b));
    const { error } = await attempt(await optionsOf(a, { clientId: b.serial }));
    assert.ok(error, 'refused');
    assert.equal(error.code, 5, 'CONNACK 5: not authorised');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(holder.connected, 'the device that holds the id was not displaced');
    await holder.publishAsync(`devices/${b.serial}/telemetry`, '{"still":true}', { qos: 1 });
    const detail = journal.list({ result: 'refused' }).find((e) => e.event === 'rabbitmq-vhost')?.detail ?? '';
    assert.match(detail, new RegExp(`client-id-mismatch: client id "${b.serial}"`));
  },
);

test(
  'a device certificate that also sends a user name and password is refused, and the password is kept nowhere',
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const a = units[0]!;
    const marker = `pw-${Date.now().toString(36)}-MARKER`;
    for (const username of ['guest', a.serial]) {
      const { error } = await attempt(
        await optionsOf(a, { username, password: username === 'guest' ? 'guest' : marker }),
      );
      assert.ok(error, `${username} with a password is refused`);
      assert.ok(error.code === 4 || error.code === 5, `CONNACK ${String(error.code)}`);
    }
    await journal.flush();
    const stored = await readFile(journal.path, 'utf8');
    assert.equal((stored.match(/password-login/g) ?? []).length >= 2, true, 'both refusals journalled');
    assert.doesNotMatch(stored, new RegExp(marker));
    assert.doesNotMatch(logLines.join('\n'), new RegExp(marker));
    assert.doesNotMatch(node!.log(), new RegExp(marker), "nor in RabbitMQ's own log");
  },
);

test('a revoked unit is refused at login', { timeout: TEST_MS }, async (t) => {
  if (!needTool(t, 'rabbitmq-server')) return;
  const c = units[2]!;
  const { error } = await attempt(await optionsOf(c));
  assert.ok(error, 'refused');
  const entry = journal.list({ result: 'refused' }).find((e) => e.identity === c.serial);
  assert.match(entry?.detail ?? '', /^revoked: unit .* revoked \(stolen\)/);
});

/** A server that answers "allow" to every question: what an attacker on the network would run. */
async function startImpostor(tls: {
  certPem: string;
  privateKeyPem: string;
}): Promise<{ url: string; asked: () => number; close: () => void }> {
  let asked = 0;
  const server = createHttpsServer({ cert: tls.certPem, key: tls.privateKeyPem }, (req, res) => {
    asked += 1;
    req.resume();
    res.end('allow');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, asked: () => asked, close: () => void server.close() };
}

test(
  'over HTTPS a node trusts only the authorizer its CA names: an impostor answering allow lets no one in',
  { timeout: 200_000 },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const authorizerCa = await createCertificateAuthority('authorizer CA');
    const impostorCa = await createCertificateAuthority('impostor CA');
    const certOf = async (ca: typeof authorizerCa) =>
      issueServerCertificate(await loadCaSigner(ca.certPem, ca.privateKeyPem), ['localhost']);
    const genuineCert = await certOf(authorizerCa);
    const genuine = await startRabbitmqAuthorizer({
      revoked: () => undefined,
      journal,
      tls: { certPem: genuineCert.certPem, keyPem: genuineCert.privateKeyPem },
    });
    const impostor = await startImpostor(await certOf(impostorCa));
    try {
      for (const [name, url, admitted] of [
        ['bulwark2', genuine.url, true],
        ['bulwark3', impostor.url, false],
      ] as const) {
        const written = await writeRabbitmqConfig({
          outDir: join(work, name),
          caCertPem: caPem,
          server: await issuer.issueServer(['localhost']),
          authorizerCaPem: authorizerCa.certPem,
          settings: {
            authorizerUrl: url,
            authorizerServerName: 'localhost',
            nodes: [
              {
                name,
                host: 'localhost',
                mqttPort: await freePort(),
                distPort: await freePort(),
                dataDir: join(work, name, 'data'),
              },
            ],
          },
        });
        const other = await startRabbitmqNode({ node: written.nodes[0]!, home, epmdPort: epmd!.port });
        try {
          const { error } = await attempt(await optionsOf(units[0]!), written.nodes[0]!.mqttUrl);
          const outcome = `${name}: ${error?.message ?? 'connected'}`;
          assert.equal(error === undefined, admitted, `${outcome}\n${other.log().slice(-3_000)}`);
        } finally {
          await other.stop();
        }
      }
      assert.ok(genuine.counts().allowed >= 2, 'the genuine authorizer answered the login');
      assert.equal(impostor.asked(), 0, 'no question reached the impostor: its certificate failed the check');
    } finally {
      impostor.close();
      await genuine.close();
    }
  },
);

/** Opens TLS to the node's AMQP listener, sends the AMQP 0-9-1 header and returns what comes back. */
function amqpGreeting(tls: { cert?: string; key?: string }): Promise<{ secured: boolean; text: string }> {
  const port = node!.node.settings.amqpPort!;
  return new Promise((resolve) => {
    let secured = false;
    let text = '';
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost', ...tls });
    const done = (): void => {
      socket.destroy();
      resolve({ secured, text });
    };
    const timer = setTimeout(done, STEP_MS);
    socket.once('secureConnect', () => {
      secured = true;
      socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]));
    });
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (text.includes('en_US')) {
        clearTimeout(timer);
        done();
      }
    });
    socket.once('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

test(
  'the AMQP listener for the cloud instances is TLS with a client certificate and offers EXTERNAL only',
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const withCertificate = await amqpGreeting(cloudIdentity);
    assert.ok(withCertificate.secured, 'the handshake with the cloud certificate succeeds');
    // connection.start names the login mechanisms: the certificate (EXTERNAL), and no password mechanism.
    assert.match(withCertificate.text, /EXTERNAL/);
    assert.doesNotMatch(withCertificate.text, /PLAIN/);
    const without = await amqpGreeting({});
    assert.doesNotMatch(without.text, /EXTERNAL/, 'no greeting without a client certificate');
  },
);
