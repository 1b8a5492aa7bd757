/**
 * `bulwark policy techfile`: writes the CRA technical file of one model and version (src/techfile) to a
 * folder, atomically, and checks it against its schema before saying it is done. Progress goes to
 * stderr, the summary to stdout. A gap (an Annex II point without its information, an Annex I Part I
 * item without a passing control or a reason) ends with exit code 65 and names the item.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';

interface TechfileCliOptions {
  model: string;
  version: string;
  out: string;
  auditReport?: string;
  release?: string;
  facts?: string;
  profile?: string;
}

/** Registers `techfile` under the `policy` command. */
export function registerTechfileCommand(policy: Command): void {
  policy
    .command('techfile')
    .description(
      'write the CRA technical file of a model and version: risk register, Annex I Part I table, Annex II user ' +
        'information, draft EU declaration of conformity, audit report, SBOMs and facts record, with an index page',
    )
    .requiredOption('--model <id|file>', 'a built-in model id or a model file')
    .requiredOption('--version <version>', 'the firmware version the file is for (MAJOR.MINOR.PATCH)')
    .requiredOption('--out <dir>', 'the folder to write (replaced whole if it holds an earlier technical file)')
    .option('--audit-report <file>', 'the audit report (bulwark audit --json, or a report kept with the release)')
    .option('--release <dir>', 'the release repository whose SBOMs of this version go into the file')
    .option('--facts <file>', 'the security facts record (bulwark policy facts) for its slot in the file')
    .option('--profile <file>', "the device profile (default: the audit report's, or the built-in model's example)")
    .action(runTechfileCommand);
}

async function runTechfileCommand(o: TechfileCliOptions): Promise<void> {
  const { isVersion } = await import('../update/index.ts');
  if (!isVersion(o.version))
    throw new ConfigError('POLICY_OPTION_INVALID', 'version', 'use MAJOR.MINOR.PATCH, e.g. 1.2.0');
  const { loadTechnicalFileInput, buildTechnicalFile, writeTechnicalFile, assertTechnicalFile } =
    await import('../techfile/index.ts');
  const progress = (step: string): void => void process.stderr.write(`techfile: ${step}\n`);
  const input = await loadTechnicalFileInput({
    model: o.model,
    version: o.version,
    ...(o.auditReport === undefined ? {} : { auditReport: resolve(o.auditReport) }),
    ...(o.release === undefined ? {} : { release: resolve(o.release) }),
    ...(o.facts === undefined ? {} : { facts: resolve(o.facts) }),
    ...(o.profile === undefined ? {} : { profile: resolve(o.profile) }),
    onProgress: progress,
  });
  progress('building the risk register, Annex I and II, the declaration and the index');
  const file = buildTechnicalFile(input);
  const out = resolve(o.out);
  await writeTechnicalFile(out, file);
  progress(`written ${file.files.size} files; checking them against schemas/techfile.v1.schema.json`);
  await assertTechnicalFile(out);
  const { index } = file;
  const linked = index.annex1.filter((r) => r.status === 'linked').length;
  const lines = [
    `technical file of ${index.product.modelId} ${index.product.version} written to ${o.out}`,
    `  Annex I Part I: ${linked} linked to passing controls, ${index.annex1.length - linked} not applicable`,
    `  Annex II: ${index.annex2.length} points; risk register: ${index.riskRegister.entries} threats, ` +
      `${index.riskRegister.accept} accepted, ${index.riskRegister.treat} to treat`,
    `  audit report: ${index.audit.note}; SBOMs: ${index.sboms.length}; facts record: ` +
      (index.facts.included ? 'included' : 'not given'),
    `  open ${resolve(out, 'index.html')}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
