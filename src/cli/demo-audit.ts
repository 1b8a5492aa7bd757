/**
 * Step 7 of `bulwark demo`: the security policy of every demo model, then an audit of the demo's
 * running devices with everything the auditor can use. The plug, the lock and the camera run
 * together as they would in a home: each connected to the manufacturer cloud, updating from a
 * signed release repository, the plug and the lock paired with a hub (push button; setup code
 * with the bolt granted), the camera waiting for its owner's setup. Each device is audited as a
 * release pipeline would: a first audit is kept with the release, the second finds it; the demo
 * fails unless every required control passes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeviceAgent } from '../device/index.ts';
import type { CloudService } from '../cloud/index.ts';
import { DemoError } from './errors.ts';
import { createCheckProgress } from './progress.ts';

/** A provisioned unit of the demo (the factory's output). */
export interface DemoUnit {
  readonly serial: string;
  readonly dir: string;
  readonly setupCode: string;
  readonly claimCode: string;
  /** The sticker's password (a model whose owner sets the first password at install has none). */
  readonly adminPassword?: string;
}

/** What step 7 needs from the earlier steps. */
export interface DemoAuditOptions {
  readonly work: string;
  readonly factoryDir: string;
  readonly unitsDir: string;
  readonly units: Readonly<Record<string, DemoUnit>>;
  readonly say: (line: string) => void;
  /** Runs once every audit passed, while the audited home is still up (`demo --keep-running` waits in it). */
  readonly whileUp?: (home: AuditedHome) => Promise<void>;
  /** Gives the hub its admin page (for a person to open; the audits do not need it). */
  readonly hubPage?: boolean;
}

/**
 * The devices audited: one of each network setup the demo shows (push-button hub, setup-code hub
 * with a sensitive grant, owner setup pending).
 */
const AUDITED = ['plug', 'lock', 'camera'] as const;

/** Runs step 7; throws when a policy cannot be rendered or an audit does not pass. */
export async function demoPolicyAndAudit(o: DemoAuditOptions): Promise<void> {
  o.say('\n7. Security policy as code, and an audit of the running devices');
  await renderDemoPolicies(o);
  const repoDir = await publishAuditReleases(o);
  const stops: Array<() => Promise<void>> = [];
  try {
    const home = await startAuditedHome(o, repoDir, stops);
    await auditHome(o, home);
    await o.whileUp?.(home);
  } finally {
    for (const stop of stops) await stop();
  }
}

/** Each model's profile -> risk tier -> required controls -> its policy document. */
async function renderDemoPolicies(o: DemoAuditOptions): Promise<void> {
  const policy = await import('../policy/index.ts');
  const { loadExampleProfile, decide, renderPolicy, writePolicyDocument, EXAMPLE_MODELS } = policy;
  o.say("   each model's profile -> risk tier -> required controls -> its policy document:");
  for (const model of EXAMPLE_MODELS) {
    const profile = await loadExampleProfile(model);
    const decision = decide(profile);
    const path = join(o.work, 'policy', `${model}.html`);
    await writePolicyDocument(path, renderPolicy(profile, decision, { format: 'html' }));
    const required = String(decision.required.length).padStart(2);
    o.say(`     ${model.padEnd(7)} tier ${decision.tier}, ${required} required controls  ${path}`);
  }
}

/**
 * The release the devices run (this firmware's version), signed with the owner's note, then matched
 * against the maker's advisories (release vulns); returns the repository.
 */
async function publishAuditReleases(o: DemoAuditOptions): Promise<string> {
  const { initRepository, publishImage, buildReferenceImage } = await import('../release/index.ts');
  const { runningImageOf } = await import('../update/index.ts');
  const running = await runningImageOf(o.work, 'factory');
  const repoDir = join(o.work, 'audit-releases');
  await mkdir(join(o.work, 'audit-images'), { recursive: true });
  await initRepository({ repoDir, factoryDir: o.factoryDir });
  const sboms: string[] = [];
  for (const model of AUDITED) {
    const artifact = join(o.work, 'audit-images', `${model}-${running.version}.tar`);
    await buildReferenceImage(artifact, { model, version: running.version, securityVersion: running.securityVersion });
    const notes = { risk: 'the first release: no known risk fixed', interruption: `the ${model} restarts: about 10 s` };
    sboms.push((await publishImage({ repoDir, artifact, model, version: running.version, notes })).files.sbom);
  }
  await matchDemoAdvisories(o, repoDir, sboms[0]!);
  return repoDir;
}

/**
 * The maker's advisory match (release vulns) on the demo's releases, with one OSV advisory the demo
 * writes: a flaw fixed in the version of a package the images hold, so it affects older releases only.
 */
async function matchDemoAdvisories(o: DemoAuditOptions, repoDir: string, sbomFile: string): Promise<void> {
  const { reportVulnerabilities } = await import('../release/index.ts');
  const { packagesOfCycloneDx } = await import('../vulns/index.ts');
  const packages = packagesOfCycloneDx(JSON.parse(await readFile(sbomFile, 'utf8')));
  const pkg = packages.find((p) => /^[1-9]\d*\.\d+\.\d+$/.test(p.version));
  if (pkg === undefined) throw new DemoError('the demo image lists no npm package to match advisories against');
  const dir = join(o.work, 'audit-advisories');
  const advisory = {
    schema_version: '1.6.0',
    id: 'DEMO-2026-0001',
    modified: '2026-01-01T00:00:00Z',
    summary: `A flaw in ${pkg.name} before ${pkg.version} (the demo's example advisory)`,
    affected: [
      {
        package: { ecosystem: 'npm', name: pkg.name },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: pkg.version }] }],
      },
    ],
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'DEMO-2026-0001.json'), JSON.stringify(advisory, null, 2) + '\n');
  const { imported, reports } = await reportVulnerabilities({ repoDir, advisories: dir });
  o.say(
    `   advisories matched against the releases (release vulns): ${imported} imported, ` +
      `${reports.length} affecting a published image`,
  );
}

/**
 * A certificate from the factory's CA for a unit nobody made, revoked on the cloud at once: what a
 * leaked or cloned key looks like after the maker withdrew it. The audit connects with it.
 */
async function revokedIdentity(o: DemoAuditOptions, cloud: CloudService): Promise<string> {
  const { factoryIssuer, writeRevokedIdentity } = await import('../cloud/index.ts');
  const dir = join(o.work, 'audit-revoked');
  await writeRevokedIdentity({
    issuer: await factoryIssuer(o.factoryDir),
    revoke: (input) => cloud.revocations.revoke(input, 'demo'),
    outDir: dir,
  });
  return dir;
}

/** The audited home: the devices, their cloud and release server, and where their state is. */
export interface AuditedHome {
  readonly agents: Readonly<Record<string, DeviceAgent>>;
  readonly stateOf: (model: string) => string;
  readonly manifest: string;
  readonly cloudUrl: string;
  /** The cloud's HTTPS API and the PEM file of its CA (security.txt, the disclosure intake). */
  readonly cloudApi: string;
  readonly cloudApiCa: string;
  /** The cloud's maildir (no SMTP server in the demo): the claim probe confirms its test accounts from it. */
  readonly cloudMail: string;
  readonly repoDir: string;
  /** The certificate and key of an identity the cloud revoked: the audit must see it refused. */
  readonly revokedDir: string;
  /** The hub's state folder (its certificate, its first password) and its admin page, when it has one. */
  readonly hubState: string;
  readonly hubUrl: string | undefined;
}

/**
 * Starts the release server, the cloud, the audited devices (each connected to the cloud) and a
 * hub that pairs the plug by push button and the lock by setup code; `stops` gets what to close.
 */
async function startAuditedHome(
  o: DemoAuditOptions,
  repoDir: string,
  stops: Array<() => Promise<void>>,
): Promise<AuditedHome> {
  const { startRepositoryServer } = await import('../release/index.ts');
  const { startCloud } = await import('../cloud/index.ts');
  const { startDeviceAgent } = await import('../device/index.ts');
  const { startHubService } = await import('../hub/index.ts');
  const manifest = join(o.unitsDir, 'manifest.json');
  const repo = await startRepositoryServer({ repoDir });
  stops.unshift(() => repo.close());
  const cloudState = join(o.work, 'audit-cloud');
  const cloud = await startCloud({
    factoryDir: o.factoryDir,
    stateDir: cloudState,
    manifests: [manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  stops.unshift(() => cloud.close());
  const revokedDir = await revokedIdentity(o, cloud);
  const agents: Record<string, DeviceAgent> = {};
  const stateOf = (model: string): string => join(o.work, 'audit-state', o.units[model]!.serial);
  for (const model of AUDITED) {
    const agent = await startDeviceAgent({
      bundleDir: o.units[model]!.dir,
      stateDir: stateOf(model),
      host: '127.0.0.1',
      webPort: 0,
      hubPort: 0,
      mode: 'production',
      cloudUrl: cloud.brokerUrl,
      update: { config: { repositoryUrl: repo.url, firstCheckDelayMs: 0, checkJitterMs: 0 } },
    });
    stops.unshift(() => agent.close());
    agents[model] = agent;
    await agent.updater.reportHealthy(); // as agent-main does once every surface is up
    if (!(await agent.cloud!.waitConnected(20_000))) throw new DemoError(`the ${model} did not connect to the cloud`);
  }
  const hubState = join(o.work, 'audit-hub');
  const hubService = await startHubService({ stateDir: hubState, web: o.hubPage ? { port: 0 } : false });
  stops.unshift(() => hubService.close());
  const hub = hubService.hub;
  agents.plug!.hub.openPairingWindow('button');
  await hub.pair({ address: `127.0.0.1:${agents.plug!.hub.port}` });
  agents.lock!.hub.openPairingWindow('button');
  const lock = await hub.pair({ address: `127.0.0.1:${agents.lock!.hub.port}`, setupCode: o.units.lock!.setupCode });
  hub.grant(lock.serial, 'bolt');
  for (const agent of Object.values(agents)) {
    for (let i = 0; agent.updater.status().lastCheck === null && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  o.say(
    `   running together: ${AUDITED.join(', ')} on cloud ${cloud.brokerUrl}, releases ${repo.url}; ` +
      'the plug paired with a hub by push button, the lock by setup code (bolt granted), ' +
      'the camera waiting for its owner',
  );
  const cloudApiCa = join(o.work, 'audit-cloud-ca.pem');
  await writeFile(cloudApiCa, cloud.credentials.caCertPem);
  return {
    agents,
    stateOf,
    manifest,
    cloudUrl: cloud.brokerUrl,
    cloudApi: cloud.api.url,
    cloudApiCa,
    cloudMail: cloud.mail.maildir,
    repoDir,
    revokedDir,
    hubState,
    hubUrl: hubService.web?.url,
  };
}

/** What the audit runner reports before (no result yet) and after each check. */
type CheckEvent = { readonly check: string; readonly done: number; readonly total: number; readonly result?: unknown };

/** Runs `audit` with a progress line labelled `label`: checks done of total and the check running now. */
async function withProgress<T>(label: string, audit: (onProgress: (e: CheckEvent) => void) => Promise<T>): Promise<T> {
  const line = createCheckProgress(label);
  try {
    return await audit((e) => line.update(e.done, e.total, e.result === undefined ? e.check : undefined));
  } finally {
    line.finish();
  }
}

/** Audits each device twice (the first audit is kept with the release); throws unless every one passes. */
async function auditHome(o: DemoAuditOptions, home: AuditedHome): Promise<void> {
  const { auditRunningDevice, writeAuditReports } = await import('../audit/index.ts');
  let failed = 0;
  o.say('   each device is audited twice, as a release pipeline does: the first audit is kept with the release,');
  o.say('   the second finds it there; each line below counts the checks done and names the one running');
  for (const [i, model] of AUDITED.entries()) {
    const unit = o.units[model]!;
    const common = {
      model,
      agent: home.agents[model]!,
      bundle: unit.dir,
      state: home.stateOf(model),
      manifest: home.manifest,
      cloudUrl: home.cloudUrl,
      cloudApi: home.cloudApi,
      cloudApiCa: home.cloudApiCa,
      cloudMail: home.cloudMail,
      revoked: home.revokedDir,
      updateRepo: home.repoDir,
    };
    // Each audit probes from its own loopback addresses, so one audit's lockout probe does not hold back the next.
    const gate = await withProgress(`   ${model} audit 1 of 2`, (onProgress) =>
      auditRunningDevice({
        ...common,
        keepReport: true,
        factory: o.factoryDir,
        loopbackSourceBase: `127.0.${30 + i}.50`,
        onProgress,
      }),
    );
    const { report, exitCode } = await withProgress(`   ${model} audit 2 of 2`, (onProgress) =>
      auditRunningDevice({ ...common, loopbackSourceBase: `127.0.${40 + i}.50`, onProgress }),
    );
    const json = join(o.work, 'audit', `${model}.json`),
      html = join(o.work, 'audit', `${model}.html`);
    await writeAuditReports(report, { json, html });
    const s = report.summary;
    o.say(
      `   ${model.padEnd(7)} ${unit.serial}  tier ${report.tier}: ${s.pass} required controls pass, ` +
        `${s.fail} fail, ${s.notTested} not tested; exit code ${exitCode}  ${html}`,
    );
    if (gate.kept !== undefined) {
      o.say(`           the release gate's first audit was kept with the release: ${gate.kept}`);
    }
    // The first audit's report is kept only when it passed; without these lines a failure there would go unnamed.
    for (const c of gate.report.controls.filter((x) => x.required && ['fail', 'not-tested'].includes(x.status))) {
      o.say(`           first audit: ${c.status.toUpperCase()} ${c.id}: ${c.summary}`);
    }
    for (const c of report.controls.filter((x) => x.required && x.status !== 'pass')) {
      o.say(`           ${c.status.toUpperCase()} ${c.id}: ${c.summary}`);
    }
    if (exitCode !== 0) failed++;
  }
  if (failed > 0) throw new DemoError(`the audit of ${failed} demo device(s) did not pass every required control`);
  o.say(
    '   every required control of every audited device passes ' +
      '(JSON and HTML reports, with evidence and the ETSI EN 303 645 view)',
  );
}
