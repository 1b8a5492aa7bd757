// A device process for the power-cut test (rotation-fleet.test.ts): opens a unit's CloudLink on its
// state folder with its clock moved `shiftMs` ahead (past the renewal time, so it renews at once) and
// prints each link event as a JSON line on stdout, 'open' first. It never ends by itself: the test
// kills it with SIGKILL at a random moment of the renewal.
// argv: broker URL, state folder, identity file (JSON: serial, caCertPem, deviceCertPem, deviceKeyPem), shiftMs.
import { readFileSync } from 'node:fs';
import { CloudLink, type CloudLinkIdentity } from '../../src/cloudlink/index.ts';

const [url, stateDir, identityFile, shift] = process.argv.slice(2) as [string, string, string, string];
const identity = JSON.parse(readFileSync(identityFile, 'utf8')) as CloudLinkIdentity;
const shiftMs = Number(shift);
const say = (line: object): void => void process.stdout.write(`${JSON.stringify({ t: Date.now(), ...line })}\n`);

const link = await CloudLink.open({
  identity,
  stateDir,
  config: {
    url,
    reconnectBaseMs: 100,
    reconnectMaxMs: 1_000,
    enrolTimeoutMs: 5_000,
    enrolRetryBaseMs: 300,
    enrolRetryMaxMs: 2_000,
    identityCheckIntervalMs: 100,
    saveDelayMs: 0,
  },
  execute: () => Promise.resolve(undefined),
  state: () => ({ at: Date.now(), capabilities: [] }),
  now: () => Date.now() + shiftMs,
  random: () => 0,
  onEvent: (e) => say({ event: e.event, result: e.result, detail: e.detail ?? '' }),
});
say({ event: 'open' });
link.start();
