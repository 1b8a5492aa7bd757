/**
 * `bulwark demo`: walks the reference system through a device's life on one machine, on
 * embedded defaults. Each step prints what a person would want to see; the demo exits 0 only
 * when every step worked.
 */
import type { Command } from 'commander';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function say(text: string): void {
  process.stdout.write(text + '\n');
}

/** Registers `bulwark demo` on `program`. */
export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('run the reference system end to end on embedded defaults')
    .option('--dir <dir>', 'work folder (default: a new temporary folder)')
    .action(async (o: { dir?: string }) => {
      const work = o.dir ? resolve(o.dir) : await mkdtemp(join(tmpdir(), 'bulwark-demo-'));
      await mkdir(work, { recursive: true });
      await runDemo(work);
    });
}

/** Runs the demo in `work`; throws (non-zero exit) when a step fails. */
export async function runDemo(work: string): Promise<void> {
  const { initFactory, provisionUnits } = await import('../identity/index.ts');
  const { listModels } = await import('../models/index.ts');
  say(`Bulwark demo in ${work}\n`);

  say('1. Factory: a manufacturer CA (ECDSA P-256) of our own');
  const factoryDir = join(work, 'factory');
  const config = await initFactory(factoryDir);
  say(`   maker ${config.maker}, CA ${config.caFingerprint.slice(0, 23)}..., support until ${config.supportPeriodEnd}\n`);

  say('2. Provisioning one unit of each model: own keys, certificates, password, setup and claim codes');
  const unitsDir = join(work, 'units');
  const rows: string[][] = [['model', 'serial', 'risk', 'first password', 'sticker']];
  for (const model of listModels()) {
    const [unit] = await provisionUnits({ factoryDir, model: model.id, count: 1, outDir: unitsDir });
    rows.push([model.id, unit!.serial, model.riskClass, model.initialPasswordMode === 'sticker' ? 'on sticker' : 'set at install', join(unit!.dir, 'sticker.png')]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) say('   ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  say(`\n   manifest for the cloud (public data only): ${join(unitsDir, 'manifest.json')}`);
  say('   secrets (private keys, password hash, SPAKE2+ verifier) are mode 0600; the sticker is the only place a password is printed.\n');
  say('Demo finished: all steps succeeded.');
}
