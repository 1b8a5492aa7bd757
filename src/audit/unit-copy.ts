/**
 * A copy of the audited unit, booted the way the unit boots: its own supervisor (src/device's `superviseAgent`, the
 * never-updated bootloader) on a copy of the state folder, installed slots included, so the image that runs is the one
 * in the unit's active slot, verified file by file, and the factory reset is the supervisor's own (the agent stopped,
 * the owner's files erased, the slot booted again). The auditor reaches it only from outside: HTTPS on loopback and
 * the copy's button socket. Its cloud link points at a closed loopback port: nothing leaves the machine.
 */
import { createServer, type AddressInfo } from 'node:net';
import { AuditError } from './errors.ts';

/** What booted in the copy, from the supervisor's ready line. */
export interface CopyBoot {
  /** 'a', 'b' or 'factory'. */
  readonly slot: string;
  readonly firmware: string;
}

/** The running copy. */
export interface SupervisedCopy {
  /** The copy's admin page; the port stays the same across the reset's reboot. */
  readonly url: string;
  /** The boots so far, first to last (a factory reset boots again). */
  readonly boots: readonly CopyBoot[];
  /** Stops the agent and the supervisor. */
  close(): Promise<void>;
}

/** A loopback port nothing listens on (for the copy's web page, and its closed cloud). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const STOP_WAIT_MS = 15_000;

/**
 * Boots the unit's supervisor on `stateDir` (a copy the auditor made) with the unit's bundle, loopback ports and the
 * simulated hardware; resolves once its agent is ready, or throws AuditError AUDIT_COPY_FAILED when the supervisor
 * gives up or `deadlineMs` passes first.
 */
export async function superviseCopy(o: {
  bundleDir: string;
  stateDir: string;
  cloud: boolean;
  deadlineMs: number;
}): Promise<SupervisedCopy> {
  const device = await import('../device/index.ts');
  const webPort = await freeLoopbackPort();
  const boots: CopyBoot[] = [];
  let ready!: () => void;
  const firstReady = new Promise<void>((resolve) => (ready = resolve));
  const lines: string[] = [];
  const run = device.superviseAgent({
    bundleDir: o.bundleDir,
    stateDir: o.stateDir,
    host: '127.0.0.1',
    webPort,
    hubPort: 0,
    // The auditor's own process decides nothing about the unit's mode; the unit's configured mode is judged elsewhere.
    mode: 'development',
    ...(o.cloud ? { cloudUrl: `mqtts://127.0.0.1:${await freeLoopbackPort()}` } : {}),
    maxRestarts: 2,
    agentStderr: 'ignore',
    log: (msg) => lines.push(msg.slice(0, 200)) > 20 && lines.shift(),
    onReady: (info) => {
      boots.push({ slot: info.slot, firmware: info.firmware });
      ready();
    },
  });
  const close = async (): Promise<void> => {
    run.stop();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([run.done.then(() => undefined), late]).finally(() => clearTimeout(timer));
  };
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    firstReady.then(() => 'ready' as const),
    run.done.then(() => 'ended' as const),
    new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), o.deadlineMs))),
  ]).finally(() => clearTimeout(timer));
  if (outcome !== 'ready') {
    await close();
    const why = outcome === 'late' ? `was not ready within ${Math.round(o.deadlineMs / 1000)} s` : 'gave up';
    throw new AuditError('AUDIT_COPY_FAILED', 'copy', `the copy's supervisor ${why} (${lines.slice(-3).join('; ')})`);
  }
  return { url: `https://127.0.0.1:${webPort}`, boots, close };
}
