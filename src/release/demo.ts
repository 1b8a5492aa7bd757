/**
 * The updates part of `bulwark demo`: a release repository from the factory's keys, version 1.1.0
 * published and served on 127.0.0.1, a unit under its supervisor updating itself to it (A/B,
 * health-checked), then a validly signed older image and a tampered one, both refused with
 * their reasons. The supervisor is passed in (src/device owns it; this folder does not import it).
 *
 * @example
 *   const { superviseAgent } = await import('../device/index.ts');
 *   await demoUpdates({ work, factoryDir, unitDir: plug.dir, say, superviseAgent });
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { initRepository, publishImage } from './repository.ts';
import { buildReferenceImage } from './reference-image.ts';
import { createRepositoryHandler } from './server.ts';

/** The part of `superviseAgent` (src/device) the demo uses. */
export type DemoSupervise = (o: {
  bundleDir: string;
  stateDir: string;
  host: string;
  webPort: number;
  hubPort?: number;
  update?: { url?: string; configFile?: string };
  onReady?: (info: { serial: string; url: string; webPort: number; slot: string; firmware: string }) => void;
  onEvent?: (event: Record<string, unknown>) => void;
  log?: (msg: string) => void;
  agentStderr?: 'inherit' | 'ignore';
}) => {
  /** Ends the agent and restarts it no more; `done` then settles. */
  stop(): void;
  done: Promise<number>;
};

/** Options of {@link demoUpdates}. */
export interface DemoUpdatesOptions {
  /** A folder for the repository, the images and the unit's state. */
  readonly work: string;
  readonly factoryDir: string;
  /** The unit bundle (provisioned from `factoryDir`, so it carries the factory's update root). */
  readonly unitDir: string;
  /** Prints one line of the demo's narration. */
  readonly say: (line: string) => void;
  readonly superviseAgent: DemoSupervise;
  /** Longest wait for any one step, ms. */
  readonly stepTimeoutMs?: number;
}

/** What the demo saw. */
export interface DemoUpdatesResult {
  readonly installed: string;
  readonly refused: ReadonlyArray<{ readonly version: string; readonly code: string; readonly detail: string }>;
}

type Published = Awaited<ReturnType<typeof publishImage>>;
/** A served image (named by its SHA-256) or a delta (by its own SHA-256, then its base's). */
const IMAGE_PATH = /^\/updates\/targets\/[a-z0-9-]+\/(?:deltas\/)?[0-9a-f]{64}(?:\.image\.tar|\.[0-9a-f]{64}\.zst)$/;
/** The byte an attacker on the mirror flips in a served image. */
const TAMPERED_BYTE = 600;

/**
 * The repository served over HTTP as plain static files, until an attacker on it starts
 * flipping a bit in every image not in `trusted`, and in every delta to one.
 */
async function serveMirror(repoDir: string): Promise<{
  url: string;
  trusted: Set<string>;
  tamper(): void;
  close(): Promise<void>;
}> {
  let tamperImages = false;
  const trusted = new Set<string>();
  const handler = createRepositoryHandler(repoDir, '/updates');
  const mirror = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const sha = path.slice(path.lastIndexOf('/') + 1, path.lastIndexOf('/') + 65);
    if (tamperImages && IMAGE_PATH.test(path) && !trusted.has(sha)) {
      readFile(join(repoDir, 'targets', ...path.split('/').slice(3))).then(
        (bytes) => {
          const at = Math.min(TAMPERED_BYTE, bytes.length - 1);
          bytes[at] = bytes[at]! ^ 0x20;
          res.writeHead(200, { 'content-length': bytes.length });
          res.end(bytes);
        },
        () => {
          res.writeHead(404);
          res.end();
        },
      );
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
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/updates`,
    trusted,
    tamper: () => {
      tamperImages = true;
    },
    close: () =>
      new Promise<void>((r) => {
        mirror.close(() => r());
        mirror.closeAllConnections();
      }),
  };
}

/** What the supervised unit has said: its boots and its update events, with a way to wait for one. */
class DeviceWatch {
  readonly readies: Array<{ slot: string; firmware: string }> = [];
  readonly events: Array<Record<string, unknown>> = [];
  readonly #stepTimeoutMs: number;
  #wake: () => void = () => undefined;

  constructor(stepTimeoutMs: number) {
    this.#stepTimeoutMs = stepTimeoutMs;
  }

  ready(info: { slot: string; firmware: string }, say: (line: string) => void): void {
    this.readies.push(info);
    const where = info.slot === 'factory' ? 'factory image' : `slot ${info.slot}`;
    say(`   device booted firmware ${info.firmware} (${where})`);
    this.#wake();
  }

  event(e: Record<string, unknown>, say: (line: string) => void): void {
    this.events.push(e);
    if (e.type === 'decision' && ['found', 'installed', 'healthy', 'rolled-back'].includes(String(e.decision))) {
      say(`   device: ${String(e.decision)} ${versionText(e.version)}`.trimEnd());
    }
    this.#wake();
  }

  async waitFor<T>(test: () => T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + this.#stepTimeoutMs;
    for (;;) {
      const v = test();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`update demo: timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 250);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Waits for the refusal of `version` and returns it. */
  async refusal(version: string, what: string): Promise<{ version: string; code: string; detail: string }> {
    const refusedOne = (): Record<string, unknown> | undefined =>
      this.events.find((x) => x.decision === 'refused' && x.version === version);
    const e = await this.waitFor(refusedOne, what);
    return { version, code: String(e.code), detail: String(e.detail) };
  }
}

/** The steps once the unit runs: 1.1.0 installed and healthy, then an older and a tampered image refused. */
async function runScenario(
  o: DemoUpdatesOptions,
  watch: DeviceWatch,
  mirror: { trusted: Set<string>; tamper(): void },
  publish: (version: string, securityVersion: number, allowDowngrade?: boolean) => Promise<Published>,
): Promise<DemoUpdatesResult> {
  await watch.waitFor(() => watch.readies.find((r) => r.firmware === '1.1.0'), 'the device to boot 1.1.0');
  await watch.waitFor(
    () => watch.events.find((e) => e.decision === 'healthy' && e.version === '1.1.0'),
    '1.1.0 to report healthy',
  );
  o.say('   1.1.0 reported healthy: the security counter is now 1 and the trial is over');
  mirror.trusted.add((await publish('1.0.5', 1, true)).sha256);
  o.say('   published an older image, 1.0.5, validly signed (a mistaken or hostile pipeline)');
  const older = await watch.refusal('1.0.5', 'the refusal of 1.0.5');
  o.say(`   device refused 1.0.5: ${older.code}: ${older.detail}`);
  mirror.tamper();
  await publish('1.2.0', 1);
  o.say('   published 1.2.0, but an attacker on the mirror flips one bit of the image and delta it serves');
  const evil = await watch.refusal('1.2.0', 'the refusal of the tampered 1.2.0');
  o.say(`   device refused 1.2.0: ${evil.code}: ${evil.detail}`);
  const last = watch.readies.at(-1)!;
  if (last.firmware !== '1.1.0') throw new Error(`update demo: the device runs ${last.firmware}, not 1.1.0`);
  o.say('   the device still runs 1.1.0; every decision is in its journal (surface "update")');
  return { installed: '1.1.0', refused: [older, evil] };
}

/** Runs the update demo; throws when a step does not happen as it should. */
export async function demoUpdates(o: DemoUpdatesOptions): Promise<DemoUpdatesResult> {
  const repoDir = join(o.work, 'releases');
  await mkdir(o.work, { recursive: true });
  o.say('   a TUF repository: root signed 2-of-3 by offline keys; targets, snapshot and timestamp roles');
  await initRepository({ repoDir, factoryDir: o.factoryDir });
  const model = (JSON.parse(await readFile(join(o.unitDir, 'unit.json'), 'utf8')) as { model: string }).model;
  const publish = async (version: string, securityVersion: number, allowDowngrade = false): Promise<Published> => {
    const artifact = join(o.work, `${model}-${version}.tar`);
    await buildReferenceImage(artifact, { model, version, securityVersion });
    return publishImage({ repoDir, artifact, model, version, allowDowngrade });
  };
  const first = await publish('1.1.0', 1);
  o.say(
    `   published ${model} 1.1.0 (security version 1, sha256 ${first.sha256.slice(0, 16)}..., ` +
      'CycloneDX SBOM beside it)',
  );
  const mirror = await serveMirror(repoDir);
  mirror.trusted.add(first.sha256);
  o.say(`   repository served at ${mirror.url}`);
  const configFile = join(o.work, 'update-config.json');
  const updateConfig = { firstCheckDelayMs: 0, checkJitterMs: 0, checkIntervalMs: 1_500, restartDelayMs: 200 };
  await writeFile(configFile, JSON.stringify(updateConfig));
  const watch = new DeviceWatch(o.stepTimeoutMs ?? 60_000);
  const sup = o.superviseAgent({
    bundleDir: o.unitDir,
    stateDir: join(o.work, 'state'),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    update: { url: mirror.url, configFile },
    agentStderr: 'ignore',
    onReady: (info) => watch.ready(info, o.say),
    onEvent: (e) => watch.event(e, o.say),
  });
  try {
    return await runScenario(o, watch, mirror, publish);
  } finally {
    sup.stop();
    await Promise.race([sup.done, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await mirror.close();
  }
}

/** An update event's version as text ('' when absent). */
function versionText(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v);
}
