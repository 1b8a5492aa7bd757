/**
 * EU Cyber Resilience Act (Regulation (EU) 2024/2847) Annex I requirement ids, with our
 * paraphrases. Part I is about the product, Part II about the manufacturer's handling of
 * vulnerabilities. Numbering follows the final text: Part I (1) and (2)(a)-(m).
 */

/** Every Annex I requirement id the catalogue may cite. */
export const CRA_REQUIREMENTS = {
  'I.1': 'Security appropriate to the risks',
  'I.2(a)': 'No known exploitable vulnerabilities when placed on the market',
  'I.2(b)': 'Secure by default configuration, with a reset to the original state',
  'I.2(c)':
    'Vulnerabilities fixed by updates; automatic security updates on by default, with opt-out, notice and postponement',
  'I.2(d)': 'Protection from unauthorised access, and reporting of possible unauthorised access',
  'I.2(e)': 'Confidentiality of stored and transmitted data',
  'I.2(f)': 'Integrity of data, commands, programs and configuration, with reporting of corruption',
  'I.2(g)': 'Data minimisation',
  'I.2(h)': 'Availability of essential functions, also during and after incidents',
  'I.2(i)': 'Limited harm to other devices and networks',
  'I.2(j)': 'Limited attack surface, external interfaces included',
  'I.2(k)': 'Exploitation mitigation to reduce the impact of incidents',
  'I.2(l)': 'Recording and monitoring of security-relevant activity, with user opt-out',
  'I.2(m)': 'Users can delete all data and settings securely, and move their data',
  'II.1': 'Components and vulnerabilities identified and documented, with a machine-readable SBOM',
  'II.2': 'Vulnerabilities remediated without delay, security fixes shipped separately where feasible',
  'II.3': 'Regular security tests and reviews',
  'II.4': 'Fixed vulnerabilities disclosed publicly once the fix is available',
  'II.5': 'A coordinated vulnerability disclosure policy in force',
  'II.6': 'A contact address for reporting vulnerabilities',
  'II.7': 'Secure distribution of updates, automatic where applicable',
  'II.8': 'Security updates shipped without delay and free of charge, with advisories',
} as const;

/** A CRA Annex I requirement id such as 'I.2(c)' or 'II.5'. */
export type CraRequirementId = keyof typeof CRA_REQUIREMENTS;

/** Annex I requirements no control meets, with the reason. */
export const CRA_ANNEX1_OUT_OF_SCOPE: Readonly<Partial<Record<CraRequirementId, string>>> = {
  'I.1':
    'Security appropriate to the risks is a judgement on the whole product; it rests on every control together ' +
    "and on the risk assessment (the technical file's risk register, bulwark policy techfile), not on one control.",
};
