// Device isolation on both brokers, with real clients (mqtt.js, and Debian's mosquitto_pub and
// mosquitto_sub): a device cannot read or write another's topics, cannot take another's client
// id (and so cannot knock it offline), and only certificates from the manufacturer CA that are
// in date get in. The same tests run against the embedded broker and against a real Mosquitto
// started with the configuration `bulwark cloud broker-config` writes. On the embedded broker a
// device connects with an operational certificate from a test issuing CA (its default lets birth
// certificates only enrol); on this Mosquitto, which no cloud has started yet, with its birth
// certificate, which the device-cas.pem broker-config writes trusts until the cloud rewrites it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import {
  startEmbeddedBroker,
  factoryIssuer,
  createTestCa,
  certificateIssuer,
  type EmbeddedBroker,
  type CertificateWithKey,
} from '../../src/cloud/index.ts';
import { main } from '../../src/cli/main.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, startMosquitto, deviceMqttOptions, freePort, waitFor, type TestMosquitto } from './support.ts';
import { needTool, toolAvailable, type SkippableTest } from '../support/tools.ts';

let work: string;
let A: ProvisionedUnit, B: ProvisionedUnit;
let caPem: string;
let service: CertificateWithKey;
let service2: CertificateWithKey;
let expired: CertificateWithKey;
let foreign: CertificateWithKey;
let embedded: EmbeddedBroker;
let mosquitto: TestMosquitto | undefined;
const files: Record<string, string> = {};
/** Per unit serial, the operational certificate and key files the embedded broker accepts. */
const operational: Record<string, { cert: string; key: string }> = {};
const clients: MqttClient[] = [];

before(async () => {
  const fleet = await makeUnits('plug', 2);
  work = fleet.work;
  [A, B] = fleet.units as [ProvisionedUnit, ProvisionedUnit];
  const issuer = await factoryIssuer(fleet.factoryDir);
  caPem = issuer.caCertPem;
  service = await issuer.issueClient('bulwark-cloud-1');
  service2 = await issuer.issueClient('bulwark-cloud-2');
  expired = await issuer.issueClient(A.serial, {
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  const other = await createTestCa('Counterfeit Devices CA');
  foreign = await (await certificateIssuer(other.certPem, other.keyPem)).issueClient(A.serial);
  const server = await issuer.issueServer(['localhost']);
  const issuing = await createTestCa('Test Operational CA');
  embedded = await startEmbeddedBroker({
    caCertPem: caPem,
    issuingCaPems: [issuing.certPem],
    certPem: server.certPem,
    keyPem: server.keyPem,
    config: { port: 0 },
  });
  const dir = join(work, 'certs');
  await mkdir(dir, { recursive: true });
  for (const [name, c] of Object.entries({ expired, foreign })) {
    await writeFile(join(dir, `${name}-cert.pem`), c.certPem);
    await writeFile(join(dir, `${name}-key.pem`), c.keyPem, { mode: 0o600 });
    files[name] = join(dir, name);
  }
  const operationalIssuer = await certificateIssuer(issuing.certPem, issuing.keyPem);
  for (const unit of [A, B]) {
    const c = await operationalIssuer.issueClient(unit.serial);
    operational[unit.serial] = { cert: join(dir, `${unit.serial}-cert.pem`), key: join(dir, `${unit.serial}-key.pem`) };
    await writeFile(operational[unit.serial]!.cert, c.certPem);
    await writeFile(operational[unit.serial]!.key, c.keyPem, { mode: 0o600 });
  }
  if (toolAvailable('mosquitto')) {
    // The configuration comes from the command itself.
    const out = join(work, 'mosquitto');
    const port = await freePort();
    const code = await main([
      'cloud',
      'broker-config',
      '--factory',
      fleet.factoryDir,
      '--out',
      out,
      '--port',
      String(port),
      '--instances',
      '1,2',
    ]);
    assert.equal(code, 0);
    mosquitto = await startMosquitto({
      factoryDir: fleet.factoryDir,
      dir: out,
      written: { confFile: join(out, 'mosquitto.conf'), settings: { port } },
    });
  }
});

after(async () => {
  for (const c of clients) c.end(true);
  await embedded?.close();
  await mosquitto?.stop();
});

/** Connects with mqtt.js; resolves with the client once connected, or with the error that refused it. */
function connect(url: string, options: mqtt.IClientOptions): Promise<{ client: MqttClient; error?: Error }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4 });
    clients.push(client);
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => resolve({ client, error }));
    client.once('close', () => resolve({ client, error: new Error('closed') }));
  });
}

type BrokerKind = 'embedded' | 'mosquitto';

/** The certificate and key files a unit connects with to this kind of broker (see the header). */
function deviceFiles(kind: BrokerKind, unit: ProvisionedUnit): { cert: string; key: string } {
  if (kind === 'embedded') return operational[unit.serial]!;
  return { cert: join(unit.dir, 'device-cert.pem'), key: join(unit.dir, 'device-key.pem') };
}

async function device(
  kind: BrokerKind,
  url: string,
  unit: ProvisionedUnit,
  clientId = unit.serial,
): Promise<{ client: MqttClient; error?: Error }> {
  const { cert, key } = deviceFiles(kind, unit);
  const options = await deviceMqttOptions(unit, clientId);
  return connect(url, { ...options, cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') });
}

async function cloud(url: string): Promise<MqttClient> {
  const { client, error } = await connect(url, {
    ca: caPem,
    cert: service.certPem,
    key: service.keyPem,
    clientId: 'bulwark-cloud-1',
    clean: true,
  });
  assert.equal(error, undefined, 'the cloud identity connects');
  return client;
}

/** Subscribes; resolves with the SUBACK return codes (128: refused). */
function subscribe(client: MqttClient, topics: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    client.subscribe(topics, { qos: 1 }, (err, granted) => {
      // mqtt.js reports a refusal as an error carrying the SUBACK; otherwise as the granted QoS.
      const suback = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted;
      resolve(suback ?? (granted ?? []).map((g) => g.qos));
    });
  });
}

function collect(client: MqttClient): Array<{ topic: string; payload: string }> {
  const got: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs mosquitto_pub or mosquitto_sub; resolves with exit code and output (bounded by a timeout). */
function cli(
  tool: 'mosquitto_pub' | 'mosquitto_sub',
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tool, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function tlsArgs(port: number, cert: string | undefined, key: string | undefined, id: string): string[] {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '--cafile',
    join(A.dir, 'ca-cert.pem'),
    ...(cert ? ['--cert', cert, '--key', key!] : []),
    '-i',
    id,
    '-V',
    'mqttv311',
  ];
}

for (const kind of ['embedded', 'mosquitto'] as const) {
  describe(`${kind} broker`, () => {
    const url = (): string => (kind === 'embedded' ? embedded.url : mosquitto!.url);
    const port = (): number => (kind === 'embedded' ? embedded.port : mosquitto!.port);
    const available = (t: SkippableTest): boolean => kind === 'embedded' || needTool(t, 'mosquitto');

    test(
      'a device publishes its own telemetry and only the cloud identity receives it',
      { timeout: 30_000 },
      async (t) => {
        if (!available(t)) return;
        const c = await cloud(url());
        const got = collect(c);
        assert.deepEqual(await subscribe(c, ['devices/+/telemetry']), [1]);
        const a = await device(kind, url(), A);
        assert.equal(a.error, undefined);
        await a.client.publishAsync(`devices/${A.serial}/telemetry`, '{"seq":1}', { qos: 1 });
        await waitFor(
          () => got.some((m) => m.topic === `devices/${A.serial}/telemetry`),
          5_000,
          "the cloud to receive A's telemetry",
        );
        a.client.end(true);
        c.end(true);
      },
    );

    test("device A cannot subscribe to device B's topics, by name or by wildcard", { timeout: 30_000 }, async (t) => {
      if (!available(t)) return;
      const a = await device(kind, url(), A);
      const b = await device(kind, url(), B);
      assert.equal(a.error ?? b.error, undefined);
      const granted = await subscribe(a.client, [
        `devices/${B.serial}/commands`,
        `devices/${B.serial}/telemetry`,
        'devices/+/commands',
        '#',
      ]);
      // The embedded broker says no in the SUBACK; Mosquitto grants and then delivers nothing the ACL denies.
      if (kind === 'embedded') assert.deepEqual(granted, [128, 128, 128, 128]);
      assert.deepEqual(await subscribe(b.client, [`devices/${B.serial}/commands`]), [1]);
      const seenByA = collect(a.client),
        seenByB = collect(b.client);
      const c = await cloud(url());
      await c.publishAsync(`devices/${B.serial}/commands`, 'for B only', { qos: 1 });
      await waitFor(() => seenByB.length > 0, 5_000, 'B to get its command');
      await b.client.publishAsync(`devices/${B.serial}/telemetry`, 'B reading', { qos: 1 });
      await sleep(500);
      assert.deepEqual(seenByA, [], "A received nothing of B's");
      for (const x of [a.client, b.client, c]) x.end(true);
    });

    test(
      "device A cannot publish on device B's topics, nor the cloud on a device's",
      { timeout: 30_000 },
      async (t) => {
        if (!available(t)) return;
        const c = await cloud(url());
        const got = collect(c);
        await subscribe(c, ['devices/+/telemetry', 'devices/+/state']);
        const a = await device(kind, url(), A);
        let aClosed = false;
        a.client.on('close', () => {
          aClosed = true;
        });
        a.client.publish(`devices/${B.serial}/telemetry`, 'forged by A', { qos: 1 });
        a.client.publish(`devices/${B.serial}/state`, 'forged by A', { qos: 0 });
        const c2 = await connect(url(), {
          ca: caPem,
          cert: service2.certPem,
          key: service2.keyPem,
          clientId: 'bulwark-cloud-2',
          clean: true,
        });
        assert.equal(c2.error, undefined);
        c2.client.publish(`devices/${A.serial}/telemetry`, 'forged by the cloud', { qos: 0 });
        await sleep(800);
        assert.deepEqual(
          got.filter((m) => m.payload.startsWith('forged')),
          [],
          'nothing forged arrived',
        );
        if (kind === 'embedded')
          assert.ok(aClosed, 'the embedded broker closes a connection that publishes outside its topics');
        a.client.end(true);
        c2.client.end(true);
        c.end(true);
      },
    );

    test("A's certificate with client id B neither connects as B nor disconnects B", { timeout: 30_000 }, async (t) => {
      if (!available(t)) return;
      const b = await device(kind, url(), B);
      assert.equal(b.error, undefined);
      let bClosed = false;
      b.client.on('close', () => {
        bClosed = true;
      });
      await subscribe(b.client, [`devices/${B.serial}/commands`]);
      const seenByB = collect(b.client);
      const impostor = await device(kind, url(), A, B.serial);
      if (kind === 'embedded') assert.match(String(impostor.error?.message), /identifier rejected/i, 'CONNACK 2');
      else {
        // Mosquitto takes the client id from the certificate: the impostor is just A.
        assert.equal(impostor.error, undefined);
        await subscribe(impostor.client, [`devices/${B.serial}/commands`]);
      }
      const seenByImpostor = collect(impostor.client);
      const c = await cloud(url());
      await c.publishAsync(`devices/${B.serial}/commands`, 'still B', { qos: 1 });
      await waitFor(() => seenByB.length > 0, 5_000, 'B to get its command');
      await sleep(300);
      assert.equal(bClosed, false, 'B was not knocked offline');
      assert.ok(b.client.connected);
      assert.deepEqual(seenByImpostor, []);
      for (const x of [b.client, impostor.client, c]) x.end(true);
    });

    test('certificates from another CA, expired ones and none at all are refused', { timeout: 30_000 }, async (t) => {
      if (!available(t)) return;
      for (const [what, o] of [
        ['another CA', { ca: caPem, cert: foreign.certPem, key: foreign.keyPem }],
        ['expired', { ca: caPem, cert: expired.certPem, key: expired.keyPem }],
        ['none', { ca: caPem }],
      ] as const) {
        const r = await connect(url(), { ...o, clientId: A.serial });
        assert.ok(r.error, `${what}: refused`);
        assert.equal(r.client.connected, false, `${what}: not connected`);
      }
    });

    test(
      "mosquitto_pub and mosquitto_sub: the same rules for Debian's command-line clients",
      { timeout: 60_000 },
      async (t) => {
        if (!available(t)) return;
        if (!needTool(t, 'mosquitto-clients')) return;
        const { cert: aCert, key: aKey } = deviceFiles(kind, A);
        const { cert: bCert, key: bKey } = deviceFiles(kind, B);
        const c = await cloud(url());
        const got = collect(c);
        await subscribe(c, ['devices/+/telemetry']);
        // B listens with mosquitto_sub; A tries to listen to B's commands; the cloud sends B a command a few times.
        const bSub = cli('mosquitto_sub', [
          ...tlsArgs(port(), bCert, bKey, B.serial),
          '-t',
          `devices/${B.serial}/commands`,
          '-q',
          '1',
          '-C',
          '1',
          '-W',
          '6',
        ]);
        const aSub = cli('mosquitto_sub', [
          ...tlsArgs(port(), aCert, aKey, A.serial),
          '-t',
          `devices/${B.serial}/commands`,
          '-t',
          'devices/+/commands',
          '-q',
          '1',
          '-C',
          '1',
          '-W',
          '4',
        ]);
        const sender = setInterval(() => {
          c.publish(`devices/${B.serial}/commands`, 'cli command', { qos: 1 });
        }, 300);
        const [bResult, aResult] = await Promise.all([bSub, aSub]);
        clearInterval(sender);
        assert.equal(bResult.code, 0, `B's own subscription works: ${bResult.stderr}`);
        assert.match(bResult.stdout, /cli command/);
        assert.doesNotMatch(aResult.stdout, /cli command/, "A never saw B's command");
        if (kind === 'embedded')
          assert.match(aResult.stderr, /denied/i, 'the embedded broker refuses the subscription in its SUBACK');

        // A publishes on B's telemetry: never reaches the cloud. A on its own: does.
        await cli('mosquitto_pub', [
          ...tlsArgs(port(), aCert, aKey, A.serial),
          '-t',
          `devices/${B.serial}/telemetry`,
          '-m',
          'forged via cli',
          '-q',
          '1',
        ]);
        const own = await cli('mosquitto_pub', [
          ...tlsArgs(port(), aCert, aKey, A.serial),
          '-t',
          `devices/${A.serial}/telemetry`,
          '-m',
          'own via cli',
          '-q',
          '1',
        ]);
        assert.equal(own.code, 0, own.stderr);
        await waitFor(() => got.some((m) => m.payload === 'own via cli'), 5_000, "A's own telemetry");
        assert.ok(!got.some((m) => m.payload === 'forged via cli'), 'the forged message never arrived');

        // A's certificate asking for B's client id does not knock B offline.
        const b = await device(kind, url(), B);
        let bClosed = false;
        b.client.on('close', () => {
          bClosed = true;
        });
        await cli('mosquitto_pub', [
          ...tlsArgs(port(), aCert, aKey, B.serial),
          '-t',
          `devices/${A.serial}/telemetry`,
          '-m',
          'impostor',
          '-q',
          '1',
        ]);
        await sleep(300);
        assert.equal(bClosed, false, 'B stayed connected');

        // Refused outright: another CA, expired, no certificate.
        for (const [what, cert, key] of [
          ['another CA', `${files.foreign}-cert.pem`, `${files.foreign}-key.pem`],
          ['expired', `${files.expired}-cert.pem`, `${files.expired}-key.pem`],
          ['none', undefined, undefined],
        ] as const) {
          const r = await cli('mosquitto_pub', [
            ...tlsArgs(port(), cert, key, A.serial),
            '-t',
            `devices/${A.serial}/telemetry`,
            '-m',
            `from ${what}`,
            '-q',
            '1',
          ]);
          assert.notEqual(r.code, 0, `${what}: mosquitto_pub refused`);
        }
        await sleep(300);
        assert.ok(!got.some((m) => m.payload.startsWith('from ')), 'nothing from refused clients arrived');
        b.client.end(true);
        c.end(true);
      },
    );
  });
}
