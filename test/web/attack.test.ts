// A bounded online guessing attack on the login: 500 passwords with hydra and with a script that
// fetches the form and its CSRF token first, as a real attacker would. The owner logs in from
// another loopback address while it runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { dictionary } from '@zxcvbn-ts/language-common';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { needTool } from '../support/tools.ts';

let fleet: TestFleet;
let agent: DeviceAgent;
const ATTEMPTS = 500;
let wordlist: string[];

before(async () => {
  fleet = await makeFleet(['plug']);
  agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
  wordlist = dictionary['passwords-common'].slice(0, ATTEMPTS).map(String);
});
after(async () => {
  await agent?.close();
});

test(
  "hydra with 500 passwords finds nothing (the login's CSRF defence stops it submitting at all)",
  { timeout: 300_000 },
  async (t) => {
    if (!needTool(t, 'hydra')) return;
    const list = join(fleet.work, 'passwords.txt');
    // The real password is in the list: hydra still must not find it.
    await writeFile(
      list,
      [...wordlist.slice(0, 250), fleet.units.plug!.adminPassword!, ...wordlist.slice(250, ATTEMPTS - 1)].join('\n') +
        '\n',
    );
    const origin = `Origin\\: https\\://127.0.0.1\\:${agent.web.port}`;
    const { stdout } = await new Promise<{ stdout: string }>((resolve) => {
      execFile(
        'hydra',
        [
          '-l',
          'admin',
          '-P',
          list,
          '-s',
          String(agent.web.port),
          '-S',
          '-t',
          '4',
          '-w',
          '10',
          '-I',
          '-f',
          '127.0.0.1',
          'https-post-form',
          `/login:username=^USER^&password=^PASS^:H=${origin}:S=__Host-bulwark-session`,
        ],
        { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
        (_err, stdout, stderr) => resolve({ stdout: stdout + stderr }),
      );
    });
    assert.match(stdout, /0 valid passwords? found/, stdout.slice(-2000));
    const j = await agent.journal.list({ limit: 1000 });
    assert.ok(
      j.some((e) => e.event === 'csrf' && e.result === 'refused'),
      "hydra's posts were refused as CSRF",
    );
    assert.ok(!j.some((e) => e.event === 'login' && e.result === 'success'), 'no login succeeded');
  },
);

test(
  'a scripted attack that fetches the form and token first gets 429 after 5 failures and finds nothing; the ' +
    'owner logs in from 127.0.0.2 meanwhile',
  { timeout: 300_000 },
  async () => {
    const attacker = await WebClient.for(agent.web.url, fleet.units.plug!, '127.0.0.3');
    const real = fleet.units.plug!.adminPassword!;
    const guesses = [...wordlist.slice(0, 250), real, ...wordlist.slice(250, ATTEMPTS - 1)];
    const statuses: number[] = [];
    let ownerStatus = 0;
    const started = Date.now();
    for (let i = 0; i < guesses.length && Date.now() - started < 240_000; i++) {
      const a = await attacker.login(guesses[i]!);
      statuses.push(a.status);
      if (i === 100) {
        const owner = await WebClient.for(agent.web.url, fleet.units.plug!, '127.0.0.2');
        ownerStatus = (await owner.login(real)).status;
      }
    }
    assert.equal(statuses.length, ATTEMPTS);
    assert.ok(!statuses.includes(303), 'the attack found a password');
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.equal(statuses[5], 429);
    assert.equal(statuses[250], 429, 'even the real password is refused while the source is backing off');
    assert.ok(
      statuses.slice(5).every((s) => s === 429),
      'every attempt after the fifth waits',
    );
    assert.equal(ownerStatus, 303, 'the owner logged in from another address during the attack');
  },
);
