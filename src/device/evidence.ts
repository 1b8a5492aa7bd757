/**
 * Evidence for the auditor: what the device's own code knows about how it runs and where it keeps
 * the owner's data, as facts to judge (the auditor never copies device logic). Pure functions and
 * constants; reading a live process or a state folder is the auditor's side.
 *
 * @example
 *   // argv from /proc/<pid>/cmdline, env from /proc/<pid>/environ of the running agent
 *   const seen = runtimeDebugEvidence({ argv, env });
 *   if (seen.mode !== 'production' || seen.inspector.length > 0) fail(seen);
 */
import { inspectorFindings, isInspectorFlag, type DeviceMode } from './inspector-check.ts';
import { AGENT_NODE_FLAGS } from './supervisor.ts';
import { defaultDeviceAgentConfig } from './agent.ts';

/** The environment variable that selects the device's mode, and the one value that loosens it. */
export const DEVICE_MODE_VARIABLE = 'BULWARK_MODE';

/** The mode an agent started with `env` runs in: development only when asked for by name (agent-main's rule). */
export function deviceModeOf(env: Readonly<Record<string, string | undefined>>): DeviceMode {
  return env[DEVICE_MODE_VARIABLE] === 'development' ? 'development' : 'production';
}

/** Node flags, beyond the inspector's, that expose the runtime to a debugger, a REPL or native syntax. */
const RUNTIME_DEBUG_FLAG =
  /^--(debug|debug-brk|expose-[a-z-]+|allow-natives-syntax|interactive|experimental-repl-await)$/;

/** The flags among `args` that enable a debugger, an inspector, a REPL or runtime internals. */
export function debugFlagsOf(args: readonly string[]): string[] {
  return args.filter((arg) => {
    const name = arg.split('=', 1)[0]!.replaceAll('_', '-');
    return isInspectorFlag(arg) || RUNTIME_DEBUG_FLAG.test(name);
  });
}

/** How a process runs, as the device judges itself: its mode, its debug flags and how the inspector could open. */
export interface RuntimeDebugEvidence {
  readonly mode: DeviceMode;
  /** The value of BULWARK_MODE, as set (undefined when unset). */
  readonly modeSetting: string | undefined;
  /** Why the flags or NODE_OPTIONS enable the inspector (src/device's inspector check); empty when they do not. */
  readonly inspector: readonly string[];
  /** Debug flags in the command line or NODE_OPTIONS, the inspector's included. */
  readonly debugFlags: readonly string[];
  /** True when a SIGUSR1 could open the inspector later (no `--disable-sigusr1`). */
  readonly signalOpensInspector: boolean;
  /** True when `--disallow-code-generation-from-strings` is set. */
  readonly codeFromStringsDisallowed: boolean;
}

/**
 * Judges a process's command line (`argv`, the node executable first) and environment. Every
 * argument is read as a flag candidate: the agent's own arguments never look like Node's flags.
 */
export function runtimeDebugEvidence(p: {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}): RuntimeDebugEvidence {
  const args = p.argv.slice(1);
  const nodeOptions = p.env.NODE_OPTIONS;
  const optionArgs = (nodeOptions ?? '').split(/\s+/).filter((a) => a !== '');
  const all = [...args, ...optionArgs];
  return {
    mode: deviceModeOf(p.env),
    modeSetting: p.env[DEVICE_MODE_VARIABLE],
    inspector: inspectorFindings({ execArgv: args, nodeOptions, inspectorUrl: undefined }),
    debugFlags: debugFlagsOf(all),
    signalOpensInspector: !all.includes('--disable-sigusr1'),
    codeFromStringsDisallowed: all.includes('--disallow-code-generation-from-strings'),
  };
}

/** How the supervisor starts the agent, judged the same way: the firmware's own launch settings. */
export function agentLaunchEvidence(): RuntimeDebugEvidence & { readonly nodeFlags: readonly string[] } {
  const seen = runtimeDebugEvidence({ argv: ['node', ...AGENT_NODE_FLAGS], env: {} });
  return { ...seen, mode: defaultDeviceAgentConfig.mode, nodeFlags: AGENT_NODE_FLAGS };
}

/** The owner's data in the state folder, by file (relative, '/'-separated): what a factory reset erases. */
export const OWNER_DATA_FILES: ReadonlyArray<{ readonly file: string; readonly what: string }> = Object.freeze([
  { file: 'web/owner.json', what: "the owner's password" },
  { file: 'web/users.json', what: 'the people the owner added, with their passwords' },
  { file: 'web/sessions.json', what: 'sessions' },
  { file: 'web/lockout.json', what: 'login counters' },
  { file: 'web/device-cookies.json', what: 'trusted browsers' },
  { file: 'web/device-cookie.key', what: 'the device-cookie key' },
  { file: 'hubs.json', what: 'paired hubs' },
  { file: 'update/prefs.json', what: "the owner's update choices" },
]);

/**
 * The files a factory reset keeps, being the device's rather than the owner's: capabilities at
 * their defaults, cloud queues, the journal since the reset, the button socket, the firmware
 * slots and anti-rollback counter, the public update metadata, and the unit's own identities
 * (its renewed web certificate, its hub channel key, its operational certificate), which belong
 * to the unit as its factory bundle does.
 */
export const KEPT_AFTER_FACTORY_RESET = new RegExp(
  `^(${[
    'capabilities\\.json',
    'cloud-commands\\.json',
    'cloud-outbox\\.json',
    'connection-journal\\.jsonl(\\.\\d+)?',
    'button\\.sock',
    'agent-button\\.sock',
    'clock\\.json',
    'firmware/.*',
    'update/metadata/.*',
    'update/status\\.json',
    'update/download/.*',
    'web-cert\\.pem',
    'channel-key\\.json',
    'operational-identity\\.json',
  ].join('|')})$`,
);
