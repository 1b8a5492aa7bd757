import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { isInspectorFlag, inspectorFindings, refuseInspector, currentInspectorEvidence } from './inspector-check.ts';

const none = { execArgv: [], nodeOptions: undefined, inspectorUrl: undefined };

test('every spelling of an inspector flag is recognised, with or without a value', () => {
  for (const f of [
    '--inspect',
    '--inspect=127.0.0.1:0',
    '--inspect-brk',
    '--inspect-brk=0',
    '--inspect-wait=9229',
    '--inspect_brk=0',
    '--inspect_wait',
    '--inspect-brk-node',
    '--inspect-some-future-flag',
  ]) {
    assert.equal(isInspectorFlag(f), true, f);
  }
});

test('flags that only configure an inspector, as the test runner passes them to every test, open none', () => {
  for (const f of [
    '--inspect-port=127.0.0.1:9229',
    '--inspect_port=0',
    '--debug-port=9229',
    '--inspect-publish-uid=stderr,http',
  ]) {
    assert.equal(isInspectorFlag(f), false, f);
  }
  assert.deepEqual(inspectorFindings(currentInspectorEvidence()), [], 'this test process has none');
});

test('other flags, and arguments that only mention the inspector, are not inspector flags', () => {
  for (const f of [
    '--disable-sigusr1',
    '--max-semi-space-size=1',
    '--inspector',
    'inspect',
    '-inspect',
    '--require=--inspect',
    '--no-inspect',
    '',
  ]) {
    assert.equal(isInspectorFlag(f), false, f);
  }
});

test('finds the inspector in the node flags, in NODE_OPTIONS and as an open listener', () => {
  assert.deepEqual(inspectorFindings(none), []);
  assert.deepEqual(inspectorFindings({ ...none, execArgv: ['--inspect-brk=0'] }), [
    '--inspect-brk=0 in the node flags',
  ]);
  assert.deepEqual(inspectorFindings({ ...none, nodeOptions: '  --max-old-space-size=64   --inspect=127.0.0.1:0 ' }), [
    '--inspect=127.0.0.1:0 in NODE_OPTIONS',
  ]);
  assert.deepEqual(inspectorFindings({ ...none, inspectorUrl: 'ws://127.0.0.1:9229/0f70-secret-id' }), [
    'an inspector listening on 127.0.0.1:9229',
  ]);
});

test('a production process with an inspector is refused with a configuration error that names it', () => {
  const evidence = { execArgv: [], nodeOptions: '--inspect=127.0.0.1:0', inspectorUrl: 'ws://127.0.0.1:43893/abc-def' };
  assert.throws(
    () => refuseInspector('production', 'the supervisor', evidence),
    (err: Error) => {
      assert.ok(hasCode(err, 'DEBUG_INTERFACE_REFUSED'));
      assert.match(err.message, /Node inspector/);
      assert.match(err.message, /--inspect=127\.0\.0\.1:0 in NODE_OPTIONS/);
      assert.match(err.message, /development mode/, 'the refusal says how to debug');
      assert.doesNotMatch(err.message, /abc-def/, "the inspector URL's key is not repeated");
      return true;
    },
  );
});

test('development mode allows the inspector and reports what it found', () => {
  const evidence = { ...none, execArgv: ['--inspect'] };
  assert.deepEqual(refuseInspector('development', 'the supervisor', evidence), ['--inspect in the node flags']);
});

test('a production process without an inspector passes, whatever its settings-only flags', () => {
  assert.deepEqual(refuseInspector('production', 'the supervisor', none), []);
  const settingsOnly = { ...none, execArgv: ['--inspect-port=127.0.0.1:9229'] };
  assert.deepEqual(refuseInspector('production', 'the supervisor', settingsOnly), []);
  assert.equal(currentInspectorEvidence().inspectorUrl, undefined);
});
