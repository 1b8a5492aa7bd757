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
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { BulwarkError } from '../errors/index.ts';
import { refuseInspector, ignoreInspectorSignal, type DeviceMode } from './inspector-check.ts';
import {
  prepareBoot, firmwarePaths, runningImageOf, validateDeviceUpdateConfig, readUpdateConfigFile, REBOOT_EXIT_CODE,
  type DeviceUpdateConfig, type SlotName,
} from '../update/index.ts';

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
  /** Restarts allowed within `restartWindowMs` before giving up (failed trial boots do not count: they are bounded by maxTrialBoots). */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** Updates: the repository URL and a JSON file of DeviceUpdateConfig settings, passed on to the agent. */
  readonly update?: { readonly url?: string; readonly configFile?: string; readonly checkIntervalMs?: number };
  /** Called with the agent's ready line, plus the slot and firmware version that booted. */
  readonly onReady?: (info: { serial: string; url: string; webPort: number; slot: SlotName; firmware: string }) => void;
  /** The agent's update events (`{"event":"update",...}` lines) as they come. */
  readonly onEvent?: (event: Record<string, unknown>) => void;
  readonly log?: (msg: string) => void;
  /** Where the agent's own log lines (stderr) go: the supervisor's stderr (default), or nowhere. */
  readonly agentStderr?: 'inherit' | 'ignore';
}

/**
 * Node flags of the agent process: the runtime hardening, then memory. Loading ~50 modules at
 * boot makes Node's module resolver hot enough for V8's optimising compilers, whose own code
 * then pages in (~2 MiB, more with long install paths) for functions that run only at boot;
 * raising V8's call counts before Maglev and TurboFan step in (400 and 3,000) keeps boot interpreted, while
 * what serves requests and pairings is still optimised once it is really hot.
 */
export const AGENT_NODE_FLAGS = [
  '--disallow-code-generation-from-strings', '--disable-sigusr1', '--max-semi-space-size=1',
  '--invocation-count-for-maglev=20000', '--invocation-count-for-turbofan=30000',
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

/**
 * Runs the agent under supervision until `stop()`; resolves `done` with the exit code. Throws
 * ConfigError DEBUG_INTERFACE_REFUSED at once, before any port opens, when a production
 * supervisor runs with the Node inspector.
 */
export function superviseAgent(o: SupervisorOptions): { stop(): void; done: Promise<number> } {
  const log = o.log ?? (() => undefined);
  const mode = guardDebugInterfaces(o.mode ?? 'production', log);
  const maxRestarts = o.maxRestarts ?? 5;
  const windowMs = o.restartWindowMs ?? 60_000;
  const restarts: number[] = [];
  const reboots: number[] = [];
  let child: ChildProcess | undefined;
  let stopping = false;
  let finished = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = (code) => { if (!finished) { finished = true; resolve(code); } }; });

  const boot = async (): Promise<void> => {
    if (stopping) { finish(0); return; }
    const bootConfig = await loadBootConfig(o);
    const plan = await prepareBoot(o.stateDir, bootConfig).catch((err: unknown) => {
      log(`boot state unusable (${err instanceof Error ? err.message : String(err)}); booting the factory image`);
      return { boot: 'factory' as const, trial: false, notes: [] as string[], image: undefined };
    });
    for (const note of plan.notes) log(note);
    if (stopping) { finish(0); return; }
    const runtime = agentEntry();
    const slot = plan.boot;
    const entry = slot === 'factory' || !plan.image ? runtime : join(firmwarePaths(o.stateDir).slot(slot), plan.image.image.entry);
    const firmware = plan.image ? plan.image.image.version : (await runningImageOf(o.stateDir, 'factory')).version;
    const args = [
      ...AGENT_NODE_FLAGS, entry,
      ...(entry !== runtime ? ['--runtime', pathToFileURL(runtime).href] : []),
      '--bundle', o.bundleDir, '--state', o.stateDir, '--host', o.host, '--web-port', String(o.webPort), '--slot', slot,
      ...(o.hubPort !== undefined ? ['--hub-port', String(o.hubPort)] : []),
      ...(o.cloudUrl !== undefined ? ['--cloud', o.cloudUrl] : []),
      ...(o.update?.url ? ['--update-url', o.update.url] : []),
      ...(o.update?.configFile ? ['--update-config', o.update.configFile] : []),
      ...(o.update?.checkIntervalMs ? ['--update-interval', `${o.update.checkIntervalMs}ms`] : []),
    ];
    log(`booting ${slot === 'factory' ? 'the factory image' : `slot ${slot}`} (firmware ${firmware})${plan.trial ? ', on trial' : ''}`);
    const c = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', o.agentStderr ?? 'inherit'],
      env: { ...process.env, ...AGENT_ENV, NODE_OPTIONS: '', BULWARK_MODE: mode },
    });
    child = c;
    let healthy = false;
    const healthTimer = plan.trial ? setTimeout(() => {
      log(`firmware ${firmware} did not report healthy within ${bootConfig.healthTimeoutMs} ms; ending this boot`);
      c.kill('SIGKILL');
    }, bootConfig.healthTimeoutMs) : undefined;
    createInterface({ input: c.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try { msg = JSON.parse(line) as Record<string, unknown>; } catch { log(line); return; }
      if (msg.event === 'listening') o.onReady?.({ ...(msg as { serial: string; url: string; webPort: number }), slot, firmware });
      else if (msg.event === 'healthy') { healthy = true; clearTimeout(healthTimer); }
      else if (msg.event === 'update') o.onEvent?.(msg);
    });
    c.on('exit', (code, signal) => {
      clearTimeout(healthTimer);
      child = undefined;
      if (stopping) { finish(code ?? 0); return; }
      if (code === REBOOT_EXIT_CODE) {
        // An install asks for one reboot; an image that asks again and again is stopped like a crash loop.
        const now = Date.now();
        reboots.push(now);
        while (reboots.length && reboots[0]! < now - windowMs) reboots.shift();
        if (reboots.length > maxRestarts * 2) { log(`the agent asked for ${reboots.length} reboots within ${windowMs} ms; giving up`); finish(1); return; }
        log('the agent asked for a reboot');
        setTimeout(() => { void boot(); }, 50);
        return;
      }
      if (plan.trial && !healthy) {
        log(`trial boot of firmware ${firmware} failed (${signal ?? code})`);
        setTimeout(() => { void boot(); }, 250);
        return;
      }
      if (code === 78) { log('agent refused its configuration; not restarting'); finish(78); return; }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0]! < now - windowMs) restarts.shift();
      if (restarts.length > maxRestarts) { log(`agent died ${restarts.length} times within ${windowMs} ms; giving up`); finish(1); return; }
      log(`agent exited (${signal ?? code}); restarting`);
      setTimeout(() => { void boot(); }, 250 * restarts.length);
    });
  };
  void boot().catch((err: unknown) => { log(`cannot boot: ${err instanceof Error ? err.message : String(err)}`); finish(1); });
  return {
    stop() {
      stopping = true;
      if (child) child.kill('SIGTERM'); else finish(0);
    },
    done,
  };
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
  return validateDeviceUpdateConfig(o.update?.configFile ? await readUpdateConfigFile(o.update.configFile) : {});
}
