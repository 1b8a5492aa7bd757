/**
 * EU Cyber Resilience Act (Regulation (EU) 2024/2847) Annex II, "Information and instructions to
 * the user": points 1 to 9, point 8 with its sub-points (a) to (f), numbered as in the regulation.
 * The ids are that numbering; paraphrases are ours.
 */
import type { FrameworkProvision } from './framework-types.ts';

/** The Annex II points, in the regulation's order. */
export const CRA_ANNEX2_ITEM_IDS = [
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8(a)',
  '8(b)',
  '8(c)',
  '8(d)',
  '8(e)',
  '8(f)',
  '9',
] as const;
/** An Annex II point such as '7' or '8(e)'. */
export type CraAnnex2ItemId = (typeof CRA_ANNEX2_ITEM_IDS)[number];

const INSTRUCTIONS = '8 Detailed instructions';

/** Each Annex II point with our paraphrase. */
export const CRA_ANNEX2_ITEMS: readonly FrameworkProvision<CraAnnex2ItemId>[] = [
  { id: '1', name: 'Manufacturer', paraphrase: "The maker's name or trademark, postal and e-mail or digital contact." },
  {
    id: '2',
    name: 'Vulnerability contact',
    paraphrase: 'The single point of contact for vulnerability reports and where the disclosure policy is.',
  },
  { id: '3', name: 'Product identification', paraphrase: 'Name, type and whatever else identifies the product.' },
  {
    id: '4',
    name: 'Intended purpose',
    paraphrase: 'What the product is for, its security environment, essential functions and security properties.',
  },
  {
    id: '5',
    name: 'Foreseeable risks',
    paraphrase: 'Known or foreseeable circumstances, misuse included, that may lead to significant security risks.',
  },
  { id: '6', name: 'Declaration of conformity', paraphrase: 'Where applicable, the URL of the EU declaration.' },
  {
    id: '7',
    name: 'Support period',
    paraphrase: 'The kind of security support offered and the end date of the support period.',
  },
  {
    id: '8(a)',
    name: 'Secure use',
    paraphrase: 'What to do at first commissioning and throughout the product life to use it securely.',
    group: INSTRUCTIONS,
  },
  {
    id: '8(b)',
    name: 'Changes and data security',
    paraphrase: 'How changes to the product can affect the security of data.',
    group: INSTRUCTIONS,
  },
  {
    id: '8(c)',
    name: 'Installing updates',
    paraphrase: 'How security-relevant updates can be installed.',
    group: INSTRUCTIONS,
  },
  {
    id: '8(d)',
    name: 'Secure decommissioning',
    paraphrase: 'How to take the product out of use securely, including removing user data.',
    group: INSTRUCTIONS,
  },
  {
    id: '8(e)',
    name: 'Turning automatic updates off',
    paraphrase: 'How to turn off the default automatic installation of security updates (Annex I Part I 2(c)).',
    group: INSTRUCTIONS,
  },
  {
    id: '8(f)',
    name: 'Integrator information',
    paraphrase: 'For products meant to be built into others, what the integrator needs to meet Annex I and VII.',
    group: INSTRUCTIONS,
  },
  {
    id: '9',
    name: 'SBOM location',
    paraphrase: 'If the maker offers the SBOM to users, where it can be found.',
  },
];

/** Points no control checks, with the reason. */
export const CRA_ANNEX2_OUT_OF_SCOPE: Readonly<Partial<Record<CraAnnex2ItemId, string>>> = {
  '1':
    "The maker's name and addresses are the maker's own documentation: the technical file's user information " +
    "carries them (the profile's maker and contact, the model's postal address) and the facts record names the " +
    'maker; no check of the device can verify an address.',
  '4':
    'The intended purpose and security environment are written by the maker; the auditor cannot judge them ' +
    'from the device.',
  '5':
    "Foreseeable misuse is the maker's own statement (the model's documentation), carried into the technical " +
    "file's user information and risk register; no check of the device can judge it.",
  '6':
    "The declaration of conformity is the maker's own act: the technical file drafts one (marked DRAFT) and its " +
    "user information names the model's declaration URL; the auditor cannot check that the maker signed it.",
  '8(b)': 'How changes affect data security is prose for the user manual; no check reads it.',
  '8(f)': 'Bulwark units are finished consumer products, not components for integration into other products.',
};
