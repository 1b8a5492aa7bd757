import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  hashPassword,
  verifyPassword,
  parsePasswordHash,
  validateArgon2Params,
  normalisePassword,
  DEFAULT_ARGON2_PARAMS,
  HashLimiter,
} from './index.ts';

// From the argon2 reference implementation's test suite (argon2id, v=0x13, password "password", salt "somesalt").
const REFERENCE_PHC = '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';

test('verifies the reference implementation test vector', async () => {
  assert.deepEqual(await verifyPassword('password', REFERENCE_PHC), { ok: true, needsRehash: true }); // 8-byte salt
  assert.equal((await verifyPassword('passwore', REFERENCE_PHC)).ok, false);
});

test('hashes to a PHC string with the default argon2id parameters and a 16-byte salt', async () => {
  const phc = await hashPassword('correct horse battery staple');
  assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const parsed = parsePasswordHash(phc);
  assert.deepEqual({ ...parsed.params }, { ...DEFAULT_ARGON2_PARAMS });
  assert.equal(parsed.salt.length, 16);
  assert.equal(parsed.hash.length, 32);
});

test('accepts the right password and refuses a wrong one', async () => {
  const phc = await hashPassword('correct horse battery staple');
  assert.deepEqual(await verifyPassword('correct horse battery staple', phc), { ok: true, needsRehash: false });
  assert.deepEqual(await verifyPassword('correct horse battery stapler', phc), { ok: false, needsRehash: false });
});

test('uses a fresh salt for every hash of the same password', async () => {
  const a = await hashPassword('same password twice');
  const b = await hashPassword('same password twice');
  assert.notEqual(a, b);
  assert.notDeepEqual(parsePasswordHash(a).salt, parsePasswordHash(b).salt);
});

test('normalises passwords with NFKC so equivalent spellings match', async () => {
  // é precomposed, full-width ABC, ﬁ ligature
  const phc = await hashPassword('Caf\u00e9 \uff21\uff22\uff23 \ufb01sh');
  assert.equal((await verifyPassword('Cafe\u0301 ABC fish', phc)).ok, true);
  assert.equal(normalisePassword('\uff21'), 'A');
});

test('flags a hash made with weaker parameters for rehash', async () => {
  const stronger = { ...DEFAULT_ARGON2_PARAMS, memoryKiB: 24_576 };
  const phc = await hashPassword('an old but good password');
  assert.deepEqual(await verifyPassword('an old but good password', phc, { params: stronger }), {
    ok: true,
    needsRehash: true,
  });
  const passes = { ...DEFAULT_ARGON2_PARAMS, passes: 3 };
  assert.equal((await verifyPassword('an old but good password', phc, { params: passes })).needsRehash, true);
});

test('verifies a legacy hash below the new-hash minimum and asks for a rehash', async () => {
  const legacy = '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4';
  assert.deepEqual(await verifyPassword('password', legacy), { ok: true, needsRehash: true });
});

test('refuses new-hash parameters below the minimum or above the DoS ceiling, naming the key', () => {
  const cases: Array<[Partial<typeof DEFAULT_ARGON2_PARAMS>, string]> = [
    [{ memoryKiB: 19_455 }, 'memoryKiB'],
    [{ memoryKiB: 262_145 }, 'memoryKiB'],
    [{ passes: 1 }, 'passes'],
    [{ passes: 11 }, 'passes'],
    [{ parallelism: 0 }, 'parallelism'],
    [{ tagLength: 8 }, 'tagLength'],
    [{ memoryKiB: 19_456.5 }, 'memoryKiB'],
  ];
  for (const [params, key] of cases) {
    assert.throws(
      () => validateArgon2Params(params),
      (e: unknown) => hasCode(e, 'ARGON2_PARAMS_UNSAFE') && (e as { key: string }).key === key,
    );
  }
});

test('refuses a stored hash whose parameters would make verification a DoS, before hashing', async () => {
  const salt = 'c29tZXNhbHRzb21lc2FsdA';
  const hash = 'CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
  for (const params of ['m=4194304,t=2,p=1', 'm=19456,t=1000,p=1', 'm=19456,t=2,p=64']) {
    await assert.rejects(verifyPassword('password', `$argon2id$v=19$${params}$${salt}$${hash}`), (e: unknown) =>
      hasCode(e, 'PASSWORD_HASH_INVALID'),
    );
  }
});

test('refuses malformed PHC strings with PASSWORD_HASH_INVALID', async () => {
  const bad = [
    '',
    'password',
    '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    '$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    '$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    '$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    // non-canonical trailing bits
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc', // 5-byte salt
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1a', // 9-byte hash
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$',
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc\n',
    `$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$${'A'.repeat(400)}`,
  ];
  for (const phc of bad) {
    await assert.rejects(verifyPassword('password', phc), (e: unknown) => hasCode(e, 'PASSWORD_HASH_INVALID'), phc);
  }
  await assert.rejects(verifyPassword('password', 42 as unknown as string), (e: unknown) =>
    hasCode(e, 'PASSWORD_HASH_INVALID'),
  );
});

test('never crashes on random PHC-like strings: parses or throws PASSWORD_HASH_INVALID', () => {
  const b64 = fc.stringMatching(/^[A-Za-z0-9+/=]{0,70}$/);
  const num = fc.oneof(fc.nat().map(String), fc.string({ maxLength: 6 }));
  const phcLike = fc
    .tuple(fc.constantFrom('argon2id', 'argon2i', 'x'), fc.constantFrom('19', '16', ''), num, num, num, b64, b64)
    .map(([alg, v, m, t, p, s, h]) => `$${alg}$v=${v}$m=${m},t=${t},p=${p}$${s}$${h}`);
  fc.assert(
    fc.property(fc.oneof(phcLike, fc.string()), (phc) => {
      try {
        const parsed = parsePasswordHash(phc);
        assert.ok(parsed.params.memoryKiB <= 262_144 && parsed.params.passes <= 10);
      } catch (e) {
        assert.ok(hasCode(e, 'PASSWORD_HASH_INVALID'), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('treats an unusable password attempt as a failure without hashing', async () => {
  const phc = await hashPassword('correct horse battery staple');
  const calls: number[] = [];
  const limiter = new HashLimiter();
  const spy = {
    run: <T>(task: () => Promise<T>) => {
      calls.push(1);
      return limiter.run(task);
    },
  } as unknown as HashLimiter;
  for (const attempt of ['', 'x'.repeat(1025), 'bad\ud800surrogate']) {
    assert.deepEqual(await verifyPassword(attempt, phc, { limiter: spy }), { ok: false, needsRehash: false });
  }
  assert.equal(calls.length, 0);
});

test('refuses to hash an empty, over-long or ill-formed password', async () => {
  for (const pw of ['', 'x'.repeat(1025), 'lone\udc00']) {
    await assert.rejects(hashPassword(pw), (e: unknown) => hasCode(e, 'PASSWORD_INPUT_INVALID'));
  }
});

test('hashes through the limiter the caller passes', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 0 });
  const first = hashPassword('first password here', undefined, { limiter });
  await assert.rejects(hashPassword('second password here', undefined, { limiter }), (e: unknown) =>
    hasCode(e, 'AUTH_BUSY'),
  );
  assert.match(await first, /^\$argon2id\$/);
});

test('round-trips any well-formed password (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), async (pw) => {
      const phc = await hashPassword(pw);
      assert.equal((await verifyPassword(pw, phc)).ok, true);
      assert.equal((await verifyPassword(pw + '!', phc)).ok, false);
    }),
    { numRuns: 8 },
  );
});
