/**
 * Provisioning throughput: 1,000 units through the real factory (keys, certificates, argon2id,
 * SPAKE2+ verifier, sticker SVG and PNG, durable writes), next to a baseline doing only the
 * unavoidable cryptography per unit with bare node:crypto in the same process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, sign, argon2, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { initFactory, provisionUnits } from '../src/identity/index.ts';
import type { BenchResult } from './report.ts';

const keyPair = promisify(generateKeyPair);
const argon = promisify(argon2);
const pbkdf = promisify(pbkdf2);

/** Bare crypto per unit: two P-256 key pairs, two signatures, argon2id (19 MiB, t=2) and PBKDF2 (10,000). */
async function bareUnit(): Promise<void> {
  const [a] = await Promise.all([keyPair('ec', { namedCurve: 'P-256' }), keyPair('ec', { namedCurve: 'P-256' })]);
  sign('sha256', randomBytes(300), a.privateKey);
  sign('sha256', randomBytes(300), a.privateKey);
  await Promise.all([
    argon('argon2id', {
      message: randomBytes(19),
      nonce: randomBytes(16),
      parallelism: 1,
      tagLength: 32,
      memory: 19456,
      passes: 2,
    }),
    pbkdf(randomBytes(12), randomBytes(32), 10_000, 80, 'sha256'),
  ]);
}

/** Runs the provisioning benchmark with `count` units. */
export async function benchProvision(count: number, log: (s: string) => void): Promise<BenchResult> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-bench-provision-'));
  try {
    const factoryDir = join(work, 'factory');
    await initFactory(factoryDir);
    await provisionUnits({ factoryDir, model: 'plug', count: 4, outDir: join(work, 'warm') });
    let t = performance.now();
    let last = 0;
    await provisionUnits({
      factoryDir,
      model: 'plug',
      count,
      outDir: join(work, 'out'),
      onProgress: (d) => {
        if (d - last >= count / 10) {
          last = d;
          log(`  provisioned ${d}/${count}`);
        }
      },
    });
    const ours = count / ((performance.now() - t) / 1000);
    const bareCount = Math.min(count, 400);
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < bareCount) await bareUnit();
      }),
    );
    const bare = bareCount / ((performance.now() - t) / 1000);
    return {
      id: 'provision',
      title: `Factory provisioning (${count} plug units)`,
      metrics: [
        {
          name: 'units provisioned per second',
          value: ours,
          unit: 'units/s',
          better: 'higher',
          baseline: { name: 'bare node:crypto, same crypto per unit', value: bare },
          note:
            'Bulwark adds certificates, sticker SVG and 300 dpi PNG, and fsynced writes of 11 files per unit on ' +
            "top of the baseline's key generation, signatures, argon2id and PBKDF2.",
        },
      ],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
