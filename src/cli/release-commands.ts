/**
 * `bulwark release ...`: the manufacturer's build pipeline side of updates. A TUF repository of
 * static files signed with the factory's update keys: init, publish (with a CycloneDX SBOM),
 * refresh, key rotation, status, reference images, and a static server for tests and demos.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { createProgressBar, type ProgressBar } from './progress.ts';

const MiB = 1_048_576;

function factoryOf(o: { factory?: string }): string {
  return resolve(o.factory ?? process.env.BULWARK_FACTORY ?? 'factory');
}

function seconds(text: string | undefined, key: string, parse: (t: string, k: string) => number): number | undefined {
  return text === undefined ? undefined : Math.max(1, Math.round(parse(text, key) / 1000));
}

/** Registers the release commands on `program`. */
export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('sign and publish firmware into the update repository (TUF)');
  const factoryHelp = 'factory folder holding update-keys/ (default $BULWARK_FACTORY or ./factory)';

  release.command('init')
    .description('create a TUF repository (root 2-of-3 offline keys, targets, snapshot, timestamp) from the factory\'s update keys')
    .requiredOption('--repo <dir>', 'repository folder (metadata/ and targets/ are what a web server publishes)')
    .option('--factory <dir>', factoryHelp)
    .option('--root-expiry <duration>', 'how long root metadata stays valid (default 365d)')
    .option('--targets-expiry <duration>', 'targets metadata validity (default 90d)')
    .option('--snapshot-expiry <duration>', 'snapshot metadata validity (default 14d)')
    .option('--timestamp-expiry <duration>', 'timestamp validity (default 1d; run `release refresh` more often than this)')
    .action(async (o: { repo: string; factory?: string; rootExpiry?: string; targetsExpiry?: string; snapshotExpiry?: string; timestampExpiry?: string }) => {
      const { initRepository } = await import('../release/index.ts');
      const { parseDuration } = await import('../update/index.ts');
      const expiry = Object.fromEntries(Object.entries({
        rootSeconds: seconds(o.rootExpiry, 'rootExpiry', parseDuration), targetsSeconds: seconds(o.targetsExpiry, 'targetsExpiry', parseDuration),
        snapshotSeconds: seconds(o.snapshotExpiry, 'snapshotExpiry', parseDuration), timestampSeconds: seconds(o.timestampExpiry, 'timestampExpiry', parseDuration),
      }).filter(([, v]) => v !== undefined));
      const r = await initRepository({ repoDir: resolve(o.repo), factoryDir: factoryOf(o), expiry });
      process.stdout.write(`release repository ready in ${resolve(o.repo)} (root version ${r.rootVersion}, consistent snapshots)\n` +
        `  publish ${resolve(o.repo, 'metadata')} and ${resolve(o.repo, 'targets')} under <url>/metadata and <url>/targets\n`);
    });

  release.command('publish')
    .description('sign a firmware image into the repository (custom data: model, version, security version) with its CycloneDX SBOM')
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--model <model>', 'model id (plug, bulb, lock, sensor, camera)')
    .requiredOption('--version <semver>', 'image version, MAJOR.MINOR.PATCH (must equal image.json\'s)')
    .requiredOption('--artifact <file>', 'the image tarball (image.json at its top)')
    .option('--security-version <n>', 'must equal image.json\'s securityVersion (a check, not an override)')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .option('--allow-downgrade', 'publish an image older than the current one (devices refuse it; for drills and demos)')
    .option('--notes-risk <text>', 'the owner\'s note: the risk this release fixes, in plain words (signed with the image)')
    .option('--notes-interruption <text>', 'the owner\'s note: what installing interrupts and for how long')
    .action(async (o: { repo: string; model: string; version: string; artifact: string; securityVersion?: string; factory?: string; allowDowngrade?: boolean; notesRisk?: string; notesInterruption?: string }) => {
      const { publishImage } = await import('../release/index.ts');
      let sv: number | undefined;
      if (o.securityVersion !== undefined) {
        sv = Number(o.securityVersion);
        if (!/^\d{1,7}$/.test(o.securityVersion)) throw new ConfigError('RELEASE_CONFIG_INVALID', 'securityVersion', 'must be a whole number');
      }
      const bars = new Map<string, ProgressBar>();
      const r = await publishImage({
        repoDir: resolve(o.repo), artifact: resolve(o.artifact), model: o.model, version: o.version,
        ...(sv !== undefined ? { securityVersion: sv } : {}), ...(o.factory ? { factoryDir: resolve(o.factory) } : {}), ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
        ...(o.notesRisk !== undefined || o.notesInterruption !== undefined ? { notes: { risk: o.notesRisk ?? '', interruption: o.notesInterruption ?? '' } } : {}),
        onProgress: (step, done, total) => {
          if (total < MiB) return;
          let bar = bars.get(step);
          if (!bar) { bar = createProgressBar(`${step === 'inspect' ? 'checking' : 'signing in'} (MiB)`); bars.set(step, bar); }
          bar.update(Math.floor(done / MiB), Math.max(1, Math.floor(total / MiB)));
        },
      });
      for (const bar of bars.values()) bar.finish();
      process.stdout.write(`published ${r.model} ${r.version} (security version ${r.securityVersion}, ${r.length} bytes)\n` +
        `  sha256 ${r.sha256}\n  image ${r.files.image}\n  SBOM  ${r.files.sbom} (CycloneDX 1.5)\n` +
        `  signed targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}\n`);
    });

  release.command('refresh')
    .description('re-sign the timestamp with a fresh expiry (and snapshot or targets when asked, or close to expiry); run it on a schedule')
    .requiredOption('--repo <dir>', 'repository folder')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .option('--roles <list>', 'also re-sign these, comma-separated: snapshot,targets', '')
    .action(async (o: { repo: string; factory?: string; roles: string }) => {
      const { refreshRepository } = await import('../release/index.ts');
      const roles = o.roles.split(',').map((x) => x.trim()).filter(Boolean);
      for (const r of roles) if (r !== 'snapshot' && r !== 'targets' && r !== 'timestamp') throw new ConfigError('RELEASE_CONFIG_INVALID', 'roles', 'only snapshot, targets and timestamp');
      const r = await refreshRepository({ repoDir: resolve(o.repo), ...(o.factory ? { factoryDir: resolve(o.factory) } : {}), roles: roles as Array<'snapshot' | 'targets' | 'timestamp'> });
      process.stdout.write(`re-signed ${r.renewed.join(', ')}: targets v${r.targets}, snapshot v${r.snapshot}, timestamp v${r.timestamp}\n`);
    });

  release.command('rotate')
    .description('replace one role\'s keys: a new root version (signed by the old root keys, and the new ones for a root rotation) names them')
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--role <role>', 'root, targets, snapshot or timestamp')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .action(async (o: { repo: string; role: string; factory?: string }) => {
      const { rotateKeys } = await import('../release/index.ts');
      if (!['root', 'targets', 'snapshot', 'timestamp'].includes(o.role)) throw new ConfigError('RELEASE_CONFIG_INVALID', 'role', 'must be root, targets, snapshot or timestamp');
      const r = await rotateKeys({ repoDir: resolve(o.repo), role: o.role as 'root', ...(o.factory ? { factoryDir: resolve(o.factory) } : {}) });
      process.stdout.write(`rotated the ${o.role} key${r.keyIds.length > 1 ? 's' : ''}: root is now version ${r.rootVersion}; new key id${r.keyIds.length > 1 ? 's' : ''} ${r.keyIds.map((k) => k.slice(0, 16)).join(', ')}\n` +
        '  devices follow the new root on their next check; bundles provisioned from now on carry it\n');
    });

  release.command('status')
    .description('show the repository\'s metadata versions, expiry dates and published images')
    .requiredOption('--repo <dir>', 'repository folder')
    .action(async (o: { repo: string }) => {
      const { repositoryStatus } = await import('../release/index.ts');
      const s = await repositoryStatus(resolve(o.repo));
      for (const [role, v] of Object.entries(s.roles)) process.stdout.write(`${role.padEnd(9)} v${v.version}  expires ${v.expires}\n`);
      for (const i of s.images) process.stdout.write(`image     ${i.model} ${i.version} (security version ${i.securityVersion}, ${i.length} bytes, sha256 ${i.sha256.slice(0, 16)}...)\n`);
    });

  release.command('build-image')
    .description('build a reference firmware image (image.json plus an entry that starts the installed runtime\'s agent)')
    .requiredOption('--model <model>', 'model id')
    .requiredOption('--version <semver>', 'image version')
    .requiredOption('--security-version <n>', 'anti-rollback security version')
    .requiredOption('--out <file>', 'the tarball to write')
    .action(async (o: { model: string; version: string; securityVersion: string; out: string }) => {
      const { buildReferenceImage } = await import('../release/index.ts');
      const { getModel } = await import('../models/index.ts');
      getModel(o.model);
      if (!/^\d{1,7}$/.test(o.securityVersion)) throw new ConfigError('RELEASE_CONFIG_INVALID', 'securityVersion', 'must be a whole number');
      const m = await buildReferenceImage(resolve(o.out), { model: o.model, version: o.version, securityVersion: Number(o.securityVersion) });
      process.stdout.write(`built ${resolve(o.out)}: ${m.model} ${m.version}, security version ${m.securityVersion}, entry ${m.entry}\n`);
    });

  release.command('serve')
    .description('serve the repository\'s static files over HTTP under /updates (any web server or CDN can do this)')
    .requiredOption('--repo <dir>', 'repository folder')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '8080')
    .action(async (o: { repo: string; host: string; port: string }) => {
      const { startRepositoryServer } = await import('../release/index.ts');
      if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535) throw new ConfigError('RELEASE_CONFIG_INVALID', 'port', 'must be 0..65535');
      const s = await startRepositoryServer({ repoDir: resolve(o.repo), host: o.host, port: Number(o.port) });
      process.stdout.write(`serving ${resolve(o.repo)} at ${s.url} (devices: bulwark device run --update-url ${s.url})\n`);
      await new Promise<void>((done) => {
        const stop = (): void => { void s.close().then(done); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
