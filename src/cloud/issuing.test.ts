import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { IssuingAuthority, validateIssuingConfig } from './issuing.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';
import { createCertificateRequest } from '../identity/index.ts';

test('issuing settings out of their safe range are refused', () => {
  for (const bad of [{ operationalDays: 0 }, { operationalDays: 826 }, { caYears: 1 }, { minEnrolIntervalMs: 10 }])
    assert.throws(() => validateIssuingConfig(bad), { code: 'CLOUD_CONFIG_INVALID' });
  assert.equal(validateIssuingConfig().operationalDays, 365);
});

test('two instances on one store share generation 1; a rotation issues from 2 and keeps trusting 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-issuing-'));
  const store = await SqlStore.open(openSqliteDriver({ path: join(dir, 'cloud.db') }));
  try {
    const [one, two] = await Promise.all([
      IssuingAuthority.open(store, { maker: 'Maker' }),
      IssuingAuthority.open(store, { maker: 'Maker' }),
    ]);
    await Promise.all([one.reload(), two.reload()]);
    assert.deepEqual(one.trustedPems(), two.trustedPems(), 'one generation, whoever made it');
    assert.equal(one.trustedPems().length, 1);
    assert.equal(await one.rotate(5_000), 2);
    assert.equal(await store.fleetRenewalBefore(), 5_000);
    assert.equal(await two.reload(), true, 'the other instance sees the rotation');
    assert.equal(two.trustedPems().length, 2);
    const request = await createCertificateRequest('PLG-ABCDEFGH23');
    const issued = await two.issue('PLG-ABCDEFGH23', request.csrPem, 'renewal');
    assert.equal(issued.generation, 2);
    assert.match(new X509Certificate(issued.certPem).issuer, /Maker Operational CA 2/);
    assert.equal((await store.operationalCertificates('PLG-ABCDEFGH23', 5))[0]?.fingerprint, issued.fingerprint);
  } finally {
    await store.close();
  }
});
