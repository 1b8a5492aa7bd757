/**
 * The supervisor: the small, never-updated "bootloader" of a Node device. Before every start it
 * decides which slot boots (src/update's `prepareBoot`: the active A/B slot if its files still
 * match their hashes and its security version is not below the counter; a slot whose trial ran
 * out of boots is abandoned for the previous one, or the factory image), then starts that
 * image's entry point as a child process with a hardened runtime (no code generation from
 * strings, bounded malloc arenas so argon2's 19 MiB blocks are returned to the system), and
 * restarts it when it dies. A new image is on trial: it must print `{"event":"healthy"}` within
 * `healthTimeoutMs`, within `maxTrialBoots` boots, or the device goes back by itself.
 * In production mode it refuses to run with the Node inspector, before it opens anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { BulwarkError } from '../errors/index.ts';
import { refuseInspector, ignoreInspectorSignal, type DeviceMode } from './inspector-check.ts';
import {
  prepareBoot,
  ensureFactorySlot,
  firmwarePaths,
  runningImageOf,
  validateDeviceUpdateConfig,
  readUpdateConfigFile,
  type DeviceUpdateConfig,
  type SlotName,
} from '../update/index.ts';
import { RestartPolicy, type AgentExit } from './restart-policy.ts';
import { AGENT_BUTTON_SOCKET, ButtonError, listenForButton, pressButton, type ButtonGesture } from './button.ts';
import { describeReset, eraseOwnerState, resumeFactoryReset } from './factory-reset.ts';
import type { Server } from 'node:net';
import type { DriverTarget } from './driver-hardware.ts';

/** What the supervisor needs to start an agent. */
export interface SupervisorOptions {
  readonly bundleDir: string;
  readonly stateDir: string;
  readonly host: string;
  readonly webPort: number;
  /** 'production' (the default) refuses the Node inspector in the supervisor and the agent; 'development' allows it. */
  readonly mode?: DeviceMode;
  /** The hub channel port passed to the agent (0 = any free port); absent: the agent's default. */
  readonly hubPort?: number;
  /** The manufacturer cloud's broker the agent connects out to, mqtts://host:port; absent: no cloud link. */
  readonly cloudUrl?: string;
  /** Where the agent enrols with the birth certificate, when not `cloudUrl`. */
  readonly cloudEnrolUrl?: string;
  /** The maker's hardware driver: a program and its arguments, or a Unix socket; absent: simulated hardware. */
  readonly driver?: DriverTarget;
  /**
   * Restarts allowed within `restartWindowMs` before giving up (failed trial boots do not count:
   * they are bounded by maxTrialBoots).
   */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** Updates: the repository URL and a JSON file of DeviceUpdateConfig settings, passed on to the agent. */
  readonly update?: { readonly url?: string; readonly configFile?: string; readonly checkIntervalMs?: number };
  /** Called with the agent's ready line, plus the slot and firmware version that booted. */
  readonly onReady?: (info: { serial: string; url: string; webPort: number; slot: SlotName; firmware: string }) => void;
  /** The agent's update events (`{"event":"update",...}` lines) as they come. */
  readonly onEvent?: (event: Record<string, unknown>) => void;
  /** Hears the supervisor's own lines (boots, restarts, fallbacks); silent by default. */
  readonly log?: (msg: string) => void;
  /**
   * Where the agent's own log lines (stderr) go: the supervisor's stderr (default), nowhere, or line by
   * line to a function (the CLI prints them in its own format, so the agent's JSON never mixes with text).
   */
  readonly agentStderr?: 'inherit' | 'ignore' | ((line: string) => void);
  /**
   * The unit's factory image (a `release build-image` archive on the unit's read-only storage): kept
   * unpacked and verified in `firmware/slots/factory/` and booted from there like slots a and b.
   * Absent: the factory image is the package installed on the unit.
   */
  readonly factoryImage?: string;
}

/**
 * Node flags of the agent process: the runtime hardening, then memory. Resolving an import calls
 * node:path's separator check once per character of the path: ~20,000 calls for the plug's ~100
 * modules from /work/main, more with a longer install path or more modules. Past V8's call count
 * Maglev compiles it and its own code pages in (~1.8 MiB) for a function that runs only at boot;
 * counts far above boot's (V8's defaults: 400 for Maglev, 3,000 for TurboFan) keep boot interpreted,
 * while what serves requests and pairings is still optimised once it is really hot.
 */
export const AGENT_NODE_FLAGS = [
  '--disallow-code-generation-from-strings',
  '--disable-sigusr1',
  '--max-semi-space-size=1',
  // A flood's garbage is collected and the heap shrinks again, instead of V8 raising its limit (issue 24).
  '--optimize-for-size',
  '--invocation-count-for-maglev=100000',
  '--invocation-count-for-turbofan=30000',
  // Feedback vectors (and Sparkplug code after them) only for functions called 400 times, not 8:
  // most boot and driver-start code runs a few times; measured -0.9 MiB for the thermostat agent.
  '--invocation-count-for-feedback-allocation=400',
  // One V8 platform worker, not four: the unit's concurrent GC and background compiles are small, and each idle worker
  // thread kept ~0.1 MiB resident (measured -0.25 MiB for the plug). Hashing and file work use libuv's pool, not this.
  '--v8-pool-size=1',
];

/** Environment hardening: glibc keeps freed argon2 blocks in per-thread arenas unless told not to. */
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

/** The agent entry: the built JavaScript in a published package, the TypeScript source in a checkout. */
export function agentEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = here.replace(/supervisor\.(ts|js)$/, (_m, ext: string) => `agent-main.${ext}`);
  if (existsSync(sibling)) return sibling;
  throw new BulwarkError('AGENT_MISSING', `agent entry not found next to ${here}`);
}

/** The slot, image and flags of one boot. */
interface BootPlan {
  readonly slot: SlotName;
  readonly trial: boolean;
  readonly firmware: string;
  /** The script node starts: the booted slot's own entry, or the installed runtime's agent for the factory image. */
  readonly entry: string;
  readonly healthTimeoutMs: number;
}

/** The driver on the agent's command line: one JSON argument for a program and its argv, or a socket path. */
function driverArgs(driver: DriverTarget | undefined): string[] {
  if (driver === undefined) return [];
  if ('socket' in driver) return ['--driver-socket', driver.socket];
  return ['--driver-json', JSON.stringify({ program: driver.program, args: driver.args ?? [] })];
}

/**
 * The agent's command line: the runtime flags, the entry, then the agent's own options (the unit's
 * bundle, state, ports). Nothing on it names code outside the booted slot: an image runs by itself.
 */
export function agentArgs(o: SupervisorOptions, plan: Pick<BootPlan, 'slot' | 'entry'>): string[] {
  const { slot, entry } = plan;
  return [
    ...AGENT_NODE_FLAGS,
    entry,
    '--bundle',
    o.bundleDir,
    '--state',
    o.stateDir,
    '--host',
    o.host,
    '--web-port',
    String(o.webPort),
    '--slot',
    slot,
    '--button-socket',
    AGENT_BUTTON_SOCKET,
    ...(o.hubPort !== undefined ? ['--hub-port', String(o.hubPort)] : []),
    ...(o.cloudUrl !== undefined ? ['--cloud', o.cloudUrl] : []),
    ...(o.cloudEnrolUrl !== undefined ? ['--cloud-enrol', o.cloudEnrolUrl] : []),
    ...driverArgs(o.driver),
    ...(o.update?.url ? ['--update-url', o.update.url] : []),
    ...(o.update?.configFile ? ['--update-config', o.update.configFile] : []),
    ...(o.update?.checkIntervalMs ? ['--update-interval', `${o.update.checkIntervalMs}ms`] : []),
  ];
}

/**
 * Decides which slot boots (the factory image when the boot state is unusable) and what runs: a
 * slot's own entry (its image is verified file by file), or for the factory image the agent of the
 * package installed on the unit, which is that image.
 */
async function planBoot(o: SupervisorOptions, log: (msg: string) => void): Promise<BootPlan> {
  const bootConfig = await loadBootConfig(o);
  const plan = await prepareBoot(o.stateDir, bootConfig).catch((err: unknown) => {
    log(`boot state unusable (${err instanceof Error ? err.message : String(err)}); booting the factory image`);
    return { boot: 'factory' as const, trial: false, notes: [] as string[], image: undefined };
  });
  for (const note of plan.notes) log(note);
  const slot = plan.boot;
  const healthTimeoutMs = bootConfig.healthTimeoutMs;
  if (slot !== 'factory' && plan.image) {
    const entry = join(firmwarePaths(o.stateDir).slot(slot), plan.image.image.entry);
    return { slot, trial: plan.trial, firmware: plan.image.image.version, entry, healthTimeoutMs };
  }
  const factory = await factoryBoot(o, bootConfig, log);
  return { slot: 'factory', trial: plan.trial, ...factory, healthTimeoutMs };
}

/**
 * What the factory image is: the unit's factory image kept verified in its own slot, or (without
 * one, or when that archive itself is unusable) the package installed on the unit.
 */
async function factoryBoot(
  o: SupervisorOptions,
  config: DeviceUpdateConfig,
  log: (msg: string) => void,
): Promise<{ entry: string; firmware: string }> {
  if (o.factoryImage !== undefined) {
    const limits = { maxEntries: config.maxImageEntries, maxImageEntries: config.maxImageEntries };
    try {
      const f = await ensureFactorySlot(o.stateDir, o.factoryImage, {
        ...limits,
        maxUnpackedBytes: config.maxUnpackedBytes,
      });
      if (f.installed) log(`factory slot installed from ${o.factoryImage} (${f.installed})`);
      return { entry: f.entry, firmware: f.manifest.image.version };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      log(`the factory image ${o.factoryImage} is unusable (${why}); booting the installed package`);
    }
  }
  return { entry: agentEntry(), firmware: (await runningImageOf(o.stateDir, 'factory')).version };
}

/** How long a stopping agent may take before it is killed, ms. */
const STOP_GRACE_MS = 10_000;
/** How long a reset waits for the agent to be back before it answers the presser, ms. */
const RESET_READY_WAIT_MS = 30_000;

/**
 * One supervised agent: boots it, reads its lines, applies the restart policy when it exits, and
 * owns the button: a press is passed on to the agent, a hold resets the unit with the agent stopped.
 */
class Supervision {
  readonly #o: SupervisorOptions;
  readonly #mode: DeviceMode;
  readonly #log: (msg: string) => void;
  readonly #policy: RestartPolicy;
  #child: ChildProcess | undefined;
  #button: Server | undefined;
  #bootTimer: NodeJS.Timeout | undefined;
  #resetting: Promise<string> | undefined;
  /** True while a reset stops the agent and erases: nothing boots meanwhile. */
  #erasing = false;
  #onListening: Array<() => void> = [];
  #stopping = false;
  #finished = false;
  #resolve!: (code: number) => void;
  readonly done = new Promise<number>((resolve) => {
    this.#resolve = resolve;
  });

  constructor(o: SupervisorOptions, mode: DeviceMode, log: (msg: string) => void) {
    this.#o = o;
    this.#mode = mode;
    this.#log = log;
    this.#policy = new RestartPolicy({ maxRestarts: o.maxRestarts ?? 5, windowMs: o.restartWindowMs ?? 60_000 });
  }

  finish(code: number): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#bootTimer);
    this.#button?.close();
    this.#resolve(code);
  }

  stop(): void {
    this.#stopping = true;
    clearTimeout(this.#bootTimer);
    if (this.#child) this.#child.kill('SIGTERM');
    else this.finish(0);
  }

  /** Listens on the unit's button socket, before the first boot: the button works with no agent. */
  async listen(): Promise<void> {
    await mkdir(this.#o.stateDir, { recursive: true, mode: 0o700 });
    this.#button = await listenForButton(this.#o.stateDir, (g) => this.#gesture(g));
  }

  #gesture(gesture: ButtonGesture): Promise<string> {
    if (gesture === 'hold') return this.factoryReset();
    return pressButton(this.#o.stateDir, gesture, 20_000, AGENT_BUTTON_SOCKET).catch((err: unknown) => {
      if (err instanceof ButtonError && err.code === 'BUTTON_REFUSED') throw err;
      const why = 'the device software is not running (it restarts by itself); a hold resets the unit without it';
      throw new ButtonError('BUTTON_UNREACHABLE', why);
    });
  }

  /**
   * The factory reset, the recovery path outside the application: stops the agent, erases the
   * owner's files (src/device/factory-reset.ts), boots again, and answers once the agent is back
   * (or has failed to come back). One reset at a time; a second hold gets the first one's answer.
   */
  factoryReset(): Promise<string> {
    this.#resetting ??= this.#reset().finally(() => {
      this.#resetting = undefined;
    });
    return this.#resetting;
  }

  async #reset(): Promise<string> {
    this.#erasing = true;
    let said: string;
    try {
      this.#log('factory reset: stopping the agent');
      clearTimeout(this.#bootTimer);
      await this.#stopChild();
      said = describeReset(await eraseOwnerState(this.#o.stateDir));
    } finally {
      this.#erasing = false;
    }
    this.#log(said);
    this.#policy.forget();
    if (this.#stopping) return said;
    const back = this.#nextListening(RESET_READY_WAIT_MS);
    void this.boot().catch((err: unknown) => this.cannotBoot(err));
    await back;
    return said;
  }

  cannotBoot(err: unknown): void {
    this.#log(`cannot boot: ${err instanceof Error ? err.message : String(err)}`);
    this.finish(1);
  }

  /** Resolves at the agent's next ready line, when it exits first, or after `ms`. */
  #nextListening(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#onListening.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wakeListeners(): void {
    for (const wake of this.#onListening.splice(0)) wake();
  }

  async #stopChild(): Promise<void> {
    const c = this.#child;
    if (!c) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(killer);
  }

  async boot(): Promise<void> {
    if (this.#stopping) {
      this.finish(0);
      return;
    }
    const resumed = await resumeFactoryReset(this.#o.stateDir);
    if (resumed) this.#log(`an interrupted factory reset was resumed: ${describeReset(resumed)}`);
    const plan = await planBoot(this.#o, this.#log);
    if (this.#stopping) {
      this.finish(0);
      return;
    }
    if (this.#erasing) return;
    this.#spawn(plan);
  }

  #spawn(plan: BootPlan): void {
    const where = plan.slot === 'factory' ? 'the factory image' : `slot ${plan.slot}`;
    this.#log(`booting ${where} (firmware ${plan.firmware})${plan.trial ? ', on trial' : ''}`);
    const stderr = this.#o.agentStderr ?? 'inherit';
    const c = spawn(process.execPath, agentArgs(this.#o, plan), {
      stdio: ['ignore', 'pipe', typeof stderr === 'function' ? 'pipe' : stderr],
      env: { ...process.env, ...AGENT_ENV, NODE_OPTIONS: '', BULWARK_MODE: this.#mode },
    });
    this.#child = c;
    if (typeof stderr === 'function' && c.stderr) createInterface({ input: c.stderr }).on('line', stderr);
    const run = { healthy: false, healthTimer: undefined as NodeJS.Timeout | undefined };
    if (plan.trial) {
      run.healthTimer = setTimeout(() => {
        const within = `within ${plan.healthTimeoutMs} ms`;
        this.#log(`firmware ${plan.firmware} did not report healthy ${within}; ending this boot`);
        c.kill('SIGKILL');
      }, plan.healthTimeoutMs);
    }
    createInterface({ input: c.stdout! }).on('line', (line) => this.#onLine(line, plan, run));
    c.on('exit', (code, signal) => {
      clearTimeout(run.healthTimer);
      this.#child = undefined;
      this.#wakeListeners();
      this.#onExit({ code, signal, trial: plan.trial, healthy: run.healthy, firmware: plan.firmware });
    });
  }

  #onLine(line: string, plan: BootPlan, run: { healthy: boolean; healthTimer: NodeJS.Timeout | undefined }): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.#log(line);
      return;
    }
    if (msg.event === 'listening') {
      const ready = msg as { serial: string; url: string; webPort: number };
      this.#o.onReady?.({ ...ready, slot: plan.slot, firmware: plan.firmware });
      this.#wakeListeners();
    } else if (msg.event === 'healthy') {
      run.healthy = true;
      clearTimeout(run.healthTimer);
    } else if (msg.event === 'button' && msg.gesture === 'hold') {
      // The driver's button, held: the same reset as the socket's.
      void this.factoryReset().then((said) => this.#log(`driver button hold: ${said}`));
    } else if (msg.event === 'update') this.#o.onEvent?.(msg);
  }

  #onExit(exit: AgentExit): void {
    if (this.#stopping) {
      this.finish(exit.code ?? 0);
      return;
    }
    if (this.#erasing) return; // the reset boots again once the owner's files are gone
    const decision = this.#policy.afterExit(exit, Date.now());
    this.#log(decision.message);
    if (decision.kind === 'stop') {
      this.finish(decision.exitCode);
      return;
    }
    this.#bootTimer = setTimeout(() => {
      void this.boot().catch((err: unknown) => this.cannotBoot(err));
    }, decision.delayMs);
  }
}

/**
 * Runs the agent under supervision until `stop()`; resolves `done` with the exit code. Throws
 * ConfigError DEBUG_INTERFACE_REFUSED at once, before any port opens, when a production
 * supervisor runs with the Node inspector.
 */
export function superviseAgent(o: SupervisorOptions): {
  /** Ends the agent (SIGTERM) and restarts it no more; `done` then settles. */
  stop(): void;
  /** Settles with the supervisor's exit code once it has finished. */
  done: Promise<number>;
} {
  const log = o.log ?? (() => undefined);
  const mode = guardDebugInterfaces(o.mode ?? 'production', log);
  const supervision = new Supervision(o, mode, log);
  void supervision
    .listen()
    .then(() => supervision.boot())
    .catch((err: unknown) => supervision.cannotBoot(err));
  return { stop: () => supervision.stop(), done: supervision.done };
}

/** The software JTAG fuse of the supervisor's own process: see inspector-check.ts. */
function guardDebugInterfaces(mode: DeviceMode, log: (msg: string) => void): DeviceMode {
  // The signal first: the inspector's SIGUSR1 handler runs on its own thread, so it could open
  // the inspector between a check and a listener installed after it.
  if (mode === 'production') ignoreInspectorSignal(log);
  const allowed = refuseInspector(mode, 'the supervisor');
  if (allowed.length) log(`development mode: Node inspector allowed (${allowed.join('; ')}); production refuses it`);
  return mode;
}

async function loadBootConfig(o: SupervisorOptions): Promise<DeviceUpdateConfig> {
  const file = o.update?.configFile;
  return validateDeviceUpdateConfig(file ? await readUpdateConfigFile(file) : {});
}
