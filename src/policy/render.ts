/**
 * Renders a product's security policy document from its profile and decision: scope, risk
 * tier and why, support period, vulnerability handling, privacy and sensing, secure setup,
 * each required control with the provisions it meets, and the standards coverage tables.
 *
 * @example
 *   const profile = parseProfile(text, resolveModel);
 *   const html = renderPolicy(profile, decide(profile), { format: 'html' });
 */
import { ConfigError } from '../errors/index.ts';
import { getModel, MODEL_IDS } from '../models/index.ts';
import type { ModelSpec } from '../models/index.ts';
import { buildAssetInventory } from './assets.ts';
import type { AssetInventory, AssetInventoryInput, SecurityAsset } from './assets.ts';
import type { Control, Tier } from './catalogue.ts';
import { CRA_REQUIREMENTS } from './cra.ts';
import { etsiCoverageFor, NETWORK_MODEL_NAMES, TIER_DESCRIPTIONS } from './decide.ts';
import type { Decision, ProductProvisionCoverage } from './decide.ts';
import { toHtml, toMarkdown } from './document.ts';
import type { Block, DocumentModel, Inline } from './document.ts';
import { ETSI_CONDITIONS, findEtsiProvision, statusConditions } from './etsi.ts';
import type { DeviceProfile, NetworkModel, Sensor, Actuator } from './profile.ts';
import { PSTI_REQUIREMENTS } from './psti.ts';
import type { PstiRequirement } from './psti.ts';

/** The promises the policy makes to vulnerability reporters, in calendar days. */
export interface DisclosureTimelines {
  /** A reporter hears back within this many days. */
  readonly acknowledgeWithinDays: number;
  /** Until resolution, the reporter gets a status update at least this often. */
  readonly statusUpdateEveryDays: number;
  /** Target for shipping a fix for a confirmed vulnerability. */
  readonly fixTargetDays: number;
}

/** Default timelines: acknowledgement in 5 days, updates every 14, fixes within 90. */
export const DEFAULT_DISCLOSURE_TIMELINES: DisclosureTimelines = {
  acknowledgeWithinDays: 5, // days
  statusUpdateEveryDays: 14, // days
  fixTargetDays: 90, // days
};

/** Options of renderPolicy. */
export interface RenderOptions {
  readonly format: 'md' | 'html';
  /** Overrides of the disclosure timelines; each must be a whole number of days from 1 to 365. */
  readonly disclosure?: Partial<DisclosureTimelines>;
  /**
   * The product model the profile names, for the asset inventory; a built-in model is found by its id when
   * absent. Without either (a maker's model file not given) the inventory section says so.
   */
  readonly model?: ModelSpec;
  /** The unit's hardware is a maker's driver (`device run --driver` 'stdio', `--driver-socket` 'socket'). */
  readonly driver?: AssetInventoryInput['driver'];
}

/** Renders the product's security policy document as Markdown or self-contained HTML. */
export function renderPolicy(profile: DeviceProfile, decision: Decision, options: RenderOptions): string {
  const timelines = checkTimelines({ ...DEFAULT_DISCLOSURE_TIMELINES, ...options.disclosure });
  const inventory = inventoryFor(profile, options);
  const doc = buildPolicyDocument(profile, decision, timelines, inventory);
  if (options.format === 'md') return toMarkdown(doc);
  if (options.format === 'html') return toHtml(doc);
  throw new ConfigError(
    'POLICY_OPTION_INVALID',
    'format',
    `unknown format ${JSON.stringify(String(options.format)).slice(0, 20)}; use md or html`,
  );
}

/** The inventory of the profile's model: the one given, else the built-in of that id and name, else none. */
function inventoryFor(profile: DeviceProfile, options: RenderOptions): AssetInventory | undefined {
  let model = options.model;
  if (model !== undefined && (model.id !== profile.modelId || model.name !== profile.model)) {
    throw new ConfigError('POLICY_OPTION_INVALID', 'model', `is not the model the profile names (${profile.modelId})`);
  }
  if (model === undefined && MODEL_IDS.includes(profile.modelId)) {
    const builtin = getModel(profile.modelId);
    // A maker's model file may reuse a built-in id; its name tells the two apart.
    if (builtin.name === profile.model) model = builtin;
  }
  if (model === undefined) return undefined;
  return buildAssetInventory({ profile, model, ...(options.driver ? { driver: options.driver } : {}) });
}

function checkTimelines(t: DisclosureTimelines): DisclosureTimelines {
  const keys = ['acknowledgeWithinDays', 'statusUpdateEveryDays', 'fixTargetDays'] as const;
  for (const key of keys) {
    const v = t[key];
    if (!Number.isInteger(v) || v < 1 || v > 365) {
      throw new ConfigError(
        'POLICY_OPTION_INVALID',
        `disclosure.${key}`,
        'must be a whole number of days from 1 to 365',
      );
    }
  }
  if (t.acknowledgeWithinDays > t.fixTargetDays) {
    throw new ConfigError(
      'POLICY_OPTION_INVALID',
      'disclosure.acknowledgeWithinDays',
      'must not be later than fixTargetDays',
    );
  }
  return t;
}

const SENSOR_WORDS: Readonly<Record<Sensor, string>> = {
  camera: 'camera: captures images or video of its surroundings',
  microphone: 'microphone: can capture sound, including speech',
  location: 'location: can determine where it, and so its owner, is',
  motion: 'motion sensor: detects movement nearby',
  presence: 'presence sensor: detects whether people are in the room',
  contact: 'contact sensor: detects whether a door or window is open',
  'power-meter': 'power meter: measures the electricity drawn by the connected appliance',
  smoke: 'smoke detector',
  'water-leak': 'water-leak detector',
  temperature: 'temperature sensor',
  humidity: 'humidity sensor',
  light: 'ambient light sensor',
  'air-quality': 'air-quality sensor',
};

const ACTUATOR_WORDS: Readonly<Record<Actuator, string>> = {
  lock: 'a door lock',
  heating: 'heating',
  power: 'mains power to an appliance',
  motor: 'a motor (blinds, doors, gates)',
  valve: 'a valve (water or gas)',
  siren: 'a siren',
  light: 'a light',
};

/** What the policy tells an owner to do and to check when setting the product up, per network model. */
export const SETUP_GUIDANCE: Readonly<Record<NetworkModel, { setup: string; check: string }>> = {
  listening: {
    setup:
      "Open the device's admin page over HTTPS and log in with the admin password printed on its sticker; " +
      'models without one ask you to set a password, using the setup code from the sticker. Change it to a ' +
      'long password you use nowhere else. Leave remote access (port forwarding) off unless you need it.',
    check:
      'After logging in, the admin page shows automatic updates on and remote access off; its connection log ' +
      'should list only login attempts you recognise.',
  },
  hub: {
    setup:
      'Start pairing on your hub, then press the pairing button on the device. Devices that can open doors or ' +
      'see and hear ask for the setup code from the sticker instead.',
    check:
      'The hub lists the device as paired with a verified key, and the device shows which capabilities the hub ' +
      'may use.',
  },
  cloud: {
    setup:
      'In the app, add the device with the claim code from the sticker, then press the device button when ' +
      'asked, within the time shown.',
    check: 'The app lists the device under your account only; after a factory reset it disappears from your account.',
  },
};

function anchor(control: Control): string {
  return `control-${control.id.toLowerCase()}`;
}

function etsiAnchor(id: string): string {
  return `etsi-${id.replace(/[^0-9a-z]+/gi, '-').toLowerCase()}`;
}

function join(items: readonly Inline[][], sep = ', '): Inline[] {
  return items.flatMap((item, i) => (i === 0 ? item : [sep, ...item]));
}

/** Builds the policy as a document model (used by renderPolicy; exposed for tests and other writers). */
export function buildPolicyDocument(
  profile: DeviceProfile,
  decision: Decision,
  timelines: DisclosureTimelines = DEFAULT_DISCLOSURE_TIMELINES,
  inventory?: AssetInventory,
): DocumentModel {
  const title = `Security policy: ${profile.model}`;
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: title, id: 'top' },
    paragraph(
      `This is the product security and data-protection policy of ${profile.model}, made by ${makerOf(profile)}. ` +
        'It states which security controls the product meets and why, how long it receives security updates, ' +
        'how to report a vulnerability, ' +
        'what the device senses and which personal data it keeps, and how each applicable provision of ETSI EN ' +
        '303 645 V2.1.1 and the UK PSTI regulations is met.',
    ),
    ...scopeSection(profile),
    ...tierSection(profile, decision, inventory?.links),
    ...supportSection(profile),
    ...disclosureSection(profile, timelines),
    ...privacySection(profile),
    ...setupSection(profile),
    ...requiredControlsSection(decision),
    ...notApplicableSection(decision),
    ...coverageSection(decision),
    ...assetSection(profile, inventory),
  ];
  return { title, blocks };
}

function heading2(text: string, id: string): Block {
  return { kind: 'heading', level: 2, text, id };
}

function paragraph(...content: Inline[]): Block {
  return { kind: 'paragraph', content };
}

function makerOf(profile: DeviceProfile): string {
  return profile.maker ?? 'the manufacturer';
}

function scopeSection(profile: DeviceProfile): Block[] {
  const parts = ['the device and its software'];
  if (profile.networkModels.includes('listening')) parts.push('its local admin service');
  if (profile.networkModels.includes('hub')) parts.push('its link to a local automation hub');
  if (profile.networkModels.includes('cloud')) parts.push("the manufacturer's cloud service and account association");
  parts.push('the update service', "the manufacturer's vulnerability-handling and support processes");
  return [
    heading2('1. Scope', 'scope'),
    {
      kind: 'fields',
      items: [
        ['Product model', [profile.model]],
        ['Manufacturer', [profile.maker ?? 'not stated']],
        ['Network models', [profile.networkModels.map((m) => NETWORK_MODEL_NAMES[m]).join('; ')]],
        ['Sensors', [profile.sensors.length === 0 ? 'none' : profile.sensors.join(', ')]],
        ['Actuators', [profile.actuators.length === 0 ? 'none' : profile.actuators.join(', ')]],
        ['Personal data kept', [profile.personalData ? 'yes' : 'no']],
        ['Reachable from the internet', [reachableWords(profile)]],
        ['Security updates until', [profile.supportPeriodEnd]],
      ],
    },
    paragraph(`The policy covers ${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}.`),
  ];
}

const TIER_NAMES: Readonly<Record<Tier, string>> = { 1: 'baseline', 2: 'elevated', 3: 'high' };

/** Why a fact of this product raises its tier, in an owner's words (tier-1 facts raise nothing). */
const FACTOR_WORDS: Readonly<Record<string, string>> = {
  camera: 'it has a camera, so it can see people',
  microphone: 'it has a microphone, so it can hear people',
  location: 'it can tell where it, and so its owner, is',
  motion: 'its motion sensor reveals when people are home',
  presence: 'its presence sensor reveals when people are in the room',
  contact: 'its contact sensor reveals when doors or windows open',
  'power-meter': 'it meters the power an appliance draws, which reveals when people are home',
  smoke: 'it detects smoke, and a silenced alarm is a hazard',
  'water-leak': 'it detects water leaks, and a silenced alarm lets damage spread',
  lock: 'it locks and unlocks a door, so it can open the home',
  heating: 'it drives heating, which can overheat, let pipes freeze or run up costs',
  power: 'it switches mains power to an appliance, a fire risk if misused',
  motor: 'it drives a motor (blinds, doors, gates), which can hurt people or open the way in',
  valve: 'it opens and closes a valve (water or gas)',
  siren: 'it sounds a siren, which can raise false alarms or be silenced',
  'personal data': 'it keeps personal data about its household',
  'internet exposure': 'its own service is meant to be reachable from the internet',
};

/** How each link layer of a model is named for owners. */
const LINK_WORDS: Readonly<Record<string, string>> = {
  wifi: 'Wi-Fi',
  ethernet: 'Ethernet',
  thread: 'Thread',
  zigbee: 'Zigbee',
  'bluetooth-le': 'Bluetooth Low Energy',
  cellular: 'a mobile (cellular) network',
};

/** The scope's answer to "reachable from the internet", from the profile's facts. */
function reachableWords(profile: DeviceProfile): string {
  if (profile.internetExposed) return "yes: the device's own service is meant to be reachable from the internet";
  return profile.networkModels.includes('cloud')
    ? "no: it only connects out, to the manufacturer's cloud service"
    : 'no: it talks only on the local network';
}

/** Who can reach this product and how, from its network models and its model's links. */
function reachSentences(profile: DeviceProfile, links: readonly string[] | undefined): string {
  const models = profile.networkModels;
  const out: string[] = [];
  if (links !== undefined && links.length > 0)
    out.push(`It joins the network over ${links.map((l) => LINK_WORDS[l] ?? l).join(' or ')}.`);
  if (profile.internetExposed)
    out.push('Its own service is meant to be reachable from the internet, so anyone online can try to connect to it.');
  else if (models.includes('cloud'))
    out.push(
      "It is not reachable from the internet: it only connects out, to the manufacturer's cloud service, over " +
        'mutual TLS with its factory certificate; nothing on the internet can open a connection to it.',
    );
  else out.push("It is not reachable from the internet and has no link to the manufacturer's cloud.");
  if (models.includes('listening'))
    out.push(
      `Its admin page answers on the local network${profile.internetExposed ? '' : ' only'}; remote access ` +
        'through port forwarding (UPnP) stays off unless the owner turns it on.',
    );
  if (models.includes('hub')) out.push('A local automation hub reaches it on the local network once paired.');
  return out.join(' ');
}

/** The tier of this product, with the facts of this product that set it, then the scale for comparison. */
function tierSection(profile: DeviceProfile, decision: Decision, links: readonly string[] | undefined): Block[] {
  const tier = decision.tier;
  const why: Block[] =
    decision.factors.length === 0
      ? [
          paragraph(
            `${profile.model} is in risk tier 1 (${TIER_NAMES[1]}): it keeps no personal data, is not reachable ` +
              'from the internet, and has only low-risk sensors and actuators.',
          ),
        ]
      : [
          paragraph(`${profile.model} is in risk tier ${tier} (${TIER_NAMES[tier]}) because:`),
          {
            kind: 'list',
            items: decision.factors.map((f) => [`${FACTOR_WORDS[f.factor] ?? f.factor} (tier ${f.tier}).`]),
          },
        ];
  return [
    heading2('2. Risk tier and why', 'tier'),
    ...why,
    paragraph(reachSentences(profile, links)),
    paragraph('How the decision was reached:'),
    { kind: 'list', items: decision.reasons.map((r) => [r]) },
    paragraph('The tiers, for comparison:'),
    { kind: 'list', items: ([1, 2, 3] as const).map((t) => [`Tier ${t}. ${TIER_DESCRIPTIONS[t]}`]) },
  ];
}

function supportSection(profile: DeviceProfile): Block[] {
  const maker = makerOf(profile);
  return [
    heading2('3. Support period', 'support'),
    paragraph(
      `${maker.charAt(0).toUpperCase()}${maker.slice(1)} provides security updates for ${profile.model} until ` +
        `at least ${profile.supportPeriodEnd}. ` +
        'This is the defined support period. It may be extended, and any extension is published here and on ' +
        'the product page promptly; it will not be shortened.',
    ),
    paragraph(
      'Until then, security fixes are free of charge and installed automatically unless the owner has turned ' +
        'automatic updates off. ' +
        'After the end date the device keeps working, but no further security updates are promised; owners ' +
        'should then plan to replace it or isolate it from the internet.',
    ),
  ];
}

function disclosureSection(profile: DeviceProfile, timelines: DisclosureTimelines): Block[] {
  const contact = profile.securityContact;
  const reporting: Block =
    contact === undefined
      ? {
          kind: 'notice',
          content: [
            'No security contact is set in the device profile. This policy is incomplete until one is added ' +
              '(key securityContact).',
          ],
        }
      : paragraph(
          'Report security vulnerabilities to ',
          { text: contact.replace(/^mailto:/, ''), href: contact },
          '. Reporting is free, can be done in English, and does not require any personal data beyond a way to reply.',
        );
  return [
    heading2('4. Reporting a vulnerability', 'vulnerabilities'),
    reporting,
    {
      kind: 'list',
      items: [
        [`Acknowledgement: within ${timelines.acknowledgeWithinDays} days of the report.`],
        [`Status updates: at least every ${timelines.statusUpdateEveryDays} days until the issue is resolved.`],
        [
          `Fix: a security update for a confirmed vulnerability is targeted within ${timelines.fixTargetDays} ` +
            `days, sooner when it is exploited.`,
        ],
        [
          'Advisory: once a fix is available, a public advisory names the affected versions and the fix, and ' +
            'credits the reporter if they wish.',
        ],
        [
          'The same contact is published as /.well-known/security.txt (RFC 9116) on the device and on the ' +
            "manufacturer's website.",
        ],
      ],
    },
  ];
}

function privacySection(profile: DeviceProfile): Block[] {
  const b: Block[] = [heading2('5. Privacy and sensing', 'privacy')];
  if (profile.sensors.length === 0) b.push(paragraph(`${profile.model} has no sensors.`));
  else
    b.push(paragraph(`${profile.model} has these sensing capabilities:`), {
      kind: 'list',
      items: profile.sensors.map((s) => [SENSOR_WORDS[s]]),
    });
  if (profile.actuators.length > 0)
    b.push(paragraph(`It controls ${profile.actuators.map((a) => ACTUATOR_WORDS[a]).join(', ')}.`));
  const cloud = profile.networkModels.includes('cloud');
  const inService = cloud
    ? " and in the manufacturer's service, which processes it only to provide the product's functions and " +
      'shares it with no advertisers'
    : '';
  b.push(
    paragraph(
      profile.personalData
        ? `${profile.model} keeps personal data about its owner and household (settings, usage history and ` +
            `events), on the device${inService}. ` +
            `The owner can export it and erase it at any time and gets a confirmation when it is gone; a factory ` +
            `reset erases everything on the device.`
        : `${profile.model} keeps no personal data beyond what the owner configures (such as its name and ` +
            `password hash); a factory reset erases all of it.`,
    ),
  );
  b.push(
    paragraph(
      'No telemetry is sent by default. Logs stay on the device, are redacted (no passwords, codes or keys), ' +
        'and are bounded in size and age' +
        (profile.sensors.some((s) => s === 'camera' || s === 'microphone')
          ? '; nothing captured by the camera or microphone, nor anything derived from it, is ever logged.'
          : '.'),
    ),
  );
  b.push(
    paragraph(
      'The device records who connects to it (address, surface, result) so the owner can spot an attack; the ' +
        'owner can turn this connection monitoring off on the admin page, and it is on again after a factory ' +
        'reset. Either way the device keeps what protects the owner: failed and successful logins, lockouts, ' +
        'owner actions, and each change of this setting. With monitoring off it keeps no connection records ' +
        'and forgets those it held.',
    ),
  );
  if (cloud) {
    b.push(
      paragraph(
        "Connecting the device to an account is the owner's choice and their consent to the processing " +
          'described here; they can withdraw it at any time by removing the device from the account, erasing ' +
          'their data or resetting the device.',
      ),
    );
  }
  return b;
}

function setupSection(profile: DeviceProfile): Block[] {
  return [
    heading2('6. Setting up securely', 'setup'),
    paragraph(
      'Every default is the secure one: there is nothing to switch on for security, only conveniences to ' +
        'switch on if wanted.',
    ),
    ...profile.networkModels.map((m): Block => ({
      kind: 'fields',
      items: [
        [`Set up (${NETWORK_MODEL_NAMES[m]})`, [SETUP_GUIDANCE[m].setup]],
        ['Check', [SETUP_GUIDANCE[m].check]],
      ],
    })),
  ];
}

function requiredControlsSection(decision: Decision): Block[] {
  return [
    heading2(`7. Required controls (${decision.required.length})`, 'controls'),
    paragraph(
      'Each control below applies to this product: first what is true of the product, then why it matters, why ' +
        'this product needs it, ' +
        'which standard provisions it meets, and how the auditor verifies it.',
    ),
    ...decision.required.flatMap(({ control, because }): Block[] => [
      { kind: 'heading', level: 3, text: `${control.id}: ${control.title}`, id: anchor(control) },
      paragraph(control.statement),
      {
        kind: 'fields',
        items: [
          ['Why', [control.rationale]],
          ['Required because', [because.join('; ')]],
          ['Serves', [`the brief, "${control.brief}"`]],
          ['Meets', provisionRefs(control)],
          ['Verified by', [control.checks.map((c) => `${c.id} (${c.kind})`).join(', ')]],
        ],
      },
    ]),
  ];
}

function notApplicableSection(decision: Decision): Block[] {
  const head = heading2('8. Controls not applicable', 'not-applicable');
  if (decision.notApplicable.length === 0)
    return [head, paragraph('Every control in the catalogue applies to this product.')];
  return [
    head,
    {
      kind: 'table',
      caption: 'Controls of the catalogue this product does not need, and why',
      headers: ['Control', 'Title', 'Not applicable because the product'],
      rows: decision.notApplicable.map(({ control, because }) => ({
        cells: [[control.id], [control.title], [because]],
      })),
    },
  ];
}

function coverageSection(decision: Decision): Block[] {
  return [
    heading2('9. Standards coverage', 'coverage'),
    paragraph(
      'Status: M = mandatory, R = recommended, C(n) = conditional on condition n. Conditions: ' +
        Object.entries(ETSI_CONDITIONS)
          .map(([n, text]) => `(${n}) ${text}`)
          .join('; ') +
        '.',
    ),
    {
      kind: 'table',
      caption: 'ETSI EN 303 645 V2.1.1: every provision of sections 5 and 6',
      headers: ['Provision', 'Status', 'What it asks (paraphrased)', 'How this product meets it'],
      rows: etsiCoverageFor(decision).map((row) => ({
        id: etsiAnchor(row.provision.id),
        cells: [[row.provision.id], [row.provision.status], [row.provision.paraphrase], howEtsiIsMet(row)],
      })),
    },
    {
      kind: 'table',
      caption: 'UK PSTI regulations, Schedule 1',
      headers: ['Requirement', 'What it asks (paraphrased)', 'How this product meets it'],
      rows: PSTI_REQUIREMENTS.map((req) => ({
        cells: [[`${req.id} ${req.title}`], [req.paraphrase], howPstiIsMet(decision, req)],
      })),
    },
  ];
}

function howEtsiIsMet(row: ProductProvisionCoverage): Inline[] {
  let how: Inline[];
  if (row.verdict.kind === 'met') {
    how = ['Met by ', ...join(row.verdict.controls.map((c) => [{ text: c.id, href: `#${anchor(c)}` }]))];
  } else if (row.verdict.kind === 'out-of-scope') {
    how = [`Outside the toolkit: ${row.verdict.reason}`];
  } else if (statusConditions(row.provision.status).length > 0) {
    how = [`Not applicable (condition not met): ${row.verdict.reason}.`];
  } else {
    // An unconditional provision cannot be "not applicable" (Table B.1); it is not adopted, with the reason 5.0-1 asks
    // for.
    how = [`Not adopted for this product: ${row.verdict.reason}.`];
  }
  if (row.note !== undefined) how.push(` Note: ${row.note}`);
  return how;
}

function howPstiIsMet(decision: Decision, req: PstiRequirement): Inline[] {
  const controls = decision.required
    .filter((r) => r.control.provisions.psti?.includes(req.id) === true)
    .map((r) => r.control);
  if (controls.length === 0) return ['No required control meets it: the policy is incomplete.'];
  return [
    'Met by ',
    ...join(controls.map((c) => [{ text: c.id, href: `#${anchor(c)}` }])),
    `. Schedule 2 deems EN 303 645 ${req.deemedBy.join(' and ')} sufficient.`,
  ];
}

function provisionRefs(control: Control): Inline[] {
  const groups: Inline[][] = [];
  const { etsi, psti, isvs, cra } = control.provisions;
  if (etsi.length > 0) {
    groups.push([
      'EN 303 645 ',
      ...join(
        etsi.map((id) => [{ text: `${id} (${findEtsiProvision(id)?.status ?? '?'})`, href: `#${etsiAnchor(id)}` }]),
      ),
    ]);
  } else {
    groups.push(['no EN 303 645 provision names this']);
  }
  if (psti !== undefined && psti.length > 0) {
    groups.push([
      `UK PSTI ${psti.map((id) => `${id} (${PSTI_REQUIREMENTS.find((r) => r.id === id)?.title ?? '?'})`).join(', ')}`,
    ]);
  }
  if (isvs !== undefined && isvs.length > 0) groups.push([`OWASP ISVS ${isvs.join(', ')}`]);
  if (cra !== undefined && cra.length > 0)
    groups.push([`EU CRA Annex I ${cra.map((id) => `${id} (${CRA_REQUIREMENTS[id]})`).join(', ')}`]);
  return join(groups, '; ');
}

function assetSection(profile: DeviceProfile, inventory: AssetInventory | undefined): Block[] {
  const head = heading2('10. Asset inventory', 'assets');
  if (inventory === undefined) {
    return [
      head,
      {
        kind: 'notice',
        content: [`The asset inventory needs the product model file of ${profile.modelId}; render the policy with it.`],
      },
    ];
  }
  return [
    head,
    paragraph(
      `The assets of ${profile.model} and the interfaces they are reached through, derived from its product model ` +
        `(${inventory.modelId}), this profile and the unit bundle the factory writes. Security updates are provided ` +
        `until ${profile.supportPeriodEnd}.`,
    ),
    {
      kind: 'fields',
      items: [
        ['Model privacy class', [inventory.modelPrivacyClass]],
        ['Networks the unit joins', [inventory.links.join(', ')]],
      ],
    },
    securityAssetTable(inventory.securityAssets),
    {
      kind: 'table',
      caption: 'Network assets: the interfaces of the unit',
      headers: ['Interface', 'Protocol', 'Direction', 'Port or socket', 'Authentication', 'On by default'],
      rows: inventory.networkInterfaces.map((n) => ({
        id: `asset-${n.id}`,
        cells: [
          [n.name],
          [n.protocol],
          [n.direction],
          [n.endpoint],
          [n.authentication],
          [yesNo(n.onByDefault, n.when)],
        ],
      })),
    },
    {
      kind: 'table',
      caption: 'Data the unit senses and keeps about its owner, with its privacy class',
      headers: ['Source', 'What', 'Privacy class', 'Where it may go'],
      rows: inventory.dataAssets.map((d) => ({
        id: `asset-${d.id}`,
        cells: [[d.source], [d.what], [d.privacyClass], [d.leaves]],
      })),
    },
  ];
}

const PLACES: Readonly<Record<SecurityAsset['location']['place'], string>> = {
  bundle: 'unit bundle',
  factory: 'unit bundle, factory only',
  state: 'state folder',
};

function securityAssetTable(assets: readonly SecurityAsset[]): Block {
  return {
    kind: 'table',
    caption: 'Security assets: where each is kept, how it is protected, and the property that matters',
    headers: ['File', 'Kept in', 'What it is', 'Protection', 'Security property'],
    rows: assets.map((a) => ({
      id: `asset-${a.id}`,
      cells: [[a.location.file], [PLACES[a.location.place]], [a.what], [a.protection], [a.properties.join(', ')]],
    })),
  };
}

function yesNo(on: boolean, when: string): string {
  return `${on ? 'yes' : 'no'}: ${when}`;
}
