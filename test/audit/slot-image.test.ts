// The reset and export checks run the image installed in the unit's slot, not the auditor's copy of the agent (issue
// 23, part 7). A unit installs image 1.1.0, built from this checkout with one planted weakness: its data export carries
// a password hash. The auditor (this checkout, whose export carries none) copies the unit's state, slots included, and
// boots it with the unit's own supervisor: the evidence names slot a and firmware 1.1.0, the export check finds the
// hash and fails, and the reset check resets that image and logs in with the label's password again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  makeUpdateWorld,
  UpdateServer,
  writeUpdateConfig,
  DeviceProcess,
  copyCheckout,
  type UpdateWorld,
} from '../update/support.ts';
import { buildDeviceImage, publishImage } from '../../src/release/index.ts';
import { AuditContext } from '../../src/audit/context.ts';
import { validateAuditLimits } from '../../src/audit/config.ts';
import { runCheck } from '../../src/audit/registry.ts';
import { decide, loadProfileFile } from '../../src/policy/index.ts';

let world: UpdateWorld;
let server: UpdateServer;
let device: DeviceProcess | undefined;

before(async () => {
  world = await makeUpdateWorld();
  server = await UpdateServer.start(world.repoDir);
});

after(async () => {
  await device?.kill('SIGTERM');
  await server?.close();
});

/** This checkout with a password hash planted in the owner's data export. */
async function leakingExportSource(): Promise<string> {
  const root = await copyCheckout(join(world.work, 'source-1.1.0'));
  const path = join(root, 'src/web/device-routes.ts');
  const text = await readFile(path, 'utf8');
  const planted = text.replace("format: 'bulwark-export/1',", "format: 'bulwark-export/1', planted: '$argon2id$v=19',");
  assert.notEqual(planted, text, "device-routes.ts no longer names the export's format: update this test's patch");
  await writeFile(path, planted);
  return root;
}

test(
  "the reset and export checks boot the image in the unit's slot with the unit's own supervisor",
  { timeout: 300_000 },
  async () => {
    const unit = world.unit;
    const state = join(world.work, 'state');
    const configFile = await writeUpdateConfig(world.work, {
      firstCheckDelayMs: 0,
      checkJitterMs: 0,
      checkIntervalMs: 1_000,
      restartDelayMs: 0,
    });
    device = new DeviceProcess({ bundle: unit.dir, state, updateUrl: server.url, configFile });
    await device.ready(1, 60_000);
    const artifact = join(world.work, 'plug-1.1.0.tar');
    await buildDeviceImage(artifact, {
      model: 'plug',
      version: '1.1.0',
      securityVersion: 0,
      sourceRoot: await leakingExportSource(),
    });
    await publishImage({ repoDir: world.repoDir, artifact, model: 'plug', version: '1.1.0' });
    await device.waitFor(() => device!.decision(/^update: healthy 1\.1\.0/), 120_000, '1.1.0 to commit');
    await device.kill('SIGTERM');
    device = undefined;

    const profilePath = join(world.work, 'plug.yaml');
    await writeFile(
      profilePath,
      'model: plug\nnetworkModels: [listening]\npersonalData: false\ninternetExposed: false\n',
    );
    const profile = await loadProfileFile(profilePath);
    const ctx = new AuditContext({
      profile,
      decision: decide(profile),
      targets: [],
      limits: validateAuditLimits(),
      bundleDir: unit.dir,
      stateDir: state,
    });
    const exported = await runCheck('state.data-export', ctx);
    const reset = await runCheck('state.factory-reset', ctx);
    const said = (r: typeof reset): string => r.evidence.map((e) => `${e.sent} => ${e.received}`).join('\n');
    assert.match(said(reset), /the unit's supervisor booted the image in slot a \(firmware 1\.1\.0\)/);
    assert.match(said(reset), /after the reset it booted the image in slot a \(firmware 1\.1\.0\)/);
    assert.equal(reset.status, 'pass', said(reset));
    assert.equal(exported.status, 'fail', said(exported));
    assert.match(said(exported), /\$argon2/);
  },
);
