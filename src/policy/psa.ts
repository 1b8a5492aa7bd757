/**
 * The PSA Certified 10 security goals (from the PSA Security Model, as published by PSA Certified),
 * which Level 1 assesses. The goals carry no public ids, so the ids below are slugs of their names.
 * Paraphrases are ours.
 */
import type { FrameworkProvision } from './framework-types.ts';

/** Name-based slugs of the ten goals, in the published order. */
export const PSA_GOAL_IDS = [
  'unique-identification',
  'security-lifecycle',
  'attestation',
  'secure-boot',
  'secure-update',
  'anti-rollback',
  'isolation',
  'interaction',
  'secure-storage',
  'cryptographic-services',
] as const;
/** The slug of a PSA Certified goal name, e.g. 'anti-rollback'. */
export type PsaGoalId = (typeof PSA_GOAL_IDS)[number];

/** The ten goals with their public names and our paraphrases. */
export const PSA_GOALS: readonly FrameworkProvision<PsaGoalId>[] = [
  {
    id: 'unique-identification',
    name: 'Unique Identification',
    paraphrase: 'Each device has its own identity that others can rely on.',
  },
  {
    id: 'security-lifecycle',
    name: 'Security Lifecycle',
    paraphrase: 'The device has security states (debug, production, decommissioned) that govern what it allows.',
  },
  {
    id: 'attestation',
    name: 'Attestation',
    paraphrase: 'The device can give signed evidence of its identity and security state.',
  },
  { id: 'secure-boot', name: 'Secure Boot', paraphrase: 'Only authorised software runs from power-on onwards.' },
  { id: 'secure-update', name: 'Secure Update', paraphrase: 'Only authenticated updates are installed.' },
  { id: 'anti-rollback', name: 'Anti-Rollback', paraphrase: 'Older, vulnerable software cannot be reinstalled.' },
  {
    id: 'isolation',
    name: 'Isolation',
    paraphrase: 'Trusted services are isolated from the rest of the software so a flaw elsewhere cannot reach them.',
  },
  {
    id: 'interaction',
    name: 'Interaction',
    paraphrase: 'Every interface is protected so that it cannot be used to bypass security.',
  },
  { id: 'secure-storage', name: 'Secure Storage', paraphrase: 'Secrets and keys at rest are protected.' },
  {
    id: 'cryptographic-services',
    name: 'Cryptographic Services',
    paraphrase: 'Cryptography comes from trusted, well-implemented services with sound algorithms.',
  },
];

/** Goals no control meets, with the reason. */
export const PSA_OUT_OF_SCOPE: Readonly<Partial<Record<PsaGoalId, string>>> = {
  attestation:
    'Bulwark runs on general-purpose Linux boards without a hardware root of trust, so it can sign no ' +
    'attestation token; the device certificate proves identity, not security state.',
  'secure-boot':
    "Verified boot is the platform's job (EN 303 645 5.7-1 is out of scope for the same reason); Bulwark " +
    'verifies what it installs, not what the bootloader starts.',
};
