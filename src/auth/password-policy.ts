/**
 * The password strength policy for every password an owner sets (issue 3, point 5):
 * length 12..128 code points after NFKC normalisation, a zxcvbn-ts score of at least 3 with
 * the device's own facts (model, serial, username, maker) as user inputs, none of those facts
 * inside the password, and not among the 10,000 most common passwords.
 *
 * The zxcvbn dictionaries weigh tens of MB once loaded, so they are imported lazily on the
 * first check and cached; importing this module costs almost nothing.
 */
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { InvalidInputError } from '../errors/index.ts';
import { PasswordPolicyError } from './errors.ts';
import type { PasswordPolicyReason } from './errors.ts';
import { ARGON2_BOUNDS, normalisePassword } from './password-hash.ts';

/**
 * The policy as plain data, so the web page can mirror it while the owner types (the server
 * still decides). Lengths count Unicode code points after `normalisation`.
 */
export const passwordPolicyRules = Object.freeze({
  /** Fewest code points after normalisation. */
  minLength: 12,
  /** Most code points after normalisation. */
  maxLength: 128,
  /** Lowest acceptable zxcvbn-ts score (0..4). */
  minScore: 3,
  /** Unicode normalisation applied before counting, checking and hashing. */
  normalisation: 'NFKC',
  /** Size of the refused list of most common passwords (compared case-insensitively). */
  commonPasswordCount: 10_000,
  /** Shortest user input (model, serial, ...) that a password may not contain. */
  minUserInputLength: 4,
} as const);

/** Bounds on the caller-supplied user inputs. */
export const PASSWORD_POLICY_INPUT_BOUNDS = Object.freeze({
  /** Most user inputs per check. */
  maxUserInputs: 32,
  /** Longest user input, UTF-16 code units. */
  maxUserInputLength: 256,
});

/** The device facts that a password must not be built from. */
export interface PasswordStrengthContext {
  /** Model, serial, username, maker and any other facts printed on the box or sticker. */
  readonly userInputs: readonly string[];
}

/** zxcvbn-ts feedback: a warning and suggestions, in English. */
export interface PasswordFeedback {
  readonly warning: string | null;
  readonly suggestions: readonly string[];
}

/** The verdict on a password. */
export interface PasswordStrength {
  /** True when the password meets every rule. */
  readonly ok: boolean;
  /** zxcvbn-ts score 0..4, or null when the password was not scored (over-long or ill-formed). */
  readonly score: number | null;
  /** Every rule the password breaks (empty when ok). */
  readonly reasons: readonly PasswordPolicyReason[];
  /** zxcvbn-ts advice for the person choosing the password. */
  readonly feedback: PasswordFeedback;
}

interface PolicyEngine {
  readonly zxcvbn: ZxcvbnFactory;
  readonly common: ReadonlySet<string>;
}

let engine: Promise<PolicyEngine> | undefined;

async function buildEngine(): Promise<PolicyEngine> {
  const [core, common, en] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
  ]);
  const ranked = common.dictionary['passwords-common'];
  const top = new Set<string>();
  for (const word of ranked.slice(0, passwordPolicyRules.commonPasswordCount)) {
    top.add(normalisePassword(String(word)).toLowerCase());
  }
  const zxcvbn = new core.ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
    // Both bound the CPU time of one check (one synchronous call on the event loop): with
    // Levenshtein on, or 100 l33t substitutions, a crafted 128-character password costs
    // ~0.9 s; with these settings it costs ~0.15 s at worst. Exact common passwords are
    // caught by the list above anyway.
    useLevenshteinDistance: false,
    l33tMaxSubstitutions: 10,
  });
  return { zxcvbn, common: top };
}

/** Loads (once) and returns the strength engine; a failed load is retried on the next call. */
function loadEngine(): Promise<PolicyEngine> {
  engine ??= buildEngine().catch((err: unknown) => {
    engine = undefined;
    throw err;
  });
  return engine;
}

/** Loads the dictionaries now (e.g. at start-up, off the request path); later checks reuse them. */
export async function preloadPasswordPolicy(): Promise<void> {
  await loadEngine();
}

/** Length in Unicode code points after normalisation: the length the policy counts. */
export function passwordLength(password: string): number {
  let n = 0;
  for (const _ of normalisePassword(password)) n++;
  return n;
}

function userInputTerms(userInputs: readonly string[]): { zxcvbn: string[]; forbidden: string[] } {
  if (!Array.isArray(userInputs) || userInputs.length > PASSWORD_POLICY_INPUT_BOUNDS.maxUserInputs) {
    throw new InvalidInputError(
      `userInputs must be an array of at most ${PASSWORD_POLICY_INPUT_BOUNDS.maxUserInputs} strings`,
    );
  }
  const zxcvbn = new Set<string>();
  const forbidden = new Set<string>();
  for (const input of userInputs) {
    if (
      typeof input !== 'string' ||
      input.length > PASSWORD_POLICY_INPUT_BOUNDS.maxUserInputLength ||
      !input.isWellFormed()
    ) {
      throw new InvalidInputError(
        'each user input must be a well-formed string of at most ' +
          `${PASSWORD_POLICY_INPUT_BOUNDS.maxUserInputLength} characters`,
      );
    }
    const whole = normalisePassword(input).toLowerCase().trim();
    // "Acme Devices" and "SP-X100" should also be caught as "acme", "devices", "x100".
    const parts = whole.split(/[\s\p{P}\p{S}]+/u);
    for (const term of [whole, ...parts]) {
      if (term.length === 0) continue;
      zxcvbn.add(term);
      if ([...term].length >= passwordPolicyRules.minUserInputLength) forbidden.add(term);
    }
  }
  return { zxcvbn: [...zxcvbn], forbidden: [...forbidden] };
}

const NO_FEEDBACK: PasswordFeedback = Object.freeze({ warning: null, suggestions: Object.freeze([]) });

/**
 * Checks a password against the policy. Never throws for a weak password (see `reasons`);
 * throws InvalidInputError only for malformed `userInputs`.
 *
 * @example
 * const verdict = await checkPasswordStrength(pw, { userInputs: [model, serial, username, maker] });
 * if (!verdict.ok) showReasons(verdict.reasons);
 */
export async function checkPasswordStrength(
  password: string,
  context: PasswordStrengthContext,
): Promise<PasswordStrength> {
  const terms = userInputTerms(context.userInputs);
  const rules = passwordPolicyRules;
  const reasons: PasswordPolicyReason[] = [];
  if (typeof password !== 'string' || password.length > ARGON2_BOUNDS.maxPasswordInputLength) {
    reasons.push({ code: 'PASSWORD_TOO_LONG', message: `Use at most ${rules.maxLength} characters.` });
    return { ok: false, score: null, reasons, feedback: NO_FEEDBACK };
  }
  if (!password.isWellFormed()) {
    reasons.push({ code: 'PASSWORD_MALFORMED', message: 'The password contains invalid characters.' });
    return { ok: false, score: null, reasons, feedback: NO_FEEDBACK };
  }
  const normalised = normalisePassword(password);
  const length = passwordLength(normalised);
  if (length > rules.maxLength) {
    reasons.push({ code: 'PASSWORD_TOO_LONG', message: `Use at most ${rules.maxLength} characters.` });
    return { ok: false, score: null, reasons, feedback: NO_FEEDBACK };
  }
  if (length < rules.minLength) {
    reasons.push({ code: 'PASSWORD_TOO_SHORT', message: `Use at least ${rules.minLength} characters.` });
  }
  const { zxcvbn, common } = await loadEngine();
  const folded = normalised.toLowerCase();
  if (common.has(folded)) {
    reasons.push({ code: 'PASSWORD_COMMON', message: 'This is one of the most common passwords.' });
  }
  if (terms.forbidden.some((term) => folded.includes(term))) {
    reasons.push({
      code: 'PASSWORD_CONTAINS_DEVICE_INFO',
      message: 'Do not use the model, serial number, user name or maker in the password.',
    });
  }
  const result = zxcvbn.check(normalised, terms.zxcvbn);
  if (result.score < rules.minScore) {
    const hint = result.feedback.warning ? ` ${result.feedback.warning}` : '';
    reasons.push({ code: 'PASSWORD_TOO_GUESSABLE', message: `This password is too easy to guess.${hint}` });
  }
  return {
    ok: reasons.length === 0,
    score: result.score,
    reasons,
    feedback: { warning: result.feedback.warning, suggestions: [...result.feedback.suggestions] },
  };
}

/**
 * Like {@link checkPasswordStrength} but throws PasswordPolicyError (PASSWORD_TOO_WEAK) with
 * the reasons when the password is refused; use it on the path that stores a new password.
 */
export async function assertPasswordStrength(password: string, context: PasswordStrengthContext): Promise<void> {
  const verdict = await checkPasswordStrength(password, context);
  if (!verdict.ok) throw new PasswordPolicyError(verdict.reasons);
}
