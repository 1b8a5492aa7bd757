import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOGUE, CHECK_IDS, CHECKS, BRIEF_PARTS, CONTROL_IDS, findControl, getControl } from './catalogue.ts';
import type { ControlId } from './catalogue.ts';
import { CRA_REQUIREMENTS } from './cra.ts';
import { NETWORK_MODELS, SENSORS, ACTUATORS } from './profile.ts';

test('control ids are unique and shaped like AREA-NAME', () => {
  assert.equal(new Set(CONTROL_IDS).size, CONTROL_IDS.length);
  for (const id of CONTROL_IDS) assert.match(id, /^[A-Z]+(-[A-Z0-9]+)+$/);
});

test('every control is complete: text, brief part and at least one check', () => {
  for (const c of CATALOGUE) {
    for (const field of [c.title, c.statement, c.rationale]) assert.ok(field.trim().length > 10, `${c.id}: empty text`);
    assert.ok((BRIEF_PARTS as readonly string[]).includes(c.brief), `${c.id}: unknown brief part ${c.brief}`);
    assert.ok(c.checks.length > 0, `${c.id}: no checks`);
    assert.equal(new Set(c.checks.map((k) => k.id)).size, c.checks.length, `${c.id}: duplicate check`);
  }
});

test('every check is used by some control and means the same everywhere', () => {
  const used = new Set(CATALOGUE.flatMap((c) => c.checks.map((k) => k.id)));
  for (const id of CHECK_IDS) assert.ok(used.has(id), `check ${id} is used by no control`);
  for (const c of CATALOGUE) for (const k of c.checks) assert.deepEqual(k, CHECKS[k.id]);
  assert.equal(new Set(CHECK_IDS).size, CHECK_IDS.length);
  for (const id of CHECK_IDS) assert.match(id, /^[a-z]+\.[a-z0-9-]+$/);
});

test('every part of the brief is served by at least one control', () => {
  for (const part of BRIEF_PARTS)
    assert.ok(
      CATALOGUE.some((c) => c.brief === part),
      `nothing serves "${part}"`,
    );
});

test('ISVS and CRA references are well-formed', () => {
  for (const c of CATALOGUE) {
    for (const id of c.provisions.isvs ?? []) assert.match(id, /^[1-5]\.\d{1,2}\.\d{1,2}$/, `${c.id}: ISVS ${id}`);
    for (const id of c.provisions.cra ?? []) assert.ok(Object.hasOwn(CRA_REQUIREMENTS, id), `${c.id}: CRA ${id}`);
  }
});

test('applicability predicates use only the profile vocabulary', () => {
  for (const c of CATALOGUE) {
    const a = c.appliesTo;
    for (const m of a.networkModels ?? []) assert.ok(NETWORK_MODELS.includes(m), `${c.id}: ${m}`);
    for (const s of a.sensors ?? []) assert.ok(SENSORS.includes(s), `${c.id}: ${s}`);
    for (const x of a.actuators ?? []) assert.ok(ACTUATORS.includes(x), `${c.id}: ${x}`);
    for (const list of [a.networkModels, a.sensors, a.actuators])
      assert.notDeepEqual(list, [], `${c.id}: empty list never matches`);
  }
});

test('covers every topic issue 7 asks the catalogue to cover', () => {
  const topics: Record<string, ControlId[]> = {
    'passwords unique': ['AUTH-UNIQUE-PASSWORD', 'IDENT-UNIQUE-CREDENTIALS'],
    'password strength': ['AUTH-PASSWORD-STRENGTH'],
    lockout: ['AUTH-LOCKOUT'],
    hashing: ['AUTH-PASSWORD-HASHING'],
    'authentication on all requests': ['AUTH-ALL-REQUESTS'],
    CSRF: ['WEB-CSRF'],
    'TLS configuration': ['TLS-MODERN-CONFIG'],
    'unique certificates': ['TLS-UNIQUE-CERTIFICATE'],
    'no UPnP by default': ['NET-NO-UPNP'],
    'pairing window': ['PAIR-WINDOW'],
    'PAKE for sensitive classes': ['PAIR-PAKE-SENSITIVE'],
    'channel encryption': ['CHANNEL-MUTUAL-TLS'],
    'pinned manufacturer CA': ['CLOUD-PINNED-CA'],
    'secure account association': ['CLOUD-SECURE-CLAIM'],
    'device isolation in the cloud': ['CLOUD-DEVICE-ISOLATION'],
    'no shell': ['DEV-NO-SHELL'],
    'fuzzing of parsers': ['DEV-PARSER-FUZZING'],
    'hardened runtime': ['RUNTIME-HARDENED'],
    'debug interfaces off': ['RUNTIME-DEBUG-OFF'],
    'signed updates': ['UPDATE-SIGNED'],
    'anti-rollback': ['UPDATE-ANTI-ROLLBACK'],
    'auto-update default': ['UPDATE-AUTO-DEFAULT'],
    'support period published': ['LIFECYCLE-SUPPORT-PERIOD'],
    'vulnerability disclosure (security.txt)': ['VULN-DISCLOSURE'],
    'logging limits and retention': ['LOG-PRIVACY-LIMITS'],
    'connection logging': ['LOG-CONNECTIONS'],
    'data export and erasure': ['PRIVACY-DATA-EXPORT-ERASURE'],
    'factory reset': ['PRIVACY-FACTORY-RESET'],
    'resilience when the cloud is away': ['RESILIENCE-OUTAGES'],
    'input validation': ['DEV-INPUT-VALIDATION'],
  };
  for (const [topic, ids] of Object.entries(topics)) {
    for (const id of ids) assert.ok(findControl(id), `${topic}: ${id} missing`);
  }
  assert.ok(getControl('VULN-DISCLOSURE').checks.some((k) => k.id === 'http.security-txt'));
});

test('the catalogue cannot be modified by a consumer', () => {
  const c = getControl('AUTH-LOCKOUT');
  assert.throws(() => {
    (c as { title: string }).title = 'x';
  }, TypeError);
});
