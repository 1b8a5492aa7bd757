import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BulwarkError,
  ConfigError,
  InvalidInputError,
  ERROR_TABLE,
  EXIT,
  UNKNOWN_CODE_RULE,
  httpStatusOf,
  exitCodeOf,
  isCallerFault,
  ruleOf,
  codeOf,
} from './index.ts';

const SRC = fileURLToPath(new URL('..', import.meta.url));

/** Every code a throw site in src names literally: `new XError('CODE'`, `super('CODE'`, helpers that take a code. */
function literalCodesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  const patterns = [
    /new ([A-Z][A-Za-z]*Error)\(\s*(?:\d+,\s*|[^,()'"]*\?\s*)?'([A-Z][A-Z0-9_]+)'(?:\s*:\s*'([A-Z][A-Z0-9_]+)')?/g,
    /\b(super|requireIntegerSetting)\(\s*'([A-Z][A-Z0-9_]+)'/g,
    /\b(portArgument)\([^()']*'([A-Z][A-Z0-9_]+)'/g,
  ];
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
  );
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    for (const pattern of patterns) {
      for (const m of text.matchAll(pattern)) {
        if (m[1] === 'Error' || m[1] === 'ChannelRequestError') continue; // a peer's answer code, not ours
        for (const code of [m[2], m[3]]) if (code) found.set(code, `${file} (${m[1]})`);
      }
    }
  }
  return found;
}

test('every code a throw site in src names has a rule in the table', () => {
  const codes = literalCodesInSource();
  assert.ok(codes.size > 150, `found ${codes.size} codes: the scan still sees the throw sites`);
  const missing = [...codes]
    .filter(([code]) => ruleOf(code) === undefined)
    .map(([code, where]) => `${code} in ${where}`);
  assert.deepEqual(missing, []);
});

test('every rule has a sysexits exit code, an HTTP error status and a fault flag', () => {
  const exits = new Set<number>(Object.values(EXIT));
  for (const [code, rule] of Object.entries(ERROR_TABLE)) {
    assert.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    assert.ok(exits.has(rule.exit), `${code}: exit ${rule.exit}`);
    assert.ok(Number.isInteger(rule.http) && rule.http >= 400 && rule.http <= 599, `${code}: HTTP ${rule.http}`);
    assert.equal(typeof rule.callerFault, 'boolean');
  }
  assert.ok(Object.isFrozen(ERROR_TABLE));
});

test('every setting that is malformed or unsafe exits 78 (EX_CONFIG)', () => {
  for (const code of Object.keys(ERROR_TABLE).filter((c) => /_CONFIG_(INVALID|UNSAFE)$/.test(c))) {
    assert.equal(ERROR_TABLE[code as keyof typeof ERROR_TABLE].exit, 78, code);
  }
});

// The mappings of the `statusOf` switches in src/web/service.ts, src/hub/web.ts and src/cloud/api.ts
// before the table, so replacing a switch with httpStatusOf changes no answer.
const OLD_SWITCHES: ReadonlyArray<readonly [string, number]> = [
  // device admin page
  ['INVALID_INPUT', 400],
  ['PASSWORD_INPUT_INVALID', 400],
  ['AUTH_BUSY', 503],
  ['UNKNOWN_CAPABILITY', 404],
  ['UNKNOWN_ACTION', 404],
  ['CAPABILITY_VALUE_INVALID', 422],
  // hub admin page
  ['HUB_DEVICE_UNKNOWN', 404],
  ['HUB_CAPABILITY_UNKNOWN', 404],
  ['HUB_ACTION_UNKNOWN', 404],
  ['HUB_CAPABILITY_NOT_GRANTED', 403],
  ['HUB_DEVICE_OFFLINE', 503],
  // cloud owner API
  ['LOGIN_FAILED', 401],
  ['CLAIM_REFUSED', 403],
  ['NOT_FOUND', 404],
  ['ACCOUNT_EXISTS', 409],
  ['CLAIM_WINDOW_CLOSED', 409],
  ['DEVICE_CLAIMED', 409],
  ['PASSWORD_POLICY', 422],
  ['COMMAND_NOT_ALLOWED', 422],
  ['RATE_LIMITED', 429],
  ['DEVICE_UNREACHABLE', 503],
  ['DEVICE_OFFLINE', 503],
  ['STORE_FAILED', 503],
  ['DEVICE_TIMEOUT', 504],
];

test('known codes answer the HTTP status the old statusOf switches gave them', () => {
  for (const [code, status] of OLD_SWITCHES) {
    assert.equal(httpStatusOf(new BulwarkError(code, 'x')), status, code);
  }
});

test('a code no switch named answered 400, and still does', () => {
  const named = new Set(OLD_SWITCHES.map(([code]) => code));
  const web = new Set([
    'AUTH_REQUIRED',
    'SETUP_REQUIRED',
    'SETUP_CLOSED',
    'LOGIN_LOCKED_OUT',
    'CSRF_TOKEN_INVALID',
    'CSRF_ORIGIN_MISMATCH',
    'HOST_NOT_ALLOWED',
    'URI_INVALID',
    'BODY_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
    'METHOD_NOT_ALLOWED',
  ]);
  // Codes no surface ever threw before the table: the CLI's last resort and a hub's relayed internal error.
  // And the hardware (its driver) that cannot answer now: 503, since drivers came (issue 16).
  // And a second update file uploaded while one is in progress: 409, since uploads came.
  // And an update with no room beside the owner's reserve: 507, since the reserve came (issue 25).
  // And a malformed revocation on the maker's API: 422, since revocation came (issue 19).
  const newSince = new Set([
    'REVOCATION_INVALID',
    'INTERNAL',
    'HUB_INTERNAL',
    'CAPABILITY_UNAVAILABLE',
    'UPDATE_UPLOAD_BUSY',
    'UPDATE_NO_SPACE',
    // A malformed CRA case (422) and a refused CSAF advisory (422, 413, 409) on the maker's API (issue 18).
    'CRA_CASE_INVALID',
    'CSAF_ADVISORY_INVALID',
    'CSAF_ADVISORY_TOO_LARGE',
    'CSAF_ADVISORY_CONFLICT',
    // A security facts record the cloud refuses: off its schema (422), too large (413), shortening a date (409),
    // or naming a release the repository does not hold (409), since the records came (issue 23).
    'FACTS_RECORD_INVALID',
    'FACTS_RECORD_REFUSED',
    'FACTS_RECORD_TOO_LARGE',
    'FACTS_RECORD_CONFLICT',
    'FACTS_RELEASE_MISMATCH',
    // Named users with roles on the device's and the hub's pages (issue 26): a role's refusal (403),
    // a taken name, a full list or the first owner (409), nobody of that name (404).
    'ROLE_REFUSED',
    'USER_EXISTS',
    'USER_UNKNOWN',
    'USER_FIRST_OWNER',
    'USER_LIMIT',
    // The cloud's accounts and households (issue 26): a claim before the address is confirmed, and a household
    // person's role refusing an action (403).
    'ACCOUNT_UNVERIFIED',
    'HOUSEHOLD_ROLE_FORBIDDEN',
    // An action that cannot be undone from the page, with a wrong password to confirm it (401, issue 17).
    'CONFIRMATION_FAILED',
  ]);
  for (const code of Object.keys(ERROR_TABLE)) {
    if (named.has(code) || web.has(code) || newSince.has(code)) continue;
    assert.equal(httpStatusOf(new BulwarkError(code, 'x')), 400, code);
  }
});

/** An error like src/web's HttpError: a BulwarkError that carries its own status. */
class StatusError extends BulwarkError {
  readonly status: number;
  constructor(status: number, code: string) {
    super(code, 'x');
    this.status = status;
  }
}

test('an error carrying its own status keeps it; anything not a BulwarkError is 500', () => {
  assert.equal(httpStatusOf(new StatusError(303, 'AUTH_REQUIRED')), 303);
  assert.equal(httpStatusOf(new StatusError(429, 'LOGIN_LOCKED_OUT')), 429);
  assert.equal(httpStatusOf(new StatusError(405, 'NOT_FOUND')), 405, 'the status wins over the code');
  assert.equal(httpStatusOf(Object.assign(new Error('x'), { status: 404 })), 500, 'only a BulwarkError is trusted');
  assert.equal(httpStatusOf(new Error('boom')), 500);
  assert.equal(httpStatusOf('a string'), 500);
  assert.equal(httpStatusOf(undefined), 500);
});

test('a BulwarkError with a code the table does not know answers 400 and exits 1', () => {
  const relayed = new BulwarkError('SOME_PEER_CODE', 'x');
  assert.equal(httpStatusOf(relayed), 400);
  assert.equal(exitCodeOf(relayed), 1);
  assert.equal(isCallerFault(relayed), false);
  assert.deepEqual(UNKNOWN_CODE_RULE, { http: 400, exit: 1, callerFault: false });
  assert.equal(ruleOf('constructor'), undefined, 'a name on Object.prototype is not a code');
  assert.equal(ruleOf('__proto__'), undefined);
});

test('exit codes follow sysexits: usage, data, missing input, unavailable, permission, config', () => {
  assert.equal(exitCodeOf(new BulwarkError('USAGE', 'x')), 2);
  assert.equal(exitCodeOf(new InvalidInputError('x')), 65);
  assert.equal(exitCodeOf(new BulwarkError('FACTORY_MISSING', 'x')), 66);
  assert.equal(exitCodeOf(new BulwarkError('HUB_NOT_RUNNING', 'x')), 69);
  assert.equal(exitCodeOf(new BulwarkError('FACTORY_EXISTS', 'x')), 73);
  assert.equal(exitCodeOf(new BulwarkError('PAIRING_PUSH_BUTTON_REFUSED', 'x')), 77);
  assert.equal(exitCodeOf(new ConfigError('DEBUG_INTERFACE_REFUSED', 'inspector', 'x')), 78);
  assert.equal(exitCodeOf(new Error('boom')), 1);
  assert.equal(exitCodeOf(null), 1);
});

test('a Node.js system error exits by its errno code', () => {
  const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8080'), {
    code: 'EADDRINUSE',
  });
  assert.equal(exitCodeOf(inUse), 69);
  assert.equal(codeOf(inUse), 'EADDRINUSE');
  assert.equal(exitCodeOf(Object.assign(new Error('x'), { code: 'EACCES' })), 77);
  assert.equal(exitCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' })), 66);
  assert.equal(exitCodeOf(Object.assign(new Error('x'), { code: 'EWHATEVER' })), 1);
  assert.equal(codeOf(Object.assign(new Error('x'), { code: 'not an errno' })), 'INTERNAL');
  assert.equal(codeOf(new Error('x')), 'INTERNAL');
  assert.equal(codeOf(new BulwarkError('HUB_CLOSED', 'x')), 'HUB_CLOSED');
});

test('the caller is at fault for what a fixed request fixes, not for a peer or the host', () => {
  assert.equal(isCallerFault(new BulwarkError('CLAIM_REFUSED', 'x')), true);
  assert.equal(isCallerFault(new InvalidInputError('x')), true);
  assert.equal(isCallerFault(new ConfigError('HUB_CONFIG_INVALID', 'port', 'x')), true);
  assert.equal(isCallerFault(new BulwarkError('AUTH_BUSY', 'x')), false);
  assert.equal(isCallerFault(new BulwarkError('STORE_FAILED', 'x')), false);
  assert.equal(isCallerFault(new Error('x')), false);
});

test("a refusal the hub relays from a device keeps the device's meaning when the caller is at fault", () => {
  const badValue = new BulwarkError('CHANNEL_REQUEST_FAILED', 'setpoint: must be from 5 to 30', {
    remoteCode: 'BAD_VALUE',
  });
  assert.equal(httpStatusOf(badValue), 422);
  assert.equal(exitCodeOf(badValue), 65);
  assert.equal(isCallerFault(badValue), true);
  // A device that cannot act now is still a service unavailable, not the caller's fault.
  const down = new BulwarkError('CHANNEL_REQUEST_FAILED', 'x', { remoteCode: 'UNAVAILABLE' });
  assert.equal(exitCodeOf(down), 69);
  assert.equal(isCallerFault(down), false);
});
