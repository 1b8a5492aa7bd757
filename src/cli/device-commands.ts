/** `bulwark device ...`: run a unit's agent under its supervisor, and press its button. */
import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { portArgument } from './arguments.ts';
import { addLogFormatOption, chooseLogFormat, openLogOutput, type LogFormat, type LogOutput } from './log-output.ts';
import type { DriverTarget, DriverUnitOptions, SystemdUnitFile } from '../device/index.ts';

const port = (value: string, name: string): number => portArgument(value, name, 'DEVICE_CONFIG_INVALID');

/** `device run`'s options as commander parses them. */
interface RunOptions {
  bundle: string;
  state: string;
  host: string;
  webPort: string;
  hubPort: string;
  cloud?: string;
  cloudEnrol?: string;
  updateUrl?: string;
  updateInterval?: string;
  updateConfig?: string;
  driver?: boolean;
  driverSocket?: string;
  factoryImage?: string;
  logFormat?: LogFormat;
}

/** `device unit`'s options as commander parses them. */
interface UnitOptions {
  bundle: string;
  state: string;
  user: string;
  host: string;
  webPort: string;
  hubPort: string;
  cloud?: string;
  cloudEnrol?: string;
  updateUrl?: string;
  factoryImage?: string;
  out?: string;
  driver?: boolean;
  driverDevice?: string[];
  driverUser?: string;
}

/** `device unit`'s driver: the program after `--driver` (a path made absolute), its devices and account. */
function unitDriver(o: UnitOptions, argv: readonly string[]): { driver?: DriverUnitOptions } {
  const refuse = (rule: string): never => {
    throw new ConfigError('DEVICE_UNIT_INVALID', 'driver', rule);
  };
  if (argv.length > 0 && !o.driver) refuse(`unexpected ${argv[0]!.slice(0, 40)}: a driver program follows --driver`);
  if (!o.driver) {
    if (o.driverDevice || o.driverUser) refuse('--driver-device and --driver-user need --driver <program> last');
    return {};
  }
  const [program, ...args] = argv;
  if (program === undefined) return refuse('--driver needs a program (and its arguments) after it');
  return {
    driver: {
      program: program.includes('/') ? resolve(program) : program,
      args,
      devices: (o.driverDevice ?? []).map((d) => resolve(d)),
      ...(o.driverUser ? { user: o.driverUser } : {}),
    },
  };
}

/** Writes the units: to standard output (several: each after a `# ==> name <==` line), or `out` and beside it. */
async function writeUnits(units: readonly SystemdUnitFile[], out: string | undefined): Promise<void> {
  if (!out) {
    const several = units.length > 1;
    process.stdout.write(units.map((u) => (several ? `# ==> ${u.name} <==\n${u.text}` : u.text)).join('\n'));
    return;
  }
  const { writeFileAtomic, PUBLIC_FILE_MODE } = await import('../storage/index.ts');
  const [agent, ...driver] = units;
  await writeFileAtomic(resolve(out), agent!.text, PUBLIC_FILE_MODE);
  process.stderr.write(`systemd unit written to ${out}\n`);
  // The driver's units go beside the agent's, under the names systemd needs (`<name>.socket`, `<name>@.service`).
  for (const u of driver) {
    const file = join(dirname(resolve(out)), u.name);
    await writeFileAtomic(file, u.text, PUBLIC_FILE_MODE);
    process.stderr.write(`systemd unit written to ${file}\n`);
  }
}

/** The ready event `device run` prints (the agent's line has its hub port: the supervisor passes it on whole). */
function printReady(
  out: LogOutput,
  info: { serial: string; url: string; webPort: number; slot: string; firmware: string },
): void {
  const { serial, url, webPort, slot, firmware } = info;
  const hubPort = (info as { hubPort?: unknown }).hubPort;
  const hub = typeof hubPort === 'number' ? { hubPort } : {};
  const image = slot === 'factory' ? 'factory image' : `slot ${slot}`;
  const ports = `${url}${'hubPort' in hub ? ` hub port ${hub.hubPort}` : ''}`;
  const msg = `device ${serial} ready: ${ports} firmware ${firmware} (${image})`;
  out.event('ready', msg, { serial, url, webPort, ...hub, slot, firmware });
}

/** A field of an update event as text: strings and numbers as they are, anything else as JSON. */
function eventText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v);
}

/** The line `device run` prints for an update event worth telling, or undefined. */
function updateLine(e: Record<string, unknown>): string | undefined {
  const what = e.type === 'decision' ? e.decision : e.phase !== 'idle' && e.phase !== 'checking' ? e.phase : undefined;
  if (!what) return undefined;
  const opt = (v: unknown, sep: string): string => (v ? `${sep}${eventText(v)}` : '');
  return `update: ${eventText(what)}${opt(e.version, ' ')}${opt(e.code, ' ')}${opt(e.detail, ': ')}`;
}

/** Update decisions a person should notice: the update did not happen, or was undone. */
const UPDATE_SETBACKS: ReadonlySet<unknown> = new Set(['refused', 'failed', 'rolled-back']);

/** `--driver` or `--driver-socket` (not both); a program given as a path is made absolute. */
function driverOption(o: RunOptions, argv: readonly string[]): { driver?: DriverTarget } {
  const refuse = (rule: string): never => {
    throw new ConfigError('DEVICE_CONFIG_INVALID', 'driver', rule);
  };
  if (o.driver && o.driverSocket) refuse('give --driver or --driver-socket, not both');
  if (argv.length > 0 && !o.driver) refuse(`unexpected ${argv[0]!.slice(0, 40)}: a driver program follows --driver`);
  if (o.driverSocket) return { driver: { socket: resolve(o.driverSocket) } };
  if (!o.driver) return {};
  const [program, ...args] = argv;
  if (program === undefined) return refuse('--driver needs a program (and its arguments) after it');
  return { driver: { program: program.includes('/') ? resolve(program) : program, args } };
}

/** Runs the unit under its supervisor until a signal stops it; the supervisor refuses the inspector first. */
async function runDevice(o: RunOptions, driverArgv: readonly string[] = []): Promise<void> {
  const { superviseAgent } = await import('../device/index.ts');
  const { parseDuration, validateRepositoryUrl } = await import('../update/index.ts');
  const update = {
    ...(o.updateUrl ? { url: validateRepositoryUrl(o.updateUrl, 'updateUrl') } : {}),
    ...(o.updateConfig ? { configFile: resolve(o.updateConfig) } : {}),
    ...(o.updateInterval ? { checkIntervalMs: parseDuration(o.updateInterval, 'updateInterval') } : {}),
  };
  for (const [key, url] of [
    ['cloud', o.cloud],
    ['cloudEnrol', o.cloudEnrol],
  ] as const)
    if (url && !/^mqtts:\/\/[^/\s]+$/.test(url))
      throw new ConfigError('DEVICE_CONFIG_INVALID', key, 'must be mqtts://host:port');
  const out = await openLogOutput(chooseLogFormat(o.logFormat, process.stdout.isTTY === true));
  let lastUpdateLine: string | undefined;
  const sup = superviseAgent({
    bundleDir: resolve(o.bundle),
    stateDir: resolve(o.state),
    host: o.host,
    webPort: port(o.webPort, 'webPort'),
    hubPort: port(o.hubPort, 'hubPort'),
    update,
    mode: process.env.BULWARK_MODE === 'development' ? 'development' : 'production',
    ...(o.cloud ? { cloudUrl: o.cloud } : {}),
    ...(o.cloudEnrol ? { cloudEnrolUrl: o.cloudEnrol } : {}),
    ...(o.factoryImage ? { factoryImage: resolve(o.factoryImage) } : {}),
    ...driverOption(o, driverArgv),
    onReady: (info) => printReady(out, info),
    onEvent: (e) => {
      const line = updateLine(e);
      // A check that finds nothing new says so once, not at every interval.
      if (line && line !== lastUpdateLine)
        out.event('update', line, e, UPDATE_SETBACKS.has(e.decision) ? 'warn' : 'info');
      if (line) lastUpdateLine = line;
    },
    log: (m) => out.log(m, { source: 'supervisor' }),
    agentStderr: (line) => out.relay(line, 'agent'),
  });
  const stop = (): void => sup.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await sup.done;
  // 78 (EX_CONFIG) is the agent refusing its configuration; the supervisor gave up on anything else.
  if (code === 78) {
    throw new ConfigError('DEVICE_AGENT_REFUSED', 'agent', 'the agent refused its configuration (exit code 78)');
  }
  if (code !== 0) throw new ConfigError('DEVICE_AGENT_FAILED', 'agent', `the agent stopped with code ${code}`);
}

/** Registers the device commands on `program`. */
/** The agent's network options, shared by `device run` and the systemd unit it writes. */
function withAgentNetwork(command: Command, portHint: string): Command {
  return command
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--web-port <port>', `HTTPS admin port${portHint}`, '8443')
    .option('--hub-port <port>', `hub channel and pairing port${portHint}`, '5541')
    .option('--cloud <url>', 'connect out to the manufacturer cloud, mqtts://host:port')
    .option(
      '--cloud-enrol <url>',
      "where the unit enrols with its factory certificate, when not --cloud (Mosquitto's enrolment listener)",
    );
}

export function registerDeviceCommands(program: Command): void {
  const device = program
    .command('device')
    .description('the device agent and its physical button')
    .enablePositionalOptions();

  addLogFormatOption(withAgentNetwork(device.command('run'), ' (0 = any free port)'))
    .description('start the device agent (under its supervisor) for one unit')
    .requiredOption('--bundle <dir>', 'the unit bundle from the factory')
    .requiredOption('--state <dir>', 'mutable state (password hash, sessions, journal)')
    .option(
      '--update-url <url>',
      'the update repository (https, or http on a loopback address), e.g. https://cloud.example/updates',
    )
    .option('--update-interval <duration>', 'time between automatic update checks, e.g. 6h (the default) or 30m')
    .option('--update-config <file>', 'JSON file of update settings (docs/update.md)')
    .option(
      '--factory-image <file>',
      "the unit's factory image (from release build-image): kept verified in its own slot and booted from there",
    )
    .option('--driver', "the unit's hardware driver follows, last on the line: a program and its arguments (no shell)")
    .option('--driver-socket <path>', "the unit's hardware driver, listening on a Unix socket")
    .argument('[program-and-args...]', 'the driver program and its arguments, after --driver')
    // Everything after the program is the driver's own (its --options too), as with `env` or `sudo`.
    .passThroughOptions()
    .action((argv: string[], o: RunOptions) => runDevice(o, argv));

  withAgentNetwork(device.command('unit'), '')
    .description(
      'write the hardened systemd unit that runs this device as an unprivileged, sandboxed service ' +
        "(with --driver, the driver's own sandboxed socket and service units too)",
    )
    .requiredOption('--bundle <dir>', 'the unit bundle as installed on the device')
    .requiredOption('--state <dir>', 'the state folder (the only writable path)')
    .option('--user <name>', 'the unprivileged account the service runs as', 'bulwark')
    .option('--update-url <url>', 'the update repository')
    .option('--factory-image <file>', "the unit's factory image on its read-only storage")
    .option('--out <file>', "write the unit here (atomically) instead of standard output; the driver's units beside it")
    .option(
      '--driver-device <path>',
      'a device node (/dev/...) or file (e.g. a sysfs GPIO value) the driver may use; repeatable',
      (v: string, all: string[] = []) => [...all, v],
    )
    .option('--driver-user <name>', "the driver's own unprivileged account (default bulwark-driver)")
    .option('--driver', "the unit's hardware driver follows, last on the line: a program and its arguments (no shell)")
    .argument('[program-and-args...]', 'the driver program and its arguments, after --driver')
    .passThroughOptions()
    .action(async (argv: string[], o: UnitOptions) => {
      const { renderSystemdUnits } = await import('../device/index.ts');
      const units = renderSystemdUnits({
        bundleDir: resolve(o.bundle),
        stateDir: resolve(o.state),
        user: o.user,
        host: o.host,
        webPort: port(o.webPort, 'webPort'),
        hubPort: port(o.hubPort, 'hubPort'),
        ...(o.cloud ? { cloudUrl: o.cloud } : {}),
        ...(o.cloudEnrol ? { cloudEnrolUrl: o.cloudEnrol } : {}),
        ...(o.updateUrl ? { updateUrl: o.updateUrl } : {}),
        ...(o.factoryImage ? { factoryImage: resolve(o.factoryImage) } : {}),
        ...unitDriver(o, argv),
      });
      await writeUnits(units, o.out);
    });

  registerUpdateFileCommand(device);

  device
    .command('button')
    .description("press the device's physical button (--hold: factory reset; --claim: the cloud claim window only)")
    .requiredOption('--state <dir>', 'the state dir of the running agent')
    .option('--hold', 'hold the button: factory reset')
    .option('--claim', 'a claim press: opens only the cloud claim window (no pairing, no login unlock)')
    .action(async (o: { state: string; hold?: boolean; claim?: boolean }) => {
      const { pressButton } = await import('../device/index.ts');
      if (o.hold && o.claim) throw new ConfigError('USAGE', 'claim', 'is a press, not a hold: give one of the two');
      const gesture = o.hold ? 'hold' : o.claim ? 'claim' : 'press';
      process.stdout.write((await pressButton(resolve(o.state), gesture)) + '\n');
    });
}

/** `bulwark device update --file`: an update file installed on a stopped unit. */
function registerUpdateFileCommand(device: Command): void {
  device
    .command('update')
    .description(
      'install an update file (from `bulwark release export`) on a unit whose agent is stopped; ' +
        'it boots the new image on trial at its next start',
    )
    .requiredOption('--bundle <dir>', 'the unit bundle')
    .requiredOption('--state <dir>', "the unit's state folder")
    .requiredOption('--file <file>', 'the update file')
    .action(async (o: { bundle: string; state: string; file: string }) => {
      const { installUpdateFile, describeFileInstall } = await import('../device/index.ts');
      const r = await installUpdateFile({
        bundleDir: resolve(o.bundle),
        stateDir: resolve(o.state),
        file: resolve(o.file),
      });
      process.stdout.write(describeFileInstall(r) + '\n');
    });
}
