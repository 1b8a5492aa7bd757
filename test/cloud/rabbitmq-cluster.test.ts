// A 3-node RabbitMQ 3.10 cluster (Debian's) on loopback, each node its own process group with its own
// name, ports and data folder, one epmd and one cookie made at test time, configured by
// writeRabbitmqConfig (classic_config peers) and answered by the cloud's authorizer in this process.
// Real mqtt.js clients over mutual TLS: a device on any node reaches the cloud's subscriber on node 1;
// on another node a device still reads no other device's topics; a client id other than the CN is
// refused on every node; after a SIGKILL of a device's node the device reconnects to another node and
// its next message reaches the cloud. Every node and the epmd are stopped and the folder removed, with
// no beam.smp, erl_child_setup or epmd left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  factoryIssuer,
  startRabbitmqAuthorizer,
  writeRabbitmqConfig,
  type RabbitmqAuthorizer,
  type WrittenRabbitmqNode,
} from '../../src/cloud/index.ts';
import { ConnectionJournal } from '../../src/journal/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { deviceMqttOptions, freePort, makeUnits, waitFor } from './support.ts';
import { needTool, toolAvailable } from '../support/tools.ts';
import {
  childPids,
  makeCookieHome,
  processesMatching,
  startEpmd,
  startRabbitmqNode,
  type TestEpmd,
  type TestRabbitmqNode,
} from '../support/rabbitmq.ts';

const STEP_MS = 15_000;
/** How long the three nodes get to report one cluster once they are up. */
const CLUSTER_MS = 60_000;
/** How long a device gets to reconnect to another node after its node was killed. */
const FAILOVER_MS = 30_000;
const TEST_MS = 60_000;

interface Received {
  topic: string;
  payload: string;
}

let work: string | undefined;
let units: ProvisionedUnit[];
let caPem: string;
let cloudIdentity: { cert: string; key: string };
let journal: ConnectionJournal | undefined;
let authorizer: RabbitmqAuthorizer | undefined;
let epmd: TestEpmd | undefined;
const nodes: TestRabbitmqNode[] = [];
/** Every VM and erl_child_setup seen while the nodes ran: none may be left at the end. */
const erlangPids = new Set<number>();
const clients: MqttClient[] = [];
const received: Received[] = [];
let cloud: MqttClient | undefined;

/** Starts every node (node 1 first, so the others find a node to join), keeping each that started. */
async function startCluster(written: readonly WrittenRabbitmqNode[], home: string, epmdPort: number): Promise<void> {
  const start = (node: WrittenRabbitmqNode): Promise<TestRabbitmqNode> =>
    startRabbitmqNode({ node, home, epmdPort, readyTimeoutMs: 100_000 });
  nodes.push(await start(written[0]!));
  const rest = await Promise.allSettled(written.slice(1).map(start));
  for (const r of rest) if (r.status === 'fulfilled') nodes.push(r.value);
  const failed = rest.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  for (const n of nodes) {
    const vm = await n.beamPid();
    if (vm === undefined) continue;
    erlangPids.add(vm);
    for (const child of await childPids(vm)) erlangPids.add(child);
  }
}

/** The running nodes node 1 reports, from `rabbitmqctl cluster_status --formatter json`. */
async function runningNodes(): Promise<string[]> {
  const out = await nodes[0]!.rabbitmqctl(['cluster_status', '--formatter', 'json'], STEP_MS);
  const status = JSON.parse(out.slice(out.indexOf('{'))) as { running_nodes?: string[] };
  return [...(status.running_nodes ?? [])].sort();
}

before(
  async () => {
    if (!toolAvailable('rabbitmq-server')) return;
    const made = await makeUnits('plug', 3);
    work = made.work;
    units = made.units;
    const issuer = await factoryIssuer(made.factoryDir);
    caPem = issuer.caCertPem;
    const service = await issuer.issueClient('bulwark-cloud-1');
    cloudIdentity = { cert: service.certPem, key: service.keyPem };
    journal = await ConnectionJournal.open({ stateDir: join(work, 'journal'), privacyClass: 'standard' });
    authorizer = await startRabbitmqAuthorizer({ revoked: () => undefined, journal });
    const settings = [];
    for (const i of [1, 2, 3]) {
      const [mqttPort, distPort] = [await freePort(), await freePort()];
      settings.push({ name: `bulwark${i}`, host: 'localhost', mqttPort, distPort, dataDir: join(work, `data${i}`) });
    }
    const written = await writeRabbitmqConfig({
      outDir: join(work, 'rabbitmq'),
      caCertPem: caPem,
      server: await issuer.issueServer(['localhost']),
      settings: { authorizerUrl: authorizer.url, nodes: settings },
    });
    epmd = await startEpmd();
    await startCluster(written.nodes, await makeCookieHome(work), epmd.port);
    const expected = written.nodes.map((n) => n.nodeName).sort();
    let seen: string[] = [];
    await waitFor(
      async () => {
        seen = await runningNodes().catch(() => []);
        return seen.join() === expected.join();
      },
      CLUSTER_MS,
      `one cluster of ${expected.join(', ')} (last seen: ${seen.join(', ')})`,
      1_000,
    );
    cloud = await cloudSession();
  },
  { timeout: 150_000 },
);

after(
  async () => {
    for (const c of clients) c.end(true);
    try {
      // Together: each stop is bounded (SIGTERM, then SIGKILL of its group after 30 s).
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await epmd?.stop();
      await authorizer?.close();
      await journal?.close();
    } finally {
      if (work) await rm(work, { recursive: true, force: true });
    }
    if (epmd !== undefined && nodes.length > 0) {
      assert.ok(erlangPids.size >= nodes.length * 2, 'the VMs and their erl_child_setup were seen running');
      let left: number[] = [];
      // erl_child_setup ends when it sees its VM gone: a moment after the VM, so the check waits, bounded.
      await waitFor(
        async () => {
          left = [];
          for (const pid of erlangPids) if (await stillRunning(pid)) left.push(pid);
          return left.length === 0;
        },
        10_000,
        'the Erlang processes to end',
        200,
      ).catch(() => undefined);
      assert.deepEqual(left, [], 'no beam.smp or erl_child_setup is left');
      assert.deepEqual(await processesMatching('beam.smp', `-epmd_port ${epmd.port}`), [], 'no RabbitMQ VM is left');
      assert.deepEqual(await processesMatching('epmd', `-port ${epmd.port}`), [], 'no epmd is left');
    }
  },
  { timeout: 120_000 },
);

/**
 * Whether `pid` is still an Erlang process that runs: a zombie (exited, waiting for init to reap it after
 * its VM was killed) has ended, and a pid reused by another program is not ours.
 */
async function stillRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return (comm.startsWith('beam') || comm === 'erl_child_setup') && state !== 'Z';
}

/** mqtt.js options with a unit's certificate (or the cloud's). */
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

/** Connects to node `i` (0-based); resolves on CONNACK 0, or with the error when refused or closed first. */
function attempt(
  i: number,
  options: mqtt.IClientOptions,
): Promise<{ client: MqttClient; error?: Error & { code?: number } }> {
  const client = mqtt.connect(nodes[i]!.node.mqttUrl, options);
  clients.push(client);
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => resolve({ client, error }));
    client.once('close', () => resolve({ client, error: new Error('closed before CONNACK') }));
  });
}

async function connected(i: number, options: mqtt.IClientOptions): Promise<MqttClient> {
  const { client, error } = await attempt(i, options);
  if (error) throw new Error(`node ${i + 1}: ${error.message}`);
  return client;
}

/** The cloud's session on node 1: clean session false, so its QoS 1 queue is a quorum queue. */
async function cloudSession(): Promise<MqttClient> {
  const c = await connected(0, await optionsOf('cloud', { clean: false }));
  c.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  await c.subscribeAsync('devices/+/telemetry', { qos: 1 });
  return c;
}

async function cloudReceives(topic: string, payload: string, ms = STEP_MS): Promise<void> {
  await waitFor(
    () => received.some((m) => m.topic === topic && m.payload === payload),
    ms,
    `the cloud to receive ${payload} on ${topic}`,
  );
}

/** A subscription's outcome: RabbitMQ 3.10 answers a refused one by closing the connection. */
async function subscribeOutcome(client: MqttClient, filter: string): Promise<'granted' | 'refused'> {
  return Promise.race([
    client.subscribeAsync(filter, { qos: 1 }).then(
      (granted) => (granted.every((g) => g.qos === 128) ? 'refused' : 'granted'),
      () => 'refused' as const,
    ),
    waitFor(() => !client.connected, STEP_MS, 'the subscription to be answered', 25).then(() => 'refused' as const),
  ]);
}

test(
  "a device on any node publishes telemetry that reaches the cloud's subscriber on node 1",
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    assert.ok(cloud?.connected, 'the cloud is connected to node 1');
    for (const [i, unit] of units.entries()) {
      const device = await connected(i, await optionsOf(unit));
      const topic = `devices/${unit.serial}/telemetry`;
      const payload = JSON.stringify({ node: i + 1, t: Date.now() });
      await device.publishAsync(topic, payload, { qos: 1 });
      await cloudReceives(topic, payload);
      device.end(true);
    }
  },
);

test(
  "on a node other than the one it published on, a device cannot subscribe to another device's topics",
  { timeout: TEST_MS },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const [a, b] = [units[0]!, units[1]!];
    // b published on node 2 in the test above; here it is on node 3.
    for (const filter of [`devices/${a.serial}/commands`, `devices/${a.serial}/telemetry`, 'devices/+/telemetry']) {
      const reader = await connected(2, await optionsOf(b));
      assert.equal(await subscribeOutcome(reader, filter), 'refused', `subscription to ${filter} on node 3`);
      reader.end(true);
    }
    // Its own commands it may read there: the refusals above are the rule, not a broken node.
    const own = await connected(2, await optionsOf(b));
    assert.equal(await subscribeOutcome(own, `devices/${b.serial}/commands`), 'granted');
    const refusals = journal!.list({ result: 'refused' }).map((e) => `${e.event} ${e.detail ?? ''}`);
    assert.ok(
      refusals.some((r) => r.startsWith('rabbitmq-topic subscribe-denied')),
      refusals.join('\n'),
    );
  },
);

test('a client id other than the certificate CN is refused on every node', { timeout: TEST_MS }, async (t) => {
  if (!needTool(t, 'rabbitmq-server')) return;
  const [a, b] = [units[0]!, units[1]!];
  for (const i of [0, 1, 2]) {
    const { error } = await attempt(i, await optionsOf(a, { clientId: b.serial }));
    assert.ok(error, `refused on node ${i + 1}`);
    assert.equal(error.code, 5, `CONNACK 5 on node ${i + 1}: not authorised`);
  }
  const mismatches = journal!.list({ result: 'refused' }).filter((e) => e.detail?.startsWith('client-id-mismatch'));
  assert.ok(mismatches.length >= 3, `three refusals journalled, saw ${mismatches.length}`);
});

test(
  'after a SIGKILL of its node a device reconnects to another node and its next message reaches the cloud',
  { timeout: 90_000 },
  async (t) => {
    if (!needTool(t, 'rabbitmq-server')) return;
    const b = units[1]!;
    const [node2, node3] = [nodes[1]!, nodes[2]!];
    const device = mqtt.connect({
      ...(await optionsOf(b, { reconnectPeriod: 500 })),
      protocol: 'mqtts',
      servers: [node2, node3].map((n) => ({ host: '127.0.0.1', port: n.node.settings.mqttPort })),
    });
    clients.push(device);
    let connects = 0;
    device.on('connect', () => (connects += 1));
    await waitFor(() => connects === 1, STEP_MS, 'the device to connect');
    assert.equal(device.options.port, node2.node.settings.mqttPort, 'first on node 2');
    const topic = `devices/${b.serial}/telemetry`;
    await device.publishAsync(topic, '{"before":true}', { qos: 1 });
    await cloudReceives(topic, '{"before":true}');

    await node2.kill('SIGKILL');
    await waitFor(() => connects >= 2 && device.connected, FAILOVER_MS, 'the device to reconnect to another node');
    assert.equal(device.options.port, node3.node.settings.mqttPort, 'now on node 3');
    await device.publishAsync(topic, '{"after":true}', { qos: 1 });
    await cloudReceives(topic, '{"after":true}', FAILOVER_MS);
    assert.ok(cloud?.connected, "the cloud's connection to node 1 stayed up");
  },
);
