// Issue 14 (3): every connection attempt leaves a journal entry, however it ends. 20 connections
// reset right after the TLS handshake and 20 reset before it (a scanner's connect-and-drop) from
// one address must account for 40 attempts in the device's journal, on its admin page and on its
// hub port: one entry each, or a flood summary that counts them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { makeFleet, startAgent } from '../support/device.ts';
import { journalOf, eventually } from '../hub/support.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

const agents: DeviceAgent[] = [];
after(async () => {
  for (const a of agents) await a.close();
});

function rawConnect(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const host = from.includes(':') ? '::1' : '127.0.0.1';
    const s = netConnect({ host, port, localAddress: from }, () => resolve(s));
    s.on('error', reject);
  });
}

async function resetAfterHandshake(port: number, from: string): Promise<void> {
  const raw = await rawConnect(port, from);
  await new Promise<void>((resolve) => {
    const tls = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    tls.on('error', () => resolve());
    tls.once('secureConnect', () => {
      raw.resetAndDestroy();
      resolve();
    });
  });
}

async function resetBeforeHandshake(port: number, from: string): Promise<void> {
  (await rawConnect(port, from)).resetAndDestroy();
}

/** Attempts from `address` the rows account for: 1 per entry, N per flood summary of N. */
function attemptsFrom(
  rows: ReadonlyArray<{ source: string; event: string; detail?: string }>,
  address: string,
): number {
  let n = 0;
  for (const r of rows) {
    if (r.source === address && r.event === 'connection-flood')
      n += Number(/^([\d,]+) more/.exec(r.detail ?? '')?.[1]?.replace(/,/g, '') ?? 0);
    else if (r.source.startsWith(address.includes(':') ? `[${address}]:` : `${address}:`)) n += 1;
  }
  return n;
}

async function fortyResets(port: number, from: string): Promise<void> {
  for (let i = 0; i < 20; i++) await resetAfterHandshake(port, from);
  for (let i = 0; i < 20; i++) await resetBeforeHandshake(port, from);
}

test(
  '40 connections reset after and before the handshake leave 40 attempts in the journal, on the admin page and ' +
    'the hub port',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
    agents.push(agent);
    await fortyResets(agent.web.port, '127.0.0.88');
    await fortyResets(agent.hub.port, '127.0.0.89');
    await eventually(
      async () => attemptsFrom(await journalOf(agent, 'web'), '127.0.0.88') >= 40,
      5_000,
      'web entries',
    ).catch(() => undefined);
    await eventually(
      async () => attemptsFrom(await journalOf(agent, 'hub'), '127.0.0.89') >= 40,
      5_000,
      'hub entries',
    ).catch(() => undefined);
    assert.equal(attemptsFrom(await journalOf(agent, 'web'), '127.0.0.88'), 40);
    assert.equal(attemptsFrom(await journalOf(agent, 'hub'), '127.0.0.89'), 40);
  },
);

test(
  'on [::1] too: 40 reset connections from the IPv6 loopback leave 40 attempts in the journal',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state6'), '::1');
    agents.push(agent);
    await fortyResets(agent.web.port, '::1');
    await eventually(async () => attemptsFrom(await journalOf(agent, 'web'), '::1') >= 40, 5_000, 'web entries').catch(
      () => undefined,
    );
    assert.equal(attemptsFrom(await journalOf(agent, 'web'), '::1'), 40);
  },
);
