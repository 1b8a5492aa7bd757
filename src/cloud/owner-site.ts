/** What the owner API's routes share: the store, the accounts and devices logic, the forms' proof. */
import type { PreSessionForms, SurfaceEvent, WebRequest } from '../web/index.ts';
import type { CloudStore } from './store.ts';
import type { OwnerAccounts } from './owner-accounts.ts';
import type { OwnerDevices } from './owner-devices.ts';
import type { Households } from './household.ts';
import type { RevokeOutcome } from './revocation-sql.ts';
import type { MakerSessions } from './maker-session.ts';
import type { SecurityConfig } from './security-config.ts';

/** What the owner API's routes share. */
export interface OwnerSite {
  readonly store: CloudStore;
  readonly accounts: OwnerAccounts;
  readonly devices: OwnerDevices;
  /** Invitations, roles and removal of the people of an owner's household. */
  readonly households: Households;
  /** The CSRF proof of the login and register forms. */
  readonly forms: PreSessionForms;
  readonly log: (message: string) => void;
  /** SHA-256 (hex) of the maker's API token; absent or null: the maker's routes answer 404. */
  readonly makerTokenSha256?: string | null;
  /** Revokes a unit or a certificate for the maker (src/cloud/revocation-enforcer.ts). */
  readonly revoke: (
    input: { serial?: unknown; certificate?: unknown; reason?: unknown },
    by: string,
  ) => Promise<RevokeOutcome>;
  /** security.txt, the disclosure intake and the CSAF provider's settings. */
  readonly security: SecurityConfig;
  /** The public host names (with port when not 443) the cloud is reached at; empty: the request's Host. */
  readonly publicHosts: readonly string[];
  /** The maker's sign-in and sessions for the maker pages. */
  readonly maker: MakerSessions;
  /** The CSRF proof of the maker's sign-in form (no session yet). */
  readonly makerForms: PreSessionForms;
  /** The CSRF proof of the public disclosure form. */
  readonly reportForms: PreSessionForms;
  /** Journals an event about a request (the disclosure intake's attempts). */
  readonly record: (req: WebRequest, event: SurfaceEvent) => void;
  /** The folder of published security facts records (facts-records.ts); absent: none is served. */
  readonly factsDir?: string;
}
