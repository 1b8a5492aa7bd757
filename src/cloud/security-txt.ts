/**
 * `/.well-known/security.txt` (RFC 9116): where to report a vulnerability, the disclosure policy,
 * the languages reports may be written in, the file's canonical URLs and when it expires. Pure:
 * the origins and the time are arguments.
 *
 * @example
 * renderSecurityTxt(config.securityTxt, ['https://cloud.example.com'], Date.now());
 */
import type { SecurityTxtConfig } from './security-config.ts';

/** The intake page, the default contact. */
export const INTAKE_PAGE = '/security/report';
/** The cloud's own policy page, the default policy. */
export const POLICY_PAGE = '/security/policy';
const DAY_MS = 86_400_000;

/** RFC 9116's date-time form: RFC 3339 in UTC without fractions. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The file for a cloud reachable at `origins` ('https://host[:port]', the first preferred): one
 * Canonical per origin, Contact and Policy from the config or the cloud's own pages, Expires
 * `expiresInDays` after `now`.
 */
export function renderSecurityTxt(c: SecurityTxtConfig, origins: readonly string[], now: number): string {
  const first = origins[0]!;
  const contacts = c.contact.length ? c.contact : [`${first}${INTAKE_PAGE}`];
  const lines = [
    '# Report a security vulnerability in our products or in this service here.',
    ...contacts.map((uri) => `Contact: ${uri}`),
    `Expires: ${rfc3339(now + c.expiresInDays * DAY_MS)}`,
    `Policy: ${c.policy ?? `${first}${POLICY_PAGE}`}`,
    `Preferred-Languages: ${c.preferredLanguages.join(', ')}`,
    ...origins.map((o) => `Canonical: ${o}/.well-known/security.txt`),
    // CSAF 2.0, requirement 8: where the provider's metadata is.
    `CSAF: ${first}/.well-known/csaf/provider-metadata.json`,
  ];
  return lines.join('\n') + '\n';
}
