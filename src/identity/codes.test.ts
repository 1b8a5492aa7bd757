import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateAdminPassword,
  generateClaimCode,
  generateSetupCode,
  generateSerial,
  isWellFormedSetupCode,
  hashClaimCode,
  luhnCheckDigit,
  READABLE_ALPHABET,
  SERIAL_PATTERN,
} from './codes.ts';

test('admin passwords carry 80 bits in readable symbols without 0, O, 1 or l', () => {
  assert.equal(READABLE_ALPHABET.length, 32);
  for (const c of '0O1lo') assert.ok(!READABLE_ALPHABET.includes(c), c);
  for (let i = 0; i < 200; i++) {
    const p = generateAdminPassword();
    assert.match(p, /^[a-km-np-z2-9]{4}(-[a-km-np-z2-9]{4}){3}$/);
  }
});

test('claim codes carry at least 64 bits and differ from passwords in case', () => {
  const c = generateClaimCode();
  assert.match(c, /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
  assert.equal(c.replace(/-/g, '').length * 5 >= 64, true);
});

test('setup codes are 12 digits whose last is a valid Luhn check digit', () => {
  for (let i = 0; i < 200; i++) {
    const code = generateSetupCode();
    assert.match(code, /^\d{4}-\d{4}-\d{4}$/);
    assert.ok(isWellFormedSetupCode(code));
  }
  assert.equal(luhnCheckDigit('7992739871'), 3);
  assert.equal(isWellFormedSetupCode('1234-5678-9010'), false);
});

test('a single mistyped digit makes a setup code ill-formed', () => {
  const code = generateSetupCode().replace(/-/g, '');
  const i = 3;
  const wrong = code.slice(0, i) + String((Number(code[i]) + 1) % 10) + code.slice(i + 1);
  assert.equal(isWellFormedSetupCode(wrong), false);
});

test('serials match the serial pattern and are not repeated', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const s = generateSerial('PLG');
    assert.match(s, SERIAL_PATTERN);
    seen.add(s);
  }
  assert.equal(seen.size, 1000);
});

test('the claim hash ignores separators and case but binds the serial', () => {
  assert.equal(hashClaimCode('PLG-AAAAAAAAAA', 'ABCD-EFGH'), hashClaimCode('PLG-AAAAAAAAAA', 'abcdefgh'));
  assert.notEqual(hashClaimCode('PLG-AAAAAAAAAA', 'ABCDEFGH'), hashClaimCode('PLG-BBBBBBBBBB', 'ABCDEFGH'));
});
