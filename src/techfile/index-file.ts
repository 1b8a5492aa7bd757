/**
 * The technical file's index: index.json, which schemas/techfile.v1.schema.json checks and which
 * lists every other file with its SHA-256, and index.html, the page a reader starts from (the contents
 * in CRA Annex VII's order, each file, the Annex I Part I table and the facts record's slot). Pure.
 */
import type { Block, DocumentModel, Inline } from '../policy/index.ts';
import type { Annex1Row } from './annex1.ts';
import { anchorOf } from './pages.ts';

/** The schema id index.json declares. */
export const TECHFILE_SCHEMA_ID = 'bulwark.techfile/v1';

/** The paths of the files in a technical file (SBOMs go under `sbomDir`). */
export const TECHFILE_PATHS = {
  index: 'index.json',
  indexPage: 'index.html',
  riskRegister: 'risk-register.json',
  riskRegisterPage: 'risk-register.html',
  annex1Page: 'annex-i.html',
  userInformation: 'user-information.json',
  userInformationPage: 'user-information.html',
  declaration: 'declaration-of-conformity.json',
  declarationPage: 'declaration-of-conformity.html',
  securityPolicy: 'security-policy.html',
  auditReport: 'audit/audit-report.json',
  auditReportPage: 'audit/audit-report.html',
  facts: 'facts.json',
  sbomDir: 'sboms',
} as const;

/** What each file of the technical file is. */
export type FileRole =
  | 'index-page'
  | 'risk-register'
  | 'risk-register-page'
  | 'annex-i-page'
  | 'user-information'
  | 'user-information-page'
  | 'declaration'
  | 'declaration-page'
  | 'security-policy'
  | 'audit-report'
  | 'audit-report-page'
  | 'sbom'
  | 'facts';

/** One file of the technical file, as the index lists it. */
export interface IndexedFile {
  readonly role: FileRole;
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** index.json. */
export interface TechnicalFileIndex {
  readonly schema: typeof TECHFILE_SCHEMA_ID;
  readonly generatedAt: string;
  readonly tool: { readonly name: 'bulwark'; readonly version: string };
  readonly product: {
    readonly modelId: string;
    readonly name: string;
    readonly version: string;
    readonly modelDigest: string;
    readonly maker?: string;
  };
  readonly files: readonly IndexedFile[];
  readonly annex1: readonly Annex1Row[];
  readonly annex2: readonly { readonly id: string; readonly name: string; readonly entries: number }[];
  readonly riskRegister: { readonly entries: number; readonly accept: number; readonly treat: number };
  readonly audit: {
    readonly included: boolean;
    readonly form?: 'plain' | 'dsse';
    readonly generatedAt?: string;
    readonly firmwareVersion?: string;
    readonly passed?: boolean;
    readonly note: string;
  };
  readonly sboms: readonly { readonly path: string; readonly imageSha256: string; readonly repositoryPath: string }[];
  /** The security facts record (issue 23 part 2): its slot in the file, filled when one is given. */
  readonly facts: { readonly included: boolean; readonly path?: string; readonly note: string };
}

const link = (text: string, href: string): Inline => ({ text, href });

function pathsOf(files: readonly IndexedFile[], role: FileRole): Inline[] {
  const found = files.filter((f) => f.role === role);
  if (found.length === 0) return ['not in this file'];
  return found.flatMap((f, i) => (i === 0 ? [link(f.path, f.path)] : [', ', link(f.path, f.path)]));
}

/** The contents in the order of CRA Annex VII, each point with the files that answer it. */
function annex7Rows(files: readonly IndexedFile[]): Block {
  const at = (role: FileRole): Inline[] => pathsOf(files, role);
  const rows: [string, string, Inline[]][] = [
    ['1', 'General description: purpose, versions, user information', at('user-information-page')],
    ['2', 'Design, development and vulnerability handling', [...at('security-policy'), ' (policy and controls)']],
    ['3', 'Cybersecurity risk assessment', [...at('risk-register-page'), ', ', ...at('annex-i-page')]],
    ['4', 'Support period', [link('user-information.html, point 7', 'user-information.html#point-7')]],
    ['5', 'Standards and specifications applied', at('declaration-page')],
    ['6', 'Test reports', at('audit-report-page')],
    ['7', 'EU declaration of conformity (draft)', at('declaration-page')],
    ['8', 'Software bill of materials', at('sbom')],
  ];
  return {
    kind: 'table',
    caption: 'Contents, in the order of CRA Annex VII',
    headers: ['Point', 'Contents', 'Where'],
    rows: rows.map(([n, what, where]) => ({ cells: [[n], [what], where] })),
  };
}

function factsBlock(index: Omit<TechnicalFileIndex, 'files'>): Block {
  return index.facts.included && index.facts.path !== undefined
    ? { kind: 'paragraph', content: [link(index.facts.path, index.facts.path), `: ${index.facts.note}`] }
    : { kind: 'notice', content: [index.facts.note] };
}

/** The index page, linking every file the index lists (`files`: all but index.html and index.json). */
export function indexPage(index: Omit<TechnicalFileIndex, 'files'>, files: readonly IndexedFile[]): DocumentModel {
  const { product } = index;
  const title = `Technical file: ${product.name} ${product.version}`;
  const h2 = (text: string): Block => ({ kind: 'heading', level: 2, text, id: anchorOf(text) });
  return {
    title,
    blocks: [
      { kind: 'heading', level: 1, text: title, id: 'top' },
      {
        kind: 'notice',
        content: ['The technical documentation of CRA Annex VII, generated by Bulwark. The declaration is a DRAFT.'],
      },
      {
        kind: 'fields',
        items: [
          ['Product', [`${product.name} (model ${product.modelId}), firmware ${product.version}`]],
          ['Manufacturer', [product.maker ?? 'not stated']],
          ['Model digest', [product.modelDigest]],
          ['Generated', [`${index.generatedAt} by bulwark ${index.tool.version}`]],
          ['Audit report', [index.audit.note]],
          [
            'Risk register',
            [
              `${index.riskRegister.entries} threats: ${index.riskRegister.accept} accepted, ` +
                `${index.riskRegister.treat} to treat`,
            ],
          ],
        ],
      },
      h2('Annex VII contents'),
      annex7Rows(files),
      h2('Annex I Part I'),
      {
        kind: 'table',
        caption: 'Each item linked to passing controls or marked not applicable',
        headers: ['Item', 'Status', 'Controls or reason'],
        rows: index.annex1.map((r) => ({
          id: `annex1-${anchorOf(r.id)}`,
          cells: [
            [link(r.id, `annex-i.html#${anchorOf(r.id)}`)],
            [r.status],
            [r.status === 'linked' ? r.controls.map((c) => c.id).join(', ') : (r.reason ?? '')],
          ],
        })),
      },
      h2('Security facts record'),
      factsBlock(index),
      h2('Files'),
      {
        kind: 'table',
        caption: 'Every file of this technical file (index.json holds each full SHA-256)',
        headers: ['File', 'What it is', 'SHA-256 (first 16 digits)'],
        rows: files.map((f) => ({ cells: [[link(f.path, f.path)], [f.role], [f.sha256.slice(0, 16)]] })),
      },
    ],
  };
}
