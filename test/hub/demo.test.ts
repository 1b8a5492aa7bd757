// The hub's demo steps run end to end with the real device agent (as `bulwark demo` calls them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDeviceAgent } from '../../src/device/index.ts';
import { demoHub } from '../../src/hub/index.ts';
import { makeFleet } from '../support/device.ts';

test(
  'demoHub: push button for the plug, setup code for the lock, what a wrong code gets, switch and lock',
  { timeout: 60_000 },
  async () => {
    const fleet = await makeFleet(['plug', 'lock']);
    const lines: string[] = [];
    // The test runner may give its processes inspector flags, which a production agent refuses.
    await demoHub({
      work: fleet.work,
      plug: fleet.units.plug!,
      lock: fleet.units.lock!,
      say: (l) => lines.push(l),
      startDeviceAgent: (c) => startDeviceAgent({ ...c, mode: 'development' }),
    });
    const text = lines.join('\n');
    assert.match(text, /paired PLG-\S+ by push button/);
    assert.match(text, /push button on the lock -> PAIRING_PUSH_BUTTON_REFUSED/);
    assert.match(text, /a wrong setup code \(\d{4}-\d{4}-\d{4}\) -> PAIRING_CONFIRMATION_FAILED/);
    assert.match(text, /paired LCK-\S+ by setup code/);
    assert.match(text, /switch the plug on -> true/);
    assert.match(text, /before granting its bolt -> HUB_CAPABILITY_NOT_GRANTED/);
    assert.match(text, /lock the lock -> locked/);
    assert.doesNotMatch(text, new RegExp(fleet.units.lock!.setupCode), 'the real setup code is never printed');
  },
);
