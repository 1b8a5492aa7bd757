/**
 * The device agent: reads the unit's bundle, opens its state, and runs its listening surfaces
 * (the HTTPS admin page, the physical button) with the connection journal recording every
 * attempt. Heavy parts (password dictionaries, PNG rendering, the policy catalogue) are not
 * imported here; the first strength check loads its dictionaries on demand.
 */
import { mkdir, chmod, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { DamagedStateSink } from '../storage/index.ts';
import type { Server } from 'node:net';
import { ConfigError } from '../errors/index.ts';
import { readDeviceBundle, type DeviceBundle } from '../bundle/index.ts';
import type { ModelSpec } from '../models/index.ts';
import {
  ownerMonitoringChoice,
  startWebService,
  type OwnerAction,
  type WebService,
  type WebJournal,
} from '../web/index.ts';
import { openJournal, type DeviceJournal } from './journal-bridge.ts';
import { openClock, type ClockReadings, type UnitClock } from '../clock/index.ts';
import { verifyServerCertificateAt } from '../channel/index.ts';
import type { JournalConfig } from '../journal/index.ts';
import { DeviceCapabilities, type UnitHardware } from './capabilities.ts';
import type { DriverHardware, DriverHardwareEvents, DriverTarget } from './driver-hardware.ts';
import type { BuiltinDriverTarget } from './simulated-driver.ts';
import { listenForButton, type ButtonGesture } from './button.ts';
import { startHubSurface, type HubSurface, type HubSurfaceConfig } from './hub-surface.ts';
import { effectiveSupportEnd, watchSupportEnd } from './support-period.ts';
import type { CloudLink } from '../cloudlink/index.ts';
import { startUpdater, type DeviceUpdater, type DeviceUpdateOptions } from '../update/index.ts';
import { validateAdvertiserConfig, type AdvertiserConfig } from './advertiser-config.ts';
import type { Advertiser } from './advertiser.ts';

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
  /** Where the unit enrols with its birth certificate, when not `cloudUrl` (Mosquitto's enrolment listener). */
  readonly cloudEnrolUrl?: string;
  /** Cloud telemetry interval, ms. */
  readonly cloudTelemetryIntervalMs?: number;
  /** Software updates (src/update): the booted slot, repository and hooks; absent: no repository, no checks. */
  readonly update?: DeviceUpdateOptions;
  /** The journal's bounds (tier sizes, aggregation rate and window, age); src/journal's defaults otherwise. */
  readonly journal?: Partial<JournalConfig>;
  /**
   * The maker's hardware driver (src/driver): a program started with argv (never a shell) or a Unix
   * socket it listens on; or `{ builtin: 'simulated' }`, the simulated hardware served as a driver in
   * this process. Absent: the simulated hardware used directly.
   */
  readonly driver?: DriverTarget | BuiltinDriverTarget;
  /**
   * Supervised: the socket name (in the state dir) the agent's button listens on, since the
   * supervisor owns `button.sock`; and the hand-over of a hold (from the driver's button) to the
   * supervisor, which resets the unit with the agent stopped.
   */
  readonly button?: { readonly socket: string; hold(): Promise<string> };
  /** How often the web certificate's remaining life is checked, ms (src/web's default, 6 hours, otherwise). */
  readonly webCertificateCheckIntervalMs?: number;
  /** The wall and monotonic clocks the unit's clock reads (src/clock); the system's unless a test moves them. */
  readonly clockReadings?: ClockReadings;
  /** DNS-SD answers naming the channel key's digest, so paired hubs find the unit on a new address; on by default. */
  readonly advertise?: Partial<AdvertiserConfig>;
}

/** The folder in the state dir where unusable state files are kept for support. */
export const DAMAGED_DIR = 'damaged';

/** Defaults for everything but the two folders. */
export const defaultDeviceAgentConfig = { host: '127.0.0.1', webPort: 8443, mode: 'production' } as const;

/** A running agent. */
export interface DeviceAgent {
  readonly bundle: DeviceBundle;
  readonly web: WebService;
  readonly journal: DeviceJournal;
  readonly capabilities: UnitHardware;
  /** The hub channel and pairing window. */
  readonly hub: HubSurface;
  /** The cloud link, when `cloudUrl` is set. */
  readonly cloud?: CloudLink;
  /** The updater (src/update). */
  readonly updater: DeviceUpdater;
  /** Stops every surface, the cloud link and the updater, then closes the journal. */
  close(): Promise<void>;
}

/** Refuses to run a production agent with a debugger attached or attachable. */
export function assertNoDebugInterfaces(mode: DeviceAgentConfig['mode']): void {
  if (mode !== 'production') return;
  // The inspector can only be opened by a flag (the supervisor passes --disable-sigusr1, so no
  // signal can open it later); checking flags spares loading node:inspector on a small device.
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => /^--inspect(-brk|-port|-wait|-publish-uid)?(=|$)/.test(f))) {
    throw new ConfigError(
      'DEBUG_INTERFACE_REFUSED',
      'inspector',
      'a production device agent does not run with the Node inspector enabled',
    );
  }
}

/** The firmware version of the running code: its image's image.json, or the installed package's version. */
export async function firmwareVersion(): Promise<string> {
  const { runningCodeVersion } = await import('../update/index.ts');
  return (await runningCodeVersion()).version;
}

function validate(config: Partial<DeviceAgentConfig>): DeviceAgentConfig {
  const c = { ...defaultDeviceAgentConfig, ...config };
  const invalid = (key: string, rule: string): ConfigError => new ConfigError('DEVICE_CONFIG_INVALID', key, rule);
  if (typeof c.bundleDir !== 'string' || !c.bundleDir) throw invalid('bundleDir', 'required');
  if (typeof c.stateDir !== 'string' || !c.stateDir) throw invalid('stateDir', 'required');
  if (!Number.isInteger(c.webPort) || c.webPort < 0 || c.webPort > 65535) throw invalid('webPort', 'must be 0..65535');
  if (c.mode !== 'production' && c.mode !== 'development') throw invalid('mode', 'production or development');
  if (c.driver !== undefined) validateDriverTarget(c.driver, invalid);
  if (c.button !== undefined && !/^[a-z0-9-]{1,32}\.sock$/.test(c.button.socket))
    throw invalid('button.socket', 'must be a socket file name in the state folder');
  validateAdvertiserConfig(c.advertise);
  return c as DeviceAgentConfig;
}

/** A driver is a program with string arguments, a socket path or a built-in one; nothing else (no shell). */
function validateDriverTarget(
  t: DriverTarget | BuiltinDriverTarget,
  invalid: (key: string, rule: string) => ConfigError,
): void {
  const text = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= 4_096 && !v.includes('\0');
  if (typeof t !== 'object' || t === null)
    throw invalid('driver', 'must be { program, args }, { socket } or { builtin }');
  if ('builtin' in t) {
    if (t.builtin !== 'simulated') throw invalid('driver.builtin', "must be 'simulated'");
    return;
  }
  if ('socket' in t) {
    if (!text(t.socket)) throw invalid('driver.socket', 'must be a path');
    return;
  }
  if (!text(t.program)) throw invalid('driver.program', 'must be a program path');
  const args: unknown = t.args ?? [];
  if (!Array.isArray(args) || args.length > 64 || !args.every(text))
    throw invalid('driver.args', 'must be at most 64 non-empty strings');
}

/** What the agent's parts share while it starts; the surfaces are filled in as they come up. */
interface AgentParts {
  readonly c: DeviceAgentConfig;
  readonly bundle: DeviceBundle;
  readonly journal: DeviceJournal;
  readonly capabilities: UnitHardware;
  readonly updater: DeviceUpdater;
  readonly log: (msg: string) => void;
  /** Where unusable state files go. */
  readonly damaged: DamagedStateSink;
  /** The unit's clock floor. */
  readonly clock: UnitClock;
  /** The physical button's handler, once the surfaces it acts on are up (the button socket and the driver share it). */
  onGesture?: (gesture: ButtonGesture) => Promise<string>;
  web?: WebService;
  hub?: HubSurface;
  cloud?: { link: CloudLink; close(): Promise<void> };
}

/** The owner's controls for the hub surface, shown on the admin page. */
function hubOwnerActions(parts: AgentParts): OwnerAction[] {
  return [
    {
      id: 'pairing-window',
      card: 'hubs',
      label: 'Open the hub pairing window (5 min)',
      run: () =>
        new Promise((resolve) => resolve(parts.hub?.openPairingWindow('owner') ?? 'the hub surface is not running')),
    },
    {
      id: 'unpair-hubs',
      card: 'hubs',
      label: 'Unpair every hub',
      confirm:
        'Every hub paired with this device forgets it at once: their automations and controls stop reaching it ' +
        'until you pair each hub again, with the button or the setup code.',
      run: async () => {
        const n = parts.hub?.hubs().length ?? 0;
        await parts.hub?.forgetAllHubs();
        return n === 0 ? 'No hub was paired.' : `${n === 1 ? 'The hub' : `All ${n} hubs`} unpaired.`;
      },
    },
    {
      id: 'rotate-hub-key',
      card: 'hubs',
      label: 'Replace the key hubs know this device by',
      run: async () => {
        const status = await parts.hub?.rotateChannelKey();
        if (!status) return 'the hub surface is not running';
        const waiting = status.pending?.waitingFor.length ?? 0;
        return waiting === 0
          ? 'new key in use; paired hubs follow it without pairing again'
          : `new key signed; switching once ${waiting} paired hub(s) have accepted it`;
      },
    },
  ];
}

/**
 * The factory reset from the admin page: the same reset as a long hold of the button (through the supervisor when
 * there is one), behind the owner's password again.
 */
function resetOwnerAction(parts: AgentParts): OwnerAction {
  return {
    id: 'factory-reset',
    card: 'reset',
    label: 'Reset to factory settings',
    confirm:
      'Everything you set on this device is erased: your password and every person you added, the paired hubs, ' +
      'your update choices, the settings and the connection journal; the cloud forgets who owns it. The password ' +
      'on the label works again. This cannot be undone.',
    run: async () => {
      if (parts.c.button) return parts.c.button.hold();
      if (!parts.hub || !parts.web) return 'The device is still starting: try again in a moment.';
      return factoryReset(parts, parts.hub, parts.web, 'web');
    },
  };
}

/** The certificate the cloud link uses, in the owner's words. */
function cloudIdentityText(parts: AgentParts): string {
  const link = parts.cloud?.link;
  if (!link) return 'no cloud';
  const id = link.identity;
  if (id.kind === 'birth') return id.mode === 'birth' ? 'factory certificate' : 'factory certificate, enrolling';
  const day = (ms: number | undefined): string => (ms ? new Date(ms).toISOString().slice(0, 10) : '?');
  return `operational certificate until ${day(id.notAfter)}, renewed automatically from ${day(id.renewAt)}`;
}

/** The unit's support end now: its bundle's, or a later one signed through updates. */
function supportEndOf(parts: AgentParts): string {
  return effectiveSupportEnd(parts.bundle.unit.supportPeriodEnd, parts.updater.status().supportEndsOn);
}

/** What the owner may export: paired hubs, update choices and the cloud link's state. */
function exportAgentData(parts: AgentParts): Record<string, unknown> {
  const u = parts.updater.status();
  return {
    hubs: (parts.hub?.hubs() ?? []).map((x) => ({ pin: x.pin, mode: x.mode, pairedAt: x.pairedAt, rights: x.rights })),
    updates: {
      autoUpdate: u.autoUpdate,
      postponedUntil: u.postponedUntil,
      running: u.running.version,
      lastCheck: u.lastCheck,
    },
    cloud: parts.cloud ? { connected: parts.cloud.link.connected } : null,
  };
}

function startAgentWeb(parts: AgentParts, startedAt: number): Promise<WebService> {
  const { c, bundle, journal, capabilities, updater, log } = parts;
  const webJournal: WebJournal = {
    record: (e) => journal.record(e),
    list: (o) => journal.list(o),
    setMonitoring: (on) => journal.setMonitoring(on),
  };
  return startWebService({
    bundle,
    stateDir: c.stateDir,
    damaged: parts.damaged,
    journal: webJournal,
    config: { host: c.host, port: c.webPort },
    warn: log,
    clock: parts.clock,
    ...(c.webCertificateCheckIntervalMs ? { certificate: { checkIntervalMs: c.webCertificateCheckIntervalMs } } : {}),
    device: {
      firmwareVersion: updater.running.version,
      supportEndsOn: () => supportEndOf(parts),
      startedAt,
      capabilities: () => capabilities.list(),
      invoke: (cap, action, value) => capabilities.invoke(cap, action, value),
      // A person the owner removed here is removed on the paired hubs' pages too (and from there on their devices).
      personRemoved: (name) => void parts.hub?.announcePersonRemoved(name),
      ownerActions: () => [
        ...hubOwnerActions(parts),
        ...updater.ownerActions().map((a) => ({ ...a, card: 'updates' as const })),
        resetOwnerAction(parts),
      ],
      facts: () => [
        ['Now', parts.hub?.describe() ?? 'not running', 'hubs'],
        ['Cloud identity', cloudIdentityText(parts)],
        ...updater.facts().map(([k, v]) => [k, v, 'updates'] as const),
      ],
      exportData: () => exportAgentData(parts),
      updateFile: {
        maxBytes: updater.maxUpdateFileBytes,
        dir: join(c.stateDir, 'update', 'upload'),
        install: (file) => updater.installFile(file),
      },
      // Read on each view: the SBOM inside the image this process runs (none in the factory image).
      software: async () => (await import('../update/index.ts')).runningSoftware(),
    },
  });
}

async function startCloud(parts: AgentParts, cloudUrl: string): Promise<{ link: CloudLink; close(): Promise<void> }> {
  const { c, bundle, capabilities, journal, log } = parts;
  // Loaded only when used: a device without a cloud never loads the MQTT client.
  const { startAgentCloudLink } = await import('../cloudlink/index.ts');
  return startAgentCloudLink({
    identity: {
      serial: bundle.unit.serial,
      caCertPem: bundle.caCertPem,
      deviceCertPem: bundle.deviceCertPem,
      deviceKeyPem: bundle.deviceKeyPem,
    },
    stateDir: c.stateDir,
    url: cloudUrl,
    ...(parts.c.cloudEnrolUrl ? { enrolUrl: parts.c.cloudEnrolUrl } : {}),
    capabilities,
    journal,
    log,
    firmware: {
      running: parts.updater.running,
      outcomes: () => parts.updater.outcomes(),
      onOutcome: (listener) => parts.updater.onOutcome(listener),
      supportEndsOn: () => supportEndOf(parts),
    },
    // The operational certificate's renewal is judged on the unit's clock, which never goes below its floor.
    now: () => parts.clock.now(),
    damaged: parts.damaged,
    // At 1970 every certificate looks not yet valid: while the clock is below its floor, judge at the floor.
    peerCheckBelowFloor: (host) =>
      parts.clock.plausible()
        ? undefined
        : (peer) => verifyServerCertificateAt(peer, bundle.caCertPem, host, parts.clock.floor()),
    ...(c.cloudTelemetryIntervalMs ? { telemetryIntervalMs: c.cloudTelemetryIntervalMs } : {}),
    // The owner removed a household member in the cloud: gone from this page, and passed on to the paired hubs (which
    // hear nothing from the cloud themselves) whether or not this page knew them.
    removePerson: async (name) => {
      const ended = await parts.web?.revokePerson(name, 'the owner in the cloud');
      void parts.hub?.announcePersonRemoved(name);
      return ended !== undefined;
    },
  });
}

/**
 * A long hold, in an agent without a supervisor: everything the owner set goes, and the label's
 * credentials apply again. The previous owner's evidence and credentials are deleted before anything
 * is written (a full disk cannot stop the reset half-way); every step runs, and a failed one is named.
 */
async function factoryReset(
  parts: AgentParts,
  hub: HubSurface,
  web: WebService,
  surface: 'button' | 'web' = 'button',
): Promise<string> {
  const { journal } = parts;
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['the connection journal', () => journal.erase()],
    ['the owner password, sessions and lockout counters', () => web.reset()],
    ['the paired hubs', () => hub.forgetAllHubs()],
    ['the update choices', () => parts.updater.resetOwnerChoices()],
    ['the files kept after damage', () => rm(parts.damaged.dir, { recursive: true, force: true })],
    ['the device settings', () => parts.capabilities.reset()],
    ['the cloud claim', async () => parts.cloud?.link.releaseClaim()],
  ];
  const failed: Array<{ what: string; why: string }> = [];
  for (const [what, run] of steps) {
    await run().catch((err: unknown) => failed.push({ what, why: resetFailure(err) }));
  }
  const { describeReset } = await import('./factory-reset.ts');
  const said = describeReset({ failed });
  journal.record({
    surface,
    source: 'local',
    event: 'factory-reset',
    result: failed.length ? 'failure' : 'success',
    detail: said.slice(0, 200),
  });
  parts.log(`factory reset: ${said}`);
  return said;
}

/** A reset step's failure in the owner's words. */
function resetFailure(err: unknown): string {
  const code = (err as { code?: string; cause?: { code?: string } }).code;
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  if (code === 'ENOSPC' || cause === 'ENOSPC') return 'the storage is full';
  return err instanceof Error ? err.message.slice(0, 120) : String(err);
}

/**
 * The agent's own part of a reset the supervisor did (the files are gone): the hardware's settings,
 * the cloud claim's release (queued until the cloud is reached), then the reset is complete.
 */
async function finishSupervisedReset(parts: AgentParts): Promise<void> {
  const { agentResetPending, finishFactoryReset } = await import('./factory-reset.ts');
  if (!(await agentResetPending(parts.c.stateDir))) return;
  await parts.capabilities.reset();
  await parts.cloud?.link.releaseClaim();
  await finishFactoryReset(parts.c.stateDir);
  parts.journal.record({
    surface: 'button',
    source: 'local',
    event: 'factory-reset',
    result: 'success',
    detail: 'owner password, sessions, counters, hubs, settings and journal erased by the supervisor',
  });
  parts.log('factory reset finished: the sticker credentials work again');
}

/** A press: the pairing window, a login unlock, and the cloud claim window when there is a cloud. */
async function pressButton(parts: AgentParts, hub: HubSurface, web: WebService): Promise<string> {
  // A hand on the device also lets a new browser past the account-wide login ceiling (issue 14).
  const pairing = `${hub.openPairingWindow('button')}; ${web.unlockLogin()}`;
  return parts.cloud ? `${pairing}; ${await openCloudClaimWindow(parts)}` : pairing;
}

/** The cloud claim window alone (a claim press, or part of a press): what the cloud confirmed, in words. */
async function openCloudClaimWindow(parts: AgentParts): Promise<string> {
  const link = parts.cloud?.link;
  if (!link) return 'no cloud: there is no claim window to open';
  if (!(await link.openClaimWindow())) return 'cloud claim window not opened: the cloud is not reachable';
  const window = link.claimWindow;
  if (window === undefined) return 'cloud claim window opened (the cloud did not say for how long)';
  const until = new Date(window.closesAt).toISOString().slice(11, 16);
  return `cloud claim window open for ${durationText(window.lengthMs)}, until ${until} UTC`;
}

/** A window's length as the cloud gave it: whole minutes, or minutes and seconds. */
function durationText(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  const m = `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return seconds === 0 ? m : `${m} ${seconds} s`;
}

function listenForGestures(parts: AgentParts, hub: HubSurface, web: WebService): Promise<Server> {
  const supervised = parts.c.button;
  parts.onGesture = async (gesture: ButtonGesture) => {
    const event = gesture === 'hold' ? 'factory-reset' : gesture === 'claim' ? 'claim-press' : 'press';
    parts.journal.record({ surface: 'button', source: 'local', event, result: 'info' });
    if (gesture === 'press') return pressButton(parts, hub, web);
    if (gesture === 'claim') return openCloudClaimWindow(parts);
    // Supervised, the supervisor resets the unit with this agent stopped: the same path as without it.
    return supervised ? supervised.hold() : factoryReset(parts, hub, web);
  };
  return listenForButton(parts.c.stateDir, parts.onGesture, supervised?.socket);
}

/**
 * The maker's driver as the unit's hardware: its button is the unit's button, its faults and its
 * comings and goings are journalled (security tier, aggregated like any source).
 */
async function startDriver(
  target: DriverTarget | BuiltinDriverTarget,
  c: DeviceAgentConfig,
  model: ModelSpec,
  late: { parts?: AgentParts },
  j: DeviceJournal,
): Promise<DriverHardware> {
  // Loaded only with a driver: the simulated plug keeps its memory (src/driver, child_process, net).
  const { DriverHardware } = await import('./driver-hardware.ts');
  const note = (event: string, result: 'failure' | 'info', detail?: string, identity?: string): void =>
    j.record({
      surface: 'driver',
      source: 'local',
      event,
      result,
      ...(detail ? { detail } : {}),
      ...(identity ? { identity } : {}),
    });
  const events: DriverHardwareEvents = {
    onButton: (gesture) => {
      const parts = late.parts;
      if (!parts?.onGesture) return note('driver-button', 'failure', `${gesture} before the agent was up`);
      parts.onGesture(gesture).then(
        (said) => parts.log(`driver button ${gesture}: ${said}`),
        (err: unknown) => parts.log(`driver button ${gesture} failed: ${err instanceof Error ? err.message : ''}`),
      );
    },
    onFault: (f) => note('driver-fault', 'failure', `${f.code}: ${f.message}`),
    onAvailability: (up, name) => note(up ? 'driver-up' : 'driver-down', 'info', undefined, name),
  };
  return 'builtin' in target
    ? DriverHardware.simulated(model, c.stateDir, events)
    : DriverHardware.start(model, target, events);
}

/** Starts the web page, the hub surface, the cloud link and the button; closes what started if one fails. */
async function startSurfaces(
  parts: AgentParts,
  model: ModelSpec,
  startedAt: number,
): Promise<{ web: WebService; hub: HubSurface; button: Server }> {
  const { c } = parts;
  try {
    const web = (parts.web = await startAgentWeb(parts, startedAt));
    const hub = (parts.hub = await startHubSurface({
      bundle: parts.bundle,
      model,
      stateDir: c.stateDir,
      capabilities: parts.capabilities,
      journal: parts.journal,
      log: parts.log,
      damaged: parts.damaged,
      config: { ...c.hub, host: c.host, ...(c.hubPort !== undefined ? { port: c.hubPort } : {}) },
      revokePerson: (name, by) => web.revokePerson(name, by),
    }));
    if (c.cloudUrl) parts.cloud = await startCloud(parts, c.cloudUrl);
    return { web, hub, button: await listenForGestures(parts, hub, web) };
  } catch (err) {
    await parts.cloud?.close();
    await parts.hub?.close();
    await parts.web?.close();
    await parts.updater.close();
    await parts.capabilities.close?.();
    await parts.journal.close();
    throw err;
  }
}

/**
 * Where state the agent cannot use goes: `<stateDir>/damaged` (kept for support, erased by a factory
 * reset), each move journalled as a security event once the journal is open.
 */
function damagedStateSink(
  stateDir: string,
  log: (msg: string) => void,
): DamagedStateSink & { attach(j: DeviceJournal): void } {
  const early: Array<{ file: string; reason: string }> = [];
  let journal: DeviceJournal | undefined;
  const record = (e: { file: string; reason: string }): void =>
    journal?.record({
      surface: 'state',
      source: 'local',
      event: 'state-damaged',
      result: 'failure',
      detail: `${relative(stateDir, e.file)}: ${e.reason}; moved aside, its setup state used`,
    });
  return {
    dir: join(stateDir, DAMAGED_DIR),
    note(e) {
      log(`state file ${relative(stateDir, e.file)} ${e.reason}: moved aside, its setup state used`);
      if (journal) record(e);
      else early.push(e);
    },
    attach(j) {
      journal = j;
      for (const e of early.splice(0)) record(e);
    },
  };
}

/**
 * The DNS-SD answers (advertiser.ts), loaded only once every surface listens and only when on; a
 * unit whose advertising cannot start (port 5353 taken) runs on without it, and says so.
 */
async function startAdvertising(
  c: DeviceAgentConfig,
  hub: HubSurface,
  log: (msg: string) => void,
): Promise<Advertiser | undefined> {
  const config = validateAdvertiserConfig(c.advertise);
  if (!config.enabled) return undefined;
  try {
    const { startAdvertiser } = await import('./advertiser.ts');
    const channelPin = (): Buffer => Buffer.from(hub.channelKey().pin.replace(/^sha256:/, ''), 'hex');
    return await startAdvertiser({ channelPin, host: hub.host, port: hub.port, config, log });
  } catch (err) {
    log(`mDNS advertising not started: ${err instanceof Error ? err.message.slice(0, 120) : String(err)}`);
    return undefined;
  }
}

/** Starts the agent; `log` receives operational messages (never secrets). */
export async function startDeviceAgent(
  config: Partial<DeviceAgentConfig>,
  log: (msg: string) => void = () => undefined,
): Promise<DeviceAgent> {
  const c = validate(config);
  assertNoDebugInterfaces(c.mode);
  const bundle = await readDeviceBundle(c.bundleDir);
  const { model } = bundle;
  await mkdir(c.stateDir, { recursive: true, mode: 0o700 });
  await chmod(c.stateDir, 0o700);
  const sensitive = model.sensors.includes('camera') || model.sensors.includes('microphone');
  const damaged = damagedStateSink(c.stateDir, log);
  const clock = await openClock(c.stateDir, {
    floorSources: [{ at: bundle.unit.createdAt, source: 'unit made' }],
    damaged,
    onError: (err) => log(`clock.json not saved (${(err as { code?: string }).code ?? 'error'})`),
    ...(c.clockReadings ? { readings: c.clockReadings } : {}),
  });
  const journal = await openJournal(c.stateDir, sensitive ? 'sensitive' : 'standard', log, c.journal, damaged, clock);
  // The owner's monitoring choice holds before the first entry (CRA Annex I Part I 2(l)).
  journal.setMonitoring(await ownerMonitoringChoice(c.stateDir, damaged));
  damaged.attach(journal);
  const late: { parts?: AgentParts } = {};
  const capabilities: UnitHardware = c.driver
    ? await startDriver(c.driver, c, model, late, journal)
    : await DeviceCapabilities.load(model, c.stateDir, damaged);
  const startedAt = Date.now();
  const updater = await startUpdater({ stateDir: c.stateDir, bundle, journal, log, damaged, clock, ...c.update });
  const parts: AgentParts = (late.parts = { c, bundle, journal, capabilities, updater, log, damaged, clock });
  const { web, hub, button } = await startSurfaces(parts, model, startedAt);
  const cloud = parts.cloud;
  const stopSupportWatch = watchSupportEnd({ endsOn: () => supportEndOf(parts), journal });
  await finishSupervisedReset(parts).catch((err: unknown) =>
    log(`the factory reset's last steps failed (${resetFailure(err)}); tried again at the next start`),
  );
  log(`device ${bundle.unit.serial} (${model.name}) listening at ${web.url}, hub port ${hub.port}`);
  const advertising: Promise<Advertiser | undefined> = startAdvertising(c, hub, log);
  return {
    bundle,
    web,
    journal,
    capabilities,
    hub,
    ...(cloud ? { cloud: cloud.link } : {}),
    updater,
    async close() {
      stopSupportWatch();
      await (await advertising)?.close();
      await updater.close();
      await new Promise<void>((resolve) => button.close(() => resolve()));
      await cloud?.close();
      await hub.close();
      await web.close();
      await capabilities.close?.();
      await journal.close();
      await clock.close();
    },
  };
}
