// The update step of `bulwark demo`, as the demo calls it: a real supervisor, a real repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeFleet } from '../support/device.ts';
import { demoUpdates } from '../../src/release/index.ts';
import { superviseAgent } from '../../src/device/index.ts';

test(
  'the update demo: the device updates itself to 1.1.0, then refuses an older signed image and a tampered one',
  { timeout: 180_000 },
  async () => {
    const fleet = await makeFleet(['plug']);
    const lines: string[] = [];
    const r = await demoUpdates({
      work: join(fleet.work, 'updates'),
      factoryDir: fleet.factoryDir,
      unitDir: fleet.units.plug!.dir,
      say: (l) => lines.push(l),
      superviseAgent,
    });
    assert.equal(r.installed, '1.1.0');
    assert.deepEqual(
      r.refused.map((x) => [x.version, x.code]),
      [
        ['1.0.5', 'UPDATE_DOWNGRADE'],
        ['1.2.0', 'UPDATE_IMAGE_HASH_MISMATCH'],
      ],
    );
    const text = lines.join('\n');
    assert.match(text, /device booted firmware 1\.1\.0 \(slot a\)/);
    assert.match(text, /device refused 1\.0\.5: UPDATE_DOWNGRADE: 1\.0\.5 is older than the running 1\.1\.0/);
    assert.match(text, /still runs 1\.1\.0/);
  },
);
