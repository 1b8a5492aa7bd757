// Test support for updates: a factory with one unit, a release repository, images built at test
// time, an HTTP update server on 127.0.0.1 that an attack can take over path by path, and
// `bulwark device run` as a real process group that a test can kill like a power cut.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { writeFile, mkdir, cp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';
import {
  initRepository,
  publishImage,
  buildReferenceImage,
  createRepositoryHandler,
  type PublishResult,
} from '../../src/release/index.ts';
import type { DeviceUpdateConfig } from '../../src/update/index.ts';
import { commit, loadRepository, FACTORY_UPDATE_KEYS_DIR } from '../../src/release/repository.ts';
import { loadUpdateKeys } from '../../src/release/update-keys.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';

export const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

/** The parts of the checkout an image build needs; a runtime (`bin/bulwark.js`) needs 'bin' as well. */
export const SOURCE_PARTS = ['src', 'models', 'schemas', 'package.json'] as const;

/** Copies `parts` of this checkout to `to`, with node_modules linked: a source to patch, or a runtime. */
export async function copyCheckout(to: string, parts: readonly string[] = SOURCE_PARTS): Promise<string> {
  await mkdir(to, { recursive: true });
  for (const part of parts) await cp(join(CHECKOUT, part), join(to, part), { recursive: true });
  await symlink(join(CHECKOUT, 'node_modules'), join(to, 'node_modules'));
  return to;
}

/** A factory, one plug, and an empty release repository. */
export interface UpdateWorld {
  readonly fleet: TestFleet;
  readonly unit: ProvisionedUnit;
  readonly repoDir: string;
  readonly work: string;
}

export async function makeUpdateWorld(): Promise<UpdateWorld> {
  const fleet = await makeFleet(['plug']);
  const repoDir = join(fleet.work, 'releases');
  await initRepository({ repoDir, factoryDir: fleet.factoryDir });
  return { fleet, unit: fleet.units.plug!, repoDir, work: fleet.work };
}

let imageCounter = 0;

/** Builds a reference image (or one with `entrySource`) and publishes it. */
export async function publish(
  world: UpdateWorld,
  version: string,
  securityVersion: number,
  o: {
    entrySource?: string;
    files?: Record<string, string | Uint8Array>;
    allowDowngrade?: boolean;
    expiry?: Partial<{ timestampSeconds: number; snapshotSeconds: number; targetsSeconds: number }>;
  } = {},
): Promise<PublishResult> {
  const artifact = join(world.work, `image-${version}-${++imageCounter}.tar`);
  await buildReferenceImage(artifact, {
    model: 'plug',
    version,
    securityVersion,
    ...(o.entrySource ? { entrySource: o.entrySource } : {}),
    ...(o.files ? { files: o.files } : {}),
  });
  return publishImage({
    repoDir: world.repoDir,
    artifact,
    model: 'plug',
    version,
    ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(o.expiry ? { expiry: o.expiry } : {}),
  });
}

/** An attack: takes over the answer for the matching request path (under /updates/). */
export type Override = (req: IncomingMessage, res: ServerResponse) => void;

/** The repository served over HTTP on 127.0.0.1, with per-path overrides for attacks. */
export class UpdateServer {
  readonly server: Server;
  readonly url: string;
  readonly overrides: Array<{ path: RegExp; handle: Override }> = [];
  readonly requests: string[] = [];

  private constructor(server: Server, url: string) {
    this.server = server;
    this.url = url;
  }

  static async start(repoDir: string): Promise<UpdateServer> {
    const handler = createRepositoryHandler(repoDir, '/updates');
    const state: { self?: UpdateServer } = {};
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      state.self?.requests.push(path);
      const o = state.self?.overrides.find((x) => x.path.test(path));
      if (o) {
        o.handle(req, res);
        return;
      }
      handler(req, res).then(
        (handled) => {
          if (!handled) {
            res.writeHead(404);
            res.end();
          }
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    state.self = new UpdateServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/updates`);
    return state.self;
  }

  /** Serves `path` with `handle` until {@link clear}. */
  attack(path: RegExp, handle: Override): void {
    this.overrides.push({ path, handle });
  }
  clear(): void {
    this.overrides.length = 0;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

/** Writes an update config file for a test device. */
export async function writeUpdateConfig(dir: string, config: Partial<DeviceUpdateConfig>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'update-config.json');
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** What `bulwark device run` printed when the agent became ready. */
export interface Ready {
  readonly url: string;
  readonly firmware: string;
  readonly slot: string;
}

/** `bulwark device run` as its own process group: SIGKILL to the group is a power cut. */
export class DeviceProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly readies: Ready[] = [];
  readonly exited: Promise<number | null>;
  #waiters: Array<() => void> = [];

  /** `bin`: the bulwark command to run (default: this checkout's), e.g. a copy of the runtime. */
  constructor(args: {
    bundle: string;
    state: string;
    updateUrl?: string;
    configFile?: string;
    bin?: string;
    /** More options of `device run`, e.g. ['--factory-image', file]. */
    extraArgs?: readonly string[];
  }) {
    this.child = spawn(
      process.execPath,
      [
        args.bin ?? BIN,
        'device',
        'run',
        // The lines a person reads (through a pipe the default is JSON lines).
        '--log-format',
        'text',
        '--bundle',
        args.bundle,
        '--state',
        args.state,
        '--web-port',
        '0',
        '--hub-port',
        '0',
        ...(args.updateUrl ? ['--update-url', args.updateUrl] : []),
        ...(args.configFile ? ['--update-config', args.configFile] : []),
        ...(args.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, BULWARK_MODE: 'development' } },
    );
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    this.child.stderr!.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString()).slice(-20_000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      const m = /ready: (https:\/\/\S+).* firmware (\S+) \((?:slot (\w)|factory image)\)/.exec(line);
      if (m) this.readies.push({ url: m[1]!, firmware: m[2]!, slot: m[3] ?? 'factory' });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  /** Waits until `test` holds on the lines seen so far (checked on each new line). */
  async waitFor<T>(test: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = test();
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; stdout:\n${this.lines.slice(-30).join('\n')}\n` +
            `stderr:\n${this.stderr.slice(-3000)}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the n-th ready line (1-based). */
  ready(n: number, timeoutMs = 60_000): Promise<Ready> {
    return this.waitFor(() => this.readies[n - 1], timeoutMs, `ready line #${n}`);
  }

  /** The last update decision line matching `re`. */
  decision(re: RegExp): string | undefined {
    return [...this.lines].reverse().find((l) => l.startsWith('update: ') && re.test(l));
  }

  /** Kills the whole process group with `signal` and waits for the supervisor to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      /* already gone */
    }
    await this.exited;
  }
}

/** Logs in as the owner and returns a client with the dashboard's CSRF token. */
export async function ownerClient(url: string, unit: ProvisionedUnit): Promise<{ client: WebClient; csrf: string }> {
  const client = await WebClient.for(url, unit);
  const login = await client.login(unit.adminPassword!);
  if (login.status !== 303) throw new Error(`login failed: ${login.status}`);
  const page = await client.get('/');
  return { client, csrf: WebClient.csrfOf(page.body) };
}

/** Presses "Check for updates now" on the admin page; returns its message. */
export async function checkNow(o: { client: WebClient; csrf: string }): Promise<string> {
  const r = await o.client.send('POST', '/api/actions/update-check', {
    form: { csrf: o.csrf },
    headers: { accept: 'application/json' },
  });
  if (r.status !== 200) throw new Error(`check action: ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { message: string }).message;
}

/** The journal's update entries, newest first. */
export async function updateJournal(o: {
  client: WebClient;
}): Promise<Array<{ event: string; result: string; detail?: string }>> {
  const r = await o.client.get('/api/journal?limit=200');
  return (
    JSON.parse(r.body) as { entries: Array<{ surface: string; event: string; result: string; detail?: string }> }
  ).entries.filter((e) => e.surface === 'update');
}

type Loaded = Awaited<ReturnType<typeof loadRepository>>;
type TargetFiles = Loaded['targets']['signed']['targets'];

/**
 * A repository that signs what it should not (its keys stolen, or a publisher's bug): re-signs the
 * targets after `edit`, with new snapshot and timestamp, as a real publish would.
 */
export async function resignTargets(
  world: UpdateWorld,
  edit: (targets: TargetFiles, m: Loaded['m']) => void | Promise<void>,
): Promise<void> {
  const l = await loadRepository(world.repoDir);
  const targets = { ...l.targets.signed.targets };
  await edit(targets, l.m);
  const keys = await loadUpdateKeys(join(world.fleet.factoryDir, FACTORY_UPDATE_KEYS_DIR));
  await commit(world.repoDir, l, keys, { targets, expiry: l.record.expiry, now: new Date() });
}
