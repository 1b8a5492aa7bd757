import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentArgs, AGENT_NODE_FLAGS, type SupervisorOptions } from './supervisor.ts';

const base: SupervisorOptions = { bundleDir: '/b', stateDir: '/s', host: '127.0.0.1', webPort: 8443 };
const runtime = '/opt/bulwark/agent-main.js';
const factory = { slot: 'factory' as const, entry: runtime };

test('the agent runs with the hardening flags first, then its entry and its own options', () => {
  const args = agentArgs(base, factory);
  assert.deepEqual(args.slice(0, AGENT_NODE_FLAGS.length), AGENT_NODE_FLAGS);
  assert.ok(AGENT_NODE_FLAGS.includes('--disallow-code-generation-from-strings'));
  assert.ok(AGENT_NODE_FLAGS.includes('--disable-sigusr1'), 'no signal can open the inspector later');
  assert.deepEqual(args.slice(AGENT_NODE_FLAGS.length), [
    '/opt/bulwark/agent-main.js',
    '--bundle',
    '/b',
    '--state',
    '/s',
    '--host',
    '127.0.0.1',
    '--web-port',
    '8443',
    '--slot',
    'factory',
    '--button-socket',
    'agent-button.sock',
  ]);
});

test('a slot runs its own entry, and nothing on its command line names code outside the slot', () => {
  const slotDir = '/s/firmware/slots/a';
  const args = agentArgs(base, { slot: 'a', entry: `${slotDir}/agent.mjs` });
  const entryAt = AGENT_NODE_FLAGS.length;
  assert.equal(args[entryAt], `${slotDir}/agent.mjs`);
  assert.equal(args[args.indexOf('--slot') + 1], 'a');
  assert.equal(args.includes('--runtime'), false);
  const code = args.filter((a, i) => i !== entryAt && /\.(m?js|ts)$|^file:/.test(a));
  assert.deepEqual(code, []);
});

test('optional settings are passed only when given, the update interval in ms', () => {
  const args = agentArgs(
    {
      ...base,
      hubPort: 0,
      cloudUrl: 'mqtts://cloud:8883',
      update: { url: 'https://updates.example/r', configFile: '/s/update.json', checkIntervalMs: 1_500 },
    },
    factory,
  );
  const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
  assert.equal(after('--hub-port'), '0', 'port 0 is a choice, not an absence');
  assert.equal(after('--cloud'), 'mqtts://cloud:8883');
  assert.equal(after('--update-url'), 'https://updates.example/r');
  assert.equal(after('--update-config'), '/s/update.json');
  assert.equal(after('--update-interval'), '1500ms');
  for (const flag of ['--hub-port', '--cloud', '--update-url', '--update-config', '--update-interval']) {
    assert.equal(agentArgs(base, factory).includes(flag), false, flag);
  }
});
