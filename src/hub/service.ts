/**
 * The hub process's parts together: the hub core, its control socket and its admin page.
 * `bulwark hub run` is this plus signal handling.
 */
import type { Server } from 'node:net';
import { Hub, type HubConfig } from './hub.ts';
import { listenForControl, HUB_CONTROL_SOCKET } from './control.ts';
import { startHubWeb, type HubWeb, type HubWebConfig } from './web.ts';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ConnectionJournal, type JournalConfig } from '../journal/index.ts';

/** Options of {@link startHubService}. */
export interface HubServiceOptions {
  readonly stateDir: string;
  readonly config?: Partial<HubConfig>;
  /** The journal's bounds (tier sizes, aggregation rate and window, age); src/journal's defaults otherwise. */
  readonly journal?: Partial<JournalConfig>;
  /** The admin page's address and port (default 127.0.0.1:8444); `false` runs no admin page. */
  readonly web?: Partial<HubWebConfig> | false;
  /** The service log (the hub's lines and the admin page's); silent by default. */
  readonly log?: (message: string) => void;
}

/** A running hub with its control socket and admin page. */
export interface HubService {
  readonly hub: Hub;
  readonly web: HubWeb | undefined;
  readonly controlPath: string;
  /** Every connection attempt, login and refusal on the admin page (privacy-limited, bounded, in the state dir). */
  readonly journal: ConnectionJournal;
  /** Stops the control socket, the admin page and the hub, then closes the journal. */
  close(): Promise<void>;
}

/**
 * Starts the hub, its control socket (`<state>/hub.sock`, 0600) and its admin page.
 *
 * @example
 * const service = await startHubService({ stateDir: 'hub-state', web: { port: 0 } });
 * console.log(service.web?.url, service.hub.pin);
 */
export async function startHubService(options: HubServiceOptions): Promise<HubService> {
  const log = options.log ?? (() => undefined);
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const journal = await ConnectionJournal.open({
    stateDir: options.stateDir,
    privacyClass: 'standard',
    ...(options.journal ? { config: options.journal } : {}),
  });
  const hub = await Hub.start({
    stateDir: options.stateDir,
    ...(options.config ? { config: options.config } : {}),
    log,
    journal,
  }).catch(async (err: unknown) => {
    await journal.close();
    throw err;
  });
  let web: HubWeb | undefined;
  let control: Server | undefined;
  try {
    if (options.web !== false) web = await startHubWeb(hub, options.stateDir, options.web ?? {}, log, journal);
    control = await listenForControl(options.stateDir, hub, web ? { webUrl: web.url } : {});
  } catch (err) {
    await web?.close();
    await hub.close();
    await journal.close();
    throw err;
  }
  const c = control;
  return {
    hub,
    web,
    journal,
    controlPath: join(options.stateDir, HUB_CONTROL_SOCKET),
    async close() {
      await new Promise<void>((resolve) => c.close(() => resolve()));
      await web?.close();
      await hub.close();
      await journal.close();
    },
  };
}
