/**
 * The ioXt Alliance security pledge: its eight principles as the Alliance publishes them. The
 * pledge numbers none of them, so the ids below are slugs of their names. Paraphrases are ours.
 */
import type { FrameworkProvision } from './framework-types.ts';

/** Name-based slugs of the eight principles, in the published order. */
export const IOXT_PRINCIPLE_IDS = [
  'no-universal-password',
  'secured-interfaces',
  'proven-cryptography',
  'security-by-default',
  'verified-software',
  'automatically-applied-updates',
  'vulnerability-reporting-program',
  'security-expiration-date',
] as const;
/** The slug of an ioXt pledge principle, e.g. 'no-universal-password'. */
export type IoxtPrincipleId = (typeof IOXT_PRINCIPLE_IDS)[number];

/** The eight principles with their public names and our paraphrases. */
export const IOXT_PRINCIPLES: readonly FrameworkProvision<IoxtPrincipleId>[] = [
  {
    id: 'no-universal-password',
    name: 'No Universal Password',
    paraphrase: 'No password is shared by all units; operation needs unique credentials.',
  },
  { id: 'secured-interfaces', name: 'Secured Interfaces', paraphrase: 'Every interface of the product is secured.' },
  {
    id: 'proven-cryptography',
    name: 'Proven Cryptography',
    paraphrase: 'Strong, updatable cryptography built on open, peer-reviewed methods and algorithms.',
  },
  { id: 'security-by-default', name: 'Security by Default', paraphrase: 'Security features are on out of the box.' },
  { id: 'verified-software', name: 'Verified Software', paraphrase: 'Only signed software updates are accepted.' },
  {
    id: 'automatically-applied-updates',
    name: 'Automatically Applied Updates',
    paraphrase: 'Security updates are applied automatically and in good time.',
  },
  {
    id: 'vulnerability-reporting-program',
    name: 'Vulnerability Reporting Program',
    paraphrase: 'The maker runs a programme that takes vulnerability reports and answers them in good time.',
  },
  {
    id: 'security-expiration-date',
    name: 'Security Expiration Date',
    paraphrase: 'The maker says openly how long security updates will be provided.',
  },
];

/** Principles no control meets, with the reason (empty: every principle is met by a control). */
export const IOXT_OUT_OF_SCOPE: Readonly<Partial<Record<IoxtPrincipleId, string>>> = {};
