// Outside programs some tests need (PostgreSQL, Mosquitto, Chromium, hydra, testssl.sh, zbarimg, faketime).
// One rule for all of them: outside CI a missing tool skips the test and says what to install;
// in CI (where every one is installed) a missing tool fails the test.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What to do with a test that needs a tool. */
export type ToolDecision = 'run' | 'skip' | 'fail';

/** The outside tools the tests know how to find. */
export type ToolName =
  | 'postgresql'
  | 'mosquitto'
  | 'mosquitto-clients'
  | 'rabbitmq-server'
  | 'chromium'
  | 'hydra'
  | 'testssl.sh'
  | 'zbarimg'
  | 'faketime';

/** Hides tools from the tests, to check their skip path: `BULWARK_TEST_HIDE_TOOLS=postgresql,mosquitto`. */
export const HIDE_TOOLS_ENV = 'BULWARK_TEST_HIDE_TOOLS';

/** The smallest test context this needs (node:test's `TestContext` has it). */
export interface SkippableTest {
  skip(message: string): void;
}

interface Executable {
  /** Tried in order: a bare name is looked up on PATH by execFile, an absolute path is run as is. */
  readonly candidates: readonly string[];
  /** Arguments for a quick harmless run; any exit status counts, only failing to start does not. */
  readonly probeArgs: readonly string[];
}

interface ToolSpec {
  /** The Debian packages that provide the tool. */
  readonly debianPackages: string;
  /** Every one must start for the tool to count as installed. */
  readonly executables: readonly Executable[];
}

const PROBE_TIMEOUT_MS = 10_000;

/** Debian's versioned PostgreSQL binaries, newest first. */
function postgresLibBins(name: string): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin', name));
}

const TOOLS: Record<ToolName, ToolSpec> = {
  postgresql: {
    debianPackages: 'postgresql',
    executables: [
      { candidates: ['postgres', ...postgresLibBins('postgres')], probeArgs: ['--version'] },
      { candidates: ['initdb', ...postgresLibBins('initdb')], probeArgs: ['--version'] },
    ],
  },
  mosquitto: {
    debianPackages: 'mosquitto',
    executables: [{ candidates: ['mosquitto', '/usr/sbin/mosquitto'], probeArgs: ['-h'] }],
  },
  'mosquitto-clients': {
    debianPackages: 'mosquitto-clients',
    executables: [
      { candidates: ['mosquitto_pub'], probeArgs: ['--help'] },
      { candidates: ['mosquitto_sub'], probeArgs: ['--help'] },
    ],
  },
  // Debian's RabbitMQ (3.10) and the epmd its nodes register with (test/support/rabbitmq.ts). Probed by its
  // defaults script: `rabbitmq-server --help` starts a broker, and its CLI starts an epmd daemon.
  'rabbitmq-server': {
    debianPackages: 'rabbitmq-server',
    executables: [
      { candidates: ['/usr/lib/rabbitmq/bin/rabbitmq-defaults'], probeArgs: [] },
      { candidates: ['epmd', '/usr/bin/epmd'], probeArgs: ['-help'] },
    ],
  },
  // The browser tests launch exactly this path.
  chromium: {
    debianPackages: 'chromium',
    executables: [{ candidates: ['/usr/bin/chromium'], probeArgs: ['--version'] }],
  },
  hydra: { debianPackages: 'hydra', executables: [{ candidates: ['hydra'], probeArgs: ['-h'] }] },
  'testssl.sh': { debianPackages: 'testssl.sh', executables: [{ candidates: ['testssl'], probeArgs: ['--version'] }] },
  zbarimg: { debianPackages: 'zbar-tools', executables: [{ candidates: ['zbarimg'], probeArgs: ['--version'] }] },
  // libfaketime: a unit's wall clock set to 1970 for real (the clock floor's end-to-end test).
  faketime: { debianPackages: 'faketime', executables: [{ candidates: ['faketime'], probeArgs: ['--version'] }] },
};

/** The decision, from whether the tool was found and whether this is CI. */
export function toolDecision(found: boolean, ci: boolean): ToolDecision {
  if (found) return 'run';
  return ci ? 'fail' : 'skip';
}

/** Whether `env` says this is CI: `CI` set to anything but empty, `0` or `false`. */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const v = env.CI?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** The tools named in `BULWARK_TEST_HIDE_TOOLS` (comma or space separated). */
export function hiddenTools(env: NodeJS.ProcessEnv): Set<string> {
  return new Set((env[HIDE_TOOLS_ENV] ?? '').split(/[\s,]+/).filter((s) => s !== ''));
}

/** The message a skipped or failed test shows for `name`. */
export function toolMessage(name: ToolName, decision: Exclude<ToolDecision, 'run'>, hidden = false): string {
  const why = hidden ? `hidden by ${HIDE_TOOLS_ENV}` : 'not installed';
  const install = `apt-get install ${TOOLS[name].debianPackages}`;
  return decision === 'fail' ? `${name} is required in CI but ${why} (${install})` : `${name} ${why}: ${install}`;
}

function starts(executable: Executable): boolean {
  return executable.candidates.some((cmd) => {
    try {
      execFileSync(cmd, [...executable.probeArgs], { stdio: 'ignore', timeout: PROBE_TIMEOUT_MS });
      return true;
    } catch (e) {
      // A non-zero exit or a timeout still means the program is there and runs.
      const code = (e as { code?: unknown }).code;
      return code !== 'ENOENT' && code !== 'EACCES';
    }
  });
}

const probed = new Map<ToolName, boolean>();

/** Whether `name` is installed (probed once per process) and not hidden by `BULWARK_TEST_HIDE_TOOLS`. */
export function toolAvailable(name: ToolName): boolean {
  if (hiddenTools(process.env).has(name)) return false;
  let found = probed.get(name);
  if (found === undefined) {
    found = TOOLS[name].executables.every(starts);
    probed.set(name, found);
  }
  return found;
}

/**
 * Call first in a test that needs `name`: true to go on; false after skipping the test (outside
 * CI; return at once); throws in CI.
 *
 *     test('hydra finds nothing', async (t) => { if (!needTool(t, 'hydra')) return; ... });
 */
export function needTool(t: SkippableTest, name: ToolName): boolean {
  const decision = toolDecision(toolAvailable(name), isCi(process.env));
  if (decision === 'run') return true;
  const message = toolMessage(name, decision, hiddenTools(process.env).has(name));
  if (decision === 'fail') throw new Error(message);
  t.skip(message);
  return false;
}
