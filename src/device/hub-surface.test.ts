import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPairingConfig } from '../pairing/index.ts';
import { PAIRING_DEFAULTS_BEFORE_LOAD } from './hub-surface.ts';

test('the pairing limits the hub surface uses before the pairing code loads are the pairing defaults', () => {
  for (const [key, value] of Object.entries(PAIRING_DEFAULTS_BEFORE_LOAD)) {
    assert.equal(value, defaultPairingConfig[key as keyof typeof defaultPairingConfig], key);
  }
});
