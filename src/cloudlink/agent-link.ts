/**
 * The cloud link as the device agent runs it: telemetry from the capabilities on a timer, state
 * on every change, commands into the capabilities, and every connection attempt in the
 * connection journal (surface 'cloud'). Structural types only, so this folder does not import
 * the device runtime.
 */
import { isIP } from 'node:net';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { PERSON_REMOVAL, type ScalarValue, type StateMessage } from '../cloudprotocol/index.ts';
import { CloudLink, type CloudLinkConfig, type CloudLinkEvent, type CloudLinkOptions } from './link.ts';
import { firmwareReport, type LinkedFirmware } from './firmware-report.ts';

/** The capabilities as the link needs them (DeviceCapabilities fits). */
export interface LinkedCapabilities {
  list(): ReadonlyArray<{
    readonly id: string;
    readonly kind: string;
    readonly sensitive?: boolean;
    readonly value: unknown;
  }>;
  invoke(capability: string, action: string, value?: unknown): Promise<unknown>;
  onChange(listener: (id: string, value: unknown) => void): void;
}

/** Options of {@link startAgentCloudLink}. */
export interface AgentCloudLinkOptions {
  readonly identity: {
    readonly serial: string;
    readonly caCertPem: string;
    readonly deviceCertPem: string;
    readonly deviceKeyPem: string;
  };
  readonly stateDir: string;
  /** `mqtts://host:port`. */
  readonly url: string;
  /** Where to enrol with the birth certificate, when not `url` (Mosquitto's enrolment listener). */
  readonly enrolUrl?: string;
  readonly capabilities: LinkedCapabilities;
  readonly journal?: {
    record(entry: { surface: string; source: string; event: string; result: string; detail?: string }): void;
  };
  /** A telemetry reading goes into the outbox this often, ms. */
  readonly telemetryIntervalMs?: number;
  readonly config?: Partial<Omit<CloudLinkConfig, 'url'>>;
  readonly log?: (msg: string) => void;
  /** The broker check to use instead of OpenSSL's while the unit's clock is below its floor (CloudLinkOptions). */
  readonly peerCheckBelowFloor?: CloudLinkOptions['peerCheckBelowFloor'];
  /**
   * The updater (src/update's DeviceUpdater fits): its running image and kept update outcomes go to the cloud on
   * connect and on every new outcome. Without it the link reports no firmware.
   */
  readonly firmware?: LinkedFirmware;
  /** Where an unusable operational identity file goes (the agent's `damaged` folder, journalled). */
  readonly damaged?: CloudLinkOptions['damaged'];
  /** The time the operational certificate is judged at (the unit's clock), ms. */
  readonly now?: () => number;
  /**
   * The household's removals from the owner's cloud account (command 'people' 'remove' <name>): the person of that
   * name goes from the unit's own page. Resolves with whether someone was removed. Without it the command is refused.
   */
  readonly removePerson?: (name: string) => Promise<boolean>;
}

async function removePersonCommand(o: AgentCloudLinkOptions, action: string, value: unknown): Promise<boolean> {
  if (action !== PERSON_REMOVAL.action || !o.removePerson)
    throw new BulwarkError('COMMAND_NOT_ALLOWED', `people ${action.slice(0, 32)} is not taken from the cloud`);
  if (typeof value !== 'string' || !PERSON_REMOVAL.name.test(value))
    throw new InvalidInputError("people remove takes a person's name");
  return o.removePerson(value);
}

/** The values a telemetry message carries: scalar readings and switch states, never content (snapshots). */
export function telemetryValues(caps: ReturnType<LinkedCapabilities['list']>): Record<string, ScalarValue> {
  const out: Record<string, ScalarValue> = {};
  for (const c of caps) {
    if (c.kind === 'snapshot' || c.sensitive) continue;
    const v = c.value;
    if (
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v)) ||
      (typeof v === 'string' && v.length <= 64)
    )
      out[c.id] = v;
  }
  return out;
}

function stateOf(caps: ReturnType<LinkedCapabilities['list']>): StateMessage {
  return {
    at: Date.now(),
    capabilities: caps
      .filter((c) => c.kind !== 'snapshot')
      .map((c) => {
        const v = c.value;
        const value: ScalarValue =
          typeof v === 'boolean' ||
          (typeof v === 'number' && Number.isFinite(v)) ||
          (typeof v === 'string' && v.length <= 64)
            ? v
            : null;
        return { id: c.id, value };
      }),
  };
}

/** Starts the link for an agent; `close` stops it and its timer. */
export async function startAgentCloudLink(
  o: AgentCloudLinkOptions,
): Promise<{ link: CloudLink; close(): Promise<void> }> {
  // The journal takes an address: a broker named by host name is recorded as 'unknown' with the name in the detail.
  let source = 'unknown',
    named = '';
  try {
    const u = new URL(o.url);
    const host = u.hostname.replace(/^\[|\]$/g, ''),
      port = u.port || '8883';
    if (isIP(host) === 4) source = `${host}:${port}`;
    else if (isIP(host) === 6) source = `[${host}]:${port}`;
    else named = `${host}:${port}`;
  } catch {
    /* validated by the link */
  }
  const record = (e: CloudLinkEvent): void => {
    const detail = [named, e.detail ?? ''].filter(Boolean).join(' ');
    o.journal?.record({ surface: 'cloud', source, event: e.event, result: e.result, ...(detail ? { detail } : {}) });
    if (e.event === 'connect' || e.event === 'disconnect' || e.event === 'identity-switched')
      o.log?.(`cloud ${e.event}: ${e.result}${e.detail ? ` (${e.detail})` : ''}`);
  };
  const link = await CloudLink.open({
    identity: o.identity,
    stateDir: o.stateDir,
    config: { ...o.config, url: o.url, ...(o.enrolUrl ? { enrolUrl: o.enrolUrl } : {}) },
    execute: async (capability, action, value) => {
      // Only a removal: the cloud can take a person's access away, never give one.
      if (capability === PERSON_REMOVAL.capability) return removePersonCommand(o, action, value);
      // Defence in depth: the cloud offers no sensitive control, and the device takes none from it.
      const c = o.capabilities.list().find((x) => x.id === capability);
      if (c && (c.sensitive || c.kind === 'snapshot'))
        throw new BulwarkError('COMMAND_NOT_ALLOWED', `${capability} is not controlled from the cloud`);
      return o.capabilities.invoke(capability, action, value);
    },
    state: () => stateOf(o.capabilities.list()),
    ...(o.firmware ? { firmware: () => firmwareReport(o.firmware!) } : {}),
    ...(o.peerCheckBelowFloor ? { peerCheckBelowFloor: o.peerCheckBelowFloor } : {}),
    ...(o.damaged ? { damaged: o.damaged } : {}),
    ...(o.now ? { now: o.now } : {}),
    onEvent: record,
  });
  o.capabilities.onChange(() => link.publishState());
  const stopOutcomes = o.firmware?.onOutcome(() => link.publishFirmware());
  // A unit whose every value is sensitive (a lock) or content (a camera) sends no readings at all:
  // an empty message would only tell the cloud when the unit was up.
  const timer = setInterval(() => {
    const values = telemetryValues(o.capabilities.list());
    if (Object.keys(values).length > 0) link.queueTelemetry(values);
  }, o.telemetryIntervalMs ?? 30_000);
  timer.unref();
  link.start();
  return {
    link,
    async close() {
      clearInterval(timer);
      stopOutcomes?.();
      await link.close();
    },
  };
}
