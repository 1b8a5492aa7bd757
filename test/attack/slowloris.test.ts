// Issue 14 (2): slowloris from one address must not take a page down for everyone. 200 slow TLS
// sockets from 127.0.0.66, each dripping a header line every 2 s and reopened when closed, while
// another address probes the login page every second: every probe gets an answer within 1 s, on
// the device's admin page, the hub's and the cloud's owner API. Bounded: 12 s and 3,000 sockets
// per surface.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFleet, startAgent } from '../support/device.ts';
import { startHubService } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import { makeUnits } from '../cloud/support.ts';
import { slowloris, probe } from './slow-clients.ts';

const ATTACKER = '127.0.0.66';
const VISITOR = '127.0.0.67';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function underAttack(port: number, perSourceCap = 16): Promise<void> {
  const attack = slowloris({ port, from: ATTACKER, sockets: 200, dripMs: 2_000, maxMs: 12_000, maxOpens: 3_000 });
  try {
    await new Promise((r) => setTimeout(r, 2_000)); // let the attacker take all it can
    const answers: Array<{ status: number; ms: number }> = [];
    for (let i = 0; i < 8; i++) {
      answers.push(await probe({ port, from: VISITOR, path: '/login', host: `localhost:${port}`, limitMs: 1_000 }));
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const held = attack.open();
    assert.ok(attack.opened() >= 200, `the attacker opened ${attack.opened()} sockets`);
    for (const a of answers) {
      assert.ok(a.status >= 200 && a.status < 500, `a probe got status ${a.status}`);
      assert.ok(a.ms < 1_000, `a probe waited ${Math.round(a.ms)} ms`);
    }
    assert.ok(held <= perSourceCap, `one address holds ${held} connections`);
  } finally {
    attack.stop();
  }
}

test(
  'the device admin page answers another address within 1 s while one address holds 200 slow sockets',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
    closers.push(() => agent.close());
    await underAttack(agent.web.port);
  },
);

test(
  'the hub admin page answers another address within 1 s while one address holds 200 slow sockets',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet([]);
    const hub = await startHubService({ stateDir: join(fleet.work, 'hub'), web: { port: 0 } });
    closers.push(() => hub.close());
    await underAttack(hub.web!.port);
  },
);

test(
  'the cloud owner API answers another address within 1 s while one address holds 200 slow sockets',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeUnits('plug', 1);
    const cloud = await startCloud({
      factoryDir: fleet.factoryDir,
      stateDir: join(fleet.work, 'cloud'),
      manifests: [fleet.manifest],
      broker: { port: 0 },
      api: { port: 0 },
    });
    closers.push(() => cloud.close());
    await underAttack(cloud.api.port, 64);
  },
);
