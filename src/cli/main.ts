/**
 * The `bulwark` command. Each subcommand is a thin edge over a capability's public API;
 * BulwarkErrors are printed by code and message, never with a stack.
 */
import { Command, CommanderError } from 'commander';
import { BulwarkError } from '../errors/index.ts';
import { registerFactoryCommands } from './factory-commands.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDeviceCommands } from './device-commands.ts';
import { registerHubCommands } from './hub-commands.ts';
import { registerPolicyCommands } from './policy-commands.ts';
import { registerCloudCommands } from './cloud-commands.ts';
import { registerReleaseCommands } from './release-commands.ts';

/** Builds the command tree. */
export function buildProgram(): Command {
  const program = new Command('bulwark')
    .description('Secure-by-default toolkit for consumer IoT devices')
    .exitOverride()
    .showHelpAfterError();
  registerFactoryCommands(program);
  registerDeviceCommands(program);
  registerHubCommands(program);
  registerPolicyCommands(program);
  registerCloudCommands(program);
  registerReleaseCommands(program);
  registerDemoCommand(program);
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof BulwarkError) {
      process.stderr.write(`bulwark: error ${err.code}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`bulwark: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
