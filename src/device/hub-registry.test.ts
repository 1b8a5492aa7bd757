import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getModel } from '../models/index.ts';
import { HubRegistry } from './hub-registry.ts';
import type { PairedHub } from './hub-surface.ts';

const plug = getModel('plug');
const pinA = `sha256:${'a'.repeat(64)}`;
const pinB = `sha256:${'b'.repeat(64)}`;
const hub: PairedHub = {
  pin: pinA,
  mode: 'setup-code',
  pairedAt: '2026-01-01T00:00:00.000Z',
  rights: ['power', 'energy'],
};
const file = (hubs: unknown[], version: unknown = 1): string => JSON.stringify({ version, hubs });

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-hubs-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Reads `text` as a hubs file of `model`: the hubs, or 'damaged' (the parser is private to the registry). */
async function read(text: string, model = plug, maxHubs = 4): Promise<PairedHub[] | 'damaged' | 'none'> {
  const path = join(work, 'hubs.json');
  await writeFile(path, text);
  const registry = new HubRegistry(path);
  const result = await registry.load(model, maxHubs, { dir: join(work, 'damaged'), note: () => undefined });
  return result === 'loaded' ? registry.hubs : result;
}

test('a well-formed hubs file is read back as it was written', async () => {
  assert.deepEqual(await read(file([hub, { ...hub, pin: pinB, mode: 'push-button', rights: [] }])), [
    hub,
    { ...hub, pin: pinB, mode: 'push-button', rights: [] },
  ]);
});

test('a hubs file of another version, or with more hubs than allowed, is refused whole', async () => {
  assert.equal(await read(file([hub], 2)), 'damaged');
  assert.equal(await read(file([hub, { ...hub, pin: pinB }]), plug, 1), 'damaged');
  assert.equal(await read('[]'), 'damaged');
  assert.equal(await read('null'), 'damaged');
  assert.equal(await read('{ not json'), 'damaged');
});

test('one malformed hub record refuses the file: pin, mode, date and rights are all checked', async () => {
  const bad: Array<Partial<Record<keyof PairedHub, unknown>>> = [
    { pin: 'sha256:abc' },
    { pin: `SHA256:${'a'.repeat(64)}` },
    { pin: `sha256:${'A'.repeat(64)}` },
    { mode: 'bluetooth' },
    { pairedAt: 'x'.repeat(41) },
    { pairedAt: 5 },
    { rights: ['unlock-everything'] },
    { rights: 'power' },
    { rights: [1] },
  ];
  for (const change of bad) {
    assert.equal(await read(file([hub, { ...hub, ...change }])), 'damaged', JSON.stringify(change));
  }
  assert.equal(await read(file([hub, null])), 'damaged');
});

test("rights are checked against the model: a lock's bolt is not a plug's right", async () => {
  assert.equal(await read(file([{ ...hub, rights: ['bolt'] }])), 'damaged');
  assert.deepEqual(await read(file([{ ...hub, rights: ['bolt'] }]), getModel('lock')), [{ ...hub, rights: ['bolt'] }]);
});

test('the registry looks hubs up by the SHA-256 of their key, and forgets them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-hubs-'));
  try {
    const path = join(dir, 'hubs.json');
    const registry = new HubRegistry(path);
    assert.equal(await registry.load(plug, 4, { dir: join(work, 'damaged'), note: () => undefined }), 'none');
    registry.set([hub]);
    await registry.persist();
    assert.equal(registry.lookup(Buffer.from('a'.repeat(64), 'hex')), pinA);
    assert.equal(registry.lookup(Buffer.from('b'.repeat(64), 'hex')), undefined);
    const again = new HubRegistry(path);
    assert.equal(await again.load(plug, 4, { dir: join(work, 'damaged'), note: () => undefined }), 'loaded');
    assert.deepEqual(again.hubs, [hub]);
    await again.clear();
    assert.deepEqual(again.hubs, []);
    assert.equal(again.lookup(Buffer.from('a'.repeat(64), 'hex')), undefined);
    await assert.rejects(readFile(path), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a damaged hubs file pins nobody', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-hubs-'));
  try {
    const path = join(dir, 'hubs.json');
    await writeFile(path, file([{ ...hub, mode: 'bluetooth' }]));
    const registry = new HubRegistry(path);
    const notes: string[] = [];
    const sink = { dir: join(dir, 'damaged'), note: (e: { reason: string }) => notes.push(e.reason) };
    assert.equal(await registry.load(plug, 4, sink), 'damaged');
    assert.deepEqual(registry.hubs, []);
    assert.deepEqual(notes, ['does not match its schema'], 'the owner of the state hears why');
    assert.equal((await readdir(sink.dir)).length, 1, 'the damaged list is kept for support');
    assert.equal(registry.lookup(Buffer.from('a'.repeat(64), 'hex')), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a hub's removals not yet heard are read back; a bad name or too many refuse the file", async () => {
  assert.deepEqual(await read(file([{ ...hub, pendingRemovals: ['bea', 'cal.x'] }])), [
    { ...hub, pendingRemovals: ['bea', 'cal.x'] },
  ]);
  assert.deepEqual(await read(file([{ ...hub, pendingRemovals: [] }])), [hub], 'an empty list is no list');
  for (const pendingRemovals of [['Bea'], ['a b'], [7], 'bea', Array.from({ length: 33 }, (_, i) => `p${i}`)])
    assert.equal(await read(file([{ ...hub, pendingRemovals }])), 'damaged', JSON.stringify(pendingRemovals));
});
