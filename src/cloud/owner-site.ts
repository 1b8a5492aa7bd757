/** What the owner API's routes share: the store, the accounts and devices logic, the forms' proof. */
import type { PreSessionForms } from '../web/index.ts';
import type { CloudStore } from './store.ts';
import type { OwnerAccounts } from './owner-accounts.ts';
import type { OwnerDevices } from './owner-devices.ts';
import type { RevokeOutcome } from './revocation-sql.ts';

/** What the owner API's routes share. */
export interface OwnerSite {
  readonly store: CloudStore;
  readonly accounts: OwnerAccounts;
  readonly devices: OwnerDevices;
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
}
