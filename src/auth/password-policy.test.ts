import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { hasCode } from '../errors/index.ts';
import {
  checkPasswordStrength,
  assertPasswordStrength,
  passwordLength,
  passwordPolicyRules,
  PasswordPolicyError,
} from './index.ts';

const device = { userInputs: ['SmartPlug X100', 'AC7Q2M9K4T', 'admin', 'Acme Devices'] };
const codes = (r: { reasons: readonly { code: string }[] }) => r.reasons.map((x) => x.code);

test('accepts a long, unrelated passphrase', async () => {
  const verdict = await checkPasswordStrength('velvet trombone orbits quietly', device);
  assert.equal(verdict.ok, true, JSON.stringify(verdict.reasons));
  assert.ok(verdict.score !== null && verdict.score >= 3);
  assert.deepEqual(verdict.reasons, []);
});

test('rejects a password shorter than 12 code points after normalisation', async () => {
  assert.deepEqual(codes(await checkPasswordStrength('vT9#qL2!xR', device)).includes('PASSWORD_TOO_SHORT'), true);
  // 12 UTF-16 units but 6 code points.
  assert.equal(passwordLength('\u{1F510}'.repeat(6)), 6);
  assert.ok(codes(await checkPasswordStrength('\u{1F510}'.repeat(6), device)).includes('PASSWORD_TOO_SHORT'));
  // 12 code points as typed, 6 after NFKC composes e + combining acute.
  assert.ok(codes(await checkPasswordStrength('e\u0301'.repeat(6), device)).includes('PASSWORD_TOO_SHORT'));
});

test('counts length after NFKC, so a ligature counts as the letters it stands for', () => {
  assert.equal(passwordLength('\ufb03'), 3); // ﬃ
  assert.equal(passwordLength('abc'), 3);
});

test('rejects a password longer than 128 code points without scoring it', async () => {
  const verdict = await checkPasswordStrength('velvet trombone '.repeat(9), device);
  assert.deepEqual(codes(verdict), ['PASSWORD_TOO_LONG']);
  assert.equal(verdict.score, null);
  const huge = await checkPasswordStrength('x'.repeat(100_000), device);
  assert.deepEqual(codes(huge), ['PASSWORD_TOO_LONG']);
});

test('accepts exactly 128 code points', async () => {
  const pw = 'velvet trombone orbits quietly '.repeat(5).slice(0, 128);
  assert.equal(passwordLength(pw), 128);
  assert.ok(!codes(await checkPasswordStrength(pw, device)).includes('PASSWORD_TOO_LONG'));
});

test('rejects one of the 10,000 most common passwords, whatever its case', async () => {
  for (const pw of ['leavemealone', 'LeaveMeAlone', 'SONYERICSSON']) {
    const verdict = await checkPasswordStrength(pw, { userInputs: [] });
    assert.equal(verdict.ok, false);
    assert.ok(codes(verdict).includes('PASSWORD_COMMON'), pw);
  }
});

test('bundles exactly the top 10,000 of the ranked list', async () => {
  const common = await import('@zxcvbn-ts/language-common');
  const ranked = common.dictionary['passwords-common'].map(String);
  const last = ranked[9_999] as string;
  const next = ranked[10_000] as string;
  assert.ok(codes(await checkPasswordStrength(last, { userInputs: [] })).includes('PASSWORD_COMMON'));
  assert.ok(!ranked.slice(0, 10_000).some((w) => w.toLowerCase() === next.toLowerCase()));
  assert.ok(!codes(await checkPasswordStrength(next, { userInputs: [] })).includes('PASSWORD_COMMON'));
});

test('rejects a password that contains the serial', async () => {
  const verdict = await checkPasswordStrength('tulip-harbour-ac7q2m9k4t-quiet', device);
  assert.equal(verdict.ok, false);
  assert.ok(codes(verdict).includes('PASSWORD_CONTAINS_DEVICE_INFO'));
});

test('rejects a password built from the model or the maker', async () => {
  for (const pw of ['SmartPlugX100!!Zebra', 'acme velvet trombone orbits']) {
    assert.ok(codes(await checkPasswordStrength(pw, device)).includes('PASSWORD_CONTAINS_DEVICE_INFO'), pw);
  }
});

test('rejects an easily guessed password with zxcvbn feedback', async () => {
  const verdict = await checkPasswordStrength('aaaaaaaaaaaaaaaa', device);
  assert.ok(codes(verdict).includes('PASSWORD_TOO_GUESSABLE'));
  assert.ok(verdict.score !== null && verdict.score < passwordPolicyRules.minScore);
  assert.ok(verdict.feedback.warning !== null || verdict.feedback.suggestions.length > 0);
});

test('throws PASSWORD_TOO_WEAK with the reasons and never the password', async () => {
  const secret = 'leavemealone';
  await assert.rejects(assertPasswordStrength(secret, device), (e: unknown) => {
    assert.ok(e instanceof PasswordPolicyError);
    assert.ok(hasCode(e, 'PASSWORD_TOO_WEAK'));
    assert.ok(e.reasons.some((r) => r.code === 'PASSWORD_COMMON'));
    assert.ok(!JSON.stringify({ m: e.message, d: e.details, r: e.reasons }).includes(secret));
    return true;
  });
  await assertPasswordStrength('velvet trombone orbits quietly', device);
});

test('refuses malformed user inputs with a typed error', async () => {
  await assert.rejects(
    checkPasswordStrength('velvet trombone orbits', { userInputs: [42 as unknown as string] }),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
  await assert.rejects(
    checkPasswordStrength('velvet trombone orbits', { userInputs: Array(33).fill('x') }),
    (e: unknown) => hasCode(e, 'INVALID_INPUT'),
  );
});

test('never throws on any password and reasons never quote it (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 140 }), async (pw) => {
      const verdict = await checkPasswordStrength(pw, device);
      assert.equal(verdict.ok, verdict.reasons.length === 0);
      if (pw.length >= 6) assert.ok(!verdict.reasons.some((r) => r.message.includes(pw)));
    }),
    { numRuns: 60 },
  );
});

test('importing the auth module does not load the zxcvbn dictionaries until the first check', () => {
  const indexUrl = new URL('./index.ts', import.meta.url).href;
  const script = `
    import { registerHooks } from 'node:module';
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { seen.push(spec); return next(spec, ctx); } });
    const auth = await import(${JSON.stringify(indexUrl)});
    const before = seen.some((s) => s.includes('zxcvbn'));
    await auth.checkPasswordStrength('velvet trombone orbits', { userInputs: [] });
    const after = seen.some((s) => s.includes('zxcvbn'));
    console.log(JSON.stringify({ before, after }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop() as string), { before: false, after: true });
});

test('scores a crafted worst-case 128-character password in bounded time', async () => {
  await checkPasswordStrength('warm up the dictionaries', { userInputs: [] });
  const crafted = '4@1!3$0|'.repeat(16);
  const started = performance.now();
  await checkPasswordStrength(crafted, device);
  assert.ok(performance.now() - started < 2_000, 'one check must not stall the event loop for seconds');
});
