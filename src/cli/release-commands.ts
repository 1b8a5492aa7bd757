/**
 * `bulwark release ...`: the manufacturer's build pipeline side of updates. A TUF repository of
 * static files signed with the factory's update keys: init, publish (with a CycloneDX SBOM),
 * refresh, key rotation, status, reference images, and a static server for tests and demos.
 */
import type { Command } from 'commander';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { portArgument } from './arguments.ts';
import { createProgressBar, type ProgressBar } from './progress.ts';

const MiB = 1_048_576;

/** The roles `release rotate` can give new keys. */
const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;

function factoryOf(o: { factory?: string }): string {
  return resolve(o.factory ?? process.env.BULWARK_FACTORY ?? 'factory');
}

function seconds(text: string | undefined, key: string, parse: (t: string, k: string) => number): number | undefined {
  return text === undefined ? undefined : Math.max(1, Math.round(parse(text, key) / 1000));
}

/** A security version from the command line: a whole number, else RELEASE_CONFIG_INVALID. */
function securityVersionArgument(text: string): number {
  if (!/^\d{1,7}$/.test(text)) {
    throw new ConfigError('RELEASE_CONFIG_INVALID', 'securityVersion', 'must be a whole number');
  }
  return Number(text);
}

/** Registers the release commands on `program`. */
export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('sign and publish firmware into the update repository (TUF)');
  registerInit(release);
  registerPublish(release);
  registerRefresh(release);
  registerSupport(release);
  registerRotate(release);
  registerStatus(release);
  registerBuildImage(release);
  registerServe(release);
  registerExport(release);
  registerVulns(release);
  registerVex(release);
  registerAdvisory(release);
  registerProjectSbom(release);
}

/** `release init`'s options as commander parses them. */
interface InitOptions {
  repo: string;
  factory?: string;
  rootExpiry?: string;
  targetsExpiry?: string;
  snapshotExpiry?: string;
  timestampExpiry?: string;
}

/** `release init`: a new repository signed with the factory's update keys. */
function registerInit(release: Command): void {
  release
    .command('init')
    .description(
      'create a TUF repository (root 2-of-3 offline keys, targets, snapshot, timestamp) ' +
        "from the factory's update keys",
    )
    .requiredOption('--repo <dir>', 'repository folder (metadata/ and targets/ are what a web server publishes)')
    .option('--factory <dir>', 'factory folder holding update-keys/ (default $BULWARK_FACTORY or ./factory)')
    .option('--root-expiry <duration>', 'how long root metadata stays valid (default 365d)')
    .option('--targets-expiry <duration>', 'targets metadata validity (default 90d)')
    .option('--snapshot-expiry <duration>', 'snapshot metadata validity (default 14d)')
    .option(
      '--timestamp-expiry <duration>',
      'timestamp validity (default 1d; run `release refresh` more often than this)',
    )
    .action(async (o: InitOptions) => {
      const { initRepository } = await import('../release/index.ts');
      const { parseDuration } = await import('../update/index.ts');
      const expiry = Object.fromEntries(
        Object.entries({
          rootSeconds: seconds(o.rootExpiry, 'rootExpiry', parseDuration),
          targetsSeconds: seconds(o.targetsExpiry, 'targetsExpiry', parseDuration),
          snapshotSeconds: seconds(o.snapshotExpiry, 'snapshotExpiry', parseDuration),
          timestampSeconds: seconds(o.timestampExpiry, 'timestampExpiry', parseDuration),
        }).filter(([, v]) => v !== undefined),
      );
      const repo = resolve(o.repo);
      const r = await initRepository({ repoDir: repo, factoryDir: factoryOf(o), expiry });
      process.stdout.write(
        `release repository ready in ${repo} ` +
          `(root version ${r.rootVersion}, consistent snapshots)\n` +
          `  publish ${resolve(repo, 'metadata')} and ${resolve(repo, 'targets')} ` +
          'under <url>/metadata and <url>/targets\n',
      );
    });
}

/** `release publish`'s options as commander parses them. */
interface PublishOptions {
  repo: string;
  model: string;
  version: string;
  artifact: string;
  securityVersion?: string;
  factory?: string;
  allowDowngrade?: boolean;
  notesRisk?: string;
  notesInterruption?: string;
}

/** `release publish`: sign an image (and its SBOM) into the repository. */
function registerPublish(release: Command): void {
  release
    .command('publish')
    .description(
      'sign a firmware image into the repository (custom data: model, version, security version) ' +
        'with its CycloneDX SBOM',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--model <model>', 'built-in model id (plug, bulb, lock, sensor, camera) or model file')
    .requiredOption('--version <semver>', "image version, MAJOR.MINOR.PATCH (must equal image.json's)")
    .requiredOption('--artifact <file>', 'the image tarball (image.json at its top)')
    .option('--security-version <n>', "must equal image.json's securityVersion (a check, not an override)")
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .option(
      '--allow-downgrade',
      'publish an image older than the current one (devices refuse it; for drills and demos)',
    )
    .option(
      '--notes-risk <text>',
      "the owner's note: the risk this release fixes, in plain words (signed with the image)",
    )
    .option('--notes-interruption <text>', "the owner's note: what installing interrupts and for how long")
    .action(publish);
}

/** Publishes one image, with a progress bar for big artifacts. */
async function publish(o: PublishOptions): Promise<void> {
  const { publishImage } = await import('../release/index.ts');
  const sv = o.securityVersion === undefined ? undefined : securityVersionArgument(o.securityVersion);
  const notes =
    o.notesRisk !== undefined || o.notesInterruption !== undefined
      ? { notes: { risk: o.notesRisk ?? '', interruption: o.notesInterruption ?? '' } }
      : {};
  const bars = new Map<string, ProgressBar>();
  const r = await publishImage({
    repoDir: resolve(o.repo),
    artifact: resolve(o.artifact),
    model: o.model,
    version: o.version,
    ...(sv !== undefined ? { securityVersion: sv } : {}),
    ...(o.factory ? { factoryDir: resolve(o.factory) } : {}),
    ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
    ...notes,
    onProgress: (step, done, total) => {
      if (total < MiB) return;
      let bar = bars.get(step);
      if (!bar) {
        bar = createProgressBar(`${step === 'inspect' ? 'checking' : 'signing in'} (MiB)`);
        bars.set(step, bar);
      }
      bar.update(Math.floor(done / MiB), Math.max(1, Math.floor(total / MiB)));
    },
  });
  for (const bar of bars.values()) bar.finish();
  process.stdout.write(
    `published ${r.model} ${r.version} ` +
      `(security version ${r.securityVersion}, ${r.length} bytes)\n` +
      `  sha256 ${r.sha256}\n  image ${r.files.image}\n  SBOM  ${r.files.sbom} (CycloneDX 1.5)\n` +
      `  signed targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}\n`,
  );
  for (const d of r.deltas) {
    const percent = ((100 * d.length) / r.length).toFixed(1);
    process.stdout.write(`  delta from ${d.baseVersion}: ${d.length} bytes (${percent}% of the image) ${d.file}\n`);
  }
}

/** `release refresh`: re-sign the timestamp (and more when asked). */
function registerRefresh(release: Command): void {
  release
    .command('refresh')
    .description(
      're-sign the timestamp with a fresh expiry (and snapshot or targets when asked, ' +
        'or close to expiry); run it on a schedule',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .option('--roles <list>', 'also re-sign these, comma-separated: snapshot,targets', '')
    .action(async (o: { repo: string; factory?: string; roles: string }) => {
      const { refreshRepository } = await import('../release/index.ts');
      const roles = o.roles
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      for (const r of roles) {
        if (r !== 'snapshot' && r !== 'targets' && r !== 'timestamp') {
          throw new ConfigError('RELEASE_CONFIG_INVALID', 'roles', 'only snapshot, targets and timestamp');
        }
      }
      const r = await refreshRepository({
        repoDir: resolve(o.repo),
        ...(o.factory ? { factoryDir: resolve(o.factory) } : {}),
        roles: roles as Array<'snapshot' | 'targets' | 'timestamp'>,
      });
      process.stdout.write(
        `re-signed ${r.renewed.join(', ')}: targets v${r.targets}, snapshot v${r.snapshot}, ` +
          `timestamp v${r.timestamp}\n`,
      );
    });
}

/** `release support`: a later support end, signed into the model's image target so units learn it. */
function registerSupport(release: Command): void {
  release
    .command('support')
    .description(
      "extend a model's support period: the new end is signed into its image's target, so every unit learns it " +
        'at its next check; a shorter one is refused',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--model <id|file>', 'a built-in model id or a model file')
    .requiredOption('--until <date>', 'the last day of security updates, YYYY-MM-DD')
    .option('--shorter-expected-use <reason>', 'why the product is used for under five years, when it is')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .action(
      async (o: { repo: string; model: string; until: string; shorterExpectedUse?: string; factory?: string }) => {
        const { extendSupportPeriod } = await import('../release/index.ts');
        const r = await extendSupportPeriod({
          repoDir: resolve(o.repo),
          model: o.model,
          endsOn: o.until,
          ...(o.shorterExpectedUse ? { shorterExpectedUse: o.shorterExpectedUse } : {}),
          ...(o.factory ? { factoryDir: resolve(o.factory) } : {}),
        });
        process.stdout.write(
          `${r.model}: security updates until ${r.endsOn}` +
            (r.signed
              ? `; signed into targets v${r.targets}, units learn it at their next check\n`
              : '; recorded for its first image\n'),
        );
      },
    );
}

/** `release rotate`: new keys for one role, named by a new root version. */
function registerRotate(release: Command): void {
  release
    .command('rotate')
    .description(
      "replace one role's keys: a new root version (signed by the old root keys, and the new ones for " +
        'a root rotation) names them',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--role <role>', 'root, targets, snapshot or timestamp')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .action(async (o: { repo: string; role: string; factory?: string }) => {
      const { rotateKeys } = await import('../release/index.ts');
      const role = ROLES.find((r) => r === o.role);
      if (!role) {
        throw new ConfigError('RELEASE_CONFIG_INVALID', 'role', 'must be root, targets, snapshot or timestamp');
      }
      const factory = o.factory ? { factoryDir: resolve(o.factory) } : {};
      const r = await rotateKeys({ repoDir: resolve(o.repo), role, ...factory });
      const s = r.keyIds.length > 1 ? 's' : '';
      process.stdout.write(
        `rotated the ${role} key${s}: root is now version ${r.rootVersion}; ` +
          `new key id${s} ${r.keyIds.map((k) => k.slice(0, 16)).join(', ')}\n` +
          '  devices follow the new root on their next check; bundles provisioned from now on carry it\n',
      );
    });
}

/** `release status`: versions, expiry dates and images. */
function registerStatus(release: Command): void {
  release
    .command('status')
    .description("show the repository's metadata versions, expiry dates and published images")
    .requiredOption('--repo <dir>', 'repository folder')
    .action(async (o: { repo: string }) => {
      const { repositoryStatus } = await import('../release/index.ts');
      const s = await repositoryStatus(resolve(o.repo));
      for (const [role, v] of Object.entries(s.roles)) {
        process.stdout.write(`${role.padEnd(9)} v${v.version}  expires ${v.expires}\n`);
      }
      for (const i of s.images) {
        process.stdout.write(
          `image     ${i.model} ${i.version} (security version ${i.securityVersion}, ` +
            `${i.length} bytes, sha256 ${i.sha256.slice(0, 16)}...)\n`,
        );
      }
    });
}

/** `release build-image`: a firmware image that carries the device's code (format version 2). */
function registerBuildImage(release: Command): void {
  release
    .command('build-image')
    .description(
      "build a firmware image: the device agent bundled with its dependencies, the unit's model file, " +
        'an SBOM of what the bundle holds, and the driver folder if given',
    )
    .requiredOption('--model <model>', 'built-in model id or model file')
    .requiredOption('--version <semver>', 'image version')
    .requiredOption('--security-version <n>', 'anti-rollback security version')
    .requiredOption('--out <file>', 'the tar archive to write (gzipped when it ends in .tgz or .gz)')
    .option('--driver <dir>', "the maker's driver folder, copied into the image under driver/")
    .option('--node <range>', "the Node.js range the image needs (default: the bundle target's major)")
    .action(async (o: BuildImageArguments) => {
      const { buildDeviceImage } = await import('../release/index.ts');
      const { isNodeRange } = await import('../update/index.ts');
      if (o.node !== undefined && !isNodeRange(o.node))
        throw new ConfigError('RELEASE_CONFIG_INVALID', 'node', "must be comparators like '>=24.0.0 <25.0.0'");
      const out = resolve(o.out);
      // As `factory provision --out` does: the folder of the output is made, not a precondition.
      await mkdir(dirname(out), { recursive: true });
      const started = Date.now();
      const progress = lateProgress(1_000);
      const r = await buildDeviceImage(out, {
        model: o.model,
        version: o.version,
        securityVersion: securityVersionArgument(o.securityVersion),
        ...(o.driver ? { driverDir: resolve(o.driver) } : {}),
        ...(o.node ? { nodeRange: o.node } : {}),
        gzip: /\.(tgz|gz)$/.test(out),
        onProgress: (step) => progress.step(step),
      }).finally(() => progress.done());
      const m = r.manifest;
      const mib = (n: number): string => (n / 1048576).toFixed(2);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `built ${out}: ${m.model} ${m.version}, security version ${m.securityVersion}, entry ${m.entry}\n` +
          `  ${r.files.length} files, ${mib(r.unpackedBytes)} MiB unpacked, ${mib(r.archiveBytes)} MiB archive; ` +
          `Node ${m.node}; SBOM of ${r.packages.length} npm packages; built in ${seconds} s\n`,
      );
    });
}

/** Steps on stderr, but only once `afterMs` has passed: a quick build prints nothing but its result. */
function lateProgress(afterMs: number): { step(text: string): void; done(): void } {
  let current: string | undefined;
  let shown = false;
  const timer = setTimeout(() => {
    shown = true;
    if (current) process.stderr.write(`${current}...\n`);
  }, afterMs);
  return {
    step: (text) => {
      current = text;
      if (shown) process.stderr.write(`${text}...\n`);
    },
    done: () => clearTimeout(timer),
  };
}

/** The options of `release build-image`. */
interface BuildImageArguments {
  model: string;
  version: string;
  securityVersion: string;
  out: string;
  driver?: string;
  node?: string;
}

/** `release serve`: the repository's static files over HTTP until a signal. */
function registerServe(release: Command): void {
  release
    .command('serve')
    .description(
      "serve the repository's static files over HTTP under /updates " + '(any web server or CDN can do this)',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '8080')
    .action(async (o: { repo: string; host: string; port: string }) => {
      const { startRepositoryServer } = await import('../release/index.ts');
      const port = portArgument(o.port, 'port', 'RELEASE_CONFIG_INVALID');
      const s = await startRepositoryServer({ repoDir: resolve(o.repo), host: o.host, port });
      process.stdout.write(
        `serving ${resolve(o.repo)} at ${s.url} ` + `(devices: bulwark device run --update-url ${s.url})\n`,
      );
      await new Promise<void>((done) => {
        const stop = (): void => {
          void s.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

/** `release export`: an update file for units that never reach the internet. */
function registerExport(release: Command): void {
  release
    .command('export')
    .description(
      "write an update file: the model's current image and the signed metadata a unit checks it with " +
        '(install it with `bulwark device update --file` or on the admin page)',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--model <model>', 'built-in model id or model file')
    .requiredOption('--version <semver>', "the model's current image version")
    .requiredOption('--out <file>', 'where to write the update file')
    .action(async (o: { repo: string; model: string; version: string; out: string }) => {
      const { exportUpdateFile } = await import('../release/index.ts');
      const r = await exportUpdateFile({
        repoDir: resolve(o.repo),
        model: o.model,
        version: o.version,
        out: resolve(o.out),
      });
      process.stdout.write(
        `exported ${r.model} ${r.version} to ${r.file} (${r.bytes} bytes)\n  sha256 ${r.sha256}\n` +
          `  its metadata expires ${r.expires}; after that a unit takes it only as an offline unit, ` +
          'when it is not older than what the unit last trusted\n',
      );
    });
}

/** `release vulns`'s options as commander parses them. */
interface VulnsOptions {
  repo: string;
  advisories?: string;
  json?: boolean;
  cloudStore?: string;
  cloud?: string;
  makerTokenFile?: string;
  cloudCa?: string;
}

/** Units in the field per `model@version`, from the cloud's store or its maker API; undefined when neither is given. */
async function fieldCounts(o: VulnsOptions): Promise<Map<string, number> | undefined> {
  let counts: Array<{ model: string; version: string; running: number }>;
  if (o.cloudStore) counts = await storeCounts(o.cloudStore);
  else if (o.cloud) {
    if (!o.makerTokenFile) throw new ConfigError('RELEASE_CONFIG_INVALID', 'makerTokenFile', 'needed with --cloud');
    const { fetchFieldCounts } = await import('../vulns/index.ts');
    const token = (await readFile(resolve(o.makerTokenFile), 'utf8')).trim();
    const caPem = o.cloudCa ? await readFile(resolve(o.cloudCa), 'utf8') : undefined;
    counts = await fetchFieldCounts({ baseUrl: o.cloud, token, ...(caPem ? { caPem } : {}) });
  } else return undefined;
  return new Map(counts.map((c) => [`${c.model}@${c.version}`, c.running]));
}

/** The release counts of the cloud's store: a PostgreSQL URL, a SQLite file, or the state folder holding cloud.db. */
async function storeCounts(where: string): Promise<Array<{ model: string; version: string; running: number }>> {
  const { SqlStore, openSqliteDriver, openPostgresDriver } = await import('../cloud/index.ts');
  let driver;
  if (/^postgres(ql)?:\/\//.test(where)) driver = await openPostgresDriver({ url: where });
  else {
    const info = await stat(resolve(where)).catch(() => undefined);
    const path = info?.isDirectory() ? join(resolve(where), 'cloud.db') : resolve(where);
    if (!(await stat(path).catch(() => undefined))?.isFile())
      throw new ConfigError('RELEASE_CONFIG_INVALID', 'cloudStore', `no cloud database at ${path}`);
    driver = openSqliteDriver({ path });
  }
  const store = await SqlStore.open(driver);
  try {
    return await store.releaseCounts();
  } finally {
    await store.close();
  }
}

/** `release vulns`: advisories imported and matched against every published release. */
function registerVulns(release: Command): void {
  release
    .command('vulns')
    .description(
      'import advisories (OSV or CSAF 2.0, offline) and list each one that affects a published release, ' +
        'with the units in the field running it',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .option('--advisories <path>', 'an advisory file or a folder of them, imported into the repository')
    .option('--cloud-store <where>', "the cloud's database: a SQLite file or state folder, or a postgres:// URL")
    .option('--cloud <url>', "the cloud's https URL, for its maker API (GET /v1/maker/releases)")
    .option('--maker-token-file <file>', "the maker's API token, with --cloud")
    .option('--cloud-ca <pem>', "the CA the cloud's certificate chains to, with --cloud (default: the system's)")
    .option('--json', 'print JSON')
    .action(async (o: VulnsOptions) => {
      const { reportVulnerabilities } = await import('../release/index.ts');
      const r = await reportVulnerabilities({
        repoDir: resolve(o.repo),
        ...(o.advisories ? { advisories: resolve(o.advisories) } : {}),
      });
      const field = await fieldCounts(o);
      const rows = r.reports.map(({ match, statement }) => ({
        id: match.advisory.id,
        aliases: match.advisory.aliases,
        summary: match.advisory.summary,
        fixedVersions: match.fixedVersions,
        status: statement?.status ?? 'no statement',
        releases: match.releases.map((x) => ({
          model: x.model,
          version: x.version,
          package: `${x.package.name}@${x.package.version}`,
          ...(field ? { devices: field.get(`${x.model}@${x.version}`) ?? 0 } : {}),
        })),
      }));
      if (o.json)
        return void process.stdout.write(
          JSON.stringify({ imported: r.imported, vulnerabilities: rows }, null, 2) + '\n',
        );
      process.stdout.write(`${r.imported} advisories imported; ${rows.length} affect published releases\n`);
      for (const v of rows) {
        process.stdout.write(`${v.id} [${v.status}] ${v.summary}\n`);
        for (const x of v.releases) {
          const field = x.devices !== undefined ? `: ${x.devices} units in the field` : '';
          process.stdout.write(`  ${x.model} ${x.version} (${x.package})${field}\n`);
        }
      }
    });
}

/** `release vex`: the maker's statement about a vulnerability, signed into the repository. */
function registerVex(release: Command): void {
  release
    .command('vex')
    .description(
      "record the maker's statement about a vulnerability as CycloneDX VEX and sign it into the repository " +
        '(targets/<model>/vex.cdx.json, beside the SBOM)',
    )
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--vuln <id>', 'the vulnerability (advisory id or alias), imported with release vulns')
    .requiredOption('--status <status>', 'not_affected, affected, fixed or under_investigation')
    .option('--justification <j>', "why not affected, one of CycloneDX's (code_not_present, code_not_reachable, ...)")
    .option('--detail <text>', 'a plain-text explanation')
    .option('--factory <dir>', 'factory folder (default: the one recorded at init)')
    .action(
      async (o: {
        repo: string;
        vuln: string;
        status: string;
        justification?: string;
        detail?: string;
        factory?: string;
      }) => {
        const { recordVexStatement } = await import('../release/index.ts');
        const r = await recordVexStatement({
          repoDir: resolve(o.repo),
          vuln: o.vuln,
          status: o.status,
          ...(o.justification !== undefined ? { justification: o.justification } : {}),
          ...(o.detail !== undefined ? { detail: o.detail } : {}),
          ...(o.factory ? { factoryDir: resolve(o.factory) } : {}),
        });
        const s = r.statement;
        process.stdout.write(
          `${s.vuln}: ${s.status}${s.justification ? ` (${s.justification})` : ''} for ` +
            `${s.releases.map((x) => `${x.model} ${x.version}`).join(', ')}\n` +
            r.targets.map((t) => `  signed ${t.path} (${t.file})\n`).join('') +
            `  targets v${r.metadata.targets}, snapshot v${r.metadata.snapshot}, timestamp v${r.metadata.timestamp}\n`,
        );
      },
    );
}

/** `release advisory`: the CSAF 2.0 security advisory of a vulnerability. */
function registerAdvisory(release: Command): void {
  release
    .command('advisory')
    .description("write the CSAF 2.0 security advisory of a vulnerability from the maker's VEX statements")
    .requiredOption('--repo <dir>', 'repository folder')
    .requiredOption('--vuln <id>', 'the vulnerability (advisory id or alias)')
    .requiredOption('--out <file>', 'where to write the advisory (JSON)')
    .option('--publisher-name <name>', 'the publisher (the maker); remembered in the repository')
    .option('--publisher-namespace <url>', "the publisher's https URL; remembered in the repository")
    .option('--tracking-id <id>', "the advisory's tracking id (default: the vulnerability's id)")
    .action(
      async (o: {
        repo: string;
        vuln: string;
        out: string;
        publisherName?: string;
        publisherNamespace?: string;
        trackingId?: string;
      }) => {
        const { writeCsafAdvisory } = await import('../release/index.ts');
        const out = resolve(o.out);
        await mkdir(dirname(out), { recursive: true });
        const r = await writeCsafAdvisory({
          repoDir: resolve(o.repo),
          vuln: o.vuln,
          out,
          publisher: { name: o.publisherName, namespace: o.publisherNamespace },
          ...(o.trackingId ? { trackingId: o.trackingId } : {}),
        });
        process.stdout.write(`wrote the CSAF 2.0 advisory of ${o.vuln} to ${r.file}\n`);
      },
    );
}

/** `release project-sbom`: the CycloneDX SBOM of Bulwark itself (npm run build writes dist/sbom.cdx.json). */
function registerProjectSbom(release: Command): void {
  release
    .command('project-sbom')
    .description('write the CycloneDX 1.5 SBOM of this Bulwark package and its production dependencies')
    .requiredOption('--out <file>', 'where to write it')
    .action(async (o: { out: string }) => {
      const { buildProjectSbom, runtimeInventory } = await import('../release/index.ts');
      const sbom = buildProjectSbom(await runtimeInventory());
      const out = resolve(o.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, JSON.stringify(sbom, null, 2) + '\n');
      process.stdout.write(`wrote ${out} (${(sbom.components as unknown[]).length} components)\n`);
    });
}
