/**
 * The `bulwark` command. Each subcommand is a thin edge over a capability's public API. Every
 * error ends here: `main` prints `bulwark: error CODE: message` (and a hint line where one helps),
 * never a stack, and returns the error table's exit code.
 *
 * @example
 * process.exitCode = await main(['factory', 'init', '--dir', 'factory']);
 */
import { Command } from 'commander';
import { describeCliError, formatCliError } from './errors.ts';
import { registerFactoryCommands } from './factory-commands.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDeviceCommands } from './device-commands.ts';
import { registerHubCommands } from './hub-commands.ts';
import { registerPolicyCommands } from './policy-commands.ts';
import { registerCloudCommands } from './cloud-commands.ts';
import { registerReleaseCommands } from './release-commands.ts';
import { relaunchAsService } from './service-runtime.ts';

/** Builds the command tree; commander throws instead of exiting and prints no error of its own. */
export function buildProgram(): Command {
  const program = new Command('bulwark')
    .description('Secure-by-default toolkit for consumer IoT devices')
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerFactoryCommands(program);
  registerDeviceCommands(program);
  registerHubCommands(program);
  registerPolicyCommands(program);
  registerCloudCommands(program);
  registerReleaseCommands(program);
  registerDemoCommand(program);
  return program;
}

/** Where the CLI writes its errors. */
export interface ErrorOutput {
  write(text: string): unknown;
}

/** Writes `err` as the CLI shows errors (no stack) and returns its exit code; 0 for help and version. */
export function reportError(err: unknown, stderr: ErrorOutput = process.stderr): number {
  const report = describeCliError(err);
  if (report === undefined) return 0;
  stderr.write(formatCliError(report));
  return report.exitCode;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], stderr: ErrorOutput = process.stderr): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(err, stderr);
  }
}

if (import.meta.main) {
  // Started as `node main.js hub run ...` (no launcher): the service runtime still applies.
  relaunchAsService(process.argv[1]!, process.argv.slice(2));
  process.exitCode = await main(process.argv.slice(2));
}
