/**
 * The publish gate: `release publish` refuses, before it writes anything, an image whose SBOM
 * holds a package version an imported advisory affects while the maker's latest VEX statement
 * about it says "affected" (a known, unfixed vulnerability), and an image of a model whose
 * support period has ended (the model's supportPeriod.endsOn: support lasts to the end of that
 * day, UTC) at the release clock.
 */
import { BulwarkError } from '../errors/index.ts';
import type { ModelSpec } from '../models/index.ts';
import { matchAdvisories, type SbomPackage } from '../vulns/index.ts';
import { latestStatements, loadAdvisories, loadStatements } from './vuln-records.ts';

/** Codes of {@link PublishRefusedError}. */
export type PublishRefusedCode =
  /** The image holds a component an advisory affects, and the maker's VEX says the product is affected. */
  | 'RELEASE_KNOWN_VULNERABILITY'
  /** The model's support period ended before the release clock's time. */
  | 'RELEASE_SUPPORT_ENDED'
  /** The support end would be earlier than the one already signed for the model's units. */
  | 'RELEASE_SUPPORT_SHORTENED'
  /** The support period is under five years from the model's first publication, with no reason recorded. */
  | 'RELEASE_SUPPORT_TOO_SHORT';

/** Thrown when the publish gate refuses an image; nothing has been written. */
export class PublishRefusedError extends BulwarkError<PublishRefusedCode> {}

/** The first instant after the support period (the day after endsOn, 00:00 UTC). */
export function supportEndsAt(model: Pick<ModelSpec, 'supportPeriod'>): Date {
  return dayAfter(model.supportPeriod.endsOn);
}

function dayAfter(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000);
}

/** The shortest support period the CRA allows without a recorded reason (Art. 13(8)), in years. */
export const MIN_SUPPORT_YEARS = 5;

/** A support end the release record holds for a model (`release support`): it only ever moves later. */
export interface RecordedSupport {
  readonly endsOn: string;
  readonly shorterExpectedUse?: string;
  readonly setAt: string;
}

/** What {@link decideSupportPeriod} weighs. */
export interface SupportInputs {
  readonly model: Pick<ModelSpec, 'id' | 'supportPeriod'>;
  /** The release record's declaration for the model, when `release support` made one. */
  readonly recorded?: RecordedSupport;
  /** When the model's first image was published (its placing on the market); absent: this is the first. */
  readonly firstPublishedAt?: string;
  /** The support end already signed for the model's units (the current image target's), if any. */
  readonly signed?: string;
  readonly now: Date;
}

/**
 * The support end a release signs for a model: the later of the model's declaration and the release record's,
 * never earlier than what units were already told, at least five years from the model's first publication
 * unless a shorter expected use is recorded with its reason, and not already over.
 * @throws PublishRefusedError 'RELEASE_SUPPORT_SHORTENED' | 'RELEASE_SUPPORT_TOO_SHORT' | 'RELEASE_SUPPORT_ENDED'
 */
export function decideSupportPeriod(i: SupportInputs): { endsOn: string; shorterExpectedUse?: string } {
  const declared = i.model.supportPeriod.endsOn;
  const endsOn = i.recorded && i.recorded.endsOn > declared ? i.recorded.endsOn : declared;
  const reason = i.model.supportPeriod.shorterExpectedUse ?? i.recorded?.shorterExpectedUse;
  if (i.signed !== undefined && endsOn < i.signed)
    throw new PublishRefusedError(
      'RELEASE_SUPPORT_SHORTENED',
      `${i.model.id}'s units were told security updates last until ${i.signed}; a release may extend that, ` +
        `never shorten it to ${endsOn}`,
      { model: i.model.id, signed: i.signed, endsOn },
    );
  checkSupportPeriod({ id: i.model.id, supportPeriod: { endsOn } }, i.now);
  const from = new Date(i.firstPublishedAt ?? i.now.toISOString());
  const floor = new Date(from);
  floor.setUTCFullYear(from.getUTCFullYear() + MIN_SUPPORT_YEARS);
  if (reason === undefined && dayAfter(endsOn).getTime() < floor.getTime())
    throw new PublishRefusedError(
      'RELEASE_SUPPORT_TOO_SHORT',
      `${i.model.id}'s support ends on ${endsOn}, under ${MIN_SUPPORT_YEARS} years from its first publication ` +
        `(${from.toISOString().slice(0, 10)}): extend it, or record the shorter expected use and its reason ` +
        "in the model's supportPeriod.shorterExpectedUse",
      { model: i.model.id, endsOn, firstPublishedAt: from.toISOString() },
    );
  return { endsOn, ...(reason !== undefined ? { shorterExpectedUse: reason } : {}) };
}

/** Refuses a model whose support period has ended at `now`. @throws PublishRefusedError 'RELEASE_SUPPORT_ENDED' */
export function checkSupportPeriod(model: Pick<ModelSpec, 'id' | 'supportPeriod'>, now: Date): void {
  if (now.getTime() >= supportEndsAt(model).getTime())
    throw new PublishRefusedError(
      'RELEASE_SUPPORT_ENDED',
      `the support period of ${model.id} ended on ${model.supportPeriod.endsOn}: an image published now would ` +
        'reach units the maker no longer supports',
      { model: model.id, endsOn: model.supportPeriod.endsOn, now: now.toISOString() },
    );
}

/**
 * Refuses an image whose packages an imported advisory affects while the maker's latest statement
 * about it is "affected". @throws PublishRefusedError 'RELEASE_KNOWN_VULNERABILITY'
 */
export async function checkKnownVulnerabilities(
  repoDir: string,
  image: { model: string; version: string; sha256?: string; packages: readonly SbomPackage[] },
): Promise<void> {
  const advisories = await loadAdvisories(repoDir);
  if (advisories.length === 0) return;
  const latest = latestStatements(await loadStatements(repoDir));
  const release = { model: image.model, version: image.version, sha256: image.sha256 ?? '', packages: image.packages };
  const blocking = matchAdvisories(advisories, [release]).filter(
    (m) => latest.get(m.advisory.id)?.status === 'affected',
  );
  if (blocking.length === 0) return;
  const what = blocking.map((m) => {
    const p = m.releases[0]!.package;
    const fixed = m.fixedVersions[p.name]?.length ? `, fixed in ${m.fixedVersions[p.name]!.join(', ')}` : '';
    return `${m.advisory.id} (${p.name} ${p.version}${fixed})`;
  });
  throw new PublishRefusedError(
    'RELEASE_KNOWN_VULNERABILITY',
    `${image.model} ${image.version} holds a vulnerability the maker marked affected: ${what.join('; ')}`,
    { vulnerabilities: blocking.map((m) => m.advisory.id) },
  );
}
