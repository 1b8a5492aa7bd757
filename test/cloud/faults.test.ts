// Faults while devices publish telemetry at QoS 1: the broker (Mosquitto) is killed with SIGKILL
// and restarted; separately the cloud service process is killed with SIGKILL and restarted, on
// the embedded broker (which dies with it) and on Mosquitto (which queues for the cloud's
// persistent session). Every message produced meanwhile is stored afterwards, none twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCloud, openCloudStore, type CloudStore } from '../../src/cloud/index.ts';
import { CloudLink } from '../../src/cloudlink/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, startMosquitto, linkIdentity, freePort, waitFor } from './support.ts';
import { needTool } from '../support/tools.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const DEVICES = 8;

/** Device links tuned to notice faults quickly (the defaults suit a real fleet, not a test). */
async function startLinks(units: ProvisionedUnit[], url: string, work: string): Promise<CloudLink[]> {
  const links: CloudLink[] = [];
  for (const u of units) {
    const link = await CloudLink.open({
      identity: await linkIdentity(u),
      stateDir: join(work, 'dev', u.serial),
      config: {
        url,
        reconnectBaseMs: 100,
        reconnectMaxMs: 800,
        syncIntervalMs: 1_000,
        syncAgeMs: 3_000,
        receiptTimeoutMs: 2_000,
        saveDelayMs: 100,
        keepaliveSeconds: 10,
      },
      execute: () => Promise.resolve(true),
      state: () => ({ at: Date.now(), capabilities: [] }),
    });
    link.start();
    links.push(link);
  }
  await waitFor(() => links.every((l) => l.connected), 15_000, 'devices to connect');
  return links;
}

/**
 * Every device queues a reading every `everyMs` for `forMs`; `fault` runs meanwhile. Returns the produced
 * (serial/seq) set.
 */
async function produce(
  units: ProvisionedUnit[],
  links: CloudLink[],
  forMs: number,
  everyMs: number,
  fault: () => Promise<void>,
): Promise<Set<string>> {
  const produced = new Set<string>();
  const timer = setInterval(() => {
    for (const [k, link] of links.entries())
      produced.add(`${units[k]!.serial}/${link.queueTelemetry({ energy: produced.size })}`);
  }, everyMs);
  const stop = new Promise((r) => setTimeout(r, forMs));
  await fault();
  await stop;
  clearInterval(timer);
  return produced;
}

async function storedSet(store: CloudStore, units: ProvisionedUnit[]): Promise<string[]> {
  const out: string[] = [];
  for (const u of units)
    for (const seq of await store.storedSeqs(u.serial, [[0, Number.MAX_SAFE_INTEGER]], 1_000_000))
      out.push(`${u.serial}/${seq}`);
  return out;
}

async function expectAllStoredOnce(
  t: { diagnostic(msg: string): void },
  store: CloudStore,
  units: ProvisionedUnit[],
  produced: Set<string>,
  links: CloudLink[],
): Promise<void> {
  await waitFor(
    async () => (await storedSet(store, units)).length >= produced.size,
    60_000,
    `all ${produced.size} messages to be stored`,
    200,
  );
  const stored = await storedSet(store, units);
  assert.equal(new Set(stored).size, stored.length, 'none twice');
  assert.deepEqual(new Set(stored), produced, 'every message produced is stored');
  // And the devices learn it: their outboxes empty as receipts come back.
  await waitFor(() => links.every((l) => l.outbox.size === 0), 30_000, 'the outboxes to drain');
  const sum = (k: 'published' | 'resent' | 'confirmed'): number => links.reduce((n, l) => n + l.stats[k], 0);
  t.diagnostic(
    `${produced.size} produced, ${sum('published')} publishes, ${sum('resent')} sent again after a receipt,` +
      ` ${links.reduce((n, l) => n + l.connections, 0)} connections`,
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(
  'Mosquitto killed (SIGKILL) and restarted while devices publish: every message stored, none twice',
  { timeout: 180_000 },
  async (t) => {
    if (!needTool(t, 'mosquitto')) return;
    const fleet = await makeUnits('plug', DEVICES);
    const broker = await startMosquitto({
      factoryDir: fleet.factoryDir,
      dir: join(fleet.work, 'mosquitto'),
      instances: ['1'],
    });
    const cloud = await startCloud({
      factoryDir: fleet.factoryDir,
      stateDir: join(fleet.work, 'cloud'),
      brokerUrl: broker.url,
      manifests: [fleet.manifest],
      api: { port: 0 },
      mqtt: { reconnectBaseMs: 100, reconnectMaxMs: 800 },
    });
    const links = await startLinks(fleet.units, broker.url, fleet.work);
    try {
      const produced = await produce(fleet.units, links, 4_000, 25, async () => {
        await sleep(1_200);
        await broker.kill('SIGKILL');
        await sleep(1_000);
        await broker.restart();
      });
      assert.ok(
        links.some((l) => l.connections > 1),
        'devices reconnected',
      );
      await expectAllStoredOnce(t, cloud.store, fleet.units, produced, links);
    } finally {
      for (const l of links) await l.close();
      await cloud.close();
      await broker.stop();
    }
  },
);

/** `bulwark cloud run` as a child process; resolves once it prints its ready line. */
async function runCloudProcess(args: string[]): Promise<ChildProcess> {
  const argv = [BIN, 'cloud', 'run', '--log-format', 'text', ...args];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 20_000) stderr += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cloud did not start: ${stderr}`));
    }, 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      if (/^cloud \S+ ready/.test(l)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cloud exited ${code}: ${stderr}`));
    });
  });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

for (const variant of ['embedded broker', 'Mosquitto'] as const) {
  test(
    `the cloud service killed (SIGKILL) and restarted, on the ${variant}: every message stored, none twice`,
    { timeout: 180_000 },
    async (t) => {
      if (variant === 'Mosquitto' && !needTool(t, 'mosquitto')) return;
      const fleet = await makeUnits('plug', DEVICES);
      const state = join(fleet.work, 'cloud');
      const broker =
        variant === 'Mosquitto'
          ? await startMosquitto({ factoryDir: fleet.factoryDir, dir: join(fleet.work, 'mosquitto'), instances: ['1'] })
          : undefined;
      const mqttPort = broker ? broker.port : await freePort();
      const args = [
        '--factory',
        fleet.factoryDir,
        '--state',
        state,
        '--mqtt-port',
        String(mqttPort),
        '--api-port',
        '0',
        '--import',
        fleet.manifest,
        ...(broker ? ['--broker', broker.url] : []),
      ];
      let cloud = await runCloudProcess(args);
      const links = await startLinks(fleet.units, `mqtts://127.0.0.1:${mqttPort}`, fleet.work);
      try {
        const produced = await produce(fleet.units, links, 4_000, 25, async () => {
          await sleep(1_200);
          await kill9(cloud);
          await sleep(800);
          cloud = await runCloudProcess(args);
        });
        // On the embedded broker the devices lost their broker too; on Mosquitto they never noticed.
        if (!broker) await waitFor(() => links.every((l) => l.connections > 1), 20_000, 'devices to reconnect');
        // The test reads the same SQLite database the cloud process writes (WAL: readers do not block it).
        const store = await openCloudStore({ stateDir: state });
        try {
          await expectAllStoredOnce(t, store, fleet.units, produced, links);
        } finally {
          await store.close();
        }
      } finally {
        for (const l of links) await l.close();
        await stopGracefully(cloud);
        await broker?.stop();
      }
    },
  );
}
