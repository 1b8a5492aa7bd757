/**
 * cloud.facts-record, black-box (--cloud-api) with white-box evidence: the security facts record
 * the cloud serves for the audited model and version (`/facts/<model>/<version>.json`, the URL a
 * label's QR code carries) is fetched, checked against its schema, and every field that has
 * evidence is held against it: the support date against the release data (the date signed with
 * the image, else the unit's model), automatic updates against the unit's shipped default (the
 * `--update-config` its service unit starts it with, else the firmware updater's default), the
 * SBOM against the release repository, the vulnerability contact and policy against the cloud's
 * security.txt, the product and password facts against the unit's model. What only the maker can
 * state (instructions, the declaration of conformity's URL) is shown as declared. Any mismatch
 * fails, naming the field; a field left without its evidence makes the check "not tested". A cloud
 * that publishes no record for the model and version (404) makes it "not applicable": the product
 * carries no label leading to one; any other refusal to serve it fails.
 */
import { factsRecordPath, parseFactsRecord, type FactsRecord } from '../policy/index.ts';
import type { ModelSpec } from '../models/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, type CheckOutcome } from './context.ts';
import { auditedModel, isBulwark, runningFirmware } from './device-info.ts';
import { securityTxtFields } from './disclosure-checks.ts';
import { readBounded, readJsonBounded } from './files.ts';
import { httpsExchange, type HttpAnswer, type HttpProbe, type HttpsTarget } from './net.ts';
import { parseUnitFile } from './runtime-checks.ts';
import type { Evidence } from './types.ts';
import { repositoryView, type RepositoryImage } from './update-checks.ts';

/** Largest update settings file read, bytes (the device refuses a larger one). */
const MAX_UPDATE_CONFIG_BYTES = 65_536;
/** Largest service unit read, bytes. */
const MAX_UNIT_BYTES = 1_048_576;

/** One field held against its evidence: a mismatch is a finding; `unverified` says why it could not be held. */
interface Held {
  readonly field: string;
  readonly evidence: Evidence;
  readonly unverified?: string;
}

const held = (field: string, received: string, mismatch: boolean): Held => ({
  field,
  evidence: { sent: `record ${field}`, received, ...(mismatch ? { finding: true } : {}) },
});
const unheld = (field: string, stated: string, why: string): Held => ({
  field,
  evidence: { sent: `record ${field}`, received: `${stated}; not held against evidence: ${why}` },
  unverified: `${field} (${why})`,
});
const declared = (field: string, value: string): Held => ({
  field,
  evidence: {
    sent: `record ${field}`,
    received: `${value.length > 160 ? `${value.slice(0, 157)}...` : value} (declared by the maker)`,
  },
});

/** The version whose record the label of this unit leads to: the one it runs, else the one the release publishes. */
async function auditedVersion(ctx: AuditContext, model: ModelSpec): Promise<{ version?: string; how: string }> {
  const running = await runningFirmware(ctx);
  if (running.image !== undefined) return { version: running.image.version, how: `the unit runs it (${running.how})` };
  const image = (await repositoryView(ctx))?.images.find((i) => i.model === model.id);
  const v = image?.custom.version;
  if (typeof v === 'string') return { version: v, how: `the release repository's current ${model.id} image` };
  return { how: 'needs --state (the version the unit runs) or --update-repo (the version the release publishes)' };
}

/** The update settings file a service unit starts the device with (`--update-config <file>`), if any. */
function updateConfigOf(unitText: string): string | undefined {
  const exec = (parseUnitFile(unitText).get('Service') ?? []).filter(([k]) => k === 'ExecStart').at(-1)?.[1] ?? '';
  const words = exec.split(/\s+/).map((w) => w.replace(/^"|"$/g, ''));
  const i = words.indexOf('--update-config');
  if (i >= 0) return words[i + 1];
  return words.find((w) => w.startsWith('--update-config='))?.slice('--update-config='.length);
}

/** Whether units ship with automatic updates on: their service's --update-config, else the firmware's default. */
async function shippedAutoUpdate(ctx: AuditContext): Promise<{ on?: boolean; how: string }> {
  const { defaultDeviceUpdateConfig, validateDeviceUpdateConfig } = await import('../update/index.ts');
  const unitPath = ctx.inputs.serviceUnitPath;
  if (unitPath !== undefined) {
    const unit = await readBounded(unitPath, MAX_UNIT_BYTES);
    if (!unit.ok) return { how: `the service unit ${unitPath} cannot be read (${unit.reason})` };
    const file = updateConfigOf(unit.text);
    if (file !== undefined) {
      const where = `${file}, the --update-config of ${unitPath}`;
      const { value, reason } = await readJsonBounded(file, MAX_UPDATE_CONFIG_BYTES);
      if (value === undefined) return { how: `${where}: ${reason ?? 'unreadable'}` };
      try {
        return { on: validateDeviceUpdateConfig(value as object).autoUpdate, how: where };
      } catch (err) {
        return { how: `${where}: refused by the updater (${(err as Error).message.slice(0, 120)})` };
      }
    }
  } else if (!isBulwark(ctx)) return { how: 'needs --service-unit, or a Bulwark device (--bundle/--state)' };
  return {
    on: defaultDeviceUpdateConfig.autoUpdate,
    how: "the firmware updater's default: the unit is started without --update-config",
  };
}

/** The support date the release data gives the record's version: signed with its image, else the model's. */
function releaseSupport(model: ModelSpec, image: RepositoryImage | undefined, version: string): [string, string] {
  const signed = image?.custom.supportEndsOn;
  if (image?.custom.version === version && typeof signed === 'string')
    return [signed, `signed with ${image.path} ${version} in the release repository`];
  return [model.supportPeriod.endsOn, "the unit's model (supportPeriod.endsOn)"];
}

/** The SBOM fields against the release repository's image of the record's version. */
function sbomHeld(r: FactsRecord, image: RepositoryImage | undefined, repo: boolean): Held {
  const stated = r.sbom.available ? `available, ${r.sbom.format} at ${r.sbom.target}` : 'not available';
  if (!repo) return unheld('sbom', stated, 'needs --update-repo');
  if (image === undefined)
    return unheld('sbom', stated, `the release repository publishes no ${r.product.model} image`);
  if (image.custom.version !== r.product.version)
    return unheld('sbom', stated, `the repository's current image is ${String(image.custom.version)}`);
  const published = image.sbom.state === 'verified';
  const where = published ? `publishes ${image.sbom.path ?? '?'} (signed, hash verified)` : image.sbom.state;
  const mismatch = r.sbom.available ? !published || image.sbom.path !== r.sbom.target : published;
  return held('sbom', `${stated}; the release repository ${where}`, mismatch);
}

/** The reporting fields against the cloud's security.txt (the same Contact set, the same Policy). */
function reportingHeld(r: FactsRecord, txt: HttpAnswer): Held[] {
  if (txt.status !== 200) {
    const why = `the cloud's security.txt answered ${txt.status || 'nothing'}`;
    return [
      unheld('vulnerabilityReporting.contact', r.vulnerabilityReporting.contact.join(', '), why),
      unheld('vulnerabilityReporting.policy', r.vulnerabilityReporting.policy, why),
    ];
  }
  const fields = securityTxtFields(txt.body);
  const contacts = fields.get('contact') ?? [];
  const policies = fields.get('policy') ?? [];
  const same = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && a.every((x) => b.includes(x));
  return [
    held(
      'vulnerabilityReporting.contact',
      `${r.vulnerabilityReporting.contact.join(', ')}; security.txt Contact: ${contacts.join(', ') || 'none'}`,
      !same(r.vulnerabilityReporting.contact, contacts),
    ),
    held(
      'vulnerabilityReporting.policy',
      `${r.vulnerabilityReporting.policy}; security.txt Policy: ${policies.join(', ') || 'none'}`,
      !(policies.length === 1 && policies[0] === r.vulnerabilityReporting.policy),
    ),
  ];
}

/** The record's own URL: the path it was fetched at, on an origin the cloud's security.txt calls its own. */
function urlHeld(r: FactsRecord, txt: HttpAnswer, target: HttpsTarget): Held {
  const url = new URL(r.url);
  const canonical = (securityTxtFields(txt.status === 200 ? txt.body : '').get('canonical') ?? []).flatMap((c) => {
    try {
      return [new URL(c).origin];
    } catch {
      return [];
    }
  });
  const path = factsRecordPath(r.product.model, r.product.version);
  if (canonical.length === 0) return unheld('url', r.url, "the cloud's security.txt names no Canonical origin");
  return held(
    'url',
    `${r.url}; fetched at ${target.origin}${path}, the cloud's origins ${canonical.join(', ')}`,
    url.pathname !== path || !canonical.includes(url.origin),
  );
}

/** Every field of the record, held against what the audit knows. */
async function holdRecord(
  ctx: AuditContext,
  r: FactsRecord,
  model: ModelSpec,
  version: string,
  txt: HttpAnswer,
  target: HttpsTarget,
): Promise<Held[]> {
  const view = await repositoryView(ctx);
  const image = view?.images.find((i) => i.model === model.id);
  const [endsOn, from] = releaseSupport(model, image, version);
  const auto = await shippedAutoUpdate(ctx);
  const maker = ctx.inputs.profile.maker;
  const p = r.product;
  return [
    held(
      'product',
      `${p.model} ${p.version} "${p.name}"; audited ${model.id} ${version} "${model.name}"`,
      p.model !== model.id || p.version !== version || p.name !== model.name,
    ),
    urlHeld(r, txt, target),
    maker === undefined
      ? declared('maker.name', r.maker.name)
      : held('maker.name', `${r.maker.name}; the profile's maker: ${maker}`, r.maker.name !== maker),
    declared('maker.contact', r.maker.contact),
    held('support.endsOn', `${r.support.endsOn}; ${from}: ${endsOn}`, r.support.endsOn !== endsOn),
    auto.on === undefined
      ? unheld('automaticUpdates.default', r.automaticUpdates.default, auto.how)
      : held(
          'automaticUpdates.default',
          `${r.automaticUpdates.default}; units ship with them ${auto.on ? 'on' : 'off'} (${auto.how})`,
          (r.automaticUpdates.default === 'on') !== auto.on,
        ),
    declared('automaticUpdates.howToTurnOff', r.automaticUpdates.howToTurnOff),
    held(
      'password.initial',
      `${r.password.initial}; the model's initialPasswordMode: ${model.initialPasswordMode}`,
      r.password.initial !== model.initialPasswordMode,
    ),
    declared('password.howToChange', r.password.howToChange),
    declared('secureSetup', `${r.secureSetup.length} instructions`),
    sbomHeld(r, image, view !== undefined),
    ...reportingHeld(r, txt),
    declared('declarationOfConformity.url', r.declarationOfConformity.url),
  ];
}

/** The verdict over the held fields: any mismatch fails naming the fields; any field left unheld is not tested. */
function factsVerdict(base: Evidence[], fields: Held[], where: string): CheckOutcome {
  const evidence = [...base, ...fields.map((f) => f.evidence)];
  const mismatched = fields.filter((f) => f.evidence.finding).map((f) => f.field);
  if (mismatched.length > 0)
    return {
      status: 'fail',
      summary: `the facts record at ${where} contradicts the evidence: ${mismatched.join(', ')}`,
      evidence,
    };
  const unverified = fields.flatMap((f) => (f.unverified ? [f.unverified] : []));
  if (unverified.length > 0)
    return notTested(
      `the facts record at ${where} matches what was checked; not held: ${unverified.join('; ')}`,
      evidence,
    );
  return {
    status: 'pass',
    summary: `the facts record at ${where} matches the release data, the unit's defaults and the cloud's security.txt`,
    evidence,
  };
}

/** cloud.facts-record: the record the cloud serves for this model and version, held field by field. */
export async function checkFactsRecord(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.inputs.cloudApi;
  if (target === undefined) {
    if (!ctx.inputs.profile.networkModels.includes('cloud'))
      return {
        status: 'not-applicable',
        summary: 'the product has no manufacturer cloud to serve its security facts record',
        evidence: [],
      };
    return notTested("needs --cloud-api (the cloud's HTTPS API, https://host:port) to fetch the facts record");
  }
  const { model, how } = await auditedModel(ctx);
  if (model === undefined) return notTested(`the audited model is not known: ${how}`);
  const v = await auditedVersion(ctx, model);
  if (v.version === undefined) return notTested(`the audited version is not known: ${v.how}`);
  const path = factsRecordPath(model.id, v.version);
  const localAddress = target.loopbackV4 ? ctx.inputs.sources?.http : undefined;
  const send = (p: HttpProbe): Promise<HttpAnswer> =>
    httpsExchange(target, { ...p, ...(localAddress ? { localAddress } : {}) }, ctx.inputs.limits);
  const answer = await send({ method: 'GET', path, headers: { accept: 'application/json' } });
  const verified = target.ca === undefined ? 'not verified (no --cloud-api-ca)' : 'verified against --cloud-api-ca';
  const base: Evidence[] = [
    { sent: `TLS to ${target.origin}`, received: `certificate ${verified}` },
    { sent: `the audited version`, received: `${model.id} ${v.version}: ${v.how}` },
  ];
  if (answer.status === 0) {
    const certificate = target.ca !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME/i.test(answer.error ?? '');
    if (!certificate) return notTested(`nothing answered at ${target.origin} (${answer.error ?? 'error'})`, base);
    return {
      status: 'fail',
      summary: "the cloud's certificate does not verify",
      evidence: [...base, { sent: `GET ${path}`, received: `refused: ${answer.error ?? ''}`, finding: true }],
    };
  }
  const got: Evidence = { sent: `GET ${path}`, received: `${answer.status} ${String(answer.headers['content-type'])}` };
  // No record: the product carries no label that leads to one (the policy document states the same facts).
  if (answer.status === 404)
    return {
      status: 'not-applicable',
      summary:
        `the cloud publishes no security facts record for ${model.id} ${v.version} at ${path}: a product whose ` +
        'label leads to one publishes it (bulwark policy facts, then bulwark cloud facts publish)',
      evidence: [...base, got],
    };
  if (answer.status !== 200)
    return {
      status: 'fail',
      summary: `the cloud does not serve the security facts record of ${model.id} ${v.version} at ${path}`,
      evidence: [...base, { ...got, finding: true }],
    };
  let record: FactsRecord;
  try {
    record = parseFactsRecord(answer.body);
  } catch (err) {
    const field = (err as { field?: unknown }).field;
    return {
      status: 'fail',
      summary: `the facts record at ${path} breaks its schema at ${typeof field === 'string' ? field : '$'}`,
      evidence: [
        ...base,
        { ...got, finding: true },
        { sent: 'schema', received: (err as Error).message, finding: true },
      ],
    };
  }
  const txt = await send({ method: 'GET', path: '/.well-known/security.txt', headers: { accept: 'text/plain' } });
  return factsVerdict([...base, got], await holdRecord(ctx, record, model, v.version, txt, target), path);
}
