/**
 * The device-cloud topic scheme over MQTT, as pure functions: the topics, who holds a certificate
 * (device or cloud instance, by its CN), and who may publish and subscribe where (the broker's
 * access rule, shared by the embedded broker and the Mosquitto ACL writer).
 *
 * Topics, all under `devices/<serial>/`:
 *
 *   up (device -> cloud):  telemetry, state, replies, claim, sync, presence, firmware, enrol
 *   down (cloud -> device): commands, receipts, certificate
 *
 * A unit's birth certificate (the factory's) is an `enrolment` identity: it may only ask for an
 * operational certificate (`enrol`) and read the answer (`certificate`); the operational
 * certificate the cloud issues is the `device` identity for everything, renewal included.
 */
import { InvalidInputError } from '../errors/index.ts';

/** The first topic level of every device topic. */
export const TOPIC_ROOT = 'devices';

/** Topics a device publishes on (under its own serial only). */
export const UP_KINDS = ['telemetry', 'state', 'replies', 'claim', 'sync', 'presence', 'firmware', 'enrol'] as const;
/** Topics the cloud publishes on for a device (the device subscribes to its own only). */
export const DOWN_KINDS = ['commands', 'receipts', 'certificate', 'claim-window'] as const;

/** A device-to-cloud topic kind. */
export type UpKind = (typeof UP_KINDS)[number];
/** A cloud-to-device topic kind. */
export type DownKind = (typeof DOWN_KINDS)[number];
/** Any device topic kind. */
export type TopicKind = UpKind | DownKind;

/** The shape of a serial number; the same as `SERIAL_PATTERN` in src/identity (a test keeps them equal). */
export const SERIAL = /^[A-Z]{3}-[A-Z2-9]{10}$/;

/** A cloud service instance's certificate CN: `bulwark-cloud-<name>`; never the shape of a serial. */
export const SERVICE_CN = /^bulwark-cloud-[a-z0-9]{1,16}$/;

/** The shared-subscription group of the cloud service instances on an external broker. */
export const SHARED_GROUP = 'bulwark';

/**
 * Who holds a certificate, as told by its CN (and, for a unit, by its issuer: the factory's CA makes
 * the birth certificate, an `enrolment` identity; the cloud's issuing CA the operational one).
 */
export type MqttIdentity =
  | { readonly kind: 'device'; readonly serial: string }
  | { readonly kind: 'enrolment'; readonly serial: string }
  | { readonly kind: 'service'; readonly name: string };

/** The topics an enrolment identity (a birth certificate) may use: ask, and read the answer. */
export const ENROLMENT_KINDS: { readonly up: UpKind; readonly down: DownKind } = { up: 'enrol', down: 'certificate' };

/** The same unit's identity when it holds its birth certificate. */
export function enrolmentIdentity(who: MqttIdentity): MqttIdentity {
  return who.kind === 'device' ? { kind: 'enrolment', serial: who.serial } : who;
}

/** The identity a certificate CN stands for, or undefined for a CN that is neither a serial nor a service. */
export function identityFromCommonName(cn: string | undefined): MqttIdentity | undefined {
  if (typeof cn !== 'string') return undefined;
  if (SERIAL.test(cn)) return { kind: 'device', serial: cn };
  if (SERVICE_CN.test(cn)) return { kind: 'service', name: cn.slice('bulwark-cloud-'.length) };
  return undefined;
}

/** The CN of cloud service instance `name`. */
export function serviceCommonName(name: string): string {
  const cn = `bulwark-cloud-${name}`;
  if (!SERVICE_CN.test(cn))
    throw new InvalidInputError('a cloud instance name is 1 to 16 lower-case letters or digits');
  return cn;
}

/** The topic of `kind` for device `serial`. */
export function deviceTopic(serial: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${serial}/${kind}`;
}

/** Splits a concrete device topic; undefined for anything else (wildcards included). */
export function parseDeviceTopic(topic: string): { serial: string; kind: TopicKind } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT) return undefined;
  const serial = parts[1]!,
    kind = parts[2]!;
  if (!SERIAL.test(serial)) return undefined;
  if (!(UP_KINDS as readonly string[]).includes(kind) && !(DOWN_KINDS as readonly string[]).includes(kind))
    return undefined;
  return { serial, kind: kind as TopicKind };
}

function isUp(kind: string): kind is UpKind {
  return (UP_KINDS as readonly string[]).includes(kind);
}

function isDown(kind: string): kind is DownKind {
  return (DOWN_KINDS as readonly string[]).includes(kind);
}

/**
 * The access rule on PUBLISH. A device publishes only the up kinds under its own serial; the
 * cloud service publishes only the down kinds, to any device; nobody publishes anything else.
 */
export function mayPublish(who: MqttIdentity, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  if (!t) return false;
  if (who.kind === 'device') return t.serial === who.serial && isUp(t.kind);
  if (who.kind === 'enrolment') return t.serial === who.serial && t.kind === ENROLMENT_KINDS.up;
  return isDown(t.kind);
}

/** A subscription filter without a `$share/<group>/` prefix, and the group if there was one. */
export function splitSharedFilter(filter: string): { group?: string; filter: string } {
  const m = /^\$share\/([^/+#]{1,32})\/(.+)$/.exec(filter);
  return m ? { group: m[1]!, filter: m[2]! } : { filter };
}

/**
 * The access rule on SUBSCRIBE. A device subscribes only to its own down topics, by exact
 * name (no wildcard, so it can never match another serial); the cloud service subscribes to
 * `devices/+/<up kind>` (optionally shared in the {@link SHARED_GROUP}) or a device's up topic.
 */
export function maySubscribe(who: MqttIdentity, filter: string): boolean {
  if (who.kind === 'device' || who.kind === 'enrolment') {
    const t = parseDeviceTopic(filter);
    if (t === undefined || t.serial !== who.serial) return false;
    return who.kind === 'device' ? isDown(t.kind) : t.kind === ENROLMENT_KINDS.down;
  }
  const { group, filter: bare } = splitSharedFilter(filter);
  if (group !== undefined && group !== SHARED_GROUP) return false;
  const parts = bare.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT || !isUp(parts[2]!)) return false;
  return parts[1] === '+' || SERIAL.test(parts[1]!);
}
