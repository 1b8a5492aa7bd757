/**
 * Auditing a running Bulwark device from code (the demo, tests, a release pipeline): every input
 * the auditor can use, taken from the running agent and its surroundings, and the profile of its
 * catalogue model. Optionally keeps a passing report with the release in the update repository.
 *
 * @example
 *   const { report, exitCode } = await auditRunningDevice({
 *     model: 'lock', agent, bundle: unit.dir, state: lockStateDir,
 *     manifest: 'units/manifest.json', cloudUrl: cloud.brokerUrl, cloudApi: cloud.api.url, updateRepo: 'releases',
 *   });
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { DeviceProfile } from '../policy/index.ts';
import type { AuditLimits } from './config.ts';
import { runAudit, auditExitCode } from './run.ts';
import { keepReleaseAudit } from './update-checks.ts';
import { AuditError } from './errors.ts';
import type { AuditReport } from './types.ts';
import type { UnitBoot } from './unit-boot.ts';

/** The parts of a running agent the audit uses (src/device's DeviceAgent fits). */
export interface RunningAgentView {
  readonly web: { readonly url: string };
  readonly hub?: { readonly host: string; readonly port: number };
}

/** What to audit. */
export interface RunningDeviceAudit {
  /**
   * The catalogue model (plug, lock, camera, ...): its profile is src/policy/profiles/<model>.yaml (which names that
   * model) unless `profile` is given; either must name the model of `bundle`'s unit.
   */
  readonly model: string;
  readonly profile?: DeviceProfile | string;
  readonly agent: RunningAgentView;
  /**
   * The unit's bundle folder (the factory's output folder, label.json included, lets the auditor use the export on its
   * copy).
   */
  readonly bundle: string;
  /** The running agent's state folder. */
  readonly state: string;
  /** The batch's manifest.json. */
  readonly manifest?: string;
  /** Other running units of the same product (their admin URLs), for certificate uniqueness. */
  readonly peers?: readonly string[];
  /** The broker the device connects to, mqtts://host:port. */
  readonly cloudUrl?: string;
  /** A folder with the certificate and key of an identity the cloud has revoked. */
  readonly revoked?: string;
  /** The cloud's HTTPS API, https://host:port (its security.txt and disclosure intake). */
  readonly cloudApi?: string;
  /** A PEM file of the CA the cloud API's certificate chains to. */
  readonly cloudApiCa?: string;
  /** The maildir where the cloud's mail to the claim probe's test accounts arrives. */
  readonly cloudMail?: string;
  /** The release side's update repository folder. */
  readonly updateRepo?: string;
  /** The firmware's project folder (lint, parsers, SBOM); default: this checkout, when it has its dev tools. */
  readonly source?: string | false;
  /** The installed systemd unit; default: the one the firmware writes. */
  readonly serviceUnit?: string;
  /** Keep the report in `updateRepo` (audits/<model>/) when it passes the release gate, signed (needs `factory`). */
  readonly keepReport?: boolean;
  /** The factory folder whose audit key signs a kept report. */
  readonly factory?: string;
  readonly limits?: Partial<AuditLimits>;
  /**
   * First loopback source address of the probe families (give each device of a demo its own, e.g. 127.0.0.50, .60,
   * .70).
   */
  readonly loopbackSourceBase?: string;
  /**
   * The product's own boot, when it is built on the SDK: it starts its agent with the start it is handed (never
   * `startDeviceAgent` itself) and does what the product does at power-on; the secure-defaults check boots fresh and
   * reset copies of the unit with it.
   */
  readonly unitBoot?: UnitBoot;
  /** Hears each check as it starts and as it ends, with its result (as {@link runAudit}'s `onProgress`). */
  readonly onProgress?: Parameters<typeof runAudit>[0]['onProgress'];
}

/**
 * The example profile of a catalogue model (src/policy/profiles/<model>.yaml, beside the source or the build); it names
 * the model by id, so it reads the same built-in model file wherever it lies.
 */
function profileOfModel(model: string): string {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(model))
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'model', 'must be a catalogue model id');
  const candidates = [`../policy/profiles/${model}.yaml`, `../../src/policy/profiles/${model}.yaml`].map((u) =>
    fileURLToPath(new URL(u, import.meta.url)),
  );
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined)
    throw new AuditError('AUDIT_OPTIONS_INVALID', 'profile', `no profile for model '${model}': pass one`);
  return found;
}

/** This checkout, when it can lint itself (src/ and node_modules/eslint present). */
function defaultSource(): string | undefined {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return existsSync(join(root, 'src')) && existsSync(join(root, 'node_modules', 'eslint')) ? root : undefined;
}

/**
 * Audits a running Bulwark device with everything the auditor can use. Resolves with the
 * report, its exit code (0 only when every required control passed or is declared by the maker)
 * and, with `keepReport`, where the report was kept (or why not).
 */
export async function auditRunningDevice(
  o: RunningDeviceAudit,
): Promise<{ report: AuditReport; exitCode: number; kept?: string }> {
  if (o.keepReport === true && o.factory === undefined)
    throw new AuditError(
      'AUDIT_OPTIONS_INVALID',
      'factory',
      'keepReport needs the factory folder: its audit key signs',
    );
  const profile = o.profile ?? profileOfModel(o.model);
  const source = o.source === false ? undefined : (o.source ?? defaultSource());
  const hub = o.agent.hub
    ? `${o.agent.hub.host.includes(':') ? `[${o.agent.hub.host}]` : o.agent.hub.host}:${o.agent.hub.port}`
    : undefined;
  const report = await runAudit({
    profile,
    urls: [o.agent.web.url, ...(o.peers ?? [])],
    bundle: o.bundle,
    state: o.state,
    ...(o.manifest ? { manifest: o.manifest } : {}),
    ...(source ? { source } : {}),
    ...(hub ? { hub } : {}),
    ...(o.cloudUrl ? { cloud: o.cloudUrl } : {}),
    ...(o.revoked ? { revoked: o.revoked } : {}),
    ...(o.cloudApi ? { cloudApi: o.cloudApi } : {}),
    ...(o.cloudApiCa ? { cloudApiCa: o.cloudApiCa } : {}),
    ...(o.cloudMail ? { cloudMail: o.cloudMail } : {}),
    ...(o.updateRepo ? { updateRepo: o.updateRepo } : {}),
    ...(o.serviceUnit ? { serviceUnit: o.serviceUnit } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.loopbackSourceBase ? { loopbackSourceBase: o.loopbackSourceBase } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.unitBoot ? { unitBoot: o.unitBoot } : {}),
  });
  let kept: string | undefined;
  if (o.keepReport === true && o.updateRepo !== undefined && o.factory !== undefined) {
    try {
      kept = await keepReleaseAudit(report, o.updateRepo, o.factory);
    } catch (err) {
      kept = `not kept: ${(err as Error).message}`;
    }
  }
  return { report, exitCode: auditExitCode(report), ...(kept !== undefined ? { kept } : {}) };
}
