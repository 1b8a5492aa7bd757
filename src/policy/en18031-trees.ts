/**
 * The decision tree of every EN 18031 requirement, as data (shapes in en18031-walk.ts). Each follows the public shape
 * of the standard's tree (applicability questions first, ending NOT APPLICABLE, then whether the mechanism is there and
 * sound, ending PASS or FAIL), in Bulwark's words, with each question answered by the audit checks
 * (catalogue.ts) and product facts (en18031.ts) that show it. One tree per requirement id serves every part that
 * carries the id: Bulwark's evidence for a requirement does not change between parts.
 */
import type { CheckId } from './catalogue.ts';
import type { En18031FactId } from './en18031.ts';
import type { En18031Branch, En18031EvidenceRef, En18031Node, En18031Tree } from './en18031-walk.ts';

const PASS: En18031Branch = { outcome: 'pass' };
const FAIL: En18031Branch = { outcome: 'fail' };
const NA: En18031Branch = { outcome: 'not-applicable' };
const to = (n: number): En18031Branch => ({ next: `DN-${n}` });
const C = (...ids: CheckId[]): En18031EvidenceRef[] => ids.map((check) => ({ check }));
const F = (fact: En18031FactId): En18031EvidenceRef[] => [{ fact }];

function dn(n: number, question: string, evidence: En18031EvidenceRef[], yes: En18031Branch, no: En18031Branch) {
  return { id: `DN-${n}`, question, evidence, yes, no } satisfies En18031Node;
}

/** DN-1 of most trees: with no network interface there is nothing for the requirement to protect. */
const reach = (yes: En18031Branch): En18031Node =>
  dn(1, 'Can other entities reach the product over a network interface?', F('internet-connected'), yes, NA);

const WEB = 'Does the product serve a local admin page?';
const HUB = 'Does the product take commands from a paired hub?';
const CLOUD = "Does the product connect to the manufacturer's cloud?";

/** "Mechanism there and sound": one check node, PASS or FAIL. */
const single = (requirement: string, question: string, evidence: En18031EvidenceRef[]): En18031Tree => ({
  requirement,
  nodes: [reach(to(2)), dn(2, question, evidence, PASS, FAIL)],
});

/** Per interface: web admin (DN-2/3), hub link (DN-4/5), cloud link (DN-6/7); each present one must hold. */
function perInterface(requirement: string, web: string, hub: string, cloud: string, ev: EvidenceByLink): En18031Tree {
  return {
    requirement,
    nodes: [
      reach(to(2)),
      dn(2, WEB, F('web-admin'), to(3), to(4)),
      dn(3, web, ev.web, to(4), FAIL),
      dn(4, HUB, F('hub-link'), to(5), to(6)),
      dn(5, hub, ev.hub, to(6), FAIL),
      dn(6, CLOUD, F('cloud-link'), to(7), PASS),
      dn(7, cloud, ev.cloud, PASS, FAIL),
    ],
  };
}
interface EvidenceByLink {
  readonly web: En18031EvidenceRef[];
  readonly hub: En18031EvidenceRef[];
  readonly cloud: En18031EvidenceRef[];
}

/** Trees that end NOT APPLICABLE unless a product fact says the requirement's subject is there. */
const onlyIf = (requirement: string, gate: [string, En18031FactId], question: string, ev: En18031EvidenceRef[]) => ({
  requirement,
  nodes: [dn(1, gate[0], F(gate[1]), to(2), NA), dn(2, question, ev, PASS, FAIL)],
});

const GUARDIAN: [string, En18031FactId] = ['Is the product a toy or childcare equipment?', 'toy-or-childcare'];
const guardianTree = (id: string, what: string): En18031Tree =>
  onlyIf(id, GUARDIAN, `Does a guardian ${what}?`, F('guardian-controls'));

const ACCESS: En18031Tree[] = [
  perInterface(
    'ACM-1',
    'Does every admin route but the login refuse a request without a session?',
    'Does the hub port refuse a peer without the pinned certificate?',
    'Does the broker keep each unit to its own identity and topics?',
    { web: C('http.auth-all-routes'), hub: C('channel.mutual-tls'), cloud: C('cloud.client-isolation') },
  ),
  perInterface(
    'ACM-2',
    'Are sessions bounded and cookies locked down, and is a cross-site request refused?',
    'Does each paired hub get only the capabilities it was granted?',
    'Is a claim refused outside its window, and are wrong claim codes rate-limited?',
    {
      web: C('http.csrf', 'http.cookie-flags', 'config.session'),
      hub: C('config.hub-acl'),
      cloud: C('cloud.claim-window'),
    },
  ),
  guardianTree('ACM-3', "decide which outside content the child's device reaches"),
  guardianTree('ACM-4', 'oversee how the child uses the device'),
  guardianTree('ACM-5', "manage the child's privacy settings"),
  guardianTree('ACM-6', 'hold controls the child cannot bypass'),
];

const AUTHENTICATION: En18031Tree[] = [
  perInterface(
    'AUM-1-1',
    'Does the admin page ask for a login before anything else?',
    'Does the unit authenticate a hub by its pinned certificate?',
    "Does the cloud link authenticate the broker against the maker's pinned CA?",
    { web: C('http.auth-all-routes'), hub: C('channel.mutual-tls'), cloud: C('bundle.cloud-trust-anchor') },
  ),
  {
    requirement: 'AUM-1-2',
    nodes: [
      dn(1, 'Does the product have a local user interface?', F('local-user-interface'), to(2), NA),
      dn(2, 'Does using it need someone at the unit, inside the home?', F('physical-presence-needed'), PASS, FAIL),
    ],
  },
  {
    requirement: 'AUM-2',
    nodes: [
      reach(to(2)),
      dn(2, WEB, F('web-admin'), to(3), to(4)),
      dn(
        3,
        'Is the password (a knowledge factor) kept as a salted argon2id hash?',
        C('bundle.hash-params'),
        to(4),
        FAIL,
      ),
      dn(4, CLOUD, F('cloud-link'), to(5), PASS),
      dn(5, 'Does each unit hold its own key (a possession factor)?', C('tls.unique-certificates'), PASS, FAIL),
    ],
  },
  perInterface(
    'AUM-3',
    'Are sessions checked for idle and absolute expiry?',
    "Is the hub's certificate checked against the pinned one?",
    'Are certificate lifetimes checked, and a revoked certificate refused?',
    {
      web: C('config.session'),
      hub: C('channel.mutual-tls'),
      cloud: C('tls.certificate-lifetimes', 'cloud.revocation-enforced'),
    },
  ),
  {
    requirement: 'AUM-4',
    nodes: [
      dn(1, 'Does the owner hold a password for the admin page?', F('web-admin'), to(2), NA),
      dn(2, 'Can the owner change it, proving the current one?', C('config.password-policy'), PASS, FAIL),
    ],
  },
  {
    requirement: 'AUM-5-1',
    nodes: [
      dn(1, 'Does the admin page use a password?', F('web-admin'), to(2), NA),
      dn(2, 'Is every well-known default password refused?', C('login.default-credentials'), to(3), FAIL),
      dn(3, 'Does the owner set the password at first use?', F('owner-sets-password'), PASS, to(4)),
      dn(
        4,
        'Is the label password unique and not derived from the serial?',
        C('bundle.unique-credentials'),
        PASS,
        FAIL,
      ),
    ],
  },
  {
    requirement: 'AUM-5-2',
    nodes: [
      dn(1, 'Does the admin page use a password?', F('web-admin'), to(2), NA),
      dn(2, 'Does a new password have to pass the strength rule?', C('config.password-policy'), PASS, FAIL),
    ],
  },
  {
    requirement: 'AUM-6',
    nodes: [
      dn(1, WEB, F('web-admin'), to(2), to(3)),
      dn(
        2,
        'Are repeated failed logins met with back-off or lockout?',
        C('login.lockout', 'config.lockout'),
        to(4),
        FAIL,
      ),
      dn(3, CLOUD, F('cloud-link'), to(5), NA),
      dn(4, CLOUD, F('cloud-link'), to(5), PASS),
      dn(5, 'Are wrong claim codes rate-limited?', C('cloud.claim-window'), PASS, FAIL),
    ],
  },
];

const UPDATE: En18031Tree[] = [
  single('SUM-1', 'Does the unit carry an update trust anchor and A/B slots?', [
    ...C('bundle.update-trust-anchor', 'update.failsafe-slots'),
  ]),
  {
    requirement: 'SUM-2',
    nodes: [
      reach(to(2)),
      dn(2, "Does the image carry the repository's root metadata?", C('bundle.update-trust-anchor'), to(3), FAIL),
      dn(
        3,
        'Are unsigned, wrongly signed, expired and older images refused?',
        C('update.signature-required', 'update.anti-rollback'),
        PASS,
        FAIL,
      ),
    ],
  },
  single('SUM-3', 'Are updates automatic by default, with a bounded check interval?', C('config.auto-update')),
];

const STORAGE_AND_KEYS: En18031Tree[] = [
  single('SSM-1', 'Are secret files owner-only, under a sandboxed service?', [
    ...C('bundle.secret-file-modes', 'config.service-unit'),
  ]),
  single('SSM-2', 'Is the system read-only to the service, and the update root fixed in the image?', [
    ...C('config.service-unit', 'bundle.update-trust-anchor'),
  ]),
  {
    requirement: 'SSM-3',
    nodes: [
      reach(to(2)),
      dn(2, WEB, F('web-admin'), to(3), to(4)),
      dn(3, 'Are passwords stored only as salted argon2id hashes?', C('bundle.hash-params'), to(4), FAIL),
      dn(4, 'Are secrets owner-only and codes kept only as verifiers?', C('bundle.secret-file-modes'), PASS, FAIL),
    ],
  },
  single('CCK-1', 'Are keys and certificates unique to each unit?', [
    ...C('tls.unique-certificates', 'bundle.unique-credentials'),
  ]),
  single('CCK-2', 'Is every key made by the allow-listed cryptography, none hard-coded?', [
    ...C('build.crypto-allowlist', 'build.no-hardcoded-secrets'),
  ]),
  single('CCK-3', 'Do keys stay in owner-only files, out of source and image?', [
    ...C('bundle.secret-file-modes', 'build.no-hardcoded-secrets'),
  ]),
];

const COMMUNICATION: En18031Tree[] = [
  perInterface(
    'SCM-1',
    'Is the admin page HTTPS only, with HSTS?',
    'Is the hub link mutual TLS?',
    'Is the cloud link TLS to the pinned CA?',
    { web: C('http.security-headers'), hub: C('channel.mutual-tls'), cloud: C('bundle.cloud-trust-anchor') },
  ),
  {
    requirement: 'SCM-2',
    nodes: [
      reach(to(2)),
      dn(2, 'Are only TLS 1.2/1.3 with AEAD suites accepted?', C('tls.versions', 'tls.ciphers'), to(3), FAIL),
      dn(3, CLOUD, F('cloud-link'), to(4), PASS),
      dn(4, "Is the broker authenticated against the maker's pinned CA?", C('bundle.cloud-trust-anchor'), PASS, FAIL),
    ],
  },
  single('SCM-3', 'Are only forward-secret AEAD suites on TLS 1.2/1.3 accepted?', [
    ...C('tls.ciphers', 'tls.versions'),
  ]),
  single('SCM-4', 'Are only TLS versions with sound record sequencing accepted?', C('tls.versions')),
  single('CRY-1', 'Is cryptography allow-listed, and are only strong TLS suites offered?', [
    ...C('build.crypto-allowlist', 'tls.ciphers'),
  ]),
];

const NETWORK: En18031Tree[] = [
  single('RLM-1', 'Does the unit keep working and keep its records under a flood and an outage?', [
    ...C('journal.flood-resistant', 'config.offline-operation'),
  ]),
  onlyIf(
    'NMM-1',
    ['Is the product network equipment (a router, a gateway)?', 'network-equipment'],
    'Does it record every connection attempt?',
    C('journal.connections'),
  ),
  onlyIf(
    'TCM-1',
    ['Is the product network equipment (a router, a gateway)?', 'network-equipment'],
    'Are ports closed and port mapping off?',
    C('net.debug-ports', 'config.upnp-off'),
  ),
];

const GENERAL: En18031Tree[] = [
  single('GEC-1', 'Does the image have an SBOM, no known vulnerability left unhandled, and a passing audit?', [
    ...C('build.sbom', 'build.known-vulnerabilities', 'build.audit-report'),
  ]),
  single('GEC-2', 'Is port mapping off, and do answers name no software or version?', [
    ...C('config.upnp-off', 'http.info-disclosure'),
  ]),
  {
    requirement: 'GEC-3',
    nodes: [
      reach(to(2)),
      dn(2, 'Is UPnP port mapping off until the owner turns it on?', C('config.upnp-off'), to(3), FAIL),
      dn(3, HUB, F('hub-link'), to(4), PASS),
      dn(4, 'Is pairing closed unless a window is opened, within bounds?', C('config.pairing-mode'), PASS, FAIL),
    ],
  },
  single('GEC-4', 'Does the policy document list the interfaces and how to set them up?', C('policy.setup-guidance')),
  single('GEC-5', 'Are debug ports closed and debug modes off?', [...C('net.debug-ports', 'config.debug-off')]),
  single('GEC-6', 'Are bad inputs answered 4xx, and every parser fuzzed?', [
    ...C('http.input-validation', 'build.fuzz-targets'),
  ]),
  single('GEC-7', 'Does the policy tell the user how to set up securely and what the product does with data?', [
    ...C('policy.setup-guidance', 'policy.privacy-notice'),
  ]),
  onlyIf(
    'GEC-8',
    ['Does the product handle money or virtual currency?', 'financial-assets'],
    'Does the user see and confirm each transaction?',
    F('transaction-confirmation'),
  ),
];

const PRIVACY: En18031Tree[] = [
  single('LGM-1', 'Are lockouts, pairings, claims and updates recorded as security events?', [
    ...C('journal.security-events'),
  ]),
  single('LGM-2', 'Are log limits set, and do records survive a flood?', [
    ...C('config.log-retention', 'journal.flood-resistant'),
  ]),
  single('LGM-3', 'Does each connection record carry time, source, surface and result?', C('journal.connections')),
  {
    requirement: 'LGM-4',
    nodes: [
      reach(to(2)),
      dn(2, 'Do the logs hold none of the seeded secrets?', C('journal.redaction'), to(3), FAIL),
      dn(3, 'Does the product have a camera or microphone?', F('sensitive-sensors'), to(4), PASS),
      dn(4, 'Do the logs hold no sensed content?', C('journal.no-content'), PASS, FAIL),
    ],
  },
  single('DLM-1', 'Can the owner export and delete their data, and does a reset leave nothing?', [
    ...C('state.data-export', 'state.factory-reset'),
  ]),
  single('UNM-1', 'Can the owner list the security events of the unit?', C('journal.security-events')),
  single('UNM-2', 'Does each release tell the owner the risk fixed and the interruption?', C('update.release-notes')),
];

/** Every tree, by requirement id. */
export const EN18031_TREES: ReadonlyMap<string, En18031Tree> = new Map(
  [
    ...ACCESS,
    ...AUTHENTICATION,
    ...UPDATE,
    ...STORAGE_AND_KEYS,
    ...COMMUNICATION,
    ...NETWORK,
    ...GENERAL,
    ...PRIVACY,
  ].map((t) => [t.requirement, t]),
);
