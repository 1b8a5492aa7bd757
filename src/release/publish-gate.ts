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
  | 'RELEASE_SUPPORT_ENDED';

/** Thrown when the publish gate refuses an image; nothing has been written. */
export class PublishRefusedError extends BulwarkError<PublishRefusedCode> {}

/** The first instant after the support period (the day after endsOn, 00:00 UTC). */
export function supportEndsAt(model: Pick<ModelSpec, 'supportPeriod'>): Date {
  return new Date(Date.parse(`${model.supportPeriod.endsOn}T00:00:00Z`) + 86_400_000);
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
