/**
 * No debugger in a production process: the supervisor's side of the software JTAG fuse. Node
 * opens its inspector before any of our code runs when `--inspect` (or `-brk`, `-wait`) is in
 * the flags or in NODE_OPTIONS, so the supervisor checks first, also asking node:inspector
 * whether one listens, and refuses to go on; a later SIGUSR1 (which would open one on
 * 127.0.0.1:9229) is swallowed. Development mode is the one way to debug.
 */
import { ConfigError } from '../errors/index.ts';

/** How the device runs: 'production' refuses debug interfaces, 'development' allows them. */
export type DeviceMode = 'production' | 'development';

/** What a process shows of an inspector: its flags, NODE_OPTIONS and the open inspector's URL. */
export interface InspectorEvidence {
  readonly execArgv: readonly string[];
  readonly nodeOptions: string | undefined;
  /** `inspector.url()`: set while an inspector listens, whatever opened it. */
  readonly inspectorUrl: string | undefined;
}

const INSPECTOR_FLAG = /^--inspect(?:-[a-z-]+)?$/;
/**
 * Flags that only say where an inspector would listen or how its URL is shown: they open nothing
 * (the signal that would is ignored), and Node's test runner gives every test process them with
 * their defaults (`--inspect-port=127.0.0.1:9229`), so refusing them would refuse every test.
 */
const SETTINGS_ONLY = new Set(['--inspect-port', '--debug-port', '--inspect-publish-uid']);

/** True for an `--inspect*` flag that opens the inspector: `--inspect`, `-brk`, `-wait`, any but the settings. */
export function isInspectorFlag(arg: string): boolean {
  // Node accepts `_` for `-` in flag names: `--inspect_brk=0` opens it too.
  const name = arg.split('=', 1)[0]!.replaceAll('_', '-');
  return INSPECTOR_FLAG.test(name) && !SETTINGS_ONLY.has(name);
}

/** The reasons `evidence` shows an inspector enabled or open; empty when there is none. */
export function inspectorFindings(evidence: InspectorEvidence): string[] {
  const flagged = (args: readonly string[]): string[] => args.filter(isInspectorFlag);
  const findings = [
    ...flagged(evidence.execArgv).map((f) => `${f} in the node flags`),
    ...flagged((evidence.nodeOptions ?? '').split(/\s+/)).map((f) => `${f} in NODE_OPTIONS`),
  ];
  // The URL names the inspector's address only: its path is the key that lets a debugger attach.
  if (evidence.inspectorUrl) findings.push(`an inspector listening on ${addressOf(evidence.inspectorUrl)}`);
  return findings;
}

function addressOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an unknown address';
  }
}

/** This process's evidence; node:inspector is loaded here only, when the check runs. */
export function currentInspectorEvidence(): InspectorEvidence {
  const inspector = process.getBuiltinModule('node:inspector');
  return { execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS, inspectorUrl: inspector.url() };
}

/**
 * Throws ConfigError DEBUG_INTERFACE_REFUSED when a production process has the Node inspector
 * enabled or open; returns the findings (allowed) in development mode.
 * @example refuseInspector('production', 'the supervisor'); // first thing, before any port opens
 */
export function refuseInspector(mode: DeviceMode, who: string, evidence = currentInspectorEvidence()): string[] {
  const findings = inspectorFindings(evidence);
  if (mode === 'development' || findings.length === 0) return findings;
  throw new ConfigError(
    'DEBUG_INTERFACE_REFUSED',
    'inspector',
    `${who} of a production device does not run with the Node inspector (${findings.join('; ')}); ` +
      'debugging is for development mode only (BULWARK_MODE=development)',
  );
}

let signalIgnored = false;

/**
 * Keeps SIGUSR1 from opening the inspector later, for the rest of the process (a JS listener
 * replaces Node's handler; removing it would leave the default action, which ends the process),
 * as `--disable-sigusr1` does for the agent. Idempotent; the listener keeps nothing alive.
 */
export function ignoreInspectorSignal(log: (msg: string) => void): void {
  if (signalIgnored) return;
  signalIgnored = true;
  process.on('SIGUSR1', () => {
    log('SIGUSR1 ignored: a production device does not open the Node inspector');
  });
}
