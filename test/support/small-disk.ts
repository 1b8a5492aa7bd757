// A small filesystem of its own for a test (a tmpfs mount), so a test can fill it to 100% without
// touching the machine's disk. Mounting needs root; outside CI a test without it skips and says
// why, in CI it fails (the same rule as test/support/tools.ts).
import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { isCi, type SkippableTest } from './tools.ts';

function run(program: string, args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile(program, [...args], { timeout: 10_000 }, (err, _out, stderr) =>
      resolve(err ? `${program} ${args.join(' ')}: ${stderr.trim() || err.message}` : undefined),
    ),
  );
}

/** A mounted small filesystem. */
export interface SmallDisk {
  readonly path: string;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `sizeBytes` at `path`; undefined (the test skipped, or failed in CI) when it cannot. */
export async function mountSmallDisk(
  t: SkippableTest,
  path: string,
  sizeBytes: number,
): Promise<SmallDisk | undefined> {
  await mkdir(path, { recursive: true });
  const failed = await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', path]);
  if (failed) {
    const why = `a small filesystem could not be mounted (needs root): ${failed}`;
    if (isCi(process.env)) throw new Error(`required in CI: ${why}`);
    t.skip(why);
    return undefined;
  }
  return {
    path,
    async unmount() {
      await run('umount', ['-l', path]);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Fills the filesystem holding `file` until not one byte more fits (bounded by `maxBytes`); returns bytes written. */
export async function fillDisk(file: string, maxBytes: number): Promise<number> {
  const out = await open(file, 'a');
  let written = 0;
  try {
    // Large blocks first, then smaller ones for what is left, down to a single byte.
    for (const size of [65_536, 4_096, 512, 1]) {
      const block = Buffer.alloc(size);
      while (written < maxBytes) {
        try {
          written += (await out.write(block, 0, size)).bytesWritten;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    await out.close();
  }
  return written;
}
