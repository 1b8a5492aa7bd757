/**
 * `bulwark policy facts`: the security facts record of one model and version (the facts a label's
 * QR code leads to), its QR code as SVG; and `bulwark cloud facts publish`: the record onto the
 * cloud, which serves it at `/facts/<model>/<version>.json`. Each capability loads when its command runs.
 */
import type { Command } from 'commander';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import type { DeviceProfile, FactsRecord, FactsReleaseImage } from '../policy/index.ts';
import type { ModelSpec } from '../models/index.ts';

/** `policy facts`'s options as commander parses them. */
interface FactsOptions {
  model: string;
  version: string;
  baseUrl: string;
  conformityUrl?: string;
  profile?: string;
  updateRepo?: string;
  updateConfig?: string;
  securityContact?: string;
  securityPolicy?: string;
  json?: boolean;
  out?: string;
  qr?: string;
}

/** Width of the label's QR code in the SVG, mm (a Cyber Trust Mark label prints it about this size). */
const QR_SIZE_MM = 25;

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Registers `policy facts` on the `policy` command. */
export function registerPolicyFacts(policy: Command): void {
  policy
    .command('facts')
    .description("write the security facts record of one model and version (the label's facts) and its QR code")
    .requiredOption('--model <id|file>', "a built-in model id or a maker's model file")
    .requiredOption('--version <version>', 'the firmware version the record describes (MAJOR.MINOR.PATCH)')
    .requiredOption('--base-url <https url>', "the cloud's public origin, https://host[:port]: the record's home")
    .option(
      '--conformity-url <https url>',
      "where the EU declaration of conformity is published (default: the model's documentation)",
    )
    .option(
      '--profile <file>',
      "the device profile (maker, security contact, network models); default: the model's example",
    )
    .option('--update-repo <dir>', 'the release repository: the support date and SBOM signed with the current image')
    .option(
      '--update-config <file>',
      "the units' update settings (device run --update-config): their automatic updates",
    )
    .option(
      '--security-contact <uris>',
      "as the cloud's security.txt Contact, comma-separated (default: the profile's)",
    )
    .option('--security-policy <url>', "as the cloud's security.txt Policy (default: the cloud's /security/policy)")
    .option('--json', 'print the record as JSON (else a summary)')
    .option('--out <file>', 'write the record (JSON) to this file, atomically')
    .option('--qr <file.svg>', "write the record's URL as a QR code (SVG) for the label")
    .action(runFacts);
}

/** Builds the record, then writes or prints what was asked. */
async function runFacts(o: FactsOptions): Promise<void> {
  const { buildFactsRecord, serializeFactsRecord } = await import('../policy/index.ts');
  const { writeFileAtomic } = await import('../storage/index.ts');
  const { model, profile } = await modelAndProfile(o);
  const conformityUrl = o.conformityUrl ?? model.documentation?.declarationOfConformityUrl;
  if (conformityUrl === undefined)
    throw new ConfigError(
      'POLICY_OPTION_INVALID',
      'conformityUrl',
      "needs --conformity-url: the model's documentation names no declarationOfConformityUrl",
    );
  const record = buildFactsRecord({
    model,
    version: o.version,
    profile,
    baseUrl: o.baseUrl,
    conformityUrl,
    automaticUpdates: await shippedAutoUpdate(o.updateConfig),
    ...(o.updateRepo ? { release: await releaseImage(resolve(o.updateRepo), model.id) } : {}),
    ...(o.securityContact !== undefined ? { securityContacts: list(o.securityContact) } : {}),
    ...(o.securityPolicy !== undefined ? { policyUrl: o.securityPolicy } : {}),
  });
  const json = serializeFactsRecord(record);
  if (o.out !== undefined) {
    await writeFileAtomic(resolve(o.out), json);
    process.stderr.write(`facts record of ${model.id} ${o.version} written to ${o.out}\n`);
  }
  if (o.qr !== undefined) {
    const { renderQrCodeSvg } = await import('../identity/index.ts');
    await writeFileAtomic(resolve(o.qr), renderQrCodeSvg(record.url, QR_SIZE_MM));
    process.stderr.write(`QR code of ${record.url} written to ${o.qr}\n`);
  }
  if (o.json) process.stdout.write(json);
  else if (o.out === undefined) process.stdout.write(summary(record));
  if (o.updateRepo === undefined)
    process.stderr.write("no --update-repo: the support date is the model's, and the record states no SBOM\n");
}

/** The model, and the profile that gives its maker, security contact and network models. */
async function modelAndProfile(o: FactsOptions): Promise<{ model: ModelSpec; profile: DeviceProfile }> {
  const { isModelFileRef, resolveModel } = await import('../models/index.ts');
  const { loadProfileWithModel, loadExampleProfile, EXAMPLE_MODELS } = await import('../policy/index.ts');
  const model = resolveModel(isModelFileRef(o.model) ? resolve(o.model) : o.model);
  if (o.profile !== undefined) {
    const { profile } = await loadProfileWithModel(resolve(o.profile));
    if (profile.modelId !== model.id)
      throw new ConfigError('POLICY_OPTION_INVALID', 'profile', `names model ${profile.modelId}, not ${model.id}`);
    return { model, profile };
  }
  const example = EXAMPLE_MODELS.find((m) => m === model.id);
  if (example === undefined || isModelFileRef(o.model))
    throw new ConfigError(
      'POLICY_OPTION_INVALID',
      'profile',
      "a maker's model needs --profile: the profile names its maker, security contact and network models",
    );
  return { model, profile: await loadExampleProfile(example) };
}

/** What a unit ships with: the update settings' autoUpdate, else the updater's default. */
async function shippedAutoUpdate(file: string | undefined): Promise<boolean> {
  const { validateDeviceUpdateConfig, readUpdateConfigFile } = await import('../update/index.ts');
  return validateDeviceUpdateConfig(file === undefined ? {} : await readUpdateConfigFile(resolve(file))).autoUpdate;
}

/** The release repository's current image of `model`: its version, SBOM target and signed support date. */
async function releaseImage(repoDir: string, model: string): Promise<FactsReleaseImage> {
  const { repositoryStatus } = await import('../release/index.ts');
  const { FactsRecordError } = await import('../policy/index.ts');
  const image = (await repositoryStatus(repoDir)).images.find((i) => i.model === model);
  if (image === undefined)
    throw new FactsRecordError('FACTS_RELEASE_MISMATCH', 'product.model', `${repoDir} publishes no ${model} image`);
  // The image's signed custom data is what the record reads: its model, version, SBOM and support end.
  return image;
}

/** The record in a few lines, for a person. */
function summary(r: FactsRecord): string {
  return (
    [
      `${r.product.name} (${r.product.model}) ${r.product.version}, by ${r.maker.name}`,
      `  served at         ${r.url}`,
      `  security updates  until ${r.support.endsOn}`,
      `  automatic updates ${r.automaticUpdates.default} as shipped`,
      `  first password    ${r.password.initial === 'sticker' ? 'unique, on the sticker' : 'set by the owner'}`,
      `  SBOM              ${r.sbom.available ? `${r.sbom.format}, ${r.sbom.target}` : 'not stated'}`,
      `  report to         ${r.vulnerabilityReporting.contact.join(', ')}`,
      `  conformity        ${r.declarationOfConformity.url}`,
    ].join('\n') + '\n'
  );
}

/** Largest record file read by `cloud facts publish`, bytes (the cloud refuses a larger one anyway). */
const MAX_RECORD_FILE_BYTES = 65_536;

/** Registers `cloud facts publish` on the `cloud` command. */
export function registerCloudFacts(cloud: Command): void {
  const facts = cloud
    .command('facts')
    .description('security facts records the cloud serves at /facts/<model>/<version>.json');
  facts
    .command('publish')
    .description('publish a security facts record (from `bulwark policy facts --out`)')
    .requiredOption('--file <file>', 'the record, JSON')
    .requiredOption('--state <dir>', "the cloud instance's state folder (the record is kept in its facts/)")
    .action(async (o: { file: string; state: string }) => {
      const { publishFactsRecord, factsFolder } = await import('../cloud/index.ts');
      const { parseFactsRecord } = await import('../policy/index.ts');
      // Read at most one byte past the limit, so a huge file is refused without being read whole.
      const handle = await open(resolve(o.file), 'r');
      const buffer = Buffer.alloc(MAX_RECORD_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0).finally(() => handle.close());
      const done = await publishFactsRecord(
        factsFolder(resolve(o.state)),
        buffer.subarray(0, bytesRead),
        parseFactsRecord,
      );
      process.stdout.write(`${done.outcome}: ${done.path}\n`);
    });
}
