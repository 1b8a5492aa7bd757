/**
 * The agent process's side of the supervisor contract: the settings the supervisor passes in
 * argv (`--slot`, `--update-url`, `--update-interval`, `--update-config <file.json>`), and the hooks that print the
 * updater's events as JSON lines on stdout (which the supervisor reads) and draw download
 * progress on a terminal.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/index.ts';
import { validateDeviceUpdateConfig, validateRepositoryUrl, parseDuration, type DeviceUpdateConfig } from './config.ts';
import type { DeviceUpdateOptions } from './device-updater.ts';

/** Largest update config file, bytes. */
const MAX_CONFIG_BYTES = 16_384;

function argOf(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Reads and validates an update config file (JSON object of {@link DeviceUpdateConfig} keys). */
export async function readUpdateConfigFile(path: string): Promise<Partial<DeviceUpdateConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'updateConfig', `cannot read ${path}`);
  }
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError('UPDATE_CONFIG_INVALID', 'updateConfig', 'file too large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'updateConfig', 'not JSON');
  }
  validateDeviceUpdateConfig(json as Partial<DeviceUpdateConfig>);
  return json as Partial<DeviceUpdateConfig>;
}

/** A progress line on a terminal, redrawn at most 5 times a second. */
function terminalProgress(stream: NodeJS.WriteStream): DeviceUpdateOptions['onProgress'] {
  if (!stream.isTTY) return undefined;
  let last = 0;
  return (step, done, total) => {
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
    const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
    stream.write(
      `\rupdate ${step.padEnd(8)} [${bar}] ${pct}% ${(done / 1_048_576).toFixed(1)} MiB${done >= total ? '\n' : ''}`,
    );
  };
}

/**
 * The update options of an agent process, from its argv and an optional config file.
 * @example
 * const update = await updateOptionsFromArgv(process.argv, {
 *   restart: () => stop(REBOOT_EXIT_CODE), emit: (l) => out(l),
 * });
 */
export async function updateOptionsFromArgv(
  argv: readonly string[],
  hooks: { restart(): void; emit(line: Record<string, unknown>): void },
): Promise<DeviceUpdateOptions> {
  const slotArg = argOf(argv, 'slot') ?? 'factory';
  if (slotArg !== 'factory' && slotArg !== 'a' && slotArg !== 'b')
    throw new ConfigError('UPDATE_CONFIG_INVALID', 'slot', 'must be factory, a or b');
  const file = argOf(argv, 'update-config');
  const url = argOf(argv, 'update-url');
  const interval = argOf(argv, 'update-interval');
  const config: Partial<DeviceUpdateConfig> = {
    ...(file ? await readUpdateConfigFile(file) : {}),
    ...(url ? { repositoryUrl: validateRepositoryUrl(url, 'updateUrl') } : {}),
    ...(interval ? { checkIntervalMs: parseDuration(interval, 'updateInterval') } : {}),
  };
  validateDeviceUpdateConfig(config);
  const onProgress = terminalProgress(process.stderr);
  return {
    slot: slotArg,
    config,
    onEvent: (e) => hooks.emit({ event: 'update', ...e }),
    onRestart: () => hooks.restart(),
    ...(onProgress ? { onProgress } : {}),
  };
}
