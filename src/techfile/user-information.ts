/**
 * The information and instructions for the user that CRA Annex II lists, gathered from where each
 * piece lives: the model's documentation (what only the maker can write), the device profile (the
 * maker's name and security contact), the model (name, serial prefix, support end date), the policy
 * decision (the security properties the product has) and the release repository (the SBOMs). Nothing
 * is written twice. A point with any piece missing stops the build, naming the point and the piece. Pure.
 */
import type { ModelSpec } from '../models/index.ts';
import { CRA_ANNEX2_ITEMS, type CraAnnex2ItemId, type Decision, type DeviceProfile } from '../policy/index.ts';
import { TechfileError } from './errors.ts';

/** Where the technical file holds an SBOM, and where the update repository serves it. */
export interface SbomReference {
  /** SHA-256 of the image it describes. */
  readonly imageSha256: string;
  /** Its path under the repository's targets/ folder. */
  readonly repositoryPath: string;
  /** Its path in the technical file. */
  readonly path: string;
}

/** What the user information is built from. */
export interface UserInformationInput {
  readonly model: ModelSpec;
  readonly version: string;
  readonly profile: DeviceProfile;
  readonly decision: Decision;
  readonly sboms: readonly SbomReference[];
  /** The support end the release signed (an extension may have moved it past the model's own). */
  readonly signedSupportEnd?: string;
}

/** One statement of a point: a label and its text (or list). */
export interface UserInformationEntry {
  readonly label: string;
  readonly text: string | readonly string[];
  /** Where it comes from, e.g. 'model documentation.intendedPurpose'. */
  readonly source: string;
}

/** One Annex II point with its information. */
export interface UserInformationPoint {
  readonly id: CraAnnex2ItemId;
  readonly name: string;
  /** What the point asks for (our paraphrase). */
  readonly asks: string;
  readonly entries: readonly UserInformationEntry[];
}

/** The whole user information of one model and version. */
export interface UserInformation {
  readonly modelId: string;
  readonly modelName: string;
  readonly version: string;
  readonly points: readonly UserInformationPoint[];
}

/** A piece of a point: present, or missing under this name. */
type Piece = { readonly label: string; readonly text: string | readonly string[] | undefined; readonly source: string };

const docPiece = (model: ModelSpec, label: string, key: keyof NonNullable<ModelSpec['documentation']>): Piece => ({
  label,
  text: model.documentation?.[key],
  source: `model documentation.${key}`,
});

const SUPPORT_KIND =
  'Security updates, free of charge, signed by the manufacturer and delivered through the update repository; ' +
  'installed automatically unless the owner turns that off.';
const DISCLOSURE_POLICY =
  'The product security policy in this file (security-policy.html, section 4, "Reporting a vulnerability"); ' +
  'each unit serves the same contact at /.well-known/security.txt (RFC 9116).';

/** The pieces of each Annex II point. */
const POINTS: Readonly<Record<CraAnnex2ItemId, (i: UserInformationInput) => Piece[]>> = {
  '1': ({ model, profile }) => [
    { label: 'Manufacturer', text: profile.maker, source: 'device profile: maker' },
    docPiece(model, 'Postal address', 'postalAddress'),
    { label: 'Contact', text: profile.securityContact, source: 'device profile: securityContact' },
  ],
  '2': ({ profile }) => [
    { label: 'Report vulnerabilities to', text: profile.securityContact, source: 'device profile: securityContact' },
    { label: 'Disclosure policy', text: DISCLOSURE_POLICY, source: 'product security policy' },
  ],
  '3': ({ model, version }) => [
    { label: 'Product', text: model.name, source: 'model: name' },
    { label: 'Model', text: model.id, source: 'model: id' },
    { label: 'Firmware version', text: version, source: 'the version this file is for' },
    { label: 'Serial numbers begin with', text: `${model.serialPrefix}-`, source: 'model: serialPrefix' },
  ],
  '4': ({ model, decision }) => [
    docPiece(model, 'Intended purpose', 'intendedPurpose'),
    docPiece(model, 'Security environment', 'securityEnvironment'),
    docPiece(model, 'Essential functions', 'essentialFunctions'),
    {
      label: 'Security properties',
      text: decision.required.map((r) => r.control.title),
      source: 'policy decision: the controls this product requires',
    },
  ],
  '5': ({ model }) => [docPiece(model, 'Known or foreseeable misuse', 'foreseeableMisuse')],
  '6': ({ model }) => [docPiece(model, 'EU declaration of conformity', 'declarationOfConformityUrl')],
  '7': ({ model, signedSupportEnd }) => [
    { label: 'Kind of support', text: SUPPORT_KIND, source: 'the product: its update path' },
    signedSupportEnd === undefined
      ? { label: 'Support ends on', text: model.supportPeriod.endsOn, source: 'model: supportPeriod.endsOn' }
      : { label: 'Support ends on', text: signedSupportEnd, source: 'release: supportEndsOn signed with the image' },
    ...(model.supportPeriod.shorterExpectedUse === undefined
      ? []
      : [{ label: 'Why shorter than five years', text: model.supportPeriod.shorterExpectedUse, source: 'model' }]),
  ],
  '8(a)': ({ model }) => [
    docPiece(model, 'Putting it into service', 'secureCommissioning'),
    docPiece(model, 'During its life', 'secureLifetimeUse'),
  ],
  '8(b)': ({ model }) => [docPiece(model, 'Changes and the security of data', 'changesAndDataSecurity')],
  '8(c)': ({ model }) => [docPiece(model, 'Installing security updates', 'installingUpdates')],
  '8(d)': ({ model }) => [docPiece(model, 'Taking it out of use', 'decommissioning')],
  '8(e)': ({ model }) => [docPiece(model, 'Turning automatic updates off', 'turningOffAutomaticUpdates')],
  '8(f)': ({ model }) => [docPiece(model, 'Building it into another product', 'integration')],
  '9': ({ sboms }) => [
    {
      label: 'Software bill of materials',
      text:
        sboms.length === 0
          ? undefined
          : sboms.map(
              (s) =>
                `image ${s.imageSha256.slice(0, 16)}...: the update repository serves it at targets/` +
                `${s.repositoryPath}; this file holds it at ${s.path}`,
            ),
      source: 'the release repository given (--release): the SBOM published beside each image of this version',
    },
  ],
};

const present = (text: Piece['text']): text is string | readonly string[] =>
  text !== undefined && (typeof text === 'string' ? text.trim() !== '' : text.length > 0);

/**
 * The Annex II user information of one model and version.
 * @throws TechfileError 'TECHFILE_ANNEX2_MISSING' naming every point with a piece missing, and the piece
 */
export function buildUserInformation(input: UserInformationInput): UserInformation {
  const gaps: { id: string; text: string }[] = [];
  const points = CRA_ANNEX2_ITEMS.map((item): UserInformationPoint => {
    const pieces = POINTS[item.id](input);
    for (const p of pieces.filter((x) => !present(x.text)))
      gaps.push({ id: item.id, text: `${item.id} ${item.name}: ${p.label} is missing (${p.source})` });
    const entries = pieces.filter((p) => present(p.text)) as UserInformationEntry[];
    return { id: item.id, name: item.name, asks: item.paraphrase, entries };
  });
  if (gaps.length > 0) {
    throw new TechfileError(
      'TECHFILE_ANNEX2_MISSING',
      `CRA Annex II points without their information: ${gaps.map((g) => g.text).join(' | ')}`,
      { items: [...new Set(gaps.map((g) => g.id))] },
    );
  }
  const { model, version } = input;
  return { modelId: model.id, modelName: model.name, version, points };
}

/** Which Annex II point each field of the model's documentation serves (for readers and tests). */
export const DOCUMENTATION_POINTS: Readonly<Record<keyof NonNullable<ModelSpec['documentation']>, CraAnnex2ItemId>> = {
  postalAddress: '1',
  intendedPurpose: '4',
  securityEnvironment: '4',
  essentialFunctions: '4',
  foreseeableMisuse: '5',
  declarationOfConformityUrl: '6',
  secureCommissioning: '8(a)',
  secureLifetimeUse: '8(a)',
  changesAndDataSecurity: '8(b)',
  installingUpdates: '8(c)',
  decommissioning: '8(d)',
  turningOffAutomaticUpdates: '8(e)',
  integration: '8(f)',
};
