/**
 * A draft EU declaration of conformity with the contents CRA Annex V lists (paraphrased): the product,
 * the manufacturer, the statement of sole responsibility, the object of the declaration, the statement
 * of conformity, the standards and specifications applied, the conformity assessment procedure and
 * notified body, and the signature. It is a DRAFT: the procedure, the legislation beyond the CRA and
 * the signature are the maker's to complete and sign; placeholders say so. Pure.
 */
import type { ModelSpec, RiskClass } from '../models/index.ts';
import type { DeviceProfile } from '../policy/index.ts';

/** What a person must fill in before the declaration is signed. */
export const TO_COMPLETE = '[to be completed by the manufacturer]';

/** The draft declaration. */
export interface DeclarationDraft {
  readonly status: 'DRAFT';
  readonly regulation: string;
  readonly product: {
    readonly name: string;
    readonly modelId: string;
    readonly version: string;
    readonly serialPrefix: string;
  };
  readonly manufacturer: { readonly name: string; readonly address: string };
  readonly soleResponsibility: string;
  readonly object: string;
  readonly conformity: string;
  readonly otherLegislation: string;
  readonly standards: readonly string[];
  /** Where the product falls among the CRA's categories, as far as its risk class shows. */
  readonly category: string;
  readonly procedure: string;
  readonly notifiedBody: string;
  /** The evidence this file holds for it. */
  readonly evidence: readonly string[];
  readonly publishedAt: string;
  readonly signature: {
    readonly place: string;
    readonly date: string;
    readonly name: string;
    readonly function: string;
    readonly signature: string;
  };
}

/** What the draft is built from. */
export interface DeclarationInput {
  readonly model: ModelSpec;
  readonly version: string;
  readonly profile: DeviceProfile;
  /** The audit report's date and digest, when one is in the file. */
  readonly audit?: { readonly generatedAt: string; readonly sha256: string };
  readonly sbomCount: number;
}

const CLASS_I = 'Annex III, important products of class I (smart home products with security functions)';

/** The category and procedure each risk class points to; the maker confirms both. */
const CATEGORY: Readonly<Record<RiskClass, { category: string; procedure: string }>> = {
  standard: {
    category: 'not listed in Annex III or IV as far as its risk class shows; the manufacturer confirms',
    procedure: 'internal control (module A, Annex VIII Part I), Article 32(1)',
  },
  lock: {
    category: `${CLASS_I}: a smart door lock`,
    procedure:
      'module A only where harmonised standards, common specifications or a European certification scheme were ' +
      'applied in full; otherwise EU-type examination with conformity to type (modules B and C) or full quality ' +
      'assurance (module H), Article 32(2)',
  },
  camera: {
    category: `${CLASS_I}: a security camera`,
    procedure:
      'module A only where harmonised standards, common specifications or a European certification scheme were ' +
      'applied in full; otherwise modules B and C or module H, Article 32(2)',
  },
  microphone: {
    category:
      'possibly Annex III, important products of class I (smart home general purpose virtual assistants); ' +
      'the manufacturer confirms',
    procedure: 'Article 32(1) or 32(2), according to the category the manufacturer confirms',
  },
};

/** Builds the draft declaration of `input`'s model and version. */
export function buildDeclaration(input: DeclarationInput): DeclarationDraft {
  const { model, version, profile } = input;
  const object =
    `${model.name} (model ${model.id}), firmware ${version}, ` +
    `units whose serial numbers begin ${model.serialPrefix}-`;
  const { category, procedure } = CATEGORY[model.riskClass];
  return {
    status: 'DRAFT',
    regulation: 'Regulation (EU) 2024/2847 (Cyber Resilience Act)',
    product: { name: model.name, modelId: model.id, version, serialPrefix: model.serialPrefix },
    manufacturer: { name: profile.maker ?? TO_COMPLETE, address: model.documentation?.postalAddress ?? TO_COMPLETE },
    soleResponsibility: 'The manufacturer alone is responsible for issuing this declaration.',
    object,
    conformity:
      'The object described above meets the essential cybersecurity requirements of Regulation (EU) 2024/2847, ' +
      'Annex I, Parts I and II.',
    otherLegislation: `${TO_COMPLETE}: other Union harmonisation legislation the product falls under`,
    standards: [
      'ETSI EN 303 645 V2.1.1 (the audit maps its evidence to every provision)',
      'EN 18031-1, -2 and -3 (each requirement decided in the audit report)',
      `${TO_COMPLETE}: which of these are harmonised or common specifications for this declaration`,
    ],
    category,
    procedure: `${procedure}; ${TO_COMPLETE}: the procedure followed`,
    notifiedBody: `${TO_COMPLETE}: name, number and certificate, where a notified body took part`,
    evidence: [
      'the risk register (risk-register.html) and the Annex I Part I table (annex-i.html)',
      input.audit === undefined
        ? 'no audit report'
        : `the audit report of ${input.audit.generatedAt} (SHA-256 ${input.audit.sha256.slice(0, 16)}...)`,
      `${input.sbomCount} software bill(s) of materials`,
    ],
    publishedAt: model.documentation?.declarationOfConformityUrl ?? TO_COMPLETE,
    signature: {
      place: TO_COMPLETE,
      date: TO_COMPLETE,
      name: TO_COMPLETE,
      function: TO_COMPLETE,
      signature: TO_COMPLETE,
    },
  };
}
