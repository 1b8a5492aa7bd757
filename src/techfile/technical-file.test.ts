import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  countControls,
  evaluateControls,
  evaluateEtsi,
  evaluateFrameworks,
  evaluatePsti,
  exitCodeFor,
  runAudit,
  type AuditReport,
  type CheckStatus,
} from '../audit/index.ts';
import { hasCode } from '../errors/index.ts';
import { getModel, listModels, modelFromDocument, type ModelSpec } from '../models/index.ts';
import {
  CATALOGUE,
  CRA_ANNEX2_ITEMS,
  CRA_REQUIREMENTS,
  decide,
  loadExampleProfile,
  type Control,
  type DeviceProfile,
  type ExampleModel,
} from '../policy/index.ts';
import {
  DOCUMENTATION_POINTS,
  TechfileError,
  buildTechnicalFile,
  parseAuditEvidence,
  techfileSchema,
  validateTechnicalFile,
  writeTechnicalFile,
  type TechnicalFileInput,
} from './index.ts';

/** A real audit report of `profile` (no target, so nothing was tested) with its checks set as `status` says. */
async function reportWith(profile: DeviceProfile, status: (check: string) => CheckStatus): Promise<AuditReport> {
  const base = await runAudit({ profile, urls: [] });
  const checks = base.checks.map((c) => ({ ...c, status: status(c.id), summary: `${status(c.id)} (test)` }));
  const decision = decide(profile);
  const controls = evaluateControls(decision, new Map(checks.map((c) => [c.id, c])));
  const counts = countControls(controls);
  return {
    ...base,
    checks,
    controls,
    etsi: evaluateEtsi(decision, controls),
    psti: evaluatePsti(controls),
    frameworks: evaluateFrameworks(controls),
    summary: { ...counts, passed: counts.fail === 0 && counts.notTested === 0, exitCode: exitCodeFor(counts) },
  };
}

/** An SBOM as the release repository publishes one beside an image (its firmware component carries the image hash). */
function sbomOf(model: string, imageSha256: string): TechnicalFileInput['sboms'][number] {
  const sbom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    metadata: { component: { type: 'firmware', name: model, hashes: [{ alg: 'SHA-256', content: imageSha256 }] } },
    components: [],
  };
  return { imageSha256, repositoryPath: `${model}/${'ab'.repeat(32)}.image.cdx.json`, text: JSON.stringify(sbom) };
}

async function inputFor(id: ExampleModel, status: (check: string) => CheckStatus = () => 'pass') {
  const profile = await loadExampleProfile(id);
  const report = await reportWith(profile, status);
  const input: TechnicalFileInput = {
    model: getModel(id),
    version: '1.2.0',
    profile,
    audit: parseAuditEvidence(JSON.stringify(report), 'test'),
    sboms: [sbomOf(id, createHash('sha256').update(id).digest('hex'))],
    generatedAt: '2026-05-01T10:00:00.000Z',
    toolVersion: '0.1.0',
  };
  return input;
}

function withoutDocumentation(model: ModelSpec, key: keyof NonNullable<ModelSpec['documentation']>): ModelSpec {
  const { [key]: _dropped, ...rest } = model.documentation ?? {};
  return { ...model, documentation: rest };
}

const PART_I = Object.keys(CRA_REQUIREMENTS).filter((id) => id.startsWith('I.'));

for (const model of listModels()) {
  test(`the technical file of the built-in ${model.id} validates and lists every Annex I and II item`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bulwark-techfile-'));
    try {
      const file = buildTechnicalFile(await inputFor(model.id as ExampleModel));
      await writeTechnicalFile(join(dir, 'tf'), file);
      const result = await validateTechnicalFile(join(dir, 'tf'));
      assert.deepEqual(result.problems, []);
      assert.equal(result.valid, true);
      assert.deepEqual(
        file.index.annex1.map((r) => r.id),
        PART_I,
      );
      assert.deepEqual(
        file.index.annex2.map((p) => p.id),
        CRA_ANNEX2_ITEMS.map((i) => i.id),
      );
      // Each linked item names controls that passed; each other one says why.
      for (const row of file.index.annex1) {
        if (row.status === 'linked')
          assert.ok(row.controls.length > 0 && row.controls.every((c) => c.status === 'pass'));
        else assert.ok((row.reason ?? '').length > 20, row.id);
      }
      assert.match(file.files.get('declaration-of-conformity.html')!, /DRAFT EU declaration of conformity/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

for (const [key, point] of Object.entries(DOCUMENTATION_POINTS) as [
  keyof typeof DOCUMENTATION_POINTS,
  (typeof DOCUMENTATION_POINTS)[keyof typeof DOCUMENTATION_POINTS],
][]) {
  const item = CRA_ANNEX2_ITEMS.find((i) => i.id === point)!;
  test(`a model documentation without ${key} fails, naming Annex II ${point} ${item.name}`, async () => {
    const input = await inputFor('plug');
    assert.throws(
      () => buildTechnicalFile({ ...input, model: withoutDocumentation(input.model, key) }),
      (e: unknown) => {
        assert.ok(e instanceof TechfileError && e.code === 'TECHFILE_ANNEX2_MISSING', String(e));
        assert.ok(e.message.includes(`${point} ${item.name}:`), e.message);
        assert.ok(e.message.includes(`documentation.${key}`), e.message);
        assert.deepEqual(e.details.items, [point]);
        return true;
      },
    );
  });
}

const OTHER_SOURCES: [string, string, (i: TechnicalFileInput) => TechnicalFileInput][] = [
  ['1', "the maker's name in the profile", (i) => ({ ...i, profile: { ...i.profile, maker: undefined } })],
  [
    '2',
    'the security contact in the profile',
    (i) => ({ ...i, profile: { ...i.profile, securityContact: undefined } }),
  ],
  ['9', 'an SBOM from the release repository', (i) => ({ ...i, sboms: [] })],
];
for (const [point, what, change] of OTHER_SOURCES) {
  const item = CRA_ANNEX2_ITEMS.find((i) => i.id === point)!;
  test(`without ${what} the file fails, naming Annex II ${point} ${item.name}`, async () => {
    const input = change(await inputFor('plug'));
    assert.throws(
      () => buildTechnicalFile(input),
      (e: unknown) => hasCode(e, 'TECHFILE_ANNEX2_MISSING') && (e as Error).message.includes(`${point} ${item.name}:`),
    );
  });
}

/** The catalogue with `id` taken out of every control's CRA references. */
function unmapped(id: string): Control[] {
  return CATALOGUE.map((c) => ({
    ...c,
    provisions: { ...c.provisions, cra: (c.provisions.cra ?? []).filter((x) => x !== id) },
  }));
}

function assertUnlinked(fn: () => unknown, id: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TechfileError && e.code === 'TECHFILE_ANNEX1_UNLINKED', String(e));
    assert.ok((e.details.items as string[]).includes(id), e.message);
    assert.ok(e.message.includes(`${id} (${CRA_REQUIREMENTS[id as keyof typeof CRA_REQUIREMENTS]})`), e.message);
    return true;
  });
}

for (const id of PART_I.filter((x) => x !== 'I.1')) {
  test(`Annex I ${id} without its control mapping fails, naming it`, async () => {
    const input = await inputFor('lock');
    assertUnlinked(() => buildTechnicalFile({ ...input, catalogue: unmapped(id) }), id);
  });

  test(`Annex I ${id} fails, naming it, when the audit report fails a control that meets it`, async () => {
    const profile = await loadExampleProfile('lock');
    const control = decide(profile).required.find((r) => r.control.provisions.cra?.includes(id as never))!.control;
    const failing = new Set<string>(control.checks.map((c) => c.id));
    const input = await inputFor('lock', (check) => (failing.has(check) ? 'fail' : 'pass'));
    assertUnlinked(() => buildTechnicalFile(input), id);
  });
}

test('without an audit report every Annex I item that needs a control fails, each named', async () => {
  const { audit: _none, ...input } = await inputFor('plug');
  assert.throws(
    () => buildTechnicalFile(input),
    (e: unknown) =>
      hasCode(e, 'TECHFILE_ANNEX1_UNLINKED') &&
      JSON.stringify((e as TechfileError).details.items) === JSON.stringify(PART_I.filter((x) => x !== 'I.1')) &&
      /no audit report given/.test((e as Error).message),
  );
});

test('I.1 is marked not applicable with the catalogue reason, and the register names it the assessment', async () => {
  const file = buildTechnicalFile(await inputFor('plug'));
  const row = file.index.annex1.find((r) => r.id === 'I.1')!;
  assert.equal(row.status, 'not-applicable');
  assert.match(row.reason!, /risk assessment/);
});

test('the risk register treats a threat whose control failed and accepts one whose controls all passed', async () => {
  const { buildRiskRegister, controlVerdicts } = await import('./index.ts');
  const { buildAssetInventory } = await import('../policy/index.ts');
  const profile = await loadExampleProfile('lock');
  const report = await reportWith(profile, (c) => (c === 'login.lockout' ? 'fail' : 'pass'));
  const register = buildRiskRegister(
    buildAssetInventory({ profile, model: getModel('lock') }),
    controlVerdicts(decide(profile), report),
    '1.2.0',
  );
  const access = register.entries.find((e) => e.id === 'admin-page/unauthorised-access')!;
  assert.equal(access.decision, 'treat');
  assert.equal(access.residualRisk, access.inherentRisk);
  assert.match(access.rationale, /failed the audit: AUTH-LOCKOUT/);
  const csrf = register.entries.find((e) => e.id === 'admin-page/cross-site')!;
  assert.deepEqual([csrf.decision, csrf.residualRisk], ['accept', 'low']);
  assert.equal(register.counts.accept + register.counts.treat, register.entries.length);
});

test('validation names a file changed after writing, and an Annex I item taken out of the index', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-techfile-'));
  try {
    const out = join(dir, 'tf');
    await writeTechnicalFile(out, buildTechnicalFile(await inputFor('camera')));
    await writeFile(join(out, 'user-information.html'), '<p>changed</p>');
    const changed = await validateTechnicalFile(out);
    assert.equal(changed.valid, false);
    assert.ok(changed.problems.some((p) => /user-information\.html does not match/.test(p.rule)));

    await writeTechnicalFile(out, buildTechnicalFile(await inputFor('camera')));
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { annex1: { id: string }[] };
    index.annex1 = index.annex1.filter((r) => r.id !== 'I.2(e)');
    await writeFile(join(out, 'index.json'), JSON.stringify(index));
    const missing = await validateTechnicalFile(out);
    assert.ok(
      missing.problems.some((p) => p.rule === 'must hold I.2(e) once, not 0 times'),
      JSON.stringify(missing),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the facts record goes into its slot and the index lists it', async () => {
  const input = await inputFor('plug');
  const file = buildTechnicalFile({ ...input, facts: { text: '{"product":"plug"}\n' } });
  assert.deepEqual(file.index.facts, {
    included: true,
    path: 'facts.json',
    note: 'the security facts record, as given',
  });
  assert.equal(file.files.get('facts.json'), '{"product":"plug"}\n');
  assert.ok(file.index.files.some((f) => f.role === 'facts' && f.path === 'facts.json'));
  const without = buildTechnicalFile(input);
  assert.equal(without.index.facts.included, false);
  assert.ok(!without.files.has('facts.json'));
});

test('a report kept with a release (a DSSE envelope) is read through its predicate', async () => {
  const report = await reportWith(await loadExampleProfile('plug'), () => 'pass');
  const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'x', predicate: report };
  const envelope = {
    payloadType: 'application/vnd.in-toto+json',
    payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
    signatures: [{ keyid: 'k', sig: 'c2ln' }],
  };
  const read = parseAuditEvidence(JSON.stringify(envelope), 'kept.audit.json');
  assert.equal(read.form, 'dsse');
  assert.equal(read.report.generatedAt, report.generatedAt);
  assert.throws(
    () => parseAuditEvidence(JSON.stringify({ ...report, format: 'other/1' }), 'x.json'),
    (e: unknown) =>
      hasCode(e, 'TECHFILE_INPUT_INVALID') && /format must be bulwark-audit\/1/.test((e as Error).message),
  );
});

test('writing replaces an earlier technical file and refuses a folder that holds something else', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-techfile-'));
  try {
    const out = join(dir, 'tf');
    const file = buildTechnicalFile(await inputFor('bulb'));
    await writeTechnicalFile(out, file);
    await writeTechnicalFile(out, file);
    assert.equal((await validateTechnicalFile(out)).valid, true);
    const other = join(dir, 'other');
    await mkdir(other);
    await writeFile(join(other, 'notes.txt'), 'mine');
    await assert.rejects(writeTechnicalFile(other, file), (e: unknown) => hasCode(e, 'TECHFILE_OUT_EXISTS'));
    assert.equal(await readFile(join(other, 'notes.txt'), 'utf8'), 'mine');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the shipped schema, run by ajv, accepts the index bulwark writes and refuses an unlinked item', async () => {
  const Ajv2020 = createRequire(import.meta.url)('ajv/dist/2020') as new (o: object) => {
    compile(s: object): (d: unknown) => boolean;
  };
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(techfileSchema());
  const { index } = buildTechnicalFile(await inputFor('sensor'));
  const doc = JSON.parse(JSON.stringify(index)) as { annex1: { status: string; controls: { status: string }[] }[] };
  assert.equal(validate(doc), true);
  const linked = doc.annex1.find((r) => r.status === 'linked')!;
  linked.controls[0]!.status = 'fail';
  assert.equal(validate(doc), false);
});

test("a model file's documentation is checked when the model is read: the declaration URL must be https", () => {
  const doc = {
    schema: 'bulwark.model/v1',
    ...getModel('plug'),
    documentation: { declarationOfConformityUrl: 'http://x.example/d' },
  };
  assert.throws(
    () => modelFromDocument(doc, 'plug.model.json'),
    (e: unknown) =>
      hasCode(e, 'MODEL_FILE_INVALID') && /documentation\.declarationOfConformityUrl/.test((e as Error).message),
  );
  const ok = { ...doc, documentation: { declarationOfConformityUrl: 'https://maker.example/doc/plug' } };
  assert.equal(
    modelFromDocument(ok, 'plug.model.json').documentation?.declarationOfConformityUrl,
    ok.documentation.declarationOfConformityUrl,
  );
});
