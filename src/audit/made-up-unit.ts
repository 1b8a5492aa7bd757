/**
 * A unit the auditor makes up for the cloud store's rules, run on an in-memory database: the real device and its
 * owner are never touched.
 */
import { randomBytes } from 'node:crypto';
import type { SqlStore } from '../cloud/index.ts';

/** Imports one made-up plug with a random certificate fingerprint whose claim code is `code`. */
export async function importMadeUpUnit(store: SqlStore, serial: string, code: string, now: number): Promise<void> {
  const { hashClaimCode } = await import('../identity/index.ts');
  await store.importUnits(
    [
      {
        serial,
        model: 'plug',
        deviceCertFingerprint: 'sha256:' + randomBytes(32).toString('hex'),
        claimCodeHash: hashClaimCode(serial, code),
        createdAt: new Date(now).toISOString(),
      },
    ],
    now,
  );
}
