/** Command-line values shared by the commands. */
import { ConfigError, type ErrorCode } from '../errors/index.ts';

/** A port number from the command line (`min`..65535), or a ConfigError with `code` naming `name`. */
export function portArgument(value: string, name: string, code: ErrorCode, min = 0): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n < min || n > 65535) {
    throw new ConfigError(code, name, `must be a port number ${min}..65535`);
  }
  return n;
}
