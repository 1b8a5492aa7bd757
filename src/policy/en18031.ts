/**
 * EN 18031-1, -2 and -3 (the harmonised standards of the radio equipment directive's delegated act) as data: each
 * requirement's id, which parts carry it and a title in Bulwark's own words (the standards' text is not public, so
 * nothing here quotes it), which part applies to a product, and the facts about a product that the decision trees
 * (en18031-trees.ts) ask. The walker (en18031-walk.ts) answers the trees; the auditor (src/audit) gathers the evidence.
 *
 * @example
 *   const parts = en18031Parts(en18031Facts(profile, model)); // [{ part: 1, applies: true, ... }, ...]
 */
import type { ModelSpec } from '../models/index.ts';
import type { DeviceProfile } from './profile.ts';

/** A part of EN 18031: 1 internet-connected radio equipment, 2 personal data, 3 financial assets. */
export type En18031Part = 1 | 2 | 3;

/** The parts, in order. */
export const EN18031_PARTS: readonly En18031Part[] = [1, 2, 3];

/** One requirement: its id, the parts that carry it and what it asks, paraphrased. */
export interface En18031Requirement {
  readonly id: string;
  /** The mechanism family, e.g. 'ACM' (access control). */
  readonly family: string;
  readonly parts: readonly En18031Part[];
  /** What the requirement asks, in Bulwark's words. */
  readonly title: string;
}

/** The mechanism families, with their names in Bulwark's words. */
export const EN18031_FAMILIES: Readonly<Record<string, string>> = {
  ACM: 'access control',
  AUM: 'authentication',
  SUM: 'secure update',
  SSM: 'secure storage',
  SCM: 'secure communication',
  RLM: 'resilience',
  NMM: 'network monitoring',
  TCM: 'traffic control',
  CCK: 'confidential cryptographic keys',
  GEC: 'general equipment capabilities',
  CRY: 'cryptography',
  LGM: 'logging',
  DLM: 'deletion',
  UNM: 'user notification',
};

const ALL: readonly En18031Part[] = [1, 2, 3];
const P1: readonly En18031Part[] = [1];
const P2: readonly En18031Part[] = [2];
const P23: readonly En18031Part[] = [2, 3];
const P3: readonly En18031Part[] = [3];

const REQUIREMENTS: readonly (readonly [string, readonly En18031Part[], string])[] = [
  ['ACM-1', ALL, 'Assets that other entities can reach sit behind an access control'],
  ['ACM-2', ALL, 'The access control lets in only entities that are allowed'],
  ['ACM-3', P2, "Toys and childcare: a guardian decides what outside content a child's device reaches"],
  ['ACM-4', P2, 'Toys and childcare: a guardian can oversee how the child uses the device'],
  ['ACM-5', P2, "Toys and childcare: a guardian manages the child's privacy settings"],
  ['ACM-6', P2, "Toys and childcare: the guardian's controls cannot be bypassed by the child"],
  ['AUM-1-1', ALL, 'Access over a network interface is authenticated where it needs to be'],
  ['AUM-1-2', ALL, 'Access through a local user interface is authenticated where it needs to be'],
  ['AUM-2', ALL, 'Authentication checks at least one factor: something known, held or inherent'],
  ['AUM-3', ALL, 'Authentication checks every property of the credential that matters (validity, binding)'],
  ['AUM-4', ALL, 'An authorised entity can change the credential'],
  ['AUM-5-1', ALL, 'A password set at the factory is unique to the unit and strong, or must be changed at first use'],
  ['AUM-5-2', ALL, 'Other passwords are chosen or generated to a sound strength rule'],
  ['AUM-6', ALL, 'Repeated guessing of credentials is slowed down or stopped'],
  ['SUM-1', ALL, 'The software can be updated'],
  ['SUM-2', ALL, 'An update is checked for origin and integrity before it is installed'],
  ['SUM-3', ALL, 'Security updates are installed automatically unless the owner says otherwise'],
  ['SSM-1', ALL, 'Assets kept on the unit are kept in protected storage'],
  ['SSM-2', ALL, 'Stored assets cannot be altered unnoticed'],
  ['SSM-3', ALL, 'Stored secrets cannot be read by those who should not'],
  ['SCM-1', ALL, 'Assets sent over a network travel on a protected channel'],
  ['SCM-2', ALL, 'The channel proves where a message came from and that it was not altered'],
  ['SCM-3', ALL, 'The channel keeps what it carries secret'],
  ['SCM-4', ALL, 'The channel refuses messages played back a second time'],
  ['RLM-1', P1, 'The unit withstands floods and outages without harming the network'],
  ['NMM-1', P1, 'Network equipment watches its traffic for attacks'],
  ['TCM-1', P1, 'Network equipment limits the traffic it passes on'],
  ['CCK-1', ALL, 'Secret keys are strong enough and unique per unit'],
  ['CCK-2', ALL, 'Secret keys are made with sound randomness and methods'],
  ['CCK-3', ALL, 'Secret keys never leave the protection they are kept in'],
  ['GEC-1', ALL, 'The software ships without known exploitable vulnerabilities and its parts are listed'],
  ['GEC-2', ALL, 'Only the services the product needs are reachable, and they give nothing away'],
  ['GEC-3', ALL, 'Optional services are off until the owner turns them on'],
  ['GEC-4', ALL, 'Every exposed interface and service is documented'],
  ['GEC-5', ALL, 'No interface is left that the product does not need (debug ports, consoles)'],
  ['GEC-6', ALL, 'Input from outside is checked before it is used'],
  ['GEC-7', P23, 'The user is told how to set the product up and use it securely, and what it does with data'],
  ['GEC-8', P3, 'Financial operations: the user sees and confirms what a transaction does'],
  ['CRY-1', ALL, 'Cryptography follows current good practice'],
  ['LGM-1', P23, 'Security-relevant events are recorded'],
  ['LGM-2', P23, 'The record survives restarts, is bounded and cannot be washed out'],
  ['LGM-3', P23, 'Each record says when, from where and with what result'],
  ['LGM-4', P23, 'The record itself holds no secrets and no sensed content'],
  ['DLM-1', P2, 'The user can delete their data from the unit'],
  ['UNM-1', P2, 'The user can see the events that concern their data and the unit'],
  ['UNM-2', P2, 'The user is told what an update changes before it interrupts them'],
];

/** Every requirement of the three parts, in the order of the standards' tables of contents. */
export const EN18031_REQUIREMENTS: readonly En18031Requirement[] = REQUIREMENTS.map(([id, parts, title]) => ({
  id,
  family: id.slice(0, 3),
  parts,
  title,
}));

/** The ids of the requirements one part carries. */
export function en18031RequirementIds(part: En18031Part): string[] {
  return EN18031_REQUIREMENTS.filter((r) => r.parts.includes(part)).map((r) => r.id);
}

/** The facts about a product that the trees ask, beyond the audit's checks. */
export const EN18031_FACT_IDS = [
  'internet-connected',
  'personal-data',
  'financial-assets',
  'web-admin',
  'hub-link',
  'cloud-link',
  'sensitive-sensors',
  'owner-sets-password',
  'local-user-interface',
  'physical-presence-needed',
  'network-equipment',
  'toy-or-childcare',
  'guardian-controls',
  'transaction-confirmation',
] as const;
/** A fact the trees ask, e.g. 'web-admin'. */
export type En18031FactId = (typeof EN18031_FACT_IDS)[number];

/** A fact's value and where it comes from; a fact left out is not known. */
export interface En18031Fact {
  readonly value: boolean;
  readonly source: string;
}

/** The facts known about a product. */
export type En18031Facts = Partial<Readonly<Record<En18031FactId, En18031Fact>>>;

/**
 * The facts that follow from the profile and, when known, the unit's model. A fact neither states is left out, so a
 * tree that needs it ends "not tested" rather than on a guess.
 */
export function en18031Facts(profile: DeviceProfile, model?: ModelSpec): En18031Facts {
  const nets = profile.networkModels;
  const sensitive = profile.sensors.some((s) => s === 'camera' || s === 'microphone');
  const facts: Partial<Record<En18031FactId, En18031Fact>> = {
    'internet-connected': {
      value: nets.length > 0,
      source: `profile networkModels [${nets.join(', ')}]: IP over the owner's network, directly or via a hub`,
    },
    'personal-data': {
      value: profile.personalData || sensitive,
      source: `profile personalData: ${String(profile.personalData)}; sensors [${profile.sensors.join(', ')}]`,
    },
    'financial-assets': {
      value: profile.financialAssets === true,
      source: `profile financialAssets: ${String(profile.financialAssets ?? false)} (false when not stated)`,
    },
    'web-admin': { value: nets.includes('listening'), source: 'profile networkModels has listening' },
    'hub-link': { value: nets.includes('hub'), source: 'profile networkModels has hub' },
    'cloud-link': { value: nets.includes('cloud'), source: 'profile networkModels has cloud' },
    'sensitive-sensors': { value: sensitive, source: `profile sensors [${profile.sensors.join(', ')}]` },
  };
  if (model !== undefined) Object.assign(facts, modelFacts(model));
  return facts;
}

/** What the model of a Bulwark unit settles: its first password, its button, and what kind of product it is. */
function modelFacts(model: ModelSpec): En18031Facts {
  const kinds = [...new Set(model.capabilities.map((c) => c.kind))].join(', ');
  return {
    'owner-sets-password': {
      value: model.initialPasswordMode === 'setup',
      source: `model '${model.id}' initialPasswordMode: ${model.initialPasswordMode}`,
    },
    'local-user-interface': {
      value: true,
      source: `model '${model.id}' is a Bulwark unit: its one local control is the setup button`,
    },
    'physical-presence-needed': {
      value: true,
      source: 'the button opens a pairing window or resets the unit only when pressed on the unit itself',
    },
    'network-equipment': {
      value: false,
      source: `model '${model.id}' capabilities are ${kinds}: none forwards other equipment's traffic`,
    },
    'toy-or-childcare': {
      value: false,
      source: `model '${model.id}' (risk class ${model.riskClass}) is no toy and no childcare equipment`,
    },
  };
}

/** Whether a part applies to the product, from the facts, and why. */
export interface En18031PartScope {
  readonly part: En18031Part;
  /** The fact that decides it. */
  readonly fact: En18031FactId;
  /** The question the fact answers. */
  readonly question: string;
}

/** Which fact decides whether each part applies. */
export const EN18031_PART_SCOPES: Readonly<Record<En18031Part, En18031PartScope>> = {
  1: { part: 1, fact: 'internet-connected', question: 'Is it radio equipment that can reach the internet?' },
  2: { part: 2, fact: 'personal-data', question: 'Does it process personal data (or sense people)?' },
  3: { part: 3, fact: 'financial-assets', question: 'Does it handle money or virtual currency?' },
};
