/**
 * The technical file's pages as documents (src/policy's document model, written as self-contained
 * HTML with no script): the risk register, the Annex I Part I table, the Annex II user information
 * and the draft declaration of conformity. Pure.
 */
import type { Block, DocumentModel, Inline } from '../policy/index.ts';
import type { Annex1Row } from './annex1.ts';
import type { DeclarationDraft } from './declaration.ts';
import type { RiskRegister } from './risk-register.ts';
import type { UserInformation } from './user-information.ts';

/** An anchor id from any text: lower case letters, digits and dashes. */
export function anchorOf(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

const h1 = (text: string): Block => ({ kind: 'heading', level: 1, text, id: 'top' });
const p = (...content: Inline[]): Block => ({ kind: 'paragraph', content });

/** The risk register as a page. */
export function riskRegisterPage(register: RiskRegister, productName: string): DocumentModel {
  // The row header is a short number: the stylesheet keeps row headers on one line.
  const rows = register.entries.map((e, i) => ({
    id: anchorOf(e.id),
    cells: [
      [String(i + 1)],
      [`${e.asset.what} (${e.asset.kind} ${e.asset.id})`],
      [e.threat],
      [e.inherentRisk],
      e.treatedBy.length === 0 ? ['none required'] : [e.treatedBy.map((v) => `${v.id}: ${v.status}`).join('; ')],
      [e.residualRisk],
      [e.decision === 'accept' && e.treatedBy.length > 0 ? 'accept' : `${e.decision}: ${e.rationale}`],
    ],
  }));
  return {
    title: `Risk register: ${productName} ${register.version}`,
    blocks: [
      h1(`Risk register: ${productName} ${register.version}`),
      p(
        `${register.entries.length} threats to the assets of the product: ${register.counts.accept} accepted, ` +
          `${register.counts.treat} to be treated. A threat is accepted when every control the product requires ` +
          'to treat it passed the audit (its residual risk is then low), or when no control treats it and its ' +
          'inherent risk is low; otherwise it keeps its inherent risk and is to be treated.',
      ),
      { kind: 'paragraph', content: [{ text: 'Back to the technical file', href: 'index.html' }] },
      {
        kind: 'table',
        caption: 'Assets, threats, treating controls and decisions',
        headers: ['#', 'Asset', 'Threat', 'Inherent risk', 'Treating controls (audit)', 'Residual risk', 'Decision'],
        rows,
      },
    ],
  };
}

/** The Annex I Part I table as a page. */
export function annex1Page(rows: readonly Annex1Row[], productName: string, version: string): DocumentModel {
  return {
    title: `CRA Annex I Part I: ${productName} ${version}`,
    blocks: [
      h1(`CRA Annex I Part I: ${productName} ${version}`),
      p(
        'Each essential requirement is linked to the controls that meet it, every one of them required for this ' +
          'product and passed in the audit, or marked not applicable with its reason.',
      ),
      { kind: 'paragraph', content: [{ text: 'Back to the technical file', href: 'index.html' }] },
      {
        kind: 'table',
        caption: 'Annex I Part I',
        headers: ['Item', 'Requirement (paraphrase)', 'Status', 'Passing controls, or reason'],
        rows: rows.map((r) => ({
          id: anchorOf(r.id),
          cells: [
            [r.id],
            [r.requirement],
            [r.status],
            [
              r.status === 'linked'
                ? r.controls.map((c) => `${c.id} (${c.checks.join(', ') || 'no check applied'})`).join('; ')
                : (r.reason ?? ''),
            ],
          ],
        })),
      },
    ],
  };
}

/** The Annex II user information as a page, one section per point. */
export function userInformationPage(info: UserInformation): DocumentModel {
  const blocks: Block[] = [
    h1(`Information for the user: ${info.modelName} ${info.version}`),
    p('The information and instructions CRA Annex II asks the manufacturer to give with the product.'),
    { kind: 'paragraph', content: [{ text: 'Back to the technical file', href: 'index.html' }] },
  ];
  for (const point of info.points) {
    blocks.push({ kind: 'heading', level: 2, text: `${point.id} ${point.name}`, id: `point-${anchorOf(point.id)}` });
    const fields = point.entries.filter((e) => typeof e.text === 'string');
    if (fields.length > 0)
      blocks.push({ kind: 'fields', items: fields.map((e) => [e.label, [e.text as string]] as const) });
    for (const e of point.entries.filter((x) => typeof x.text !== 'string')) {
      blocks.push(p(`${e.label}:`), { kind: 'list', items: (e.text as readonly string[]).map((t) => [t]) });
    }
  }
  return { title: `Information for the user: ${info.modelName} ${info.version}`, blocks };
}

/** The draft declaration of conformity as a page, numbered as Annex V orders its contents. */
export function declarationPage(d: DeclarationDraft): DocumentModel {
  const title = `DRAFT EU declaration of conformity: ${d.product.name} ${d.product.version}`;
  return {
    title,
    blocks: [
      h1(title),
      {
        kind: 'notice',
        content: ['DRAFT, not signed. The manufacturer completes every bracketed item, checks the rest and signs.'],
      },
      {
        kind: 'fields',
        items: [
          ['1. Product', [`${d.product.name}, model ${d.product.modelId}, firmware ${d.product.version}`]],
          ['2. Manufacturer', [`${d.manufacturer.name}, ${d.manufacturer.address}`]],
          ['3. Responsibility', [d.soleResponsibility]],
          ['4. Object of the declaration', [d.object]],
          ['5. Conformity', [`${d.conformity} ${d.otherLegislation}.`]],
          ['6. Standards and specifications', [d.standards.join('; ')]],
          ['7. Category', [d.category]],
          ['7. Procedure', [d.procedure]],
          ['7. Notified body', [d.notifiedBody]],
          ['8. Signed for and on behalf of', [d.manufacturer.name]],
          ['8. Place and date', [`${d.signature.place}, ${d.signature.date}`]],
          ['8. Name and function', [`${d.signature.name}, ${d.signature.function}`]],
          ['8. Signature', [d.signature.signature]],
          ['Evidence in this file', [d.evidence.join('; ')]],
          ['Published at', [d.publishedAt]],
        ],
      },
      { kind: 'paragraph', content: [{ text: 'Back to the technical file', href: 'index.html' }] },
    ],
  };
}
