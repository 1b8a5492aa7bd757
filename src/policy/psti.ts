/**
 * The UK PSTI security requirements (Schedule 1 of SI 2023/1007), paraphrased, with the
 * EN 303 645 V2.1.1 provisions that Schedule 2 deems sufficient (their coverage by the catalogue
 * is in coverage.ts).
 */
import type { EtsiProvisionId } from './etsi.ts';

/** The three PSTI requirement ids. */
export const PSTI_REQUIREMENT_IDS = ['PSTI-1', 'PSTI-2', 'PSTI-3'] as const;
/** A PSTI requirement id: PSTI-n is Schedule 1, paragraph n. */
export type PstiRequirementId = (typeof PSTI_REQUIREMENT_IDS)[number];

/** One PSTI requirement. */
export interface PstiRequirement {
  readonly id: PstiRequirementId;
  readonly title: string;
  readonly paraphrase: string;
  /** EN 303 645 provisions whose fulfilment Schedule 2 treats as meeting this requirement. */
  readonly deemedBy: readonly EtsiProvisionId[];
}

/** Schedule 1 of the PSTI regulations. */
export const PSTI_REQUIREMENTS: readonly PstiRequirement[] = [
  {
    id: 'PSTI-1',
    title: 'Passwords',
    paraphrase:
      'Outside the factory-default state, passwords are unique per product or set by the user; unique ones are ' +
      'not incremental, not derived from public information or product identifiers (unless through an accepted ' +
      'keyed hash or encryption), and not otherwise guessable.',
    deemedBy: ['5.1-1', '5.1-2'],
  },
  {
    id: 'PSTI-2',
    title: 'Information on how to report security issues',
    paraphrase:
      'At least one point of contact for reporting security issues is published, with when the reporter will ' +
      'get an acknowledgement and status updates until resolution; free, in English, without asking for the ' +
      "reporter's personal data.",
    deemedBy: ['5.2-1'],
  },
  {
    id: 'PSTI-3',
    title: 'Information on minimum security update periods',
    paraphrase:
      'The defined support period (an end date until which security updates are provided at least) is ' +
      'published clearly and prominently; an extension is published promptly and a reduction is not allowed.',
    deemedBy: ['5.3-13'],
  },
];
