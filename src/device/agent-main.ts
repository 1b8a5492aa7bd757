/**
 * The agent process's entry point, started by the supervisor (`bulwark device run`) with its
 * settings in argv. It prints one JSON line `{"event":"listening",...}` on stdout when ready.
 */
import { startDeviceAgent } from './agent.ts';
import { BulwarkError } from '../errors/index.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const log = (msg: string): void => { process.stderr.write(JSON.stringify({ at: new Date().toISOString(), level: 'info', msg }) + '\n'); };

try {
  const agent = await startDeviceAgent({
    bundleDir: arg('bundle') ?? '', stateDir: arg('state') ?? '',
    host: arg('host') ?? '127.0.0.1', webPort: Number(arg('web-port') ?? '8443'),
    // The supervisor passes --hub-port when it knows it; `bulwark device run` sets BULWARK_HUB_PORT meanwhile.
    hubPort: Number(arg('hub-port') ?? process.env.BULWARK_HUB_PORT ?? '5541'),
    // Likewise --cloud, or BULWARK_CLOUD_URL from `bulwark device run --cloud`.
    ...((arg('cloud') ?? process.env.BULWARK_CLOUD_URL) ? { cloudUrl: arg('cloud') ?? process.env.BULWARK_CLOUD_URL } : {}),
    mode: process.env.BULWARK_MODE === 'development' ? 'development' : 'production',
  }, log);
  process.stdout.write(JSON.stringify({ event: 'listening', serial: agent.bundle.unit.serial, url: agent.web.url, webPort: agent.web.port, hubPort: agent.hub.port }) + '\n');
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    agent.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  const text = err instanceof BulwarkError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`bulwark device: ${text}\n`);
  // 78 (EX_CONFIG): the supervisor does not restart an agent that cannot start as configured.
  process.exit(err instanceof BulwarkError ? 78 : 1);
}
