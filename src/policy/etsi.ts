/**
 * ETSI EN 303 645 V2.1.1 (2020-06), sections 5 and 6: every provision with a paraphrase (our
 * words, not the standard's) and its status, and how Bulwark covers it. V2.1.1 is the edition
 * the UK PSTI regulations cite; V3 splits and adds provisions (5.1-2A, 5.13-1A/B, 6-6...) that
 * are deliberately not listed here.
 *
 * Coverage is derived from the catalogue in coverage.ts (a provision is met by every control that
 * names it); a provision no control names must carry a written out-of-scope reason here, which is
 * also what provision 5.0-1 asks for.
 */
/** Every provision id of EN 303 645 V2.1.1 sections 5 and 6, in document order. */
export const ETSI_PROVISION_IDS = [
  '5.0-1',
  '5.1-1',
  '5.1-2',
  '5.1-3',
  '5.1-4',
  '5.1-5',
  '5.2-1',
  '5.2-2',
  '5.2-3',
  '5.3-1',
  '5.3-2',
  '5.3-3',
  '5.3-4',
  '5.3-5',
  '5.3-6',
  '5.3-7',
  '5.3-8',
  '5.3-9',
  '5.3-10',
  '5.3-11',
  '5.3-12',
  '5.3-13',
  '5.3-14',
  '5.3-15',
  '5.3-16',
  '5.4-1',
  '5.4-2',
  '5.4-3',
  '5.4-4',
  '5.5-1',
  '5.5-2',
  '5.5-3',
  '5.5-4',
  '5.5-5',
  '5.5-6',
  '5.5-7',
  '5.5-8',
  '5.6-1',
  '5.6-2',
  '5.6-3',
  '5.6-4',
  '5.6-5',
  '5.6-6',
  '5.6-7',
  '5.6-8',
  '5.6-9',
  '5.7-1',
  '5.7-2',
  '5.8-1',
  '5.8-2',
  '5.8-3',
  '5.9-1',
  '5.9-2',
  '5.9-3',
  '5.10-1',
  '5.11-1',
  '5.11-2',
  '5.11-3',
  '5.11-4',
  '5.12-1',
  '5.12-2',
  '5.12-3',
  '5.13-1',
  '6-1',
  '6-2',
  '6-3',
  '6-4',
  '6-5',
] as const;
/** An EN 303 645 V2.1.1 provision id such as '5.1-1'. */
export type EtsiProvisionId = (typeof ETSI_PROVISION_IDS)[number];

/**
 * Status as in the standard's Table B.1: M(andatory) or R(ecommended), optionally C(onditional) on numbered conditions.
 */
export type EtsiStatus = 'M' | 'R' | `M C(${string})` | `R C(${string})`;

/** One provision of the standard. */
export interface EtsiProvision {
  readonly id: EtsiProvisionId;
  /** The clause it belongs to, e.g. '5.1 No universal default passwords'. */
  readonly clause: string;
  /** Our paraphrase of what it asks. */
  readonly paraphrase: string;
  readonly status: EtsiStatus;
  /** Caveats about the source of the id or status. */
  readonly sourceNote?: string;
}

/** V2.1.1's numbered conditions, paraphrased; C(n) in a status refers to these. */
export const ETSI_CONDITIONS: Readonly<Record<number, string>> = {
  1: 'passwords are used',
  2: 'pre-installed passwords are used',
  3: 'software components cannot be updated',
  4: 'the device is constrained',
  5: 'the device is not constrained',
  6: 'telemetry data is collected',
  7: 'personal data is processed on the basis of consent',
  8: 'the device lets users authenticate to it',
  9: 'the device supports automatic updates and/or update notifications',
  10: 'a hard-coded unique per-device identity is used for security',
  11: 'updates are delivered over a network interface',
  12: 'an update mechanism is implemented',
  13: 'a debug interface is physically accessible',
};

const C = {
  '5.0': '5.0 Reporting implementation',
  '5.1': '5.1 No universal default passwords',
  '5.2': '5.2 Implement a means to manage reports of vulnerabilities',
  '5.3': '5.3 Keep software updated',
  '5.4': '5.4 Securely store sensitive security parameters',
  '5.5': '5.5 Communicate securely',
  '5.6': '5.6 Minimize exposed attack surfaces',
  '5.7': '5.7 Ensure software integrity',
  '5.8': '5.8 Ensure that personal data is secure',
  '5.9': '5.9 Make systems resilient to outages',
  '5.10': '5.10 Examine system telemetry data',
  '5.11': '5.11 Make it easy for users to delete user data',
  '5.12': '5.12 Make installation and maintenance of devices easy',
  '5.13': '5.13 Validate input data',
  '6': '6 Data protection provisions for consumer IoT',
} as const;

/** Each provision's status, as in Table B.1. */
const STATUS: Readonly<Record<EtsiProvisionId, EtsiStatus>> = {
  '5.0-1': 'M',
  '5.1-1': 'M C(1)',
  '5.1-2': 'M C(2)',
  '5.1-3': 'M',
  '5.1-4': 'M C(8)',
  '5.1-5': 'M C(5)',
  '5.2-1': 'M',
  '5.2-2': 'R',
  '5.2-3': 'R',
  '5.3-1': 'R',
  '5.3-2': 'M C(5)',
  '5.3-3': 'M C(12)',
  '5.3-4': 'R C(12)',
  '5.3-5': 'R C(12)',
  '5.3-6': 'R C(9,12)',
  '5.3-7': 'M C(12)',
  '5.3-8': 'M C(12)',
  '5.3-9': 'R C(12)',
  '5.3-10': 'M C(11,12)',
  '5.3-11': 'R C(12)',
  '5.3-12': 'R C(12)',
  '5.3-13': 'M',
  '5.3-14': 'R C(3,4)',
  '5.3-15': 'R C(3,4)',
  '5.3-16': 'M',
  '5.4-1': 'M',
  '5.4-2': 'M C(10)',
  '5.4-3': 'M',
  '5.4-4': 'M',
  '5.5-1': 'M',
  '5.5-2': 'R',
  '5.5-3': 'R',
  '5.5-4': 'R',
  '5.5-5': 'M',
  '5.5-6': 'R',
  '5.5-7': 'M',
  '5.5-8': 'M',
  '5.6-1': 'M',
  '5.6-2': 'M',
  '5.6-3': 'R',
  '5.6-4': 'M C(13)',
  '5.6-5': 'R',
  '5.6-6': 'R',
  '5.6-7': 'R',
  '5.6-8': 'R',
  '5.6-9': 'R',
  '5.7-1': 'R',
  '5.7-2': 'R',
  '5.8-1': 'R',
  '5.8-2': 'M',
  '5.8-3': 'M',
  '5.9-1': 'R',
  '5.9-2': 'R',
  '5.9-3': 'R',
  '5.10-1': 'R C(6)',
  '5.11-1': 'M',
  '5.11-2': 'R',
  '5.11-3': 'R',
  '5.11-4': 'R',
  '5.12-1': 'R',
  '5.12-2': 'R',
  '5.12-3': 'R',
  '5.13-1': 'M',
  '6-1': 'M',
  '6-2': 'M C(7)',
  '6-3': 'M',
  '6-4': 'R C(6)',
  '6-5': 'M C(6)',
};

/** Each provision's paraphrase. */
const PARAPHRASE: Readonly<Record<EtsiProvisionId, string>> = {
  '5.0-1': 'Keep a written justification for each recommendation judged not applicable or not met.',
  '5.1-1': 'Once out of the factory-default state, every password is either unique to the unit or chosen by the user.',
  '5.1-2':
    "Unique pre-installed passwords are generated so that patterns (serials, counters, MACs) or other units' " +
    'passwords do not help an attacker guess them.',
  '5.1-3':
    'Authenticating to the device uses cryptography that is good practice for the technology, the risk and the use.',
  '5.1-4': "Users or administrators can change the device's authentication value in a simple way.",
  '5.1-5': 'A device that is not constrained makes brute-forcing its network authentication impracticable.',
  '5.2-1':
    'Publish how to report a vulnerability, and when the reporter will be acknowledged and then updated until ' +
    'the matter is resolved.',
  '5.2-2': 'Act on reported vulnerabilities promptly.',
  '5.2-3':
    'Keep looking for, identifying and fixing vulnerabilities in the product and its services for the whole ' +
    'support period.',
  '5.3-1': 'All software components can be updated securely.',
  '5.3-2': 'A device that is not constrained has a mechanism to install updates securely.',
  '5.3-3': 'Applying an update is simple for the user.',
  '5.3-4': 'Updates are installed by an automatic mechanism.',
  '5.3-5': 'The device looks for security updates once initialised and then regularly.',
  '5.3-6':
    'Automatic updates and update notifications are on by default after initialisation, and the user can turn ' +
    'them on or off or put an update off.',
  '5.3-7': 'The update mechanism is protected with good-practice cryptography.',
  '5.3-8': 'Security updates are delivered in good time.',
  '5.3-9': 'The device checks that an update is authentic and has not been altered.',
  '5.3-10':
    "For updates received over a network interface, the device checks each one's authenticity and integrity " +
    'through a trust relationship.',
  '5.3-11': 'The user is told in plain terms that a security update is needed and what risk it removes.',
  '5.3-12': 'The device warns the user when installing an update will interrupt its basic function.',
  '5.3-13': 'The defined support period is published so that it is easy to find, clear and transparent.',
  '5.3-14':
    'For a constrained device whose software cannot be updated, publish why, how the hardware will be ' +
    'replaced, and for how long.',
  '5.3-15': 'A constrained device whose software cannot be updated can be isolated, and its hardware replaced.',
  '5.3-16': 'The user can recognise the model designation, from a label or through a physical interface.',
  '5.4-1': 'Sensitive security parameters kept in persistent storage are stored securely.',
  '5.4-2': 'A hard-coded unique identity used for security withstands physical, electrical and software tampering.',
  '5.4-3': 'No critical security parameter is hard-coded in the device software.',
  '5.4-4':
    'Critical security parameters used to check updates and to talk to services are unique to each unit and ' +
    'made so that class-wide attacks fail.',
  '5.5-1': 'The device communicates securely, with good-practice cryptography.',
  '5.5-2':
    'Network and security functions, cryptography above all, use implementations that have been reviewed or evaluated.',
  '5.5-3': 'Cryptographic algorithms and primitives can be updated.',
  '5.5-4': 'Once initialised, device functions are reachable over a network interface only after authenticating on it.',
  '5.5-5':
    'Security-relevant settings can be changed over a network interface only after authentication (network ' +
    'service protocols the device relies on excepted).',
  '5.5-6':
    'Critical security parameters are encrypted while in transit, in a way that fits the technology and the risk.',
  '5.5-7': 'Critical security parameters sent over remotely reachable interfaces are kept confidential.',
  '5.5-8': 'Critical security parameters are handled through a secure management process over their whole life.',
  '5.6-1': 'Network and logical interfaces that are not used are switched off.',
  '5.6-2':
    'Before authentication, an initialised device discloses as little security-relevant information as it can ' +
    'over the network.',
  '5.6-3': 'Physical interfaces are not exposed when there is no need.',
  '5.6-4': 'A debug interface that can be reached physically is switched off in software.',
  '5.6-5': "Only the software services needed for the device's intended use or operation are enabled.",
  '5.6-6': 'Code is kept to what the device or service actually needs.',
  '5.6-7': 'Software runs with the lowest privilege that works.',
  '5.6-8': 'The device uses hardware-level memory access control.',
  '5.6-9': 'Software is developed under a secure development process.',
  '5.7-1': 'Software is verified at start-up by a secure boot mechanism.',
  '5.7-2':
    'When an unauthorised software change is detected, the device alerts the user or administrator and uses ' +
    'the network only as far as the alert needs.',
  '5.8-1':
    'Personal data passing between the device and services is kept confidential with good-practice cryptography.',
  '5.8-2':
    'Sensitive personal data passing between the device and associated services is kept confidential with ' +
    'cryptography suited to it.',
  '5.8-3': 'All external sensing capabilities of the device are documented clearly for the user.',
  '5.9-1': 'Resilience against network and power outages is designed in.',
  '5.9-2': 'The device keeps its local functions without a network and recovers cleanly when power returns.',
  '5.9-3': 'The device connects to networks in an orderly, predictable and stable way that spares the infrastructure.',
  '5.10-1': 'Telemetry that is collected is examined for signs of security problems.',
  '5.11-1': 'The user can erase user data from the device in a simple way.',
  '5.11-2': 'The user has a simple way to remove their personal data from associated services.',
  '5.11-3': 'Users get clear instructions for deleting their personal data.',
  '5.11-4': 'Users get clear confirmation that their personal data has been deleted.',
  '5.12-1': 'Installing and maintaining the device takes few steps and follows good usability practice.',
  '5.12-2': 'Users get guidance on setting the device up securely.',
  '5.12-3': 'Users get guidance on checking that the device is set up securely.',
  '5.13-1': 'Software validates data that arrives through user interfaces, APIs, and between networks and services.',
  '6-1':
    'Consumers are told clearly which personal data is processed, how, by whom (third parties such as ' +
    'advertisers included) and for what purpose.',
  '6-2': 'Where processing rests on consent, the consent is obtained in a valid way.',
  '6-3': 'Consumers who gave consent can withdraw it at any time.',
  '6-4': 'Telemetry carries no more personal data than its purpose needs.',
  '6-5': 'Consumers are told what telemetry is collected, how and by whom it is used, and why.',
};

/** Caveats about the source of some ids or statuses. */
const SOURCE_NOTE: Readonly<Partial<Record<EtsiProvisionId, string>>> = {
  '5.0-1': 'A "shall" in the text of clause 5.0; Table B.1 of V2.1.1 has no row for it.',
  '5.3-10': 'One transcription prints "M (11, 12)"; the conditional form M C(11,12) is almost certainly meant.',
  '6-3': 'Status as transcribed; the standard may make it conditional on C(7).',
};

function p(id: EtsiProvisionId): EtsiProvision {
  const clause = C[id.slice(0, id.indexOf('-')) as keyof typeof C];
  const [status, paraphrase, sourceNote] = [STATUS[id], PARAPHRASE[id], SOURCE_NOTE[id]];
  return sourceNote === undefined ? { id, clause, paraphrase, status } : { id, clause, paraphrase, status, sourceNote };
}

/** Every provision of EN 303 645 V2.1.1 sections 5 and 6, in document order. */
export const ETSI_PROVISIONS: readonly EtsiProvision[] = ETSI_PROVISION_IDS.map(p);

/**
 * Provisions no control meets, each with the reason it lies outside a software toolkit or
 * does not arise for Bulwark devices. A product that needs one must meet it by other means.
 */
export const ETSI_OUT_OF_SCOPE: Readonly<Partial<Record<EtsiProvisionId, string>>> = {
  '5.3-14':
    'Does not arise: every component of a Bulwark device is updateable by signed update, so condition C(3) ' +
    'never holds. A product that adds non-updateable parts must publish this statement itself.',
  '5.3-15':
    'Does not arise: every component of a Bulwark device is updateable by signed update, so condition C(3) ' +
    'never holds.',
  '5.4-2':
    'Resisting physical and electrical tampering needs hardware (a secure element or fused keys). Bulwark ' +
    'keeps the device identity key in an owner-only file and never exports it, which addresses software access ' +
    'only.',
  '5.6-3': 'Which physical ports a product exposes is a hardware design decision; software cannot check it.',
  '5.6-8':
    'Memory access control is a property of the processor. Bulwark runs on embedded Linux, which presupposes ' +
    'an MMU, but it cannot verify the hardware.',
  '5.7-1':
    'Secure boot needs a hardware root of trust in the boot ROM. Bulwark verifies every image when it is ' +
    'installed (signed TUF metadata), not at each boot.',
  '5.7-2':
    "Detecting unauthorised changes at boot depends on the platform's secure or measured boot (5.7-1), which " +
    'is outside a software toolkit.',
  '5.10-1':
    'Does not arise by default: Bulwark devices send no telemetry (condition C(6) does not hold). A product ' +
    'that adds telemetry must also add analysis of it.',
};

/** Remarks on provisions that Bulwark meets only in part; shown beside the coverage. */
export const ETSI_PARTIAL_NOTES: Readonly<Partial<Record<EtsiProvisionId, string>>> = {
  '5.6-4':
    'Bulwark switches off the debug interfaces software controls (Node inspector, REPL, test hooks). Disabling ' +
    "JTAG, SWD or UART on the board is the hardware maker's job.",
  '5.3-8':
    'Timeliness is a manufacturer process; Bulwark supplies the signed-update pipeline and the disclosure ' +
    'timelines, not the staff.',
  '5.2-2': 'Acting on reports is a manufacturer process; the policy commits to the timelines.',
};

/** The provision with `id`; undefined for ids not in V2.1.1. */
export function findEtsiProvision(id: string): EtsiProvision | undefined {
  return ETSI_PROVISIONS.find((prov) => prov.id === id);
}

/** 'M C(11,12)' -> [11, 12]; 'M' -> []. */
export function statusConditions(status: EtsiStatus): number[] {
  const m = status.match(/C\(([\d,\s]+)\)/);
  return m?.[1] === undefined ? [] : m[1].split(',').map((n) => Number(n.trim()));
}

/** True for M and M C(n): the provision is mandatory (when its conditions hold). */
export function isMandatory(status: EtsiStatus): boolean {
  return status.startsWith('M');
}
