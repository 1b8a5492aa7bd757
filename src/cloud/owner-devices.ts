/**
 * What an owner does with devices through the cloud: claim one (the sticker's code plus the
 * button's claim window), see it, command it and release it. Another owner's device is a 404
 * exactly like a device that does not exist.
 *
 * Wrong claim codes count against the account and the source that sent them, never against the
 * serial: a stranger who knows a serial cannot keep its owner from claiming it. A flood against
 * one serial is logged and flagged to the maker in the store.
 */
import { InvalidInputError } from '../errors/index.ts';
import { LockoutPolicy, sourceKeyFor } from '../auth/index.ts';
import { hashClaimCode, normaliseClaimCode, READABLE_ALPHABET } from '../identity/index.ts';
import { getModel, type ModelSpec } from '../models/index.ts';
import { SERIAL, type FirmwareOutcome, type ScalarValue } from '../cloudprotocol/index.ts';
import type { WebRequest } from '../web/index.ts';
import { ClaimError, CommandError, NotFoundError } from './errors.ts';
import type { CloudStore, AccountRecord, DeviceFirmware, DeviceRecord, CommandRecord, TelemetryRow } from './store.ts';
import type { CommandCenter } from './commands.ts';
import type { OwnerApiConfig } from './owner-api-config.ts';
import { admitAttempt } from './owner-accounts.ts';

/** A claim code as the factory makes them: 16 symbols of the readable alphabet, upper case. */
const CLAIM_CODE = new RegExp(`^[${READABLE_ALPHABET.toUpperCase()}]{16}$`);

/**
 * A device's model: the unit's own, as its manifest carried it; for a unit from a manifest without
 * models, the built-in of its id; undefined when neither is known.
 */
export function modelOf(d: Pick<DeviceRecord, 'model' | 'modelSpec'>): ModelSpec | undefined {
  if (d.modelSpec) return d.modelSpec;
  try {
    return getModel(d.model);
  } catch {
    return undefined;
  }
}

/** An update outcome in plain words, e.g. '1.3.0 rolled back (not healthy within 3 boots)'. */
export function outcomeText(o: FirmwareOutcome): string {
  const what = o.version ?? 'an update';
  const why = o.detail ? ` (${o.detail})` : '';
  switch (o.outcome) {
    case 'found':
      return `${what} found, about to download`;
    case 'downloaded':
      return `${what} downloaded and verified`;
    case 'installed':
      return `${what} installed, on trial until it reports healthy`;
    case 'healthy':
      return `${what} installed and running well`;
    case 'rolled-back':
      return `${what} rolled back${why}`;
    case 'refused':
      return `${what} refused${o.code ? ` (${o.code})` : ''}${o.detail ? `: ${o.detail}` : ''}`;
    default:
      return `${what} failed to install${o.code ? ` (${o.code})` : ''}${o.detail ? `: ${o.detail}` : ''}`;
  }
}

/** The unit's firmware for its owner: '1.2.0 - last update: 1.3.0 rolled back (why)', or that it has not said yet. */
export function firmwareText(fw: DeviceFirmware | undefined): string {
  if (!fw) return 'not reported yet';
  const last = fw.lastOutcome ? ` - last update: ${outcomeText(fw.lastOutcome)}` : '';
  return `${fw.running.version}${last}`;
}

function firmwareView(fw: DeviceFirmware | undefined): Record<string, unknown> | null {
  if (!fw) return null;
  const o = fw.lastOutcome;
  return {
    version: fw.running.version,
    securityVersion: fw.running.securityVersion,
    slot: fw.running.slot,
    imageSha256: fw.running.sha256 ?? null,
    reportedAt: new Date(fw.reportedAt).toISOString(),
    lastOutcome: o
      ? {
          outcome: o.outcome,
          at: new Date(o.at).toISOString(),
          ...(o.version !== undefined ? { version: o.version } : {}),
          ...(o.code !== undefined ? { code: o.code } : {}),
          ...(o.detail !== undefined ? { detail: o.detail } : {}),
        }
      : null,
    text: firmwareText(fw),
  };
}

/** A device as the JSON API shows it. */
export function deviceView(d: DeviceRecord): Record<string, unknown> {
  const model = modelOf(d);
  return {
    serial: d.serial,
    model: d.model,
    modelName: model?.name ?? null,
    controls: remoteControls(model),
    online: d.online,
    lastSeenAt: d.seenAt ? new Date(d.seenAt).toISOString() : null,
    claimedAt: d.claimedAt ? new Date(d.claimedAt).toISOString() : null,
    state: d.state?.capabilities ?? [],
    firmware: firmwareView(d.firmware),
    revoked: d.revoked ? { reason: d.revoked.reason, at: new Date(d.revoked.at).toISOString() } : null,
  };
}

/** A command as the JSON API shows it. */
export function commandView(c: CommandRecord): Record<string, unknown> {
  return {
    id: c.id,
    capability: c.capability,
    action: c.action,
    status: c.status,
    ...(c.result?.value !== undefined ? { value: c.result.value } : {}),
    ...(c.result?.error ? { error: c.result.error } : {}),
  };
}

/**
 * The controls the owner may use from the cloud for a model (the model itself, or a built-in's
 * id): actuators only, and never a sensitive capability (a lock's bolt, a camera's snapshot):
 * those stay on the local network. An unknown model has none.
 */
export function remoteControls(
  model: ModelSpec | string | undefined,
): Array<{ capability: string; actions: string[] }> {
  const spec = typeof model === 'string' ? modelOf({ model }) : model;
  if (!spec) return [];
  return spec.capabilities
    .filter((c) => (c.kind === 'switch' || c.kind === 'lock' || c.kind === 'level') && c.sensitive !== true)
    .map((c) => ({ capability: c.id, actions: c.actions.filter((a) => a !== 'get' && a !== 'set') }))
    .filter((c) => c.actions.length > 0);
}

/** A serial number from a request, upper case, or a 400. */
function claimSerial(raw: unknown): string {
  if (typeof raw !== 'string' || !SERIAL.test(raw.trim().toUpperCase())) {
    throw new InvalidInputError('serial must be a serial number like PLG-XXXXXXXXXX', { field: 'serial' });
  }
  return raw.trim().toUpperCase();
}

/** A claim code from a request as typed (normalised later), or a 400. */
function claimCodeText(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    const message = 'a claim needs the claim code from the device label: the serial number alone is never enough';
    throw new InvalidInputError(message, { field: 'claimCode' });
  }
  if (raw.length > 64) throw new InvalidInputError('claimCode too long', { field: 'claimCode' });
  return raw;
}

/** A command's optional value: a number (also as digits) or a boolean. */
function commandValue(value: unknown): ScalarValue | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) return Number(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  throw new InvalidInputError('value must be a number or a boolean');
}

/** Options of {@link OwnerDevices}. */
export interface OwnerDevicesOptions {
  readonly store: CloudStore;
  readonly commands: CommandCenter;
  readonly config: OwnerApiConfig;
  readonly log: (message: string) => void;
}

/** The owner's operations on devices, shared by the JSON API and the web app. */
export class OwnerDevices {
  readonly #store: CloudStore;
  readonly #commands: CommandCenter;
  readonly #config: OwnerApiConfig;
  readonly #log: (message: string) => void;
  /** Only its back-off maths is used: each key brings its own threshold. */
  readonly #claimPolicy: LockoutPolicy;

  constructor(o: OwnerDevicesOptions) {
    this.#store = o.store;
    this.#commands = o.commands;
    this.#config = o.config;
    this.#log = o.log;
    this.#claimPolicy = new LockoutPolicy({
      sourceThreshold: o.config.claimAccountThreshold,
      accountThreshold: o.config.claimSourceThreshold,
      baseDelayMs: o.config.claimBaseDelayMs,
      maxDelayMs: o.config.claimMaxDelayMs,
      forgetAfterMs: Math.max(86_400_000, o.config.claimMaxDelayMs),
    });
  }

  /** The owner's devices. */
  list(accountId: string): Promise<DeviceRecord[]> {
    return this.#store.listDevices(accountId);
  }

  /** The device if `accountId` owns it; otherwise 404, exactly as for a device that does not exist. */
  async owned(serial: string, accountId: string): Promise<DeviceRecord> {
    const d = SERIAL.test(serial) ? await this.#store.getDevice(serial) : undefined;
    if (!d || d.ownerId !== accountId) throw new NotFoundError('no such device');
    return d;
  }

  /** Telemetry since the claim: `limit` rows, at most the configured maximum (100 when not a positive integer). */
  async telemetry(device: DeviceRecord, limit: number = this.#config.maxTelemetryPoints): Promise<TelemetryRow[]> {
    const n = Number.isInteger(limit) && limit > 0 ? Math.min(limit, this.#config.maxTelemetryPoints) : 100;
    return this.#store.telemetry(device.serial, device.claimedAt ?? 0, n);
  }

  /** Releases a device the account owns; 404 otherwise. */
  async release(serial: string, accountId: string): Promise<void> {
    if (!(await this.#store.releaseByOwner(serial, accountId))) throw new NotFoundError('no such device');
  }

  /** Counts a wrong code against `serial` for the maker: past the threshold it is flagged (never refused). */
  async #noteWrongClaim(serial: string): Promise<void> {
    const key = `claim:serial:${serial}`;
    const now = Date.now();
    await this.#store.recordFailure([key], now);
    const failures = (await this.#store.attempts([key])).get(key)?.failures ?? 0;
    if (failures < this.#config.claimSerialThreshold) return;
    if (!(await this.#store.flagClaimFlood(serial, failures, now))) return;
    this.#log(`claim flood: ${serial} has had ${failures} wrong claim codes; flagged for the maker`);
  }

  /** Claims a device with the code from its label, inside the window its button opened. */
  async claim(req: WebRequest, account: AccountRecord, serialRaw: unknown, codeRaw: unknown): Promise<DeviceRecord> {
    const serial = claimSerial(serialRaw);
    const codeText = claimCodeText(codeRaw);
    const accountKey = `claim:acct:${account.id}`,
      sourceKey = `claim:src:${sourceKeyFor(req.sourceAddress)}`;
    // Guesses are charged to who sent them, never to the serial: a stranger cannot spend the owner's budget.
    await admitAttempt(this.#store, this.#claimPolicy, [
      { key: accountKey, threshold: this.#config.claimAccountThreshold },
      { key: sourceKey, threshold: this.#config.claimSourceThreshold },
    ]);
    const code = normaliseClaimCode(codeText);
    const outcome = CLAIM_CODE.test(code)
      ? await this.#store.claimDevice(serial, account.id, hashClaimCode(serial, code), Date.now())
      : 'refused';
    if (outcome === 'refused') {
      this.#log(`claim refused for ${serial}`);
      await this.#noteWrongClaim(serial);
      throw new ClaimError('CLAIM_REFUSED', 'the serial number or the claim code is wrong');
    }
    if (outcome === 'window-closed') {
      const message = 'press the button on the device to open its claim window, then claim it within 10 minutes';
      throw new ClaimError('CLAIM_WINDOW_CLOSED', message);
    }
    if (outcome === 'taken') {
      const message = 'this device belongs to another account; a factory reset on the device releases it';
      throw new ClaimError('DEVICE_CLAIMED', message);
    }
    if (outcome === 'claimed') {
      // A claim took a hand on the device: the account and source start afresh. Other right-code outcomes refund
      // nothing, or re-claiming one's own device would reset the counters between guesses.
      for (const key of [accountKey, sourceKey, `claim:serial:${serial}`]) await this.#store.clearAttempts(key);
      this.#log(`${serial} claimed`);
    }
    return (await this.#store.getDevice(serial))!;
  }

  /** Sends one of the model's remote controls to an online device the account owns, and waits for its reply. */
  async command(
    account: AccountRecord,
    serial: string,
    capability: unknown,
    action: unknown,
    value: unknown,
  ): Promise<CommandRecord> {
    const device = await this.owned(serial, account.id);
    if (typeof capability !== 'string' || typeof action !== 'string') {
      throw new InvalidInputError('capability and action are required');
    }
    const allowed = remoteControls(modelOf(device))
      .find((c) => c.capability === capability)
      ?.actions.includes(action);
    if (!allowed) {
      const what = `${capability.slice(0, 32)} ${action.slice(0, 32)}`;
      throw new CommandError('COMMAND_NOT_ALLOWED', `${device.model} has no remote action ${what}`);
    }
    if (!device.online) throw new CommandError('DEVICE_OFFLINE', 'the device is not connected to the cloud');
    const v = commandValue(value);
    return this.#commands.send(serial, account.id, capability, action, v);
  }
}
