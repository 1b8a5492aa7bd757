import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE } from './catalogue.ts';
import type { Control } from './catalogue.ts';
import {
  craAnnex1Coverage,
  craAnnex2Coverage,
  ioxtCoverage,
  nistCoverage,
  psaCoverage,
  type FrameworkCoverage,
} from './coverage.ts';
import { CRA_ANNEX2_ITEM_IDS } from './cra-annex2.ts';
import { CRA_REQUIREMENTS } from './cra.ts';
import { FRAMEWORKS, type FrameworkKey } from './frameworks.ts';
import { IOXT_PRINCIPLE_IDS } from './ioxt.ts';
import { NIST_OUTCOME_IDS } from './nist-ir8425.ts';
import { PSA_GOAL_IDS } from './psa.ts';

/** Provisions met by no control and carrying no out-of-scope reason, by id. */
function unexplained(coverage: readonly FrameworkCoverage[]): string[] {
  return coverage.filter((c) => c.controls.length === 0 && c.outOfScope === undefined).map((c) => c.provision.id);
}

/** The catalogue with every reference under `key` to `provision` removed. */
function withoutReferences(key: FrameworkKey, provision: string): Control[] {
  return CATALOGUE.map((c) => ({
    ...c,
    provisions: { ...c.provisions, [key]: (c.provisions[key] ?? []).filter((id: string) => id !== provision) },
  }));
}

const COVERAGE: Readonly<Record<FrameworkKey, (catalogue?: readonly Control[]) => FrameworkCoverage[]>> = {
  cra: craAnnex1Coverage,
  annex2: craAnnex2Coverage,
  nist: nistCoverage,
  psa: psaCoverage,
  ioxt: ioxtCoverage,
};

test('lists the ten NIST IR 8425 outcomes: six technical, four non-technical', () => {
  const coverage = nistCoverage();
  assert.deepEqual(
    coverage.map((c) => c.provision.id),
    [...NIST_OUTCOME_IDS],
  );
  assert.equal(coverage.filter((c) => c.provision.group === 'technical').length, 6);
  assert.equal(coverage.filter((c) => c.provision.group === 'non-technical').length, 4);
});

test('every NIST IR 8425 outcome is met by a control or carries an out-of-scope reason', () => {
  assert.deepEqual(unexplained(nistCoverage()), []);
});

test('lists CRA Annex II points 1 to 9 with the six sub-points of point 8', () => {
  assert.deepEqual(
    craAnnex2Coverage().map((c) => c.provision.id),
    ['1', '2', '3', '4', '5', '6', '7', '8(a)', '8(b)', '8(c)', '8(d)', '8(e)', '8(f)', '9'],
  );
  assert.equal(CRA_ANNEX2_ITEM_IDS.length, 14);
});

test('every CRA Annex II point is met by a control or carries an out-of-scope reason', () => {
  assert.deepEqual(unexplained(craAnnex2Coverage()), []);
});

test('every CRA Annex I requirement is met by a control or carries an out-of-scope reason', () => {
  assert.equal(craAnnex1Coverage().length, Object.keys(CRA_REQUIREMENTS).length);
  assert.deepEqual(unexplained(craAnnex1Coverage()), []);
});

test('lists the ten PSA Certified goals and the eight ioXt principles', () => {
  assert.deepEqual(
    psaCoverage().map((c) => c.provision.id),
    [...PSA_GOAL_IDS],
  );
  assert.equal(PSA_GOAL_IDS.length, 10);
  assert.deepEqual(
    ioxtCoverage().map((c) => c.provision.id),
    [...IOXT_PRINCIPLE_IDS],
  );
  assert.equal(IOXT_PRINCIPLE_IDS.length, 8);
});

test('every PSA Certified goal is met by a control or carries an out-of-scope reason', () => {
  assert.deepEqual(unexplained(psaCoverage()), []);
});

test('every ioXt principle is met by a control or carries an out-of-scope reason', () => {
  assert.deepEqual(unexplained(ioxtCoverage()), []);
});

test('unmapping any covered provision makes its coverage test name it', () => {
  for (const framework of FRAMEWORKS) {
    const coverage = COVERAGE[framework.key];
    for (const row of coverage().filter((c) => c.controls.length > 0)) {
      const id = row.provision.id;
      assert.deepEqual(unexplained(coverage(withoutReferences(framework.key, id))), [id], `${framework.key} ${id}`);
    }
  }
});

test('out-of-scope reasons are written only for provisions no control meets', () => {
  for (const framework of FRAMEWORKS) {
    const covered = new Set(
      COVERAGE[framework.key]()
        .filter((c) => c.controls.length > 0)
        .map((c) => c.provision.id),
    );
    for (const id of Object.keys(framework.outOfScope))
      assert.ok(!covered.has(id), `${framework.key} ${id} has a reason but is covered`);
  }
});

test('every control reference names a provision its framework lists', () => {
  for (const framework of FRAMEWORKS) {
    const known = new Set(framework.provisions.map((p) => p.id));
    for (const c of CATALOGUE)
      for (const id of c.provisions[framework.key] ?? []) assert.ok(known.has(id), `${c.id} -> ${framework.key} ${id}`);
  }
});
