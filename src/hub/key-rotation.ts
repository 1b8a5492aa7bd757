/**
 * The hub's side of a device's channel key rotation (docs/pairing.md): when a paired device says
 * it has a statement ('key-rotation' event), the hub fetches it over the pinned channel in parts,
 * checks it against the pin it holds (src/pairing `verifyKeyRotation`: signed by exactly the
 * pinned key, for this serial and this old pin), re-pins in one transaction keeping the old pin
 * until the device is seen on the new key, and acknowledges. Anything else is refused, journalled
 * ('channel-key-rotation-refused'), and the pin stays as it was.
 */
import { timingSafeEqual } from 'node:crypto';
import { MESSAGE_LIMITS, type ChannelValue } from '../channel/index.ts';
import {
  KEY_ROTATION_LIMITS,
  PairingError,
  parseKeyRotation,
  verifyKeyRotation,
  type KeyRotationRefusal,
  type KeyRotationStatement,
} from '../pairing/index.ts';
import { codeOf } from '../errors/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import type { HubDeviceRecord } from './store.ts';
import type { DeviceLink } from './links.ts';

/** Most parts a statement may come in: its longest form in the shortest parts a device sends (128 characters). */
export const MAX_ROTATION_PARTS = Math.ceil(KEY_ROTATION_LIMITS.maxStatementChars / 128);
/** How long the device has to answer each part and the acknowledgement, ms. */
const ROTATION_REQUEST_TIMEOUT_MS = 5_000;

/** What the hub core gives the rotation: its device, the re-pin, the journal and the log. */
export interface KeyRotationHost {
  /** The paired device `serial` as stored now, with its link; undefined when it is not paired. */
  device(serial: string): { readonly record: HubDeviceRecord; readonly link: DeviceLink } | undefined;
  /** Re-pins `serial` from `oldPin` to `newPin` (store and link); false when its pin is no longer `oldPin`. */
  rotatePin(serial: string, oldPin: Buffer, newPin: Buffer): boolean;
  record(entry: JournalRecordInput): void;
  log(message: string): void;
}

/** What the hub makes of a statement. */
export type KeyRotationJudgement =
  | { readonly kind: 'rotate'; readonly newPin: Buffer }
  | { readonly kind: 'already'; readonly newPin: Buffer }
  | { readonly kind: 'refused'; readonly reason: KeyRotationRefusal };

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Judges a statement against the stored device: a rotation from its pin, or the very rotation it
 * already made (the device did not hear the acknowledgement: the old pin is still kept), or refused.
 */
export function judgeKeyRotation(record: HubDeviceRecord, s: KeyRotationStatement): KeyRotationJudgement {
  const previous = record.previousPin;
  if (previous && same(s.oldPin, previous) && same(s.newPin, record.pin)) {
    const again = verifyKeyRotation(s, { serial: record.serial, pin: previous });
    return again.ok ? { kind: 'already', newPin: again.newPin } : { kind: 'refused', reason: again.reason };
  }
  const result = verifyKeyRotation(s, { serial: record.serial, pin: record.pin });
  return result.ok ? { kind: 'rotate', newPin: result.newPin } : { kind: 'refused', reason: result.reason };
}

/** Fetches the statement's `parts` parts over the device's channel; throws on a bad count or size. */
async function fetchStatement(link: DeviceLink, parts: ChannelValue): Promise<string> {
  if (typeof parts !== 'number' || !Number.isInteger(parts) || parts < 1 || parts > MAX_ROTATION_PARTS)
    throw new PairingError('PAIRING_BAD_MESSAGE', 'bad part count');
  let text = '';
  for (let i = 0; i < parts; i++) {
    const part = await link.request('link', 'rotation-part', i, ROTATION_REQUEST_TIMEOUT_MS);
    if (typeof part !== 'string' || part.length === 0 || part.length > MESSAGE_LIMITS.maxValueStringLength)
      throw new PairingError('PAIRING_BAD_MESSAGE', 'bad part');
    text += part;
    if (text.length > KEY_ROTATION_LIMITS.maxStatementChars)
      throw new PairingError('PAIRING_BAD_MESSAGE', 'statement too long');
  }
  return text;
}

function pinText(pin: Uint8Array): string {
  return 'sha256:' + Buffer.from(pin).toString('hex');
}

/**
 * Handles one 'key-rotation' event from `serial`: fetch, judge, re-pin, journal, acknowledge.
 * A statement that cannot be fetched (the channel dropped) is only logged: the device says it
 * again at the next connection. Never throws.
 */
export async function receiveKeyRotation(host: KeyRotationHost, serial: string, parts: ChannelValue): Promise<void> {
  const device = host.device(serial);
  if (!device || receiving.has(device.link)) return;
  receiving.add(device.link);
  try {
    await receive(host, device, parts);
  } finally {
    receiving.delete(device.link);
  }
}

/** Links with a statement being handled: a second announcement meanwhile is the same statement. */
const receiving = new WeakSet<DeviceLink>();

async function receive(
  host: KeyRotationHost,
  device: { readonly record: HubDeviceRecord; readonly link: DeviceLink },
  parts: ChannelValue,
): Promise<void> {
  const serial = device.record.serial;
  const { record, link } = device;
  const journal = (event: string, result: 'success' | 'refused', detail: string): void =>
    host.record({
      surface: 'hub',
      source: formatSource(record.host, record.port),
      event,
      result,
      identity: serial,
      detail,
    });
  let judgement: KeyRotationJudgement;
  try {
    judgement = judgeKeyRotation(record, parseKeyRotation(await fetchStatement(link, parts)));
  } catch (err) {
    const code = codeOf(err);
    if (code !== 'PAIRING_BAD_MESSAGE') {
      host.log(`key rotation of ${serial}: the statement could not be fetched (${code}); it comes again`);
      return;
    }
    judgement = { kind: 'refused', reason: 'malformed' };
  }
  if (judgement.kind === 'refused') {
    journal('channel-key-rotation-refused', 'refused', `${judgement.reason}; pin unchanged`);
    host.log(`refused a key rotation statement from ${serial} (${judgement.reason}): its pin is unchanged`);
    return;
  }
  if (judgement.kind === 'rotate') {
    if (!host.rotatePin(serial, record.pin, judgement.newPin)) return;
    journal('channel-key-rotated', 'success', `${pinText(record.pin).slice(0, 23)}... -> ${pinText(judgement.newPin)}`);
    host.log(`${serial} rotated its channel key: re-pinned to ${pinText(judgement.newPin).slice(0, 23)}...`);
  }
  await link
    .request('link', 'rotation-ack', pinText(judgement.newPin), ROTATION_REQUEST_TIMEOUT_MS)
    .catch((err: unknown) => host.log(`key rotation of ${serial}: the acknowledgement was not taken (${codeOf(err)})`));
}
