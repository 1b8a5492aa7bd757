// Issue 15: the cloud's embedded broker journals every connection attempt with its result, not
// only refusals: a device accepted with its client id, and refusals with the reason (no client
// certificate, a certificate from a foreign CA, a client id other than the certificate's CN).
// A real cloud (startCloud) and real mqtt.js clients over mutual TLS from distinct loopback
// addresses, so each attempt's entries are told apart by source.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import {
  createCertificateAuthority,
  issueClientCertificate,
  loadCaSigner,
  type ProvisionedUnit,
} from '../../src/identity/index.ts';
import type { JournalEntry } from '../../src/journal/index.ts';
import { makeUnits, deviceMqttOptions, waitFor } from './support.ts';

let cloud: CloudService;
let unit: ProvisionedUnit;
let brokerPort: number;

before(async () => {
  const fleet = await makeUnits('plug', 1);
  unit = fleet.units[0]!;
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  brokerPort = Number(new URL(cloud.brokerUrl.replace(/^mqtts:/, 'https:')).port);
});

after(async () => {
  await cloud?.close();
});

type ClientOptions = Awaited<ReturnType<typeof deviceMqttOptions>> | Record<string, unknown>;

/** Connects from `from`; resolves with whether the broker accepted, after the client is closed. */
function attempt(options: ClientOptions, from: string): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const client = mqtt.connect({
      ...options,
      host: '127.0.0.1',
      port: brokerPort,
      protocol: 'mqtts',
      localAddress: from,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    } as unknown as mqtt.IClientOptions);
    let settled = false;
    const finish = (outcome: 'connected' | 'refused'): void => {
      if (settled) return;
      settled = true;
      client.end(true, {}, () => resolve(outcome));
    };
    client.once('connect', () => finish('connected'));
    client.once('error', () => finish('refused'));
    client.once('close', () => finish('refused'));
  });
}

/** The cloud surface's journal entries from `from`, once there are `count`. */
async function entriesFrom(from: string, count: number): Promise<JournalEntry[]> {
  const mine = (): JournalEntry[] =>
    cloud.journal.list({ limit: 500, surface: 'cloud' }).filter((e) => e.source.startsWith(`${from}:`));
  await waitFor(() => mine().length >= count, 5_000, `${count} cloud entries from ${from}`).catch(() => {
    assert.fail(`entries from ${from}: ${JSON.stringify(mine())}`);
  });
  return mine();
}

test('a device with its own certificate and client id is journalled as accepted, with the client id', async () => {
  const from = '127.0.0.121';
  assert.equal(await attempt(await deviceMqttOptions(unit), from), 'connected');
  const [entry] = await entriesFrom(from, 1);
  assert.equal(entry!.event, 'tls-connect');
  assert.equal(entry!.result, 'success');
  assert.match(entry!.detail ?? '', new RegExp(`client "${unit.serial}" accepted`));
  // The close that follows is not a second attempt.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await entriesFrom(from, 1)).length, 1);
});

test('a client without a certificate is journalled as refused: no client certificate', async () => {
  const from = '127.0.0.122';
  const { ca } = await deviceMqttOptions(unit);
  assert.equal(await attempt({ ca }, from), 'refused');
  const [entry] = await entriesFrom(from, 1);
  assert.equal(entry!.event, 'tls-error');
  assert.equal(entry!.result, 'refused');
  assert.match(entry!.detail ?? '', /^no client certificate/);
});

test('a certificate from a foreign CA is journalled as refused: not issued by the manufacturer CA', async () => {
  const from = '127.0.0.123';
  const foreignRoot = await createCertificateAuthority('Counterfeit Devices CA');
  const foreignCa = await loadCaSigner(foreignRoot.certPem, foreignRoot.privateKeyPem);
  const forged = await issueClientCertificate(foreignCa, unit.serial);
  const { ca } = await deviceMqttOptions(unit);
  const options = { ca, cert: forged.certPem, key: forged.privateKeyPem, clientId: unit.serial };
  assert.equal(await attempt(options, from), 'refused');
  const [entry] = await entriesFrom(from, 1);
  assert.equal(entry!.event, 'tls-error');
  assert.equal(entry!.result, 'refused');
  assert.match(entry!.detail ?? '', /^client certificate not issued by the manufacturer CA/);
});

test('a client id other than the certificate CN is journalled as refused, naming both', async () => {
  const from = '127.0.0.124';
  assert.equal(await attempt(await deviceMqttOptions(unit, 'someone-else'), from), 'refused');
  const [entry] = await entriesFrom(from, 1);
  assert.equal(entry!.event, 'connection-refused');
  assert.equal(entry!.result, 'refused');
  assert.equal(entry!.detail, `client id "someone-else" is not the certificate CN "${unit.serial}"`);
  // One attempt, one entry: the close that follows the refusal is not journalled again.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await entriesFrom(from, 1)).length, 1);
});
