import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CHECK_IDS, type CheckId } from './catalogue.ts';
import {
  EN18031_FACT_IDS,
  EN18031_PARTS,
  EN18031_REQUIREMENTS,
  en18031Facts,
  en18031RequirementIds,
  type En18031Facts,
  type En18031FactId,
} from './en18031.ts';
import { EN18031_TREES } from './en18031-trees.ts';
import { walkEn18031Tree, type En18031CheckStatus, type En18031EvidenceRef, type En18031Tree } from './en18031-walk.ts';
import { assessEn18031 } from './en18031-assess.ts';
import { parseProfile } from './profile.ts';
import { getModel } from '../models/index.ts';

const IDS = JSON.parse(readFileSync(new URL('../../test/policy/en18031-ids.json', import.meta.url), 'utf8')) as {
  parts: Record<string, string[]>;
  counts: Record<string, number>;
  folded: Record<string, string>;
};

test('each part carries exactly the ids the public tables of contents list: none missing, none extra', () => {
  for (const part of EN18031_PARTS)
    assert.deepEqual(en18031RequirementIds(part), IDS.parts[String(part)], `part ${part}`);
});

test('the id lists agree with the published counts (31, 40, 34; 28 common) once split requirements are folded', () => {
  const fold = (ids: string[]) => new Set(ids.map((id) => IDS.folded[id] ?? id));
  const sets = EN18031_PARTS.map((p) => fold(en18031RequirementIds(p)));
  for (const [i, part] of EN18031_PARTS.entries())
    assert.equal(sets[i]!.size, IDS.counts[String(part)], `part ${part}`);
  const common = [...sets[0]!].filter((id) => sets[1]!.has(id) && sets[2]!.has(id));
  assert.equal(common.length, IDS.counts.common);
});

test('every requirement has one tree and every tree one requirement; node ids are DN-1, DN-2, ... in order', () => {
  assert.deepEqual([...EN18031_TREES.keys()].sort(), EN18031_REQUIREMENTS.map((r) => r.id).sort());
  for (const tree of EN18031_TREES.values())
    assert.deepEqual(
      tree.nodes.map((n) => n.id),
      tree.nodes.map((_, i) => `DN-${i + 1}`),
      tree.requirement,
    );
});

test('every node names evidence the auditor really has: a catalogue check or a declared fact', () => {
  const checks: ReadonlySet<string> = new Set(CHECK_IDS);
  const facts: ReadonlySet<string> = new Set(EN18031_FACT_IDS);
  for (const tree of EN18031_TREES.values())
    for (const node of tree.nodes) {
      assert.ok(node.evidence.length > 0, `${tree.requirement} ${node.id} names no evidence`);
      for (const ref of node.evidence)
        assert.ok('check' in ref ? checks.has(ref.check) : facts.has(ref.fact), `${tree.requirement} ${node.id}`);
    }
});

function refsOf(tree: En18031Tree): En18031EvidenceRef[] {
  const seen = new Map<string, En18031EvidenceRef>();
  for (const n of tree.nodes) for (const r of n.evidence) seen.set('check' in r ? r.check : r.fact, r);
  return [...seen.values()];
}

function leafOutcomes(tree: En18031Tree): Set<string> {
  return new Set(tree.nodes.flatMap((n) => [n.yes, n.no]).flatMap((b) => ('outcome' in b ? [b.outcome] : [])));
}

/** Drives the walker with every combination of yes/no evidence and collects the outcomes reached. */
function reachableOutcomes(tree: En18031Tree): Set<string> {
  const refs = refsOf(tree);
  assert.ok(refs.length <= 14, `${tree.requirement}: too much evidence to enumerate`);
  const reached = new Set<string>();
  for (let bits = 0; bits < 1 << refs.length; bits++) {
    const checks = new Map<CheckId, En18031CheckStatus>();
    const facts: Partial<Record<En18031FactId, { value: boolean; source: string }>> = {};
    refs.forEach((r, i) => {
      const yes = (bits & (1 << i)) !== 0;
      if ('check' in r) checks.set(r.check, yes ? 'pass' : 'fail');
      else facts[r.fact] = { value: yes, source: 'test' };
    });
    reached.add(walkEn18031Tree(tree, { checks, facts }).outcome);
  }
  return reached;
}

test('every tree reaches each of its outcomes (PASS, NOT APPLICABLE, FAIL) with some set of evidence', () => {
  for (const tree of EN18031_TREES.values()) {
    const leaves = leafOutcomes(tree);
    assert.ok(leaves.has('pass') && leaves.has('fail'), `${tree.requirement} lacks PASS or FAIL`);
    assert.deepEqual([...reachableOutcomes(tree)].sort(), [...leaves].sort(), tree.requirement);
  }
});

test('missing evidence ends the walk "not tested" at the node that needed it, never on a guess', () => {
  const tree = EN18031_TREES.get('AUM-5-1')!;
  const facts: En18031Facts = { 'web-admin': { value: true, source: 'test' } };
  const walk = walkEn18031Tree(tree, { checks: new Map(), facts });
  assert.equal(walk.outcome, 'not-tested');
  assert.deepEqual(
    walk.path.map((s) => [s.node, s.answer, s.then]),
    [
      ['DN-1', 'yes', 'DN-2'],
      ['DN-2', 'not known', 'not tested'],
    ],
  );
  assert.deepEqual(walk.path[1]!.evidence, [{ name: 'check login.default-credentials', value: 'not-tested' }]);
});

test('a path records each node, the evidence read with its value, and the branch taken', () => {
  const tree = EN18031_TREES.get('AUM-5-1')!;
  const facts: En18031Facts = {
    'web-admin': { value: true, source: 'profile' },
    'owner-sets-password': { value: false, source: 'model sticker' },
  };
  const checks = new Map<CheckId, En18031CheckStatus>([
    ['login.default-credentials', 'pass'],
    ['bundle.unique-credentials', 'fail'],
  ]);
  const walk = walkEn18031Tree(tree, { checks, facts });
  assert.equal(walk.outcome, 'fail');
  assert.deepEqual(
    walk.path.map((s) => `${s.node}:${s.evidence.map((e) => `${e.name}=${e.value}`).join(',')}:${s.answer}->${s.then}`),
    [
      'DN-1:fact web-admin=yes:yes->DN-2',
      'DN-2:check login.default-credentials=pass:yes->DN-3',
      'DN-3:fact owner-sets-password=no:no->DN-4',
      'DN-4:check bundle.unique-credentials=fail:no->fail',
    ],
  );
});

test('one failing check answers "no" even when other evidence of the node was not gathered', () => {
  const tree = EN18031_TREES.get('AUM-6')!;
  const facts: En18031Facts = { 'web-admin': { value: true, source: 'x' } };
  const walk = walkEn18031Tree(tree, { checks: new Map([['login.lockout', 'fail']]), facts });
  assert.equal(walk.outcome, 'fail');
});

const resolve = (ref: string) => getModel(ref);

test('which parts apply follows from the profile: -1 always, -2 with personal data, -3 with financial assets', () => {
  const plug = parseProfile(
    'model: plug\nnetworkModels: [listening, cloud]\npersonalData: true\n' + 'internetExposed: false\n',
    resolve,
  );
  const bulb = parseProfile(
    'model: bulb\nnetworkModels: [hub]\npersonalData: false\ninternetExposed: false\n',
    resolve,
  );
  const parts = (facts: En18031Facts) =>
    [1, 2, 3].map((p) => assessEn18031({ checks: new Map(), facts }).filter((r) => r.part === p)[0]!.path[0]!.then);
  assert.deepEqual(parts(en18031Facts(plug, getModel('plug'))), ['DN-1', 'DN-1', 'not-applicable']);
  assert.deepEqual(parts(en18031Facts(bulb, getModel('bulb'))), ['DN-1', 'not-applicable', 'not-applicable']);
  const pay = parseProfile(
    'model: plug\nnetworkModels: [cloud]\npersonalData: false\ninternetExposed: false\n' + 'financialAssets: true\n',
    resolve,
  );
  const results = assessEn18031({ checks: new Map(), facts: en18031Facts(pay, getModel('plug')) });
  assert.equal(results.filter((r) => r.part === 3).length, IDS.parts['3']!.length);
  assert.equal(results.find((r) => r.part === 3 && r.id === 'GEC-8')!.outcome, 'not-tested');
});

test('a part that does not apply marks each of its requirements NOT APPLICABLE with the fact that ruled it out', () => {
  const facts: En18031Facts = {
    'internet-connected': { value: true, source: 't' },
    'personal-data': { value: false, source: 'profile personalData: false' },
    'financial-assets': { value: false, source: 'profile financialAssets: false' },
  };
  const part2 = assessEn18031({ checks: new Map(), facts }).filter((r) => r.part === 2);
  assert.equal(part2.length, IDS.parts['2']!.length);
  for (const r of part2) {
    assert.equal(r.outcome, 'not-applicable');
    assert.deepEqual(r.path[0]!.evidence, [
      { name: 'fact personal-data', value: 'no', source: 'profile personalData: false' },
    ]);
  }
});
