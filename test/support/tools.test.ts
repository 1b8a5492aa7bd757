import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toolDecision, isCi, hiddenTools, toolMessage, needTool, toolAvailable, HIDE_TOOLS_ENV } from './tools.ts';

test('a found tool runs, a missing one skips outside CI and fails in CI', () => {
  assert.equal(toolDecision(true, false), 'run');
  assert.equal(toolDecision(true, true), 'run');
  assert.equal(toolDecision(false, false), 'skip');
  assert.equal(toolDecision(false, true), 'fail');
});

test('CI is any value of CI but empty, 0 or false', () => {
  assert.equal(isCi({}), false);
  for (const v of ['', '0', 'false', 'FALSE', ' ']) assert.equal(isCi({ CI: v }), false, `CI=${JSON.stringify(v)}`);
  for (const v of ['1', 'true', 'yes']) assert.equal(isCi({ CI: v }), true, `CI=${v}`);
});

test('hidden tools are read from a comma or space separated list', () => {
  assert.deepEqual([...hiddenTools({})], []);
  assert.deepEqual(
    [...hiddenTools({ [HIDE_TOOLS_ENV]: 'postgresql, mosquitto  chromium,' })],
    ['postgresql', 'mosquitto', 'chromium'],
  );
});

test('messages name the tool and the Debian package to install', () => {
  assert.equal(toolMessage('zbarimg', 'skip'), 'zbarimg not installed: apt-get install zbar-tools');
  assert.equal(
    toolMessage('postgresql', 'fail'),
    'postgresql is required in CI but not installed (apt-get install postgresql)',
  );
  assert.match(toolMessage('hydra', 'skip', true), /hidden by BULWARK_TEST_HIDE_TOOLS/);
});

test('a hidden tool is skipped outside CI and fails the test in CI', (t) => {
  const saved = { hide: process.env[HIDE_TOOLS_ENV], ci: process.env.CI };
  t.after(() => {
    for (const [k, v] of [
      [HIDE_TOOLS_ENV, saved.hide],
      ['CI', saved.ci],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env[HIDE_TOOLS_ENV] = 'hydra';
  assert.equal(toolAvailable('hydra'), false);
  const skipped: string[] = [];
  delete process.env.CI;
  assert.equal(needTool({ skip: (m) => skipped.push(m) }, 'hydra'), false);
  assert.deepEqual(skipped, ['hydra hidden by BULWARK_TEST_HIDE_TOOLS: apt-get install hydra']);
  process.env.CI = 'true';
  assert.throws(() => needTool({ skip: (m) => skipped.push(m) }, 'hydra'), /hydra is required in CI but hidden/);
  assert.equal(skipped.length, 1);
});
