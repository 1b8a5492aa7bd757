/**
 * The agent process's entry point, started by the supervisor (`bulwark device run`) with its
 * settings in argv. It prints one JSON line `{"event":"listening",...}` on stdout when ready.
 */
import { startDeviceAgent } from './agent.ts';
import { BulwarkError } from '../errors/index.ts';
import { updateOptionsFromArgv, REBOOT_EXIT_CODE } from '../update/index.ts';
import { CONFIG_REFUSED_EXIT_CODE } from './restart-policy.ts';
import type { DriverHardware, DriverTarget } from './driver-hardware.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The driver the supervisor named: `--driver-json {program, args}` or `--driver-socket <path>`. */
function driverFromArgv(): { driver?: DriverTarget } {
  const socket = arg('driver-socket');
  if (socket !== undefined) return { driver: { socket } };
  const json = arg('driver-json');
  return json === undefined ? {} : { driver: JSON.parse(json) as DriverTarget };
}

/**
 * Supervised (`--button-socket <name>`): the agent's button listens there, and a hold (from the
 * driver's button) is handed to the supervisor, which resets the unit with this agent stopped.
 */
function buttonFromArgv(emit: (line: Record<string, unknown>) => void): {
  button?: { socket: string; hold(): Promise<string> };
} {
  const socket = arg('button-socket');
  if (socket === undefined) return {};
  const hold = (): Promise<string> => {
    emit({ event: 'button', gesture: 'hold' });
    return Promise.resolve('factory reset handed to the supervisor');
  };
  return { button: { socket, hold } };
}

const log = (msg: string): void => {
  process.stderr.write(JSON.stringify({ at: new Date().toISOString(), level: 'info', msg }) + '\n');
};

try {
  // Updates: the slot the supervisor booted, the repository; events go to the supervisor as JSON lines.
  const emit = (line: Record<string, unknown>): void => {
    process.stdout.write(JSON.stringify(line) + '\n');
  };
  let restart = (): void => {
    process.exit(REBOOT_EXIT_CODE);
  };
  const update = await updateOptionsFromArgv(process.argv, { restart: () => restart(), emit });
  const agent = await startDeviceAgent(
    {
      bundleDir: arg('bundle') ?? '',
      stateDir: arg('state') ?? '',
      host: arg('host') ?? '127.0.0.1',
      webPort: Number(arg('web-port') ?? '8443'),
      hubPort: Number(arg('hub-port') ?? '5541'),
      ...(arg('cloud') ? { cloudUrl: arg('cloud') } : {}),
      ...(arg('cloud-enrol') ? { cloudEnrolUrl: arg('cloud-enrol') } : {}),
      ...driverFromArgv(),
      ...buttonFromArgv(emit),
      mode: process.env.BULWARK_MODE === 'development' ? 'development' : 'production',
      // `--advertise off`: no DNS-SD answers (a paired hub then finds the unit only at its recorded address).
      ...(arg('advertise') === 'off' ? { advertise: { enabled: false } } : {}),
      update,
    },
    log,
  );
  const listening = {
    event: 'listening',
    serial: agent.bundle.unit.serial,
    url: agent.web.url,
    webPort: agent.web.port,
    hubPort: agent.hub.port,
  };
  process.stdout.write(JSON.stringify(listening) + '\n');
  let stopping = false;
  const stop = (code = 0): void => {
    if (stopping) return;
    stopping = true;
    agent.close().then(
      () => process.exit(code),
      () => process.exit(code || 1),
    );
  };
  process.on('SIGTERM', () => stop());
  process.on('SIGINT', () => stop());
  // After an install: close cleanly, then exit so the supervisor boots the new slot (bounded wait).
  restart = () => {
    setTimeout(() => process.exit(REBOOT_EXIT_CODE), 10_000).unref();
    stop(REBOOT_EXIT_CODE);
  };
  // Every surface is up. A committed image reports healthy now; an image on trial only once it has
  // reached the cloud, the update repository and its driver's own check (the commit rule,
  // docs/update.md): until then no report goes out, and the supervisor ends the boot at its deadline.
  const driver = 'health' in agent.capabilities ? (agent.capabilities as DriverHardware) : undefined;
  const reach = { ...(agent.cloud ? { cloud: agent.cloud } : {}), ...(driver ? { driver } : {}) };
  await agent.updater.commitWhenProven(reach).then(
    (committed) => {
      if (committed)
        emit({ event: 'healthy', firmware: agent.updater.running.version, slot: agent.updater.running.slot });
    },
    (err: unknown) => {
      log(`health report failed: ${err instanceof Error ? err.message : String(err)}`);
      stop(1);
    },
  );
} catch (err) {
  const text =
    err instanceof BulwarkError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`bulwark device: ${text}\n`);
  // 78 (EX_CONFIG): the supervisor does not restart an agent that cannot start as configured.
  process.exit(err instanceof BulwarkError ? CONFIG_REFUSED_EXIT_CODE : 1);
}
