/**
 * How the CLI reports an error: one line `bulwark: error CODE: message`, a `hint:` line where one
 * helps, never a stack trace; the exit code is the error table's (src/errors/table.ts).
 */
import { CommanderError } from 'commander';
import { BulwarkError, codeOf, exitCodeOf, EXIT, type ErrorCode } from '../errors/index.ts';

/** Codes the CLI itself throws or prints. */
export type CliErrorCode =
  | 'USAGE' // commander refused the command line: unknown option, missing argument or option
  | 'INTERNAL' // an error that is not a BulwarkError and carries no system error code: a bug
  | 'AUDIT_OPTION_INVALID' // `audit` options that do not go together
  | 'POLICY_OPTION_INVALID' // `policy render --format` is neither md nor html
  | 'DEVICE_AGENT_REFUSED' // `device run`: the agent refused its configuration (it exited 78)
  | 'DEVICE_AGENT_FAILED' // `device run`: the agent stopped for another reason and was not restarted
  | 'DEMO_FAILED'; // a step of `bulwark demo` did not do what it shows

/** Thrown when a step of `bulwark demo` does not do what it shows ('DEMO_FAILED'). */
export class DemoError extends BulwarkError<'DEMO_FAILED'> {
  constructor(message: string) {
    super('DEMO_FAILED', message);
  }
}

/** A line that tells a person what to do next, for the codes where the message alone does not. */
const HINTS: Readonly<Partial<Record<ErrorCode | 'EADDRINUSE' | 'EACCES' | 'ENOENT', string>>> = Object.freeze({
  USAGE: 'see `bulwark help <command>` or `bulwark <command> --help`',
  INTERNAL: 'this is a bug in bulwark: please report it with the command you ran',
  EADDRINUSE: 'another program listens on that port: choose another port, or 0 for any free port',
  EACCES: 'not permitted: check the file modes, or choose a port above 1023',
  ENOENT: 'check the path',
  HUB_NOT_RUNNING: 'start the hub with `bulwark hub run --state <dir>`, and pass the same folder to --hub',
  BUTTON_UNREACHABLE: 'start the device with `bulwark device run`, and pass its --state folder',
  FACTORY_EXISTS: 'this folder already holds a factory: use it, or choose another --dir',
  RELEASE_DOWNGRADE_REFUSED: 'publish a newer version, or pass --allow-downgrade for a drill (devices refuse it)',
  PROVISION_SHARED_SECRET_REFUSED: "leave the option out: each unit's own secrets are printed on its sticker",
  DEBUG_INTERFACE_REFUSED: 'start Node without --inspect (look in NODE_OPTIONS too)',
  DEVICE_AGENT_REFUSED: "the agent's own error is on the lines above",
  PAIRING_WINDOW_CLOSED:
    "press the device's button (`bulwark device button --state <dir>`), then pair within the window",
  PAIRING_PUSH_BUTTON_REFUSED: 'this device pairs by setup code only: pass --code with the code from its label',
  PAIRING_CONFIRMATION_FAILED: "check the setup code on the device's label, then open a new window and try again",
});

/** What the CLI prints and returns for an error. */
export interface CliErrorReport {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly exitCode: number;
}

/** Commander's codes for help and version output: not errors, and the text is already printed. */
const COMMANDER_OUTPUT = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** `text` on one line, without commander's 'error: ' prefix, at most 1000 characters. */
function oneLine(text: string): string {
  return text
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim()
    .slice(0, 1000);
}

/**
 * What to print for `err` and the exit code. Commander's own refusals are 'USAGE' (exit 2); a
 * command that ends with commander's `command.error(text, { exitCode })` (e.g. `audit`'s 1 and 3)
 * keeps its text and exit code. Returns undefined when commander only printed help or the version.
 */
export function describeCliError(err: unknown): CliErrorReport | undefined {
  if (err instanceof CommanderError) {
    if (COMMANDER_OUTPUT.has(err.code)) {
      return err.exitCode === 0 ? undefined : { code: 'USAGE', message: '', exitCode: EXIT.USAGE };
    }
    if (err.code.startsWith('commander.')) {
      return { code: 'USAGE', message: oneLine(err.message), hint: HINTS.USAGE, exitCode: EXIT.USAGE };
    }
    return { code: err.code, message: oneLine(err.message), exitCode: err.exitCode };
  }
  const code = codeOf(err);
  const message = err instanceof Error ? oneLine(err.message) : oneLine(String(err));
  const hint = Object.hasOwn(HINTS, code) ? HINTS[code as keyof typeof HINTS] : undefined;
  return { code, message, ...(hint !== undefined ? { hint } : {}), exitCode: exitCodeOf(err) };
}

/**
 * The text to write to stderr for a report: `bulwark: error CODE: message` and a hint line, or
 * the command's own message as is (a CommanderError a command raised, e.g. `bulwark audit: ...`).
 */
export function formatCliError(report: CliErrorReport): string {
  if (report.message === '') return '';
  const head =
    report.code === 'USAGE' || /^[A-Z][A-Z0-9_]*$/.test(report.code)
      ? `bulwark: error ${report.code}: ${report.message}\n`
      : `${report.message}\n`;
  return head + (report.hint ? `hint: ${report.hint}\n` : '');
}
