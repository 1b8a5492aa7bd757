// The built-in `simulated` driver named in the agent's config (`driver: { builtin: 'simulated' }`):
// the simulated plug reached through the driver client in-process, journalled like any driver, its
// values kept in the state dir; any other built-in name is refused before anything starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initFactory, provisionUnits } from '../../src/identity/index.ts';
import { startDeviceAgent } from '../../src/device/index.ts';
import { hasCode } from '../../src/errors/index.ts';

/** The simulated values the driver keeps in the state dir. */
async function saved(stateDir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(stateDir, 'capabilities.json'), 'utf8')) as Record<string, unknown>;
}

async function until(probe: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a plug on the built-in simulated driver switches on through the driver client', { timeout: 60_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-builtin-driver-'));
  try {
    await initFactory(join(work, 'factory'));
    const [unit] = await provisionUnits({ factoryDir: join(work, 'factory'), model: 'plug', count: 1, outDir: work });
    const stateDir = join(work, 'state');
    const base = { bundleDir: unit!.dir, stateDir, webPort: 0, hubPort: 0, mode: 'development' } as const;
    const agent = await startDeviceAgent({ ...base, driver: { builtin: 'simulated' } });
    try {
      const power = (): unknown => agent.capabilities.list().find((c) => c.id === 'power')?.value;
      await until(() => Promise.resolve(power() === false), 5_000, 'the simulated driver to come up');
      assert.equal(await agent.capabilities.invoke('power', 'on'), true);
      assert.equal(power(), true);
      assert.equal((await saved(stateDir)).power, true);
      const rows = await agent.journal.list({ limit: 100, tier: 'security' });
      assert.ok(rows.some((r) => r.event === 'driver-up' && r.identity === 'bulwark-simulated 1'));
    } finally {
      await agent.close();
    }
    const refused = startDeviceAgent({ ...base, driver: { builtin: 'acme' } as unknown as { builtin: 'simulated' } });
    await assert.rejects(refused, (e) => hasCode(e, 'DEVICE_CONFIG_INVALID') && /driver\.builtin/.test(String(e)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
