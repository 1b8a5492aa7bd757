/**
 * How the audited unit starts, so the auditor can start it again on folders of its own (a fresh one, a reset copy)
 * exactly as configured. A product built on the SDK is audited from code with its own boot (`unitBoot`: it starts the
 * agent with the start it is handed, then does what the product does at power-on); any other unit is started as it is
 * launched: the command line and environment of its running process when the auditor can see it, else its installed
 * service unit, else the firmware's own launch (`bulwark device run`, production mode, no update settings file).
 * The auditor's start points every unit at its own state folder and loopback ports, with the simulated hardware, no
 * cloud and no update repository: nothing leaves the machine and no hardware is touched.
 */
import type { DeviceAgent, DeviceAgentConfig } from '../device/index.ts';
import type { AgentStart, UnitBoot } from './unit-boot.ts';
import type { AuditContext } from './context.ts';
import { deviceProcess } from './device-process.ts';
import { AuditError } from './errors.ts';
import { readBounded } from './files.ts';
import { parseUnitFile } from './runtime-checks.ts';

/** How the unit starts: its boot, and where the auditor learnt it. */
export interface UnitLaunch {
  readonly boot: UnitBoot;
  /** Where the launch came from, for evidence. */
  readonly source: string;
}

/** What the auditor's start saw of one boot: the configuration the unit asked for. */
export interface StartedUnit {
  readonly agent: DeviceAgent;
  /** The configuration the boot passed to the agent's start, before the auditor's folders and ports. */
  readonly config: Partial<DeviceAgentConfig>;
}

/** The agent's settings an argv and an environment give: the mode, and the update settings as the agent reads them. */
async function configFromCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Partial<DeviceAgentConfig>> {
  const { updateOptionsFromArgv } = await import('../update/index.ts');
  const update = await updateOptionsFromArgv(argv, { restart: () => undefined, emit: () => undefined });
  return {
    mode: env.BULWARK_MODE === 'development' ? 'development' : 'production',
    ...(update.config !== undefined ? { update: { config: update.config } } : {}),
  };
}

/** `KEY=value` pairs of systemd Environment= lines (quotes removed). */
function unitEnvironment(lines: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    for (const m of line.matchAll(/"([^"=\s]+)=([^"]*)"|([^\s"=]+)=(\S*)/g)) env[m[1] ?? m[3]!] = m[2] ?? m[4] ?? '';
  }
  return env;
}

/** The launch of the unit's installed service unit: ExecStart's arguments and its Environment= settings. */
async function serviceUnitLaunch(path: string): Promise<UnitLaunch | undefined> {
  const f = await readBounded(path, 1_048_576);
  if (!f.ok) return undefined;
  const service = parseUnitFile(f.text).get('Service') ?? [];
  const exec = service.filter(([k]) => k === 'ExecStart').pop()?.[1];
  if (exec === undefined) return undefined;
  const env = unitEnvironment(service.filter(([k]) => k === 'Environment').map(([, v]) => v));
  const config = await configFromCommandLine(exec.split(/\s+/), env);
  return { boot: (start) => start(config), source: `its service unit ${path} (ExecStart and Environment)` };
}

/**
 * How the audited unit starts: the caller's boot (an SDK product), else its running process's command line and
 * environment, else its installed service unit, else the firmware's own launch.
 * @throws ConfigError when the unit's own update settings are refused (the unit would not start either)
 */
export async function unitLaunch(ctx: AuditContext): Promise<UnitLaunch> {
  const given = ctx.inputs.unitBoot;
  if (given !== undefined) return { boot: given, source: "the product's own boot (given to the audit)" };
  const seen = await deviceProcess(ctx);
  if (seen.process !== undefined && !seen.process.self) {
    const config = await configFromCommandLine(seen.process.argv, seen.process.env);
    return { boot: (start) => start(config), source: `its running process (pid ${seen.process.pid}): argv and env` };
  }
  const unit =
    ctx.inputs.serviceUnitPath === undefined ? undefined : await serviceUnitLaunch(ctx.inputs.serviceUnitPath);
  if (unit !== undefined) return unit;
  return {
    boot: (start) => start({ mode: 'production' }),
    source: "the firmware's own launch (`bulwark device run`: production mode, no update settings file)",
  };
}

/**
 * Boots the unit on `stateDir` through the auditor's start: the boot's configuration with the unit's bundle, this
 * folder, loopback ports, no driver, cloud or update repository. Resolves with the agent and what the boot asked for.
 */
export async function startUnitCopy(launch: UnitLaunch, bundleDir: string, stateDir: string): Promise<StartedUnit> {
  const device = await import('../device/index.ts');
  let asked: Partial<DeviceAgentConfig> | undefined;
  const start: AgentStart = (config) => {
    if (asked !== undefined) throw new AuditError('AUDIT_OPTIONS_INVALID', 'unitBoot', 'must start one agent');
    asked = config;
    const { driver: _d, button: _b, cloudUrl: _c, cloudEnrolUrl: _e, update, ...kept } = config;
    const { repositoryUrl: _r, ...updateConfig } = update?.config ?? {};
    return device.startDeviceAgent({
      ...kept,
      bundleDir,
      stateDir,
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      // The auditor's own process decides nothing about the unit's mode: the configuration's mode is judged instead.
      mode: 'development',
      update: { config: updateConfig },
    });
  };
  const agent = await launch.boot(start);
  if (asked === undefined) {
    await agent.close();
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'unitBoot', 'must start its agent with the start it is given');
  }
  return { agent, config: asked };
}
