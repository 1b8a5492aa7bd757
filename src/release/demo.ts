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
  bundleDir: string; stateDir: string; host: string; webPort: number; hubPort?: number;
  update?: { url?: string; configFile?: string };
  onReady?: (info: { serial: string; url: string; webPort: number; slot: string; firmware: string }) => void;
  onEvent?: (event: Record<string, unknown>) => void;
  log?: (msg: string) => void;
  agentStderr?: 'inherit' | 'ignore';
}) => { stop(): void; done: Promise<number> };

/** Options of {@link demoUpdates}. */
export interface DemoUpdatesOptions {
  /** A folder for the repository, the images and the unit's state. */
  readonly work: string;
  readonly factoryDir: string;
  /** The unit bundle (provisioned from `factoryDir`, so it carries the factory's update root). */
  readonly unitDir: string;
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

/** Runs the update demo; throws when a step does not happen as it should. */
export async function demoUpdates(o: DemoUpdatesOptions): Promise<DemoUpdatesResult> {
  const stepTimeoutMs = o.stepTimeoutMs ?? 60_000;
  const repoDir = join(o.work, 'releases');
  await mkdir(o.work, { recursive: true });
  o.say('   a TUF repository: root signed 2-of-3 by offline keys; targets, snapshot and timestamp roles');
  await initRepository({ repoDir, factoryDir: o.factoryDir });
  const model = (JSON.parse(await readFile(join(o.unitDir, 'unit.json'), 'utf8')) as { model: string }).model;
  const publish = async (version: string, securityVersion: number, allowDowngrade = false): Promise<Awaited<ReturnType<typeof publishImage>>> => {
    const artifact = join(o.work, `${model}-${version}.tar`);
    await buildReferenceImage(artifact, { model, version, securityVersion });
    return publishImage({ repoDir, artifact, model, version, allowDowngrade });
  };
  const first = await publish('1.1.0', 1);
  o.say(`   published ${model} 1.1.0 (security version 1, sha256 ${first.sha256.slice(0, 16)}..., CycloneDX SBOM beside it)`);
  // The mirror: plain static files, until an attacker on it starts flipping bits in images.
  let tamperImages = false;
  const trusted = new Set<string>([first.sha256]);
  const handler = createRepositoryHandler(repoDir, '/updates');
  const mirror = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const image = /^\/updates\/targets\/[a-z0-9-]+\/[0-9a-f]{64}\.image\.tar$/.test(path);
    if (tamperImages && image && !trusted.has(path.slice(path.lastIndexOf('/') + 1, path.lastIndexOf('/') + 65))) {
      readFile(join(repoDir, 'targets', ...path.split('/').slice(3))).then((bytes) => {
        bytes[600] = bytes[600]! ^ 0x20;
        res.writeHead(200, { 'content-length': bytes.length });
        res.end(bytes);
      }, () => { res.writeHead(404); res.end(); });
      return;
    }
    handler(req, res).then((handled) => { if (!handled) { res.writeHead(404); res.end(); } }, () => { res.writeHead(500); res.end(); });
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const server = {
    url: `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/updates`,
    close: () => new Promise<void>((r) => { mirror.close(() => r()); mirror.closeAllConnections(); }),
  };
  o.say(`   repository served at ${server.url}`);
  const configFile = join(o.work, 'update-config.json');
  await writeFile(configFile, JSON.stringify({ firstCheckDelayMs: 0, checkJitterMs: 0, checkIntervalMs: 1_500, restartDelayMs: 200 }));

  const readies: Array<{ slot: string; firmware: string }> = [];
  const events: Array<Record<string, unknown>> = [];
  let wake: () => void = () => undefined;
  const waitFor = async <T>(test: () => T | undefined, what: string): Promise<T> => {
    const deadline = Date.now() + stepTimeoutMs;
    for (;;) {
      const v = test();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`update demo: timed out waiting for ${what}`);
      await new Promise<void>((r) => { const t = setTimeout(r, 250); wake = () => { clearTimeout(t); r(); }; });
    }
  };
  const sup = o.superviseAgent({
    bundleDir: o.unitDir, stateDir: join(o.work, 'state'), host: '127.0.0.1', webPort: 0, hubPort: 0,
    update: { url: server.url, configFile }, agentStderr: 'ignore',
    onReady: (info) => {
      readies.push(info);
      o.say(`   device booted firmware ${info.firmware} (${info.slot === 'factory' ? 'factory image' : `slot ${info.slot}`})`);
      wake();
    },
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'decision' && ['found', 'installed', 'healthy', 'rolled-back'].includes(String(e.decision))) {
        o.say(`   device: ${String(e.decision)} ${String(e.version ?? '')}`.trimEnd());
      }
      wake();
    },
  });
  const refusedOf = (version: string): Record<string, unknown> | undefined => events.find((e) => e.decision === 'refused' && e.version === version);
  const refused: Array<{ version: string; code: string; detail: string }> = [];
  try {
    await waitFor(() => readies.find((r) => r.firmware === '1.1.0'), 'the device to boot 1.1.0');
    await waitFor(() => events.find((e) => e.decision === 'healthy' && e.version === '1.1.0'), '1.1.0 to report healthy');
    o.say('   1.1.0 reported healthy: the security counter is now 1 and the trial is over');

    trusted.add((await publish('1.0.5', 1, true)).sha256);
    o.say('   published an older image, 1.0.5, validly signed (a mistaken or hostile pipeline)');
    const older = await waitFor(() => refusedOf('1.0.5'), 'the refusal of 1.0.5');
    refused.push({ version: '1.0.5', code: String(older.code), detail: String(older.detail) });
    o.say(`   device refused 1.0.5: ${String(older.code)}: ${String(older.detail)}`);

    tamperImages = true;
    await publish('1.2.0', 1);
    o.say('   published 1.2.0, but an attacker on the mirror flips one bit of the image it serves');
    const evil = await waitFor(() => refusedOf('1.2.0'), 'the refusal of the tampered 1.2.0');
    refused.push({ version: '1.2.0', code: String(evil.code), detail: String(evil.detail) });
    o.say(`   device refused 1.2.0: ${String(evil.code)}: ${String(evil.detail)}`);
    const last = readies.at(-1)!;
    if (last.firmware !== '1.1.0') throw new Error(`update demo: the device runs ${last.firmware}, not 1.1.0`);
    o.say('   the device still runs 1.1.0; every decision is in its journal (surface "update")');
    return { installed: '1.1.0', refused };
  } finally {
    sup.stop();
    await Promise.race([sup.done, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await server.close();
  }
}
