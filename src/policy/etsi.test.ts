import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ETSI_PROVISIONS,
  ETSI_PROVISION_IDS,
  ETSI_OUT_OF_SCOPE,
  ETSI_PARTIAL_NOTES,
  ETSI_CONDITIONS,
  statusConditions,
  findEtsiProvision,
} from './etsi.ts';
import { PSTI_REQUIREMENTS } from './psti.ts';
import { etsiCoverage, pstiCoverage } from './coverage.ts';
import { CATALOGUE } from './catalogue.ts';

test('lists the 68 provisions of EN 303 645 V2.1.1 sections 5 and 6, once each, in order', () => {
  assert.equal(ETSI_PROVISIONS.length, 68);
  assert.deepEqual(
    ETSI_PROVISIONS.map((p) => p.id),
    [...ETSI_PROVISION_IDS],
  );
  assert.equal(new Set(ETSI_PROVISION_IDS).size, ETSI_PROVISION_IDS.length);
  // V3-only ids must not creep in: they are not part of the edition PSTI cites.
  for (const v3 of ['5.1-2A', '5.3-4A', '5.6-4A', '5.13-1A', '5.13-1B', '6-3A', '6-6'])
    assert.equal(findEtsiProvision(v3), undefined);
});

test('every provision has a clause, a paraphrase and a status whose conditions exist', () => {
  for (const p of ETSI_PROVISIONS) {
    assert.ok(p.clause.startsWith(p.id.split('-')[0] + ' '), `${p.id}: clause ${p.clause}`);
    assert.ok(p.paraphrase.length > 20, p.id);
    assert.match(p.status, /^[MR]( C\(\d+(,\d+)*\))?$/);
    for (const n of statusConditions(p.status)) assert.ok(ETSI_CONDITIONS[n], `${p.id}: condition ${n}`);
  }
  assert.deepEqual(statusConditions('M C(11,12)'), [11, 12]);
  assert.deepEqual(statusConditions('R'), []);
});

test('every provision is met by a control or carries an out-of-scope reason', () => {
  const unexplained = etsiCoverage()
    .filter((c) => c.controls.length === 0 && !c.outOfScope)
    .map((c) => c.provision.id);
  assert.deepEqual(unexplained, []);
});

test('no provision is both met by a control and declared out of scope', () => {
  for (const cov of etsiCoverage()) {
    if (cov.controls.length > 0)
      assert.equal(
        ETSI_OUT_OF_SCOPE[cov.provision.id],
        undefined,
        `${cov.provision.id} is covered yet declared out of scope`,
      );
  }
  for (const id of Object.keys(ETSI_PARTIAL_NOTES)) {
    assert.ok(
      CATALOGUE.some((c) => (c.provisions.etsi as readonly string[]).includes(id)),
      `partial note on unmapped ${id}`,
    );
  }
});

test('controls name only provisions that exist in V2.1.1', () => {
  const known = new Set<string>(ETSI_PROVISION_IDS);
  for (const c of CATALOGUE) {
    for (const id of c.provisions.etsi) assert.ok(known.has(id), `${c.id} names unknown provision ${id}`);
    assert.equal(new Set(c.provisions.etsi).size, c.provisions.etsi.length, `${c.id}: duplicate provision`);
  }
  for (const id of Object.keys(ETSI_OUT_OF_SCOPE)) assert.ok(known.has(id), `out-of-scope reason for unknown ${id}`);
});

test('a catalogue missing a provision fails the coverage check', () => {
  const without = CATALOGUE.filter((c) => !(c.provisions.etsi as readonly string[]).includes('5.1-5'));
  const cov = etsiCoverage(without).find((c) => c.provision.id === '5.1-5');
  assert.ok(cov && cov.controls.length === 0 && cov.outOfScope === undefined);
});

test('every PSTI requirement is met, by controls that also meet its deemed-compliance provisions', () => {
  assert.deepEqual(
    PSTI_REQUIREMENTS.map((r) => r.id),
    ['PSTI-1', 'PSTI-2', 'PSTI-3'],
  );
  for (const { requirement, controls } of pstiCoverage()) {
    assert.ok(controls.length > 0, `${requirement.id} has no control`);
    const met = new Set(controls.flatMap((c) => c.provisions.etsi));
    for (const id of requirement.deemedBy) {
      assert.ok(findEtsiProvision(id), `${requirement.id}: unknown ${id}`);
      assert.ok(met.has(id), `${requirement.id}: its controls do not meet ${id}`);
    }
  }
});

test('a control that claims a PSTI requirement also claims its main ETSI provision', () => {
  for (const c of CATALOGUE) {
    for (const id of c.provisions.psti ?? []) {
      const req = PSTI_REQUIREMENTS.find((r) => r.id === id);
      assert.ok(req, `${c.id}: unknown ${id}`);
      assert.ok(
        (c.provisions.etsi as readonly string[]).includes(req.deemedBy[0] ?? ''),
        `${c.id} claims ${id} without ${req.deemedBy[0]}`,
      );
    }
  }
});
