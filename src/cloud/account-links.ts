/**
 * The single-use links the cloud mails: address confirmation, password reset and household
 * invitation. A link's token is `<id>.<secret>`; the store keeps the id and the SHA-256 of the
 * secret, compared in constant time, so a copy of the database opens nothing. A token is refused
 * alike when it is unknown, used, expired, for another purpose or for another account.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AccountStateError } from './errors.ts';
import type { AccountTokenPurpose, AccountTokenRecord } from './accounts-sql.ts';
import type { CloudStore } from './store.ts';

/** How long each kind of link works, ms. */
export interface AccountLinkConfig {
  readonly verifyMs: number;
  /** A password reset link: short-lived. */
  readonly resetMs: number;
  readonly inviteMs: number;
}

/** The defaults: a day to confirm, 15 minutes to reset, a week to accept an invitation. */
export const defaultAccountLinkConfig: Readonly<AccountLinkConfig> = Object.freeze({
  verifyMs: 86_400_000,
  resetMs: 900_000,
  inviteMs: 604_800_000,
});

const TOKEN = /^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The one refusal for every bad link. */
export function invalidLink(): AccountStateError {
  return new AccountStateError(
    'ACCOUNT_TOKEN_INVALID',
    'this link does not work: it was used already, it expired, or it is for another account',
  );
}

/** Makes and stores a token; resolves with its text (for the mail only: never logged or stored). */
export async function issueLink(
  store: CloudStore,
  o: { accountId: string; purpose: AccountTokenPurpose; lifetimeMs: number; data?: Record<string, unknown> },
): Promise<string> {
  const id = randomBytes(12).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  const now = Date.now();
  const record: AccountTokenRecord = {
    id,
    secretSha256: sha256(secret),
    accountId: o.accountId,
    purpose: o.purpose,
    createdAt: now,
    expiresAt: now + o.lifetimeMs,
    usedAt: null,
    data: o.data ?? null,
  };
  await store.createAccountToken(record);
  return `${id}.${secret}`;
}

/**
 * The stored token `text` names, if it is for `purpose` (and `accountId` when given), unused and
 * unexpired; else the one refusal. Does not use it up: {@link spendLink} does.
 */
export async function checkLink(
  store: CloudStore,
  text: unknown,
  purpose: AccountTokenPurpose,
  accountId?: string,
): Promise<AccountTokenRecord> {
  const m = typeof text === 'string' ? TOKEN.exec(text.trim()) : null;
  if (!m) throw invalidLink();
  const t = await store.accountToken(m[1]!);
  const given = Buffer.from(sha256(m[2]!), 'hex');
  const stored = Buffer.from(t?.secretSha256 ?? sha256(''), 'hex');
  const same = given.length === stored.length && timingSafeEqual(given, stored);
  if (!t || !same || t.purpose !== purpose || t.usedAt !== null || t.expiresAt <= Date.now()) throw invalidLink();
  if (accountId !== undefined && t.accountId !== accountId) throw invalidLink();
  return t;
}

/** Uses the token up: only one of two concurrent uses wins; the other is refused. */
export async function spendLink(store: CloudStore, t: AccountTokenRecord): Promise<void> {
  if (!(await store.useAccountToken(t.id, Date.now()))) throw invalidLink();
}
