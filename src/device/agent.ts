/**
 * The device agent: reads the unit's bundle, opens its state, and runs its listening surfaces
 * (the HTTPS admin page, the physical button) with the connection journal recording every
 * attempt. Heavy parts (password dictionaries, PNG rendering, the policy catalogue) are not
 * imported here; the first strength check loads its dictionaries on demand.
 */
import { mkdir, readFile, chmod } from 'node:fs/promises';
import type { Server } from 'node:net';
import { ConfigError } from '../errors/index.ts';
import { readDeviceBundle, type DeviceBundle } from '../bundle/index.ts';
import { getModel } from '../models/index.ts';
import { startWebService, type WebService, type WebJournal } from '../web/index.ts';
import { openJournal, type DeviceJournal } from './journal-bridge.ts';
import { DeviceCapabilities } from './capabilities.ts';
import { listenForButton, type ButtonGesture } from './button.ts';
import { startHubSurface, type HubSurface, type HubSurfaceConfig } from './hub-surface.ts';
import type { CloudLink } from '../cloudlink/index.ts';
import { startUpdater, type DeviceUpdater, type DeviceUpdateOptions } from '../update/index.ts';

/** Settings of the agent. */
export interface DeviceAgentConfig {
  readonly bundleDir: string;
  readonly stateDir: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly webPort: number;
  /** 'production' refuses debug interfaces (the inspector): the software JTAG fuse. */
  readonly mode: 'production' | 'development';
  /** The hub channel port (default 5541; 0 picks a free port). */
  readonly hubPort?: number;
  /** Hub surface settings beyond the port (pairing window, telemetry interval). */
  readonly hub?: Partial<Omit<HubSurfaceConfig, 'host' | 'port'>>;
  /** The manufacturer's broker, `mqtts://host:port`; absent: no cloud link. */
  readonly cloudUrl?: string;
  /** Cloud telemetry interval, ms. */
  readonly cloudTelemetryIntervalMs?: number;
  /** Software updates (src/update): the booted slot, repository and hooks; absent: no repository, no checks. */
  readonly update?: DeviceUpdateOptions;
}

/** Defaults for everything but the two folders. */
export const defaultDeviceAgentConfig = { host: '127.0.0.1', webPort: 8443, mode: 'production' } as const;

/** A running agent. */
export interface DeviceAgent {
  readonly bundle: DeviceBundle;
  readonly web: WebService;
  readonly journal: DeviceJournal;
  readonly capabilities: DeviceCapabilities;
  /** The hub channel and pairing window. */
  readonly hub: HubSurface;
  /** The cloud link, when `cloudUrl` is set. */
  readonly cloud?: CloudLink;
  /** The updater (src/update). */
  readonly updater: DeviceUpdater;
  close(): Promise<void>;
}

/** Refuses to run a production agent with a debugger attached or attachable. */
export function assertNoDebugInterfaces(mode: DeviceAgentConfig['mode']): void {
  if (mode !== 'production') return;
  // The inspector can only be opened by a flag (the supervisor passes --disable-sigusr1, so no
  // signal can open it later); checking flags spares loading node:inspector on a small device.
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => /^--inspect(-brk|-port|-wait|-publish-uid)?(=|$)/.test(f))) {
    throw new ConfigError('DEBUG_INTERFACE_REFUSED', 'inspector', 'a production device agent does not run with the Node inspector enabled');
  }
}

/** The firmware version: the package version of the running image. */
export async function firmwareVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

function validate(config: Partial<DeviceAgentConfig>): DeviceAgentConfig {
  const c = { ...defaultDeviceAgentConfig, ...config };
  if (typeof c.bundleDir !== 'string' || !c.bundleDir) throw new ConfigError('DEVICE_CONFIG_INVALID', 'bundleDir', 'required');
  if (typeof c.stateDir !== 'string' || !c.stateDir) throw new ConfigError('DEVICE_CONFIG_INVALID', 'stateDir', 'required');
  if (!Number.isInteger(c.webPort) || c.webPort < 0 || c.webPort > 65535) throw new ConfigError('DEVICE_CONFIG_INVALID', 'webPort', 'must be 0..65535');
  if (c.mode !== 'production' && c.mode !== 'development') throw new ConfigError('DEVICE_CONFIG_INVALID', 'mode', 'production or development');
  return c as DeviceAgentConfig;
}

/** Starts the agent; `log` receives operational messages (never secrets). */
export async function startDeviceAgent(config: Partial<DeviceAgentConfig>, log: (msg: string) => void = () => undefined): Promise<DeviceAgent> {
  const c = validate(config);
  assertNoDebugInterfaces(c.mode);
  const bundle = await readDeviceBundle(c.bundleDir);
  const model = getModel(bundle.unit.model);
  await mkdir(c.stateDir, { recursive: true, mode: 0o700 });
  await chmod(c.stateDir, 0o700);
  const sensitive = model.sensors.includes('camera') || model.sensors.includes('microphone');
  const journal = await openJournal(c.stateDir, sensitive ? 'sensitive' : 'standard', log);
  const capabilities = await DeviceCapabilities.load(model, c.stateDir);
  const startedAt = Date.now();
  const updater = await startUpdater({ stateDir: c.stateDir, bundle, journal, log, ...c.update });
  const version = updater.running.version;

  const webJournal: WebJournal = {
    record: (e) => journal.record(e),
    list: (o) => journal.list(o),
  };
  let web: WebService | undefined;
  let button: Server | undefined;
  let hub: HubSurface | undefined;
  let cloud: { link: CloudLink; close(): Promise<void> } | undefined;
  try {
    web = await startWebService({
      bundle, stateDir: c.stateDir, journal: webJournal,
      config: { host: c.host, port: c.webPort },
      warn: log,
      device: {
        firmwareVersion: version, startedAt,
        capabilities: () => capabilities.list(),
        invoke: (cap, action, value) => capabilities.invoke(cap, action, value),
        ownerActions: () => [
          { id: 'pairing-window', label: 'Open the hub pairing window (5 min)', run: async () => hub?.openPairingWindow('owner') ?? 'the hub surface is not running' },
          { id: 'unpair-hubs', label: 'Unpair every hub', run: async () => { const n = hub?.hubs().length ?? 0; await hub?.forgetAllHubs(); return `${n} hub(s) unpaired`; } },
          ...updater.ownerActions(),
        ],
        facts: () => [['Hubs', hub?.describe() ?? 'not running'], ...updater.facts()],
        exportData: () => {
          const u = updater.status();
          return {
            hubs: (hub?.hubs() ?? []).map((x) => ({ pin: x.pin, mode: x.mode, pairedAt: x.pairedAt, rights: x.rights })),
            updates: { autoUpdate: u.autoUpdate, postponedUntil: u.postponedUntil, running: u.running.version, lastCheck: u.lastCheck },
            cloud: cloud ? { connected: cloud.link.connected } : null,
          };
        },
      },
    });
    hub = await startHubSurface({
      bundle, model, stateDir: c.stateDir, capabilities, journal, log,
      config: { ...c.hub, host: c.host, ...(c.hubPort !== undefined ? { port: c.hubPort } : {}) },
    });
    const h = hub;
    const w = web;
    if (c.cloudUrl) {
      // Loaded only when used: a device without a cloud never loads the MQTT client.
      const { startAgentCloudLink } = await import('../cloudlink/index.ts');
      cloud = await startAgentCloudLink({
        identity: { serial: bundle.unit.serial, caCertPem: bundle.caCertPem, deviceCertPem: bundle.deviceCertPem, deviceKeyPem: bundle.deviceKeyPem },
        stateDir: c.stateDir, url: c.cloudUrl, capabilities, journal, log,
        ...(c.cloudTelemetryIntervalMs ? { telemetryIntervalMs: c.cloudTelemetryIntervalMs } : {}),
      });
    }
    const cl = cloud;
    button = await listenForButton(c.stateDir, async (gesture: ButtonGesture) => {
      journal.record({ surface: 'button', source: 'local', event: gesture === 'hold' ? 'factory-reset' : 'press', result: 'info' });
      if (gesture === 'hold') {
        await h.forgetAllHubs();
        await cl?.link.releaseClaim();
        await w.reset();
        await capabilities.reset();
        await updater.resetOwnerChoices();
        await journal.erase();
        journal.record({ surface: 'button', source: 'local', event: 'factory-reset', result: 'success', detail: 'owner password, sessions, counters and journal erased' });
        log('factory reset: the sticker credentials work again');
        return 'factory reset done: owner password, sessions, lockout counters and journal erased; the label\'s credentials apply again';
      }
      // A hand on the device also lets a new browser past the account-wide login ceiling (issue 14).
      const pairing = `${await h.openPairingWindow('button')}; ${w.unlockLogin()}`;
      if (!cl) return pairing;
      return `${pairing}; ${(await cl.link.openClaimWindow()) ? 'cloud claim window open for 10 minutes' : 'cloud claim window not opened: the cloud is not reachable'}`;
    });
  } catch (err) {
    await cloud?.close();
    await hub?.close();
    await web?.close();
    await updater.close();
    await journal.close();
    throw err;
  }
  const w = web;
  const b = button;
  const h = hub;
  log(`device ${bundle.unit.serial} (${model.name}) listening at ${w.url}, hub port ${h.port}`);
  return {
    bundle, web: w, journal, capabilities, hub: h, ...(cloud ? { cloud: cloud.link } : {}), updater,
    async close() {
      await updater.close();
      await new Promise<void>((resolve) => b.close(() => resolve()));
      await cloud?.close();
      await h.close();
      await w.close();
      await journal.close();
    },
  };
}

