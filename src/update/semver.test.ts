import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareVersions, isVersion, parseVersion } from './semver.ts';

test('orders versions numerically, not as text', () => {
  assert.ok(compareVersions('1.10.0', '1.9.3') > 0);
  assert.ok(compareVersions('0.1.0', '1.0.0') < 0);
  assert.equal(compareVersions('2.0.0', '2.0.0'), 0);
});

test('refuses anything but strict MAJOR.MINOR.PATCH', () => {
  for (const bad of [
    '1.0',
    '1.0.0-rc1',
    'v1.0.0',
    '01.0.0',
    '1.0.0.0',
    ' 1.0.0',
    '1.0.0+b',
    '',
    '1..0',
    '9999999999.0.0',
  ]) {
    assert.equal(isVersion(bad), false, bad);
    assert.throws(() => parseVersion(bad), { code: 'INVALID_INPUT' });
  }
});

test('comparison is antisymmetric and agrees with the numbers', () => {
  const v = fc.tuple(fc.nat(1000), fc.nat(1000), fc.nat(1000));
  fc.assert(
    fc.property(v, v, (a, b) => {
      const sa = a.join('.'),
        sb = b.join('.');
      const c = compareVersions(sa, sb);
      assert.equal(Math.sign(c), -Math.sign(compareVersions(sb, sa)));
      const expected = a[0] !== b[0] ? a[0] - b[0] : a[1] !== b[1] ? a[1] - b[1] : a[2] - b[2];
      assert.equal(Math.sign(c), Math.sign(expected));
    }),
  );
});
