import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloudCheck, driverCheck, proveWayHome, type CloudReach, type HealthCheck } from './health-gate.ts';
import { startUpdater } from './device-updater.ts';
import { firmwarePaths } from './slots.ts';

const timing = (withinMs: number) => ({ deadline: Date.now() + withinMs, retryMs: 20, maxRetryMs: 40 });

function recorder() {
  const told: string[] = [];
  return {
    told,
    report: {
      passed: (check: string, proof: string) => told.push(`pass ${check}: ${proof}`),
      failed: (check: string, reason: string) => told.push(`fail ${check}: ${reason}`),
    },
  };
}

/** A check that fails with `reasons` in turn, then passes. */
function flaky(name: string, reasons: string[]): HealthCheck & { tries: number } {
  const check = {
    name,
    tries: 0,
    attempt(): Promise<string> {
      const reason = reasons[check.tries++];
      return reason === undefined ? Promise.resolve(`${name} ok`) : Promise.reject(new Error(reason));
    },
  };
  return check;
}

test('a check is tried until it passes within the window, and each new reason is told once', async () => {
  const { told, report } = recorder();
  const check = flaky('cloud', ['refused', 'refused', 'refused', 'reset']);
  assert.deepEqual(await proveWayHome([check], timing(2_000), report), []);
  assert.equal(check.tries, 5);
  assert.deepEqual(told, ['fail cloud: refused', 'fail cloud: reset', 'pass cloud: cloud ok']);
});

test('at the end of the window the checks that did not pass give their last real reason', async () => {
  const { told, report } = recorder();
  const never = { name: 'cloud', attempt: () => Promise.reject(new Error('cloud not reached: ECONNREFUSED')) };
  // Its tries hang: the last one is cut off at the deadline, which must not hide why it failed.
  let hangs = 0;
  const slow: HealthCheck = {
    name: 'update repository',
    attempt: () =>
      hangs++ === 0 ? Promise.reject(new Error('metadata refresh failed: UPDATE_UNREACHABLE')) : new Promise(() => {}),
  };
  const good = flaky('driver', []);
  const failed = await proveWayHome([never, slow, good], timing(300), report);
  assert.deepEqual(failed, ['cloud not reached: ECONNREFUSED', 'metadata refresh failed: UPDATE_UNREACHABLE']);
  assert.equal(told.filter((t) => t.startsWith('fail')).length, 2, told.join('\n'));
  assert.ok(told.includes('pass driver: driver ok'));
});

function link(o: { connections: number; lastFailure?: string; connectAfterMs?: number }): CloudReach {
  const l = {
    connections: o.connections,
    lastFailure: o.lastFailure,
    config: { url: 'mqtts://127.0.0.1:8883' },
    async waitConnected(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return l.connections > 0;
    },
  };
  if (o.connectAfterMs !== undefined) setTimeout(() => (l.connections = 1), o.connectAfterMs).unref();
  return l;
}

test('the cloud check passes only on a session of this boot, and says in words why not', async () => {
  assert.match(await cloudCheck(link({ connections: 1 })).attempt(1_000), /^cloud reached: .* 127\.0\.0\.1:8883/);
  assert.match(await cloudCheck(link({ connections: 0, connectAfterMs: 50 })).attempt(1_000), /^cloud reached/);
  await assert.rejects(cloudCheck(link({ connections: 0, lastFailure: 'ECONNREFUSED' })).attempt(1_000), {
    message: 'cloud not reached: ECONNREFUSED',
  });
  // A TLS code this long would look like a secret to the journal's redactor.
  await assert.rejects(cloudCheck(link({ connections: 0, lastFailure: 'SELF_SIGNED_CERT_IN_CHAIN' })).attempt(100), {
    message: 'cloud not reached: self signed cert in chain',
  });
  await assert.rejects(cloudCheck(link({ connections: 0 })).attempt(150), {
    message: 'cloud not reached: no session yet',
  });
});

test("the driver check passes on the driver's own ok (or when it has no check) and says why not", async () => {
  const answering = (answer: { ok: boolean; reason?: string } | undefined) => ({
    health: () => Promise.resolve(answer),
  });
  assert.match(await driverCheck(answering({ ok: true })).attempt(100), /healthy/);
  assert.match(await driverCheck(answering(undefined)).attempt(100), /no health check of its own/);
  await assert.rejects(driverCheck(answering({ ok: false, reason: 'relay welded' })).attempt(100), {
    message: 'driver not healthy: relay welded',
  });
  const down = { health: () => Promise.reject(new Error('the driver is not ready')) };
  await assert.rejects(driverCheck(down).attempt(100), { message: 'driver not reached: the driver is not ready' });
});

/** A unit whose factory image is on trial (as after a fallback to it), its updater and its journal. */
async function trialUnit(trial: boolean) {
  const stateDir = await mkdtemp(join(tmpdir(), 'bulwark-gate-'));
  const fw = firmwarePaths(stateDir);
  await mkdir(fw.dir, { recursive: true });
  const onTrial = trial ? { boots: 1, version: '0.1.0', targetSha256: 'a'.repeat(64) } : null;
  await writeFile(
    fw.boot,
    JSON.stringify({ format: 'bulwark-boot/1', active: 'factory', previous: null, trial: onTrial }),
  );
  const journal: Array<{ event: string; result: string; detail?: string }> = [];
  const updater = await startUpdater({
    stateDir,
    bundle: { unit: { model: 'plug' }, caCertPem: '', updateRootJson: '' },
    journal: { record: (e) => journal.push(e) },
    slot: 'factory',
    config: { healthTimeoutMs: 1_000 },
  });
  return { fw, journal, updater };
}

test('an image on trial whose check fails is not committed: the trial and the counter stay', async () => {
  const { fw, journal, updater } = await trialUnit(true);
  assert.equal(updater.onTrial, true);
  const broken = { name: 'driver', attempt: () => Promise.reject(new Error('driver not healthy: no sensor')) };
  assert.equal(await updater.commitWhenProven({ checks: [broken], startedAt: Date.now() - 500 }), false);
  const boot = JSON.parse(await readFile(fw.boot, 'utf8')) as { trial: unknown };
  assert.notEqual(boot.trial, null, 'still on trial');
  assert.equal(existsSync(fw.security), false, 'the counter was not raised');
  assert.deepEqual(
    journal.map((e) => [e.event, e.result]),
    [
      ['health-check', 'failure'],
      ['not-committed', 'failure'],
    ],
  );
  assert.match(journal[1]!.detail ?? '', /not committed: driver not healthy: no sensor/);
  await updater.close();
});

test('an image on trial commits once its checks pass; a committed image commits at once', async () => {
  const trial = await trialUnit(true);
  assert.equal(
    await trial.updater.commitWhenProven({ checks: [flaky('driver', ['warming up'])], startedAt: Date.now() }),
    true,
  );
  assert.equal(trial.updater.onTrial, false);
  assert.equal((JSON.parse(await readFile(trial.fw.boot, 'utf8')) as { trial: unknown }).trial, null);
  assert.ok(existsSync(trial.fw.security), 'the counter is raised at the commit');
  assert.deepEqual(
    trial.journal.map((e) => [e.event, e.result]),
    [
      ['health-check', 'failure'],
      ['health-check', 'success'],
      ['healthy', 'success'],
    ],
  );
  await trial.updater.close();

  // Not on trial, a failing check is never even asked: a normal boot is not slowed.
  const normal = await trialUnit(false);
  const never = { name: 'driver', attempt: () => Promise.reject(new Error('asked')) };
  assert.equal(await normal.updater.commitWhenProven({ checks: [never] }), true);
  assert.deepEqual(normal.journal, []);
  await normal.updater.close();
});
