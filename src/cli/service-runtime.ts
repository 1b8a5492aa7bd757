/**
 * The runtime of the long-running services `bulwark hub run` and `bulwark cloud run`: the memory
 * bounds the device agent runs with (src/device/supervisor.ts), so that a flood of unauthenticated
 * requests costs a bounded, returned amount of memory rather than a bigger young generation and
 * malloc arenas that are never given back. Node flags and glibc's malloc settings only take effect
 * when a process starts, so the `bulwark` command replaces itself (execve: same pid, same stdio and
 * signals, no shell and no second process) with one started with them, before loading anything else.
 * This module is a leaf: the launcher loads it before the CLI, so it imports nothing.
 */

/** The long-running commands that get the service runtime, as [command, subcommand]. */
export const SERVICE_COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ['hub', 'run'],
  ['cloud', 'run'],
];

/**
 * Node flags of a service process: the memory part of the agent's AGENT_NODE_FLAGS (a 1 MiB
 * semi-space, and boot code left to the interpreter so the optimising compilers' code does not page
 * in for functions that run once), and V8's size-over-speed mode. Without the latter, request
 * garbage grows the old generation's limit and nothing collects it once the flood stops (measured
 * with bench/memory-flood.ts: the hub stayed at 3.2x its idle RSS a minute after 50,000 requests);
 * with it, V8 grows the heap slowly and shrinks it again when allocation stops.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [
  '--optimize-for-size',
  '--max-semi-space-size=1',
  '--invocation-count-for-maglev=100000',
  '--invocation-count-for-turbofan=30000',
  '--invocation-count-for-feedback-allocation=400',
];

/**
 * glibc malloc settings, as AGENT_ENV: two arenas (OpenSSL and the thread pool would otherwise
 * each keep one that never shrinks), and blocks of 128 KiB and more mapped on their own, which also
 * fixes the trim threshold so freed memory goes back to the system.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** Set in the replacing process, so it runs the command rather than replacing itself again. */
export const SERVICE_RUNTIME_MARK = 'BULWARK_SERVICE_RUNTIME';

/** How to start a service process: the arguments after the Node executable, and its environment. */
export interface ServiceLaunch {
  readonly args: string[];
  readonly env: Record<string, string | undefined>;
}

/** Whether `argv` (after node and script) runs a long-running service. */
export function isServiceCommand(argv: readonly string[]): boolean {
  return SERVICE_COMMANDS.some(([command, sub]) => argv[0] === command && argv[1] === sub);
}

/**
 * The launch that gives `argv` the service runtime, or undefined when it needs none (not a
 * service, or already started with it). The caller's own Node flags come after ours, so a flag
 * given on purpose (say, a larger semi-space) wins; malloc settings already in the environment stay.
 */
export function serviceLaunch(
  script: string,
  argv: readonly string[],
  execArgv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServiceLaunch | undefined {
  if (!isServiceCommand(argv) || env[SERVICE_RUNTIME_MARK] === '1') return undefined;
  return {
    args: [...SERVICE_NODE_FLAGS, ...execArgv, script, ...argv],
    env: { ...SERVICE_ENV, ...env, [SERVICE_RUNTIME_MARK]: '1' },
  };
}

/**
 * Whether the service's lines are JSON: `--log-format json`, or no `--log-format` and stdout not a
 * terminal. The rule of src/cli/log-output.ts's chooseLogFormat, read from argv before commander has
 * parsed it (this module loads nothing); a bad value is refused later, when the command is parsed.
 */
export function logsInJson(argv: readonly string[], stdoutIsTTY: boolean): boolean {
  const i = argv.indexOf('--log-format');
  const given = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--log-format='))?.slice('--log-format='.length);
  return given === undefined ? !stdoutIsTTY : given === 'json';
}

/**
 * Replaces this process with one in the service runtime when `argv` runs a service; returns
 * (and the command runs as it is) when none is needed, or the platform cannot replace a process.
 *
 * @example
 * relaunchAsService(process.argv[1]!, process.argv.slice(2)); // in the `bulwark` launcher
 */
export function relaunchAsService(script: string, argv: readonly string[]): void {
  const launch = serviceLaunch(script, argv, process.execArgv, process.env);
  // process.execve is POSIX only; elsewhere the service runs with Node's defaults.
  if (!launch || typeof process.execve !== 'function') return;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(launch.env)) if (v !== undefined) env[k] = v;
  try {
    process.execve(process.execPath, [process.execPath, ...launch.args], env);
  } catch (err) {
    // The service still runs, only without the bounds: worth a line, not worth refusing to start.
    const code = (err as { code?: unknown }).code;
    const why = typeof code === 'string' ? code : 'execve failed';
    const msg = `service runtime not applied (${why}); running as is`;
    const json = logsInJson(argv, process.stdout.isTTY === true);
    const at = new Date().toISOString();
    process.stderr.write(json ? JSON.stringify({ at, level: 'warn', msg }) + '\n' : `bulwark: warn: ${msg}\n`);
  }
}
