// Issue 15: every connection attempt is journalled with its result on every surface, not only the
// device's: the hub's admin page and the cloud's owner API and broker write to a connection
// journal (the device journal's privacy limits, bounds and retention). Each test makes a reset,
// a failed handshake, a wrong login and a cross-site post, then reads the entries.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'node:https';
import { startHubService } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import type { ConnectionJournal } from '../../src/journal/index.ts';
import { makeFleet } from '../support/device.ts';
import { makeUnits, waitFor } from '../cloud/support.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function resetBeforeTls(port: number, from: string): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port, localAddress: from }, () => {
      s.resetAndDestroy();
      resolve();
    });
    s.on('error', () => resolve());
  });
}

function handshakeWithTls11(port: number, from: string): Promise<void> {
  return new Promise((resolve) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress: from });
    tcp.on('error', () => resolve());
    const s = tlsConnect({
      socket: tcp,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    s.on('error', () => resolve());
    s.on('secureConnect', () => {
      s.destroy();
      resolve();
    });
  });
}

function crossSitePost(port: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = 'password=wrong&email=x%40example.com';
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/login',
        localAddress: from,
        agent: false,
        rejectUnauthorized: false,
        headers: {
          host: `localhost:${port}`,
          origin: 'https://evil.example',
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(body.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits for entries of each kind from `from`, and at least `count` in all (one per attempt made). */
async function expectEntries(
  journal: ConnectionJournal,
  from: string,
  count: number,
  wanted: Array<[string, string, string]>,
): Promise<void> {
  await waitFor(
    () => {
      const mine = journal.list({ limit: 500 }).filter((e) => e.source.startsWith(`${from}:`) || e.source === from);
      return (
        mine.length >= count &&
        wanted.every(([surface, event, result]) =>
          mine.some((e) => e.surface === surface && e.event === event && e.result === result),
        )
      );
    },
    5_000,
    `entries ${JSON.stringify(wanted)} from ${from}`,
  ).catch(() => {
    const mine = journal.list({ limit: 500 }).filter((e) => e.source.startsWith(from));
    assert.fail(
      `missing entries from ${from}: have ${JSON.stringify(mine.map((e) => [e.surface, e.event, e.result]))}`,
    );
  });
}

test(
  "the hub's admin page journals a reset, a failed handshake, a connection and a cross-site post",
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet([]);
    const hub = await startHubService({ stateDir: join(fleet.work, 'hub'), web: { port: 0 } });
    closers.push(() => hub.close());
    const from = '127.0.0.91';
    await resetBeforeTls(hub.web!.port, from);
    await handshakeWithTls11(hub.web!.port, from);
    assert.equal(await crossSitePost(hub.web!.port, from), 403);
    // The reset and the TLS 1.1 hello are both failed handshakes; the post is a connection and a refusal.
    await expectEntries(hub.journal, from, 4, [
      ['web', 'tls-error', 'refused'],
      ['web', 'tls-connect', 'success'],
      ['web', 'csrf', 'refused'],
    ]);
  },
);

test('the cloud journals owner API attempts and refused broker connections', { timeout: 60_000 }, async () => {
  const fleet = await makeUnits('plug', 1);
  const cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  closers.push(() => cloud.close());
  const from = '127.0.0.92';
  await resetBeforeTls(cloud.api.port, from);
  assert.equal(await crossSitePost(cloud.api.port, from), 403);
  const broker = Number(new URL(cloud.brokerUrl.replace(/^mqtts:/, 'https:')).port);
  await handshakeWithTls11(broker, from);
  await expectEntries(cloud.journal, from, 4, [
    ['web', 'tls-error', 'refused'],
    ['web', 'tls-connect', 'success'],
    ['web', 'csrf', 'refused'],
    ['cloud', 'tls-error', 'refused'],
  ]);
});
