/** `bulwark factory ...`: initialise a factory and provision units. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { createProgressBar } from './progress.ts';

/** Options that would give units a shared or pre-chosen secret: recognised only to refuse them. */
const REFUSED_FLAGS = [
  '--password <value>',
  '--admin-password <value>',
  '--default-password <value>',
  '--setup-code <value>',
  '--claim-code <value>',
];

/** Registers the factory commands on `program`. */
export function registerFactoryCommands(program: Command): void {
  const factory = program.command('factory').description('manufacturer CA and per-unit identities');

  factory
    .command('init')
    .description('create a factory folder with a new manufacturer CA (ECDSA P-256)')
    .requiredOption('--dir <dir>', 'factory folder')
    .option('--maker <name>', 'manufacturer name')
    .option('--security-contact <uri>', 'vulnerability report contact (mailto: or https:)')
    .action(async (o: { dir: string; maker?: string; securityContact?: string }) => {
      const { initFactory } = await import('../identity/index.ts');
      const config = await initFactory(resolve(o.dir), {
        ...(o.maker ? { maker: o.maker } : {}),
        ...(o.securityContact ? { securityContact: o.securityContact } : {}),
      });
      process.stdout.write(
        `factory ready in ${resolve(o.dir)}\n  maker: ${config.maker}\n` + `  CA: ${config.caFingerprint}\n`,
      );
    });

  const provision = factory
    .command('provision')
    .description('give units their own keys, certificates, password, setup and claim codes, and stickers')
    .requiredOption('--dir <dir>', 'factory folder')
    .requiredOption('--model <model>', 'built-in model id (plug, bulb, lock, sensor, camera) or model file')
    .option('--count <n>', 'number of units', '1')
    .requiredOption('--out <dir>', 'output folder: one bundle per unit and manifest.json');
  for (const flag of REFUSED_FLAGS) provision.option(flag, '(refused: every unit gets its own random secret)');
  provision.action(async (o: Record<string, string | undefined>) => {
    for (const key of ['password', 'adminPassword', 'defaultPassword', 'setupCode', 'claimCode']) {
      if (o[key] !== undefined) {
        throw new ConfigError(
          'PROVISION_SHARED_SECRET_REFUSED',
          key,
          'refused: every unit gets its own random secret from the OS CSPRNG; ' +
            'a chosen or shared value would make units guessable',
        );
      }
    }
    const count = Number(o.count);
    const { provisionUnits } = await import('../identity/index.ts');
    const { resolveModel } = await import('../models/index.ts');
    // A model file's path says nothing to the person reading the output; its id does.
    const modelId = resolveModel(o.model!).id;
    const bar = createProgressBar(`provisioning ${modelId}`);
    const started = performance.now();
    const units = await provisionUnits({
      factoryDir: resolve(o.dir!),
      model: o.model!,
      count,
      outDir: resolve(o.out!),
      onProgress: count > 1 ? (d, t) => bar.update(d, t) : undefined,
    });
    if (count > 1) bar.finish();
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `provisioned ${units.length} ${modelId} unit(s) in ${seconds.toFixed(1)} s ` + `into ${resolve(o.out!)}\n`,
    );
    for (const u of units.slice(0, 10)) process.stdout.write(`  ${u.serial}  sticker: ${u.dir}/sticker.png\n`);
    if (units.length > 10) process.stdout.write(`  ... and ${units.length - 10} more (see manifest.json)\n`);
  });
}
