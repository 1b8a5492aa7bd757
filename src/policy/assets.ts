/**
 * The asset inventory of a product, as the technical documentation needs it (EN 18031: security
 * assets, network assets and their interfaces): derived from the product model, the device profile
 * and the constants of the code that keeps each asset (the bundle layout, the device's state files,
 * the default ports), so it names the files and ports the unit really has. Pure: no file is read.
 *
 * @example
 *   const inventory = buildAssetInventory({ profile, model: getModel('camera') });
 *   inventory.securityAssets.map((a) => a.location.file); // ['unit.json', ..., 'connection-journal.jsonl']
 */
import { BUNDLE_FILES } from '../bundle/index.ts';
import type { BundleFileSpec } from '../bundle/index.ts';
import {
  defaultDeviceAgentConfig,
  defaultHubSurfaceConfig,
  driverSocketPath,
  OWNER_DATA_FILES,
} from '../device/index.ts';
import { JOURNAL_FILE_NAME } from '../journal/index.ts';
import { allowsPushButtonPairing } from '../models/index.ts';
import type { Capability, ModelSpec, Sensor } from '../models/index.ts';
import { defaultPairingConfig } from '../pairing/index.ts';
import { SECRET_FILE_MODE } from '../storage/index.ts';
import type { DeviceProfile } from './profile.ts';

/** The property of an asset whose loss harms the owner or the product. */
export type SecurityProperty = 'confidentiality' | 'integrity' | 'authenticity';

/**
 * Where an asset is kept: 'bundle' (the unit bundle flashed onto the unit), 'factory' (bundle files that
 * stay at the factory), 'state' (the unit's state folder). `file` is relative to that folder.
 */
export interface AssetLocation {
  readonly place: 'bundle' | 'factory' | 'state';
  readonly file: string;
}

/** One security asset: what it is, where it is kept, how it is protected and what must hold of it. */
export interface SecurityAsset {
  readonly id: string;
  readonly what: string;
  readonly location: AssetLocation;
  readonly protection: string;
  readonly properties: readonly SecurityProperty[];
}

/** One network interface (or local interface) of the unit. */
export interface NetworkInterface {
  readonly id: string;
  readonly name: string;
  readonly protocol: string;
  /** 'inbound': the unit listens; 'outbound': the unit connects; 'local': on the unit only. */
  readonly direction: 'inbound' | 'outbound' | 'local' | 'none';
  /** Port or socket path, as the unit uses it by default. */
  readonly endpoint: string;
  readonly authentication: string;
  readonly onByDefault: boolean;
  /** When it is on, in words (the option that turns it on, or the default listening address). */
  readonly when: string;
}

/** How personal a piece of data is: 'sensitive' (sees or hears, or locates), 'personal', or not personal. */
export type PrivacyClass = 'sensitive' | 'personal' | 'not personal';

/** Data the unit senses or keeps about its owner: a sensor's data or a capability's value. */
export interface DataAsset {
  readonly id: string;
  /** The sensor or capability it comes from. */
  readonly source: string;
  readonly what: string;
  readonly privacyClass: PrivacyClass;
  /** Where it may go beyond the unit. */
  readonly leaves: string;
}

/** The whole inventory. */
export interface AssetInventory {
  readonly modelId: string;
  /** The model's privacy class ('sensitive': it has a camera or a microphone). */
  readonly modelPrivacyClass: ModelSpec['privacyClass'];
  /** The link layers the unit joins (the model's networks). */
  readonly links: readonly string[];
  readonly securityAssets: readonly SecurityAsset[];
  readonly networkInterfaces: readonly NetworkInterface[];
  readonly dataAssets: readonly DataAsset[];
}

/** What the inventory is derived from. */
export interface AssetInventoryInput {
  readonly profile: DeviceProfile;
  /** The product model the profile names. */
  readonly model: ModelSpec;
  /** The unit's hardware is a maker's driver: a program the agent starts ('stdio') or a socket ('socket'). */
  readonly driver?: 'stdio' | 'socket';
}

/** Builds the asset inventory of a product from its model and profile. */
export function buildAssetInventory(input: AssetInventoryInput): AssetInventory {
  return {
    modelId: input.model.id,
    modelPrivacyClass: input.model.privacyClass,
    links: [...input.model.networks],
    securityAssets: [...bundleAssets(input), ...stateAssets(input)],
    networkInterfaces: networkInterfaces(input),
    dataAssets: [...sensorAssets(input), ...capabilityAssets(input)],
  };
}

const MODE = `mode ${SECRET_FILE_MODE.toString(8).padStart(4, '0')}`;
type BundleKey = keyof typeof BUNDLE_FILES;
interface BundleAssetFacts {
  readonly protection: string;
  readonly properties: readonly SecurityProperty[];
  /** Absent: the file is in every bundle. */
  readonly when?: (input: AssetInventoryInput) => boolean;
}

// Every bundle file is classified here: a file added to BUNDLE_FILES does not compile until it is.
const BUNDLE_ASSETS: Readonly<Record<BundleKey, BundleAssetFacts>> = {
  unit: { protection: 'public; read with strict validation', properties: ['integrity'] },
  model: { protection: "public; refused unless it matches unit.json's digest", properties: ['integrity'] },
  caCert: { protection: 'public; its fingerprint is in unit.json', properties: ['integrity', 'authenticity'] },
  deviceCert: { protection: 'public; signed by the manufacturer CA', properties: ['integrity', 'authenticity'] },
  deviceKey: { protection: `${MODE}; never sent`, properties: ['confidentiality', 'integrity'] },
  webCert: { protection: 'public; unique to the unit', properties: ['integrity', 'authenticity'] },
  webKey: { protection: `${MODE}; never sent`, properties: ['confidentiality', 'integrity'] },
  adminPasswordHash: {
    protection: `${MODE}; argon2id hash, the password itself is not on the unit`,
    properties: ['confidentiality', 'integrity'],
    when: ({ model }) => model.initialPasswordMode === 'sticker',
  },
  pairingVerifier: {
    protection: `${MODE}; the setup code cannot be read from it, only guessed against it`,
    properties: ['confidentiality', 'integrity'],
  },
  updateRoot: {
    protection: 'public; TUF root metadata signed by the root keys, replaced only by a root it signs',
    properties: ['integrity', 'authenticity'],
  },
  label: { protection: `${MODE}; stays at the factory, not flashed onto the unit`, properties: ['confidentiality'] },
  stickerSvg: { protection: `${MODE}; stays at the factory`, properties: ['confidentiality'] },
  stickerPng: { protection: `${MODE}; stays at the factory`, properties: ['confidentiality'] },
};

function bundleAssets(input: AssetInventoryInput): SecurityAsset[] {
  return (Object.entries(BUNDLE_FILES) as [BundleKey, BundleFileSpec][])
    .filter(([key]) => BUNDLE_ASSETS[key].when?.(input) ?? true)
    .map(([key, spec]) => ({
      id: `bundle-${key}`,
      what: spec.description,
      location: { place: spec.audience === 'factory' ? 'factory' : 'bundle', file: spec.name },
      protection: BUNDLE_ASSETS[key].protection,
      properties: BUNDLE_ASSETS[key].properties,
    }));
}

// The owner's files the device names (OWNER_DATA_FILES: erased by a factory reset), by what each needs.
const OWNER_FILE_ASSETS: Readonly<Record<string, { protection: string; properties: SecurityProperty[] }>> = {
  'web/owner.json': { protection: 'argon2id hash only', properties: ['confidentiality', 'integrity'] },
  'web/users.json': { protection: 'argon2id hash only', properties: ['confidentiality', 'integrity'] },
  'web/sessions.json': {
    protection: 'SHA-256 of each session id, never the cookie',
    properties: ['confidentiality', 'integrity'],
  },
  'web/device-cookie.key': { protection: 'never sent', properties: ['confidentiality', 'integrity'] },
  'hubs.json': { protection: 'pinned keys and rights', properties: ['integrity'] },
};
const OWNER_FILE_DEFAULT = { protection: 'written atomically', properties: ['integrity'] } as const;

// Names the device keeps private to its files (src/device: hub-surface.ts, capabilities.ts) and
// the cloud link's (src/cloudlink, loaded only with --cloud); assets.test.ts holds each to the code.
/** The hub port's key pair, in the state folder. */
export const CHANNEL_KEY_STATE_FILE = 'channel-key.json';
/** The capability values, in the state folder. */
export const CAPABILITIES_STATE_FILE = 'capabilities.json';
/** The operational identity (certificate and key) of the cloud link, in the state folder. */
export const OPERATIONAL_IDENTITY_STATE_FILE = 'operational-identity.json';
/** The cloud link's outbox of telemetry and events, in the state folder. */
export const CLOUD_OUTBOX_STATE_FILE = 'cloud-outbox.json';

function state(
  id: string,
  file: string,
  what: string,
  protection: string,
  properties: readonly SecurityProperty[],
): SecurityAsset {
  return { id, what, location: { place: 'state', file }, protection: `${MODE}; ${protection}`, properties };
}

function stateAssets(input: AssetInventoryInput): SecurityAsset[] {
  const owner = OWNER_DATA_FILES.map(({ file, what }) => {
    const facts = OWNER_FILE_ASSETS[file] ?? OWNER_FILE_DEFAULT;
    const id = `state-${file.replace(/[^a-z0-9]+/g, '-')}`;
    return state(id, file, `${what} (owner data, erased by a factory reset)`, facts.protection, facts.properties);
  });
  const confidential: SecurityProperty[] = ['confidentiality', 'integrity'];
  const assets = [
    ...owner,
    state('state-channel-key', CHANNEL_KEY_STATE_FILE, "the hub port's key pair", 'key never sent', confidential),
    state('state-capabilities', CAPABILITIES_STATE_FILE, 'capability values', 'written atomically', confidential),
    state('state-journal', JOURNAL_FILE_NAME, 'security events and connection records', 'bounded', confidential),
  ];
  if (input.profile.networkModels.includes('cloud')) assets.push(...cloudStateAssets());
  return assets;
}

function cloudStateAssets(): SecurityAsset[] {
  return [
    state(
      'state-operational-identity',
      OPERATIONAL_IDENTITY_STATE_FILE,
      "the unit's operational certificate for the cloud and its key, made on the unit",
      'key never sent',
      ['confidentiality', 'integrity', 'authenticity'],
    ),
    state('state-cloud-outbox', CLOUD_OUTBOX_STATE_FILE, 'telemetry and events waiting for the cloud', 'bounded', [
      'confidentiality',
      'integrity',
    ]),
  ];
}

function networkInterfaces(input: AssetInventoryInput): NetworkInterface[] {
  const { profile, model } = input;
  const host = defaultDeviceAgentConfig.host;
  const windowMinutes = defaultPairingConfig.windowMs / 60_000;
  const pairing = allowsPushButtonPairing(model) ? 'the setup code or the button' : 'the setup code only';
  const list: NetworkInterface[] = [
    {
      id: 'admin-page',
      name: 'HTTPS admin page',
      protocol: `HTTPS, TLS 1.2 or 1.3 with the unit's web key (${BUNDLE_FILES.webKey.name})`,
      direction: 'inbound',
      endpoint: `TCP ${defaultDeviceAgentConfig.webPort}`,
      authentication: 'owner password (argon2id), then a session cookie with a CSRF token; lockout on failures',
      onByDefault: true,
      when: `always; listens on ${host} unless --host names another address`,
    },
    {
      id: 'hub-channel',
      name: 'Hub channel',
      protocol: `framed messages over mutual TLS 1.3 with the hub port key (${CHANNEL_KEY_STATE_FILE})`,
      direction: 'inbound',
      endpoint: `TCP ${defaultHubSurfaceConfig.port}`,
      authentication:
        `pinned keys of paired hubs; an unknown key gets at most one SPAKE2+ pairing exchange, with ${pairing}, ` +
        `while a pairing window is open (${windowMinutes} minutes, opened by the button or the owner)`,
      onByDefault: true,
      when: `always; listens on ${host} unless --host names another address`,
    },
  ];
  if (profile.networkModels.includes('cloud')) list.push(cloudInterface());
  list.push(updateInterface());
  if (input.driver !== undefined) list.push(driverInterface(input.driver));
  list.push({
    id: 'discovery',
    name: 'Discovery',
    protocol: 'none: the unit announces nothing (no mDNS, no UPnP)',
    direction: 'none',
    endpoint: 'none',
    authentication: 'not applicable',
    onByDefault: false,
    when: 'never',
  });
  return list;
}

function cloudInterface(): NetworkInterface {
  return {
    id: 'cloud-mqtt',
    name: 'Cloud link',
    protocol: 'MQTT 3.1.1 over mutual TLS 1.3',
    direction: 'outbound',
    endpoint: 'the broker given as mqtts://host:port',
    authentication:
      'the unit: its operational certificate, or its device certificate until it has one; ' +
      `the broker: a certificate under the manufacturer CA (${BUNDLE_FILES.caCert.name})`,
    onByDefault: false,
    when: 'only with --cloud <url>',
  };
}

function updateInterface(): NetworkInterface {
  return {
    id: 'update-client',
    name: 'Update client',
    protocol: 'HTTPS (TLS 1.2 or 1.3; plain HTTP only to a loopback address) to a TUF repository',
    direction: 'outbound',
    endpoint: 'the repository given as an https URL',
    authentication:
      `TUF metadata verified from the pinned root (${BUNDLE_FILES.updateRoot.name}); ` + 'images checked against it',
    onByDefault: false,
    when: 'only with --update-url <url>',
  };
}

function driverInterface(driver: 'stdio' | 'socket'): NetworkInterface {
  const socket = driver === 'socket';
  return {
    id: 'driver',
    name: "Hardware driver (the maker's)",
    protocol: 'JSON-RPC 2.0, one message a line',
    direction: 'local',
    endpoint: socket ? `Unix socket ${driverSocketPath()}` : "the driver program's standard input and output",
    authentication: socket
      ? "as device unit --driver writes it: socket mode 0660, root and the agent's group; one connection at a time"
      : 'a child process of the agent, given no secret in its environment',
    onByDefault: false,
    when: socket ? 'only with --driver-socket (or device unit --driver)' : 'only with --driver <program>',
  };
}

/** What each sensor yields, in words. */
const SENSOR_DATA: Readonly<Record<Sensor, string>> = {
  camera: 'images (image sensor data)',
  microphone: 'sound, which may include speech',
  location: 'where the unit, and so its owner, is',
  motion: 'movement nearby',
  presence: 'whether people are in the room',
  contact: 'whether a door or window is open',
  'power-meter': 'power drawn by the connected appliance',
  smoke: 'smoke alarms',
  'water-leak': 'water-leak alarms',
  temperature: 'temperature readings',
  humidity: 'humidity readings',
  light: 'ambient light readings',
  'air-quality': 'air-quality readings',
};

const SENSITIVE_SENSORS: ReadonlySet<Sensor> = new Set<Sensor>(['camera', 'microphone', 'location']);

function sensorAssets({ profile }: AssetInventoryInput): DataAsset[] {
  return profile.sensors.map((sensor) => ({
    id: `sensor-${sensor}`,
    source: `sensor: ${sensor}`,
    what: SENSOR_DATA[sensor],
    privacyClass: SENSITIVE_SENSORS.has(sensor) ? 'sensitive' : profile.personalData ? 'personal' : 'not personal',
    leaves: 'only through the capabilities below',
  }));
}

function capabilityAssets({ profile, model }: AssetInventoryInput): DataAsset[] {
  const cloud = profile.networkModels.includes('cloud');
  return model.capabilities.map((c) => ({
    id: `capability-${c.id}`,
    source: `capability: ${c.id} (${c.kind})`,
    what: c.description,
    privacyClass: capabilityClass(c, model, profile),
    leaves: [
      'to the owner on the admin page',
      c.sensitive === true ? 'to a hub paired with the setup code' : 'to a paired hub',
      ...(cloud ? [inTelemetry(c) ? 'to the cloud in telemetry' : 'never in cloud telemetry'] : []),
    ].join('; '),
  }));
}

/** The cloud link's telemetry carries neither snapshots nor sensitive capabilities (src/cloudlink telemetryValues). */
function inTelemetry(c: Capability): boolean {
  return c.kind !== 'snapshot' && c.sensitive !== true;
}

function capabilityClass(c: Capability, model: ModelSpec, profile: DeviceProfile): PrivacyClass {
  if (c.sensitive === true || (c.kind === 'snapshot' && model.privacyClass === 'sensitive')) return 'sensitive';
  return profile.personalData ? 'personal' : 'not personal';
}
