import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spkiSha256 } from '../channel/index.ts';
import { createPinnedKeyCertificate } from '../identity/index.ts';
import { parseKeyRotation, verifyKeyRotation } from '../pairing/index.ts';
import { ChannelKeyStore } from './channel-key.ts';

const SERIAL = 'PLG-ABCDEFGH23';
const HUB_A = 'sha256:' + 'a'.repeat(64);
const HUB_B = 'sha256:' + 'b'.repeat(64);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const factory = {
  key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  cert: await createPinnedKeyCertificate(privateKey, 'factory'),
};
const damaged = (dir: string): { dir: string; note: () => void } => ({
  dir: join(dir, 'damaged'),
  note: () => undefined,
});

async function store(): Promise<{ path: string; dir: string; keys: ChannelKeyStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-channel-key-'));
  const path = join(dir, 'channel-key.json');
  return { path, dir, keys: await ChannelKeyStore.load(path, factory, damaged(dir)) };
}

test('until a rotation the channel key is the factory key, and no file is written', async () => {
  const { path, keys } = await store();
  assert.equal(keys.current, factory);
  assert.equal(keys.pending, undefined);
  await assert.rejects(stat(path), { code: 'ENOENT' });
});

test('a rotation is stored pending, signed by the current key, and survives a restart with its acks', async () => {
  const { path, dir, keys } = await store();
  const pending = await keys.rotate(SERIAL, new Date());
  assert.equal(keys.current, factory, 'the old key stays current until the switch');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const verdict = verifyKeyRotation(parseKeyRotation(pending.statement), {
    serial: SERIAL,
    pin: spkiSha256(factory.cert),
  });
  assert.deepEqual(verdict, { ok: true, newPin: spkiSha256(pending.cert) });
  assert.equal(await keys.rotate(SERIAL, new Date()), pending, 'one rotation at a time');
  assert.equal(await keys.acknowledge(HUB_A, 'sha256:' + '0'.repeat(64)), false, 'another key is not acknowledged');
  assert.equal(await keys.acknowledge(HUB_A, pending.pin), true);

  const again = await ChannelKeyStore.load(path, factory, damaged(dir));
  assert.deepEqual(again.pending?.acknowledged, [HUB_A]);
  assert.equal(again.current, factory);
  assert.equal(again.acknowledgedBy([HUB_A]), true);
  assert.equal(again.acknowledgedBy([HUB_A, HUB_B]), false);

  const current = await again.switchToPending();
  assert.deepEqual(current, { key: pending.key, cert: pending.cert, statement: pending.statement });
  const after = await ChannelKeyStore.load(path, factory, damaged(dir));
  assert.equal(after.current.cert, pending.cert);
  assert.equal(after.pending, undefined);
  assert.doesNotMatch(await readFile(path, 'utf8'), new RegExp(factory.key.split('\n')[1]!), 'the old key is not kept');
});

test('acknowledgements arriving together are all kept', async () => {
  const { keys } = await store();
  const pending = await keys.rotate(SERIAL, new Date());
  await Promise.all([keys.acknowledge(HUB_A, pending.pin), keys.acknowledge(HUB_B, pending.pin)]);
  assert.deepEqual([...keys.pending!.acknowledged].sort(), [HUB_A, HUB_B]);
});
