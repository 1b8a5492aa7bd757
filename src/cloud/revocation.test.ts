import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RevocationList,
  normaliseFingerprint,
  parseRevocationRequest,
  watchRevocations,
  type RevocationRecord,
} from './revocation.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const HEX = 'ab'.repeat(32);
const SERIAL = 'PLG-ABCDEFGH23';

test('a fingerprint is accepted as sha256:hex, bare hex or colon hex, and anything else is refused', () => {
  assert.equal(normaliseFingerprint(`sha256:${HEX}`), `sha256:${HEX}`);
  assert.equal(normaliseFingerprint(HEX.toUpperCase()), `sha256:${HEX}`);
  assert.equal(normaliseFingerprint(HEX.match(/../g)!.join(':')), `sha256:${HEX}`);
  for (const bad of ['', 'sha256:', HEX.slice(2), HEX + 'ab', 'zz'.repeat(32), 'sha1:' + HEX])
    assert.throws(() => normaliseFingerprint(bad), { code: 'REVOCATION_INVALID' });
});

test('a revocation request names exactly one target and a known reason', () => {
  assert.deepEqual(parseRevocationRequest({ serial: SERIAL, reason: 'stolen' }), {
    target: { kind: 'unit', serial: SERIAL },
    reason: 'stolen',
  });
  assert.deepEqual(parseRevocationRequest({ certificate: HEX, reason: 'clone' }).target, {
    kind: 'certificate',
    fingerprint: `sha256:${HEX}`,
  });
  const refused = [
    { reason: 'stolen' },
    { serial: SERIAL, certificate: HEX, reason: 'stolen' },
    { serial: SERIAL },
    { serial: SERIAL, reason: 'because' },
    { serial: 'plg-abcdefgh23', reason: 'stolen' },
    { serial: 42, reason: 'stolen' },
    { certificate: { hex: HEX }, reason: 'stolen' },
  ];
  for (const r of refused) assert.throws(() => parseRevocationRequest(r), { code: 'REVOCATION_INVALID' });
});

const unit = (serial: string, at = 1): RevocationRecord => ({
  kind: 'unit',
  serial,
  fingerprint: null,
  reason: 'stolen',
  by: 'cli',
  revokedAt: at,
});

test('the list covers every certificate of a revoked unit and exactly the revoked certificate', () => {
  const list = new RevocationList();
  list.replace([unit(SERIAL), { ...unit('PLG-OTHER00002'), kind: 'certificate', fingerprint: `sha256:${HEX}` }]);
  assert.equal(list.size, 2);
  assert.equal(list.covering(SERIAL, 'sha256:' + 'cd'.repeat(32))?.kind, 'unit', 'any certificate of the unit');
  assert.equal(list.covering('PLG-OTHER00002', `sha256:${HEX}`)?.kind, 'certificate');
  assert.equal(list.covering('PLG-OTHER00002', 'sha256:' + 'cd'.repeat(32)), undefined, 'another certificate of it');
  assert.equal(list.covering(undefined, `sha256:${HEX}`)?.kind, 'certificate');
  assert.equal(list.covering('PLG-CLEAN00002', undefined), undefined);
});

test('the watch reloads when the count grows and reports only the new revocations', async () => {
  let stored = [unit(SERIAL)];
  const source = {
    revocationCount: () => Promise.resolve(stored.length),
    revocations: () => Promise.resolve(stored),
  };
  const list = new RevocationList();
  const seen: RevocationRecord[][] = [];
  const watch = await watchRevocations({
    source,
    list,
    intervalMs: 60_000,
    onChange: (a) => seen.push([...a]),
    log: () => undefined,
  });
  assert.equal(list.size, 1, 'loaded at start');
  await watch.refresh();
  assert.equal(seen.length, 0, 'nothing new');
  stored = [...stored, unit('PLG-NEWONE0002', 2)];
  await watch.refresh();
  watch.stop();
  assert.deepEqual(seen, [[unit('PLG-NEWONE0002', 2)]]);
  assert.ok(list.covering('PLG-NEWONE0002', undefined));
});

test('the store revokes a known unit once, links a birth certificate to its unit, refuses unknown units', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-revocation-'));
  const store = await SqlStore.open(openSqliteDriver({ path: join(dir, 'cloud.db') }));
  try {
    await store.importUnits(
      [
        {
          serial: SERIAL,
          model: 'plug',
          deviceCertFingerprint: `sha256:${HEX}`,
          claimCodeHash: 'c'.repeat(64),
          createdAt: 'x',
        },
      ],
      1,
    );
    const birth = await store.revoke({ kind: 'certificate', fingerprint: `sha256:${HEX}` }, 'clone', 'cli', 10);
    assert.equal(birth.outcome, 'revoked');
    assert.equal(birth.record.serial, SERIAL);
    assert.equal((await store.getDevice(SERIAL))?.revoked?.reason, 'clone');
    assert.equal((await store.revoke({ kind: 'unit', serial: SERIAL }, 'stolen', 'cli', 20)).outcome, 'revoked');
    const again = await store.revoke({ kind: 'unit', serial: SERIAL }, 'other', 'maker-api', 30);
    assert.equal(again.outcome, 'already');
    assert.equal(again.record.reason, 'stolen');
    await assert.rejects(store.revoke({ kind: 'unit', serial: 'PLG-NOTKNOWN22' }, 'stolen', 'cli', 40), {
      code: 'NOT_FOUND',
    });
    assert.equal(await store.revocationCount(), 2);
    assert.deepEqual(
      (await store.revocations()).map((r) => [r.kind, r.reason, r.revokedAt]),
      [
        ['certificate', 'clone', 10],
        ['unit', 'stolen', 20],
      ],
    );
  } finally {
    await store.close();
  }
});

test('parseRevocationRequest (fuzzed): any body gives a well-formed request or REVOCATION_INVALID', () => {
  const field = fc.oneof(fc.constant(undefined), fc.anything(), fc.constantFrom(SERIAL, HEX, 'stolen', 'clone'));
  fc.assert(
    fc.property(fc.record({ serial: field, certificate: field, reason: field }), (body) => {
      try {
        const r = parseRevocationRequest(body);
        assert.ok(
          r.target.kind === 'unit' ? r.target.serial === SERIAL : /^sha256:[0-9a-f]{64}$/.test(r.target.fingerprint),
        );
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'REVOCATION_INVALID', String(e));
      }
    }),
    { numRuns: 1_000 },
  );
});
