/**
 * The redactor shared by the connection journal and the logger: a pure function from text to
 * text that replaces anything that looks like a secret with `[REDACTED]`.
 *
 * It errs towards removing too much: a lost word in a log line costs little, a leaked password
 * costs the device. It is defence in depth, not the defence: the journal's API has no field for
 * a secret, and callers must not put one in free text.
 */

/** What a removed secret is replaced with. */
export const REDACTED = '[REDACTED]';

/** Key fragments that make a `key=value` or a log field secret wherever they appear in the key. */
const SECRET_KEY_FRAGMENTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'privatekey',
  'credential',
  'cookie',
  'authorization',
  'sessionid',
  'csrf',
  'xsrf',
  'signature',
  'bearer',
];

/** Whole words (camelCase or separated) that make a key secret; short, so only as whole words. */
const SECRET_KEY_WORDS = new Set([
  'pass',
  'pwd',
  'pw',
  'pin',
  'otp',
  'psk',
  'key',
  'sid',
  'session',
  'auth',
  'salt',
  'hash',
  'verifier',
  'nonce',
]);

/** Codes a person types to prove possession: setup, claim, pairing codes and the like. */
const SECRET_CODE_KEY = /(?:setup|claim|pairing|auth|access|verification|reset|recovery|otp)code$/;

/** True when a field or parameter name suggests its value is a secret (e.g. 'newPassword', 'x-api-key', 'sid'). */
export function isSecretKey(key: string): boolean {
  const compact = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SECRET_KEY_FRAGMENTS.some((f) => compact.includes(f))) return true;
  if (SECRET_CODE_KEY.test(compact)) return true;
  const words = key.split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/);
  return words.some((w) => SECRET_KEY_WORDS.has(w.toLowerCase()));
}

// A PEM block, or the start of one cut off before its END line.
const PEM_BLOCK = /-----BEGIN [^\r\n-]{1,64}-----[\s\S]*?(?:-----END [^\r\n-]{1,64}-----|$)/g;
// The password in a URL's userinfo: scheme://user:password@host.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,30}:\/\/[^\s/@:]{0,256}):[^\s/@]*@/gi;
// HTTP authorization schemes followed by their credentials.
const AUTH_SCHEME = /\b(Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=-]+/gi;
// A key followed by ':' or '='; the key is judged by isSecretKey, the value is found by valueEnd.
const KEY_SEPARATOR = /(["']?)([A-Za-z][A-Za-z0-9_.-]{0,63})\1[ \t]*[:=][ \t]*/g;
// A URL-encoded query value followed by another parameter: `abc%21&next=`.
const URL_ENCODED_VALUE = /^([A-Za-z0-9%._~+-]+)&[A-Za-z0-9_.-]{1,64}=/;
// Setup-code-like digit groups (12 digits, optionally grouped by four).
const DIGIT_CODE = /\d{4}[- ]?\d{4}[- ]?\d{4}/g;
// Sticker passwords and claim codes: four groups of four letters or digits.
const GROUPED_CODE = /\b[A-Za-z0-9]{4}(?:-[A-Za-z0-9]{4}){3}\b/g;
// Long runs of hex, base64 or base64url: keys, tokens, hashes, cookies.
const LONG_RUN = /[A-Za-z0-9+/_-]{32,}={0,2}/g;
// A long run made only of lower-case words joined by '-' or '_' is prose, not a secret; so is an error code of
// upper-case words joined by '_' or '/' (ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_UNKNOWN: what a browser's refusal of a
// certificate reads as, which the owner's journal must keep).
const WORDS_RUN = /^(?:[a-z]+(?:[-_][a-z]+)+|[A-Z][A-Z0-9]+(?:[_/][A-Z][A-Z0-9]+)+)$/;

/**
 * Where the value that starts at `start` ends. A quoted value ends at its closing quote; an
 * unquoted value that looks URL-encoded and is followed by another `&name=` parameter ends at
 * the '&'; any other unquoted value runs to the end of the text, because a password may contain
 * spaces, commas, semicolons and ampersands.
 */
function valueEnd(text: string, start: number): { end: number; quote: string } {
  const first = text[start];
  if (first === '"' || first === "'") {
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') {
        i++;
        continue;
      }
      if (text[i] === first) return { end: i + 1, quote: first };
    }
    return { end: text.length, quote: '' };
  }
  const query = URL_ENCODED_VALUE.exec(text.slice(start));
  if (query) return { end: start + query[1]!.length, quote: '' };
  return { end: text.length, quote: '' };
}

function redactKeyValues(text: string): string {
  let out = '';
  let last = 0;
  KEY_SEPARATOR.lastIndex = 0;
  for (let m = KEY_SEPARATOR.exec(text); m !== null; m = KEY_SEPARATOR.exec(text)) {
    // A non-secret key leaves lastIndex just after its separator, so its value is scanned for keys too.
    if (!isSecretKey(m[2]!)) continue;
    const start = KEY_SEPARATOR.lastIndex;
    if (start >= text.length) break;
    const { end, quote } = valueEnd(text, start);
    out += text.slice(last, start) + quote + REDACTED + quote;
    last = end;
    KEY_SEPARATOR.lastIndex = end;
  }
  return out + text.slice(last);
}

/**
 * Returns `text` with secrets replaced by `[REDACTED]`: PEM blocks, passwords in URLs,
 * `Bearer`/`Basic` credentials, values of secret-named keys (`password=…`, `"token": "…"`,
 * `Cookie: …`), setup codes (`dddd-dddd-dddd`), sticker passwords and claim codes
 * (`xxxx-xxxx-xxxx-xxxx`) and runs of 32 or more hex/base64 characters.
 *
 * @example redactSecrets('login failed password=hunter2') // 'login failed password=[REDACTED]'
 */
export function redactSecrets(text: string): string {
  let out = text.replace(PEM_BLOCK, '[REDACTED PEM]');
  out = out.replace(URL_USERINFO, `$1:${REDACTED}@`);
  out = out.replace(AUTH_SCHEME, `$1 ${REDACTED}`);
  out = redactKeyValues(out);
  out = out.replace(DIGIT_CODE, REDACTED);
  out = out.replace(GROUPED_CODE, REDACTED);
  out = out.replace(LONG_RUN, (run) => (WORDS_RUN.test(run) ? run : REDACTED));
  return out;
}

// C0 and C1 controls, zero-width characters, line/paragraph separators and bidi overrides:
// they could forge a line on the owner's page or hide text from the person reading it.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Replaces control, zero-width and bidi characters with a space and lone surrogates with U+FFFD. */
export function neutraliseText(text: string): string {
  return text.toWellFormed().replace(UNSAFE_CHARS, ' ');
}

/** Cuts `text` to at most `maxChars` UTF-16 units, ending with '…' when cut, never splitting a surrogate pair. */
export function truncateText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = text.slice(0, maxChars - 1);
  const lastCode = cut.charCodeAt(cut.length - 1);
  if (lastCode >= 0xd800 && lastCode <= 0xdbff) cut = cut.slice(0, -1);
  return cut + '…';
}
