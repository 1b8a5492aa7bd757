import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initFactory } from '../identity/index.ts';
import { ensureAuditKey, AUDIT_KEY_FILE, AUDIT_PUBLIC_KEY_FILE } from './audit-key.ts';

test('factory init makes an Ed25519 audit key, private 0600, and keeps it on later loads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-key-'));
  await initFactory(dir);
  assert.equal((await stat(join(dir, AUDIT_KEY_FILE))).mode & 0o777, 0o600);
  const pub = await readFile(join(dir, AUDIT_PUBLIC_KEY_FILE), 'utf8');
  assert.equal(createPublicKey(pub).asymmetricKeyType, 'ed25519');
  assert.equal((await ensureAuditKey(dir)).publicKeyPem, pub);
  await rm(dir, { recursive: true });
});

test('a factory made before the audit key gets one on first use; a folder with no factory is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-key-'));
  await initFactory(dir);
  await rm(join(dir, AUDIT_KEY_FILE));
  await rm(join(dir, AUDIT_PUBLIC_KEY_FILE));
  const made = await ensureAuditKey(dir);
  assert.equal(await readFile(join(dir, AUDIT_PUBLIC_KEY_FILE), 'utf8'), made.publicKeyPem);
  assert.equal((await stat(join(dir, AUDIT_KEY_FILE))).mode & 0o777, 0o600);
  await assert.rejects(ensureAuditKey(join(dir, 'nothing')), { code: 'RELEASE_KEYS_MISSING' });
  await rm(dir, { recursive: true });
});
