// A unit started at 1970 (issue 25), for real: `bulwark device run` under libfaketime, its wall clock
// set to 2 January 1970 for the supervisor, the agent and OpenSSL alike, against a cloud on the true
// time. The unit stamps its journal at its clock floor (never 1970), reaches the cloud over mutual TLS
// though every certificate is "not yet valid" by its wall clock (checked at the floor instead), and
// when it starts again with its clock set, every entry it wrote is still there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { makeUnits, waitFor } from '../cloud/support.ts';
import { needTool } from '../support/tools.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const children: ChildProcess[] = [];
let cloud: CloudService | undefined;

after(async () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await cloud?.close();
});

/** `device run` (optionally under faketime), resolved with its first ready line and everything it printed. */
function runDevice(args: string[], at1970: boolean): Promise<{ child: ChildProcess; output: () => string }> {
  const node = [process.execPath, BIN, 'device', 'run', ...args, '--web-port', '0', '--hub-port', '0'];
  // The monotonic clock stays true (timers), only the wall clock reads 1970 and runs on from there.
  const [cmd, ...rest] = at1970 ? ['faketime', '-f', '@1970-01-02 00:00:00', ...node] : node;
  const env = { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1', BULWARK_MODE: 'development' };
  const child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  children.push(child);
  let text = '';
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line:\n${text.slice(-3000)}`)), 60_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      text += l + '\n';
      if (/ready: https:/.test(l)) {
        clearTimeout(timer);
        resolve({ child, output: () => text });
      }
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}

async function journalTimes(state: string): Promise<number[]> {
  const text = await readFile(join(state, 'connection-journal.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Date.parse((JSON.parse(l) as { at: string }).at));
}

test(
  'a unit started at 1970 journals at its floor, reaches the cloud, and keeps every entry once its clock is set',
  { timeout: 180_000 },
  async (t) => {
    if (!needTool(t, 'faketime')) return;
    const { work, factoryDir, units, manifest } = await makeUnits('plug', 1);
    const plug = units[0]!;
    cloud = await startCloud({
      factoryDir,
      stateDir: join(work, 'cloud'),
      manifests: [manifest],
      broker: { port: 0 },
      api: { port: 0 },
    });
    const state = join(work, 'state');
    const made = Date.parse(
      (JSON.parse(await readFile(join(plug.dir, 'unit.json'), 'utf8')) as { createdAt: string }).createdAt,
    );
    const args = ['--bundle', plug.dir, '--state', state, '--cloud', cloud.brokerUrl];

    const first = await runDevice(args, true);
    await waitFor(
      async () => (await cloud!.store.getDevice(plug.serial))?.firmware,
      30_000,
      'the unit at 1970 to reach the cloud and report its firmware',
    );
    await stop(first.child);
    const at1970 = await journalTimes(state);
    assert.ok(at1970.length > 0, 'the unit journalled at 1970');
    assert.ok(
      at1970.every((at) => at >= made),
      `no entry is stamped before the unit was made: ${at1970.map((at) => new Date(at).toISOString()).join(', ')}`,
    );
    assert.match(await readFile(join(state, 'connection-journal.jsonl'), 'utf8'), /clock below its floor/);

    const second = await runDevice(args, false);
    await stop(second.child);
    const after = await journalTimes(state);
    for (const at of at1970) assert.ok(after.includes(at), 'an entry written at 1970 survived the clock being set');
  },
);
