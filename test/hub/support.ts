// Test support for the hub: devices (in-process agents with a hub surface on a free port), a
// hub in a temporary state dir, and raw channel clients with keys of their own.
import { join } from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { Hub, createHubIdentity, type HubIdentity, type HubConfig } from '../../src/hub/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import type { JournalRow } from '../../src/web/index.ts';

/** Starts the agent of `unit` with its web and hub ports free, and quick keepalive/telemetry for tests. */
export async function startTestDevice(
  unit: ProvisionedUnit,
  stateDir: string,
  o: { hubPort?: number; telemetryIntervalMs?: number } = {},
): Promise<DeviceAgent> {
  return startDeviceAgent({
    bundleDir: unit.dir,
    stateDir,
    host: '127.0.0.1',
    webPort: 0,
    hubPort: o.hubPort ?? 0,
    mode: 'development',
    hub: { telemetryIntervalMs: o.telemetryIntervalMs ?? 30_000 },
  });
}

/** A hub in a fresh state dir, with fast reconnects for tests. */
export async function startTestHub(work: string, name = 'hub', config: Partial<HubConfig> = {}): Promise<Hub> {
  return Hub.start({
    stateDir: join(work, name),
    config: { channel: { reconnectBaseMs: 50, reconnectMaxMs: 500 }, ...config },
  });
}

/** A fresh key pair and certificate, for a stranger or a proxy. */
export async function stranger(name = 'Stranger'): Promise<HubIdentity> {
  return createHubIdentity(name);
}

/** A new temporary folder. */
export function tempDir(prefix = 'bulwark-hub-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** The device's journal rows of a surface, newest first. */
export async function journalOf(agent: DeviceAgent, surface?: string): Promise<readonly JournalRow[]> {
  const rows = await agent.journal.list({ limit: 500 });
  return surface ? rows.filter((r) => r.surface === surface) : rows;
}

/** Waits until `check` is true, polling every 20 ms for at most `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
