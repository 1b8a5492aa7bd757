/**
 * NIST IR 8425 (2022), "Profile of the IoT Core Baseline for Consumer IoT Products": its ten
 * outcomes, the criteria the US Cyber Trust Mark is tested against. The report names the outcomes
 * but gives them no ids, so the ids below are slugs of the public names, not NIST identifiers.
 * Paraphrases are ours.
 */
import type { FrameworkProvision } from './framework-types.ts';

/** Name-based slugs of the ten outcomes, in the report's order (six technical, four non-technical). */
export const NIST_OUTCOME_IDS = [
  'asset-identification',
  'product-configuration',
  'data-protection',
  'interface-access-control',
  'software-update',
  'cybersecurity-state-awareness',
  'documentation',
  'information-and-query-reception',
  'information-dissemination',
  'product-education-and-awareness',
] as const;
/** The slug of a NIST IR 8425 outcome name, e.g. 'interface-access-control'. */
export type NistOutcomeId = (typeof NIST_OUTCOME_IDS)[number];

const TECHNICAL = 'technical';
const NON_TECHNICAL = 'non-technical';

/** The ten outcomes with their public names and our paraphrases. */
export const NIST_OUTCOMES: readonly FrameworkProvision<NistOutcomeId>[] = [
  {
    id: 'asset-identification',
    name: 'Asset Identification',
    paraphrase: 'The product and its components can be uniquely identified and inventoried.',
    group: TECHNICAL,
  },
  {
    id: 'product-configuration',
    name: 'Product Configuration',
    paraphrase:
      'The configuration can be changed, a secure default can be restored, and only authorised parties can ' +
      'change it.',
    group: TECHNICAL,
  },
  {
    id: 'data-protection',
    name: 'Data Protection',
    paraphrase: 'Data at rest and in transit is protected from unauthorised access and change, and can be deleted.',
    group: TECHNICAL,
  },
  {
    id: 'interface-access-control',
    name: 'Interface Access Control',
    paraphrase:
      'Local and network interfaces, and the protocols and services behind them, are reachable only by ' +
      'authorised people, services and components.',
    group: TECHNICAL,
  },
  {
    id: 'software-update',
    name: 'Software Update',
    paraphrase: 'Software can be updated by authorised parties only, through a secure and configurable mechanism.',
    group: TECHNICAL,
  },
  {
    id: 'cybersecurity-state-awareness',
    name: 'Cybersecurity State Awareness',
    paraphrase: 'The product can report its security state and detect cybersecurity incidents affecting it.',
    group: TECHNICAL,
  },
  {
    id: 'documentation',
    name: 'Documentation',
    paraphrase:
      'The maker writes down the security of the product across its life: design, components, support and ' +
      'end of support.',
    group: NON_TECHNICAL,
  },
  {
    id: 'information-and-query-reception',
    name: 'Information and Query Reception',
    paraphrase: 'The maker can receive security questions and vulnerability reports and act on them.',
    group: NON_TECHNICAL,
  },
  {
    id: 'information-dissemination',
    name: 'Information Dissemination',
    paraphrase:
      'The maker tells customers about security: the support period, updates, and vulnerabilities and their fixes.',
    group: NON_TECHNICAL,
  },
  {
    id: 'product-education-and-awareness',
    name: 'Product Education and Awareness',
    paraphrase: 'Customers are taught how to set up, use and maintain the product securely.',
    group: NON_TECHNICAL,
  },
];

/** Outcomes no control meets, with the reason (empty: every outcome is met by a control). */
export const NIST_OUT_OF_SCOPE: Readonly<Partial<Record<NistOutcomeId, string>>> = {};
