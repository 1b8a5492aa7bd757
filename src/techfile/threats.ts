/**
 * The threats to each asset of the inventory (src/policy assets.ts) and the controls of the catalogue
 * that treat them: the risk assessment's first half, as data. A threat follows from what must hold of
 * an asset (its security properties), from how an interface is reached, or from how personal a piece
 * of data is; a few assets add threats of their own. Control ids are typed, so a control renamed in
 * the catalogue does not compile here until this table follows.
 */
import type { AssetInventory, ControlId, DataAsset, NetworkInterface, SecurityAsset } from '../policy/index.ts';

/** A risk level, before or after treatment. */
export type RiskLevel = 'high' | 'medium' | 'low';

/** One asset of the register, whatever its kind. */
export interface RegisterAsset {
  readonly id: string;
  readonly kind: 'security asset' | 'interface' | 'data';
  readonly what: string;
}

/** One threat to one asset, with the controls that treat it. */
export interface Threat {
  readonly asset: RegisterAsset;
  /** Short id, unique per asset, e.g. 'disclosure'. */
  readonly id: string;
  /** What can go wrong with the asset, e.g. 'is altered on the unit to weaken it'. */
  readonly threat: string;
  /** The risk before any control: how bad it is if nothing stops it. */
  readonly inherent: RiskLevel;
  readonly controls: readonly ControlId[];
}

type Rule<A> = (asset: A) => Omit<Threat, 'asset'>[];

const SECRET_CONTROLS: readonly ControlId[] = [
  'STORE-SECRETS-PROTECTED',
  'RUNTIME-HARDENED',
  'RUNTIME-DEBUG-OFF',
  'PRIVACY-FACTORY-RESET',
];

/** Threats of a security asset, from the properties that must hold of it and where it is kept. */
const securityThreats: Rule<SecurityAsset> = (a) => {
  const out: Omit<Threat, 'asset'>[] = [];
  if (a.properties.includes('confidentiality')) {
    out.push(
      a.location.place === 'factory'
        ? {
            id: 'disclosure',
            threat: 'leaks from the factory and lets someone take over a unit',
            inherent: 'high',
            controls: ['IDENT-UNIQUE-CREDENTIALS', 'STORE-SECRETS-PROTECTED'],
          }
        : {
            id: 'disclosure',
            threat: 'is read off the unit by another process, through a debug interface or by a later owner',
            inherent: 'high',
            controls: SECRET_CONTROLS,
          },
    );
  }
  if (a.properties.includes('integrity') && a.location.place !== 'factory') {
    out.push({
      id: 'tampering',
      threat: 'is altered on the unit to weaken it',
      inherent: a.properties.includes('confidentiality') ? 'high' : 'medium',
      controls: ['RUNTIME-HARDENED', 'UPDATE-SIGNED', 'STORE-SECRETS-PROTECTED'],
    });
  }
  if (a.properties.includes('authenticity')) {
    out.push({
      id: 'spoofing',
      threat: 'a forged or shared counterpart is accepted in its place',
      inherent: 'high',
      controls: ['TLS-UNIQUE-CERTIFICATE', 'IDENTITY-LIFECYCLE', 'CLOUD-PINNED-CA', 'UPDATE-SIGNED'],
    });
  }
  return [...out, ...(ASSET_THREATS[a.id] ?? [])];
};

/** Threats some assets add to those of their properties. */
const ASSET_THREATS: Readonly<Record<string, Omit<Threat, 'asset'>[]>> = {
  'bundle-adminPasswordHash': [
    {
      id: 'guessing',
      threat: 'the password behind the hash is guessed, online or offline',
      inherent: 'high',
      controls: ['AUTH-UNIQUE-PASSWORD', 'AUTH-PASSWORD-HASHING', 'AUTH-LOCKOUT'],
    },
  ],
  'bundle-pairingVerifier': [
    {
      id: 'guessing',
      threat: 'the setup code is guessed against the verifier in pairing attempts',
      inherent: 'high',
      controls: ['PAIR-PAKE-SENSITIVE', 'PAIR-WINDOW'],
    },
  ],
  'bundle-updateRoot': [
    {
      id: 'rollback',
      threat: 'an older, vulnerable image signed under the same root is installed',
      inherent: 'high',
      controls: ['UPDATE-ANTI-ROLLBACK'],
    },
  ],
  'state-journal': [
    {
      id: 'erasure',
      threat: 'a flood of connections evicts the records of an attack, or the journal keeps more than it should',
      inherent: 'medium',
      controls: ['LOG-SECURITY-EVENTS', 'LOG-CONNECTIONS', 'LOG-PRIVACY-LIMITS'],
    },
  ],
};

/** Threats of an interface, from its direction and what it is. */
const INTERFACE_THREATS: Readonly<Record<string, Omit<Threat, 'asset'>[]>> = {
  'admin-page': [
    {
      id: 'unauthorised-access',
      threat: 'someone on the network logs in as the owner or reaches a page without logging in',
      inherent: 'high',
      controls: [
        'AUTH-UNIQUE-PASSWORD',
        'AUTH-PASSWORD-STRENGTH',
        'AUTH-LOCKOUT',
        'AUTH-ALL-REQUESTS',
        'AUTH-SESSIONS',
      ],
    },
    {
      id: 'cross-site',
      threat: "a web page the owner visits makes the owner's browser change a setting",
      inherent: 'medium',
      controls: ['WEB-CSRF', 'WEB-SECURITY-HEADERS'],
    },
    {
      id: 'eavesdropping',
      threat: 'the owner password or a session is read or changed on the way',
      inherent: 'high',
      controls: ['TLS-MODERN-CONFIG', 'TLS-UNIQUE-CERTIFICATE'],
    },
    {
      id: 'malformed-input',
      threat: 'malformed or oversized requests crash the unit or run code on it',
      inherent: 'high',
      controls: ['DEV-INPUT-VALIDATION', 'DEV-PARSER-FUZZING', 'RESILIENCE-OUTAGES'],
    },
  ],
  'hub-channel': [
    {
      id: 'rogue-pairing',
      threat: "a stranger's hub pairs with the unit and controls it",
      inherent: 'high',
      controls: ['PAIR-WINDOW', 'PAIR-PAKE-SENSITIVE'],
    },
    {
      id: 'impersonation',
      threat: 'another machine poses as the paired hub, or reads the channel',
      inherent: 'high',
      controls: ['CHANNEL-MUTUAL-TLS'],
    },
    {
      id: 'over-privilege',
      threat: 'a paired hub uses a capability the owner did not grant it',
      inherent: 'medium',
      controls: ['HUB-LEAST-PRIVILEGE'],
    },
  ],
  'cloud-mqtt': [
    {
      id: 'spoofed-server',
      threat: "a server that is not the manufacturer's poses as the broker",
      inherent: 'high',
      controls: ['CLOUD-PINNED-CA'],
    },
    {
      id: 'cross-device',
      threat: "one unit's identity is used to act as, or knock off, another unit",
      inherent: 'high',
      controls: ['CLOUD-DEVICE-ISOLATION', 'IDENTITY-LIFECYCLE'],
    },
    {
      id: 'claim-takeover',
      threat: 'someone adds the unit to their own account from its serial number or a guessed code',
      inherent: 'high',
      controls: ['CLOUD-SECURE-CLAIM'],
    },
  ],
  'update-client': [
    {
      id: 'malicious-update',
      threat: 'a modified or foreign image is installed',
      inherent: 'high',
      controls: ['UPDATE-SIGNED', 'CRYPTO-REVIEWED-IMPLEMENTATIONS'],
    },
    {
      id: 'failed-update',
      threat: 'an update cut off by power loss, or a bad image, leaves the unit unusable',
      inherent: 'medium',
      controls: ['UPDATE-FAILSAFE-INSTALL'],
    },
    {
      id: 'unpatched',
      threat: 'a known vulnerability stays on units because fixes are not installed',
      inherent: 'high',
      controls: ['UPDATE-AUTO-DEFAULT', 'VULN-HANDLING', 'DEV-SBOM'],
    },
  ],
  driver: [
    {
      id: 'malformed-messages',
      threat: 'a faulty or compromised driver sends messages that crash or mislead the agent',
      inherent: 'medium',
      controls: ['DEV-INPUT-VALIDATION', 'RUNTIME-HARDENED'],
    },
  ],
  discovery: [
    {
      id: 'exposure',
      threat: 'the unit announces itself or opens a port on the router, and is found from outside',
      inherent: 'medium',
      controls: ['NET-NO-UPNP', 'NET-MINIMAL-SURFACE'],
    },
  ],
};

/** An interface the table does not know (a maker's own) still gets the threat every listening port has. */
const interfaceThreats: Rule<NetworkInterface> = (i) =>
  INTERFACE_THREATS[i.id] ?? [
    {
      id: 'unauthorised-access',
      threat: 'is reached by someone without the right to',
      inherent: i.direction === 'inbound' ? 'high' : 'medium',
      controls: ['NET-MINIMAL-SURFACE', 'DEV-INPUT-VALIDATION'],
    },
  ];

/** Threats of data about the owner, by how personal it is. */
const dataThreats: Rule<DataAsset> = (d) => {
  if (d.privacyClass === 'sensitive')
    return [
      {
        id: 'privacy',
        threat: 'reaches someone the owner did not choose, or is kept in logs',
        inherent: 'high',
        controls: ['LOG-NO-SENSOR-CONTENT', 'HUB-LEAST-PRIVILEGE', 'PRIVACY-SENSING-DISCLOSED'],
      },
    ];
  if (d.privacyClass === 'personal')
    return [
      {
        id: 'privacy',
        threat: "reveals the household's habits to someone the owner did not choose",
        inherent: 'medium',
        controls: ['LOG-PRIVACY-LIMITS', 'PRIVACY-DATA-EXPORT-ERASURE', 'PRIVACY-NOTICE'],
      },
    ];
  return [
    {
      id: 'integrity',
      threat: 'is falsified on the way to the owner',
      inherent: 'low',
      controls: ['TLS-MODERN-CONFIG'],
    },
  ];
};

/** Every threat to every asset of `inventory`, in inventory order. */
export function threatsOf(inventory: AssetInventory): Threat[] {
  const withAsset = (asset: RegisterAsset, items: Omit<Threat, 'asset'>[]): Threat[] =>
    items.map((t) => ({ asset, ...t }));
  return [
    ...inventory.securityAssets.flatMap((a) =>
      withAsset({ id: a.id, kind: 'security asset', what: a.what }, securityThreats(a)),
    ),
    ...inventory.networkInterfaces.flatMap((i) =>
      withAsset({ id: i.id, kind: 'interface', what: i.name }, interfaceThreats(i)),
    ),
    ...inventory.dataAssets.flatMap((d) => withAsset({ id: d.id, kind: 'data', what: d.what }, dataThreats(d))),
  ];
}
