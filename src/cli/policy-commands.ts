/**
 * `bulwark policy render` (the product's security policy document) and `bulwark audit` (the
 * evidence that a product meets it). Exit codes of `audit`: 0 every required control passed,
 * 1 a required control failed, 3 none failed but some were not tested; an audit that cannot run
 * exits with its error's code from the error table (2 a wrong option, 65 a malformed input,
 * 66 a missing one, 78 a refused setting).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import type { AuditReport } from '../audit/index.ts';
import { createProgressBar } from './progress.ts';
import { registerTechfileCommand } from './techfile-command.ts';
import { registerPolicyFacts } from './facts-command.ts';

interface RenderOptions {
  profile: string;
  format: string;
  out?: string;
  driver?: string;
}
interface AuditCliOptions {
  profile: string;
  bundle?: string;
  state?: string;
  manifest?: string;
  source?: string;
  url: string[];
  hub?: string;
  cloud?: string;
  cloudApi?: string;
  cloudApiCa?: string;
  cloudMail?: string;
  revoked?: string;
  json?: string;
  html?: string;
  updateRepo?: string;
  serviceUnit?: string;
  keepReport?: boolean;
  factory?: string;
  loopbackSource?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Registers the `policy` commands (render, facts, techfile) and `audit` on `program`. */
export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('the product security policy, rendered from a device profile');
  registerRender(policy);
  registerPolicyFacts(policy);
  registerTechfileCommand(policy);

  program
    .command('audit')
    .description(
      'audit a product against the controls its profile requires: ' +
        'white-box (bundle, state, manifest, source) and black-box (--url)',
    )
    .requiredOption('--profile <file>', "the device profile (YAML); with --bundle it must name the unit's model")
    .option('--bundle <dir>', 'the unit bundle from the factory')
    .option('--state <dir>', "the running device's state folder (journal, owner password hash)")
    .option('--manifest <file>', 'the batch manifest.json (credential uniqueness across units)')
    .option('--source <dir>', "the firmware's project folder (lint, source scans, SBOM)")
    .option(
      '--url <url>',
      'https://host:port of a running unit; repeat for two or more units to compare certificates',
      collect,
      [],
    )
    .option('--hub <host:port>', "the device's hub port (pairing window and channel probes)")
    .option('--cloud <url>', 'the manufacturer broker the device connects to, mqtts://host:port')
    .option(
      '--cloud-api <url>',
      "the manufacturer cloud's HTTPS API, https://host:port (security.txt, disclosure intake)",
    )
    .option('--cloud-api-ca <file>', "the PEM CA the cloud API's certificate must chain to (else it is not verified)")
    .option('--cloud-mail <maildir>', "where the cloud's mail to the claim probe's test accounts arrives (their links)")
    .option('--revoked <dir>', 'device-cert.pem and device-key.pem of an identity the cloud revoked (must be refused)')
    .option(
      '--update-repo <dir>',
      "the release side's update repository (signed metadata, images, SBOMs, kept audit reports)",
    )
    .option(
      '--service-unit <file>',
      'the installed systemd unit of the device service (default: the one the firmware writes)',
    )
    .option(
      '--keep-report',
      'keep a passing report with the release in --update-repo (audits/<model>/), signed with the audit key of ' +
        '--factory and bound to the image it covers',
    )
    .option('--factory <dir>', 'the factory folder whose audit key signs a kept report (with --keep-report)')
    .option(
      '--loopback-source <address>',
      'first of the loopback addresses the probes come from (default 127.0.0.50); give an audit soon after ' +
        "another of the same unit other ones (e.g. 127.0.1.50), or it meets the first one's login lockout",
    )
    .option('--json <file>', 'write the JSON report here')
    .option('--html <file>', 'write the self-contained HTML report here')
    .action(runAuditCommand);
}

/** `policy render`: the security policy document of a device profile. */
function registerRender(policy: Command): void {
  policy
    .command('render')
    .description('write the security policy document for a device profile (YAML)')
    .requiredOption(
      '--profile <file>',
      'the device profile (YAML; names its model: a built-in id or a model file beside it; see src/policy/profiles)',
    )
    .option('--format <format>', 'md or html', 'md')
    .option('--out <file>', 'write to this file (atomically) instead of standard output')
    .option('--driver <kind>', "the unit's hardware is a maker's driver: stdio (device run --driver) or socket")
    .action(async (o: RenderOptions) => {
      if (o.format !== 'md' && o.format !== 'html') {
        throw new ConfigError('POLICY_OPTION_INVALID', 'format', 'use md or html');
      }
      const { driver: kind } = o;
      if (kind !== undefined && kind !== 'stdio' && kind !== 'socket') {
        throw new ConfigError('POLICY_OPTION_INVALID', 'driver', 'use stdio or socket');
      }
      const { loadProfileWithModel, decide, renderPolicy, writePolicyDocument } = await import('../policy/index.ts');
      const { profile, model } = await loadProfileWithModel(resolve(o.profile));
      const driver = kind === 'stdio' || kind === 'socket' ? ({ driver: kind } as const) : {};
      const text = renderPolicy(profile, decide(profile), { format: o.format, model, ...driver });
      if (o.out === undefined) {
        process.stdout.write(text);
        return;
      }
      await writePolicyDocument(resolve(o.out), text);
      process.stderr.write(`policy for ${profile.model} written to ${o.out}\n`);
    });
}

/** Runs `audit`, prints its summary, and ends through `command.error` with exit code 1 or 3 unless all passed. */
async function runAuditCommand(o: AuditCliOptions, command: Command): Promise<void> {
  const { runAudit, writeAuditReports, auditExitCode } = await import('../audit/index.ts');
  if (o.keepReport && !o.updateRepo) throw new ConfigError('AUDIT_OPTION_INVALID', 'keepReport', 'needs --update-repo');
  if (o.keepReport && !o.factory)
    throw new ConfigError(
      'AUDIT_OPTION_INVALID',
      'keepReport',
      "needs --factory: a kept report is signed with the factory's audit key, and an unsigned one is refused",
    );
  const bar = createProgressBar('audit');
  const report = await runAudit({
    profile: resolve(o.profile),
    urls: o.url,
    ...(o.bundle ? { bundle: o.bundle } : {}),
    ...(o.state ? { state: o.state } : {}),
    ...(o.manifest ? { manifest: o.manifest } : {}),
    ...(o.source ? { source: o.source } : {}),
    ...(o.hub ? { hub: o.hub } : {}),
    ...(o.cloud ? { cloud: o.cloud } : {}),
    ...(o.revoked ? { revoked: o.revoked } : {}),
    ...(o.cloudApi ? { cloudApi: o.cloudApi } : {}),
    ...(o.cloudApiCa ? { cloudApiCa: o.cloudApiCa } : {}),
    ...(o.cloudMail ? { cloudMail: o.cloudMail } : {}),
    ...(o.updateRepo ? { updateRepo: o.updateRepo } : {}),
    ...(o.serviceUnit ? { serviceUnit: o.serviceUnit } : {}),
    ...(o.loopbackSource ? { loopbackSourceBase: o.loopbackSource } : {}),
    onProgress: (e) => bar.update(e.done, e.total),
  });
  bar.finish();
  await writeAuditReports(report, {
    ...(o.json ? { json: resolve(o.json) } : {}),
    ...(o.html ? { html: resolve(o.html) } : {}),
  });
  const lines = summaryLines(report);
  if (o.keepReport && o.updateRepo && o.factory)
    lines.push(await keptLine(report, resolve(o.updateRepo), resolve(o.factory)));
  if (o.json) lines.push(`JSON report: ${o.json}`);
  if (o.html) lines.push(`HTML report: ${o.html}`);
  process.stdout.write(lines.join('\n') + '\n');
  const code = auditExitCode(report);
  if (code === 0) return;
  const s = report.summary;
  const text =
    code === 1
      ? `bulwark audit: ${s.fail} required control(s) failed`
      : `bulwark audit: incomplete: ${s.notTested} required control(s) not tested`;
  command.error(text, { exitCode: code, code: 'bulwark.audit' });
}

/**
 * The summary line (what was tested apart from what the maker declares) and one line per required control that failed
 * or was not tested.
 */
function summaryLines(report: AuditReport): string[] {
  const s = report.summary;
  const required = report.controls.filter((c) => c.required);
  const lines = [
    `audit of ${report.profile.model} (tier ${report.tier}): ${s.pass} pass, ` +
      `${s.declared ?? 0} declared by the maker, ${s.fail} fail, ${s.notTested} not tested of ` +
      `${required.length} required controls`,
  ];
  for (const status of ['fail', 'not-tested'] as const) {
    for (const c of required.filter((x) => x.status === status)) {
      lines.push(`  ${status === 'fail' ? 'FAIL' : 'not tested'}  ${c.id}: ${c.summary}`);
    }
  }
  return lines;
}

/** Keeps a passing report with the release; a report that is not kept is a line of the summary, not an error. */
async function keptLine(report: AuditReport, updateRepo: string, factory: string): Promise<string> {
  const { keepReleaseAudit } = await import('../audit/index.ts');
  try {
    return `kept with the release: ${await keepReleaseAudit(report, updateRepo, factory)}`;
  } catch (err) {
    return `not kept with the release: ${(err as Error).message}`;
  }
}
