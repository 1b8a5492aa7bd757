// The release side's advisory match (`release vulns`) as the audit tests run it before they audit a
// repository: one OSV advisory, written here, for versions below the one a published image holds of
// its first npm package, so the match runs, is recorded, and affects nothing.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { reportVulnerabilities } from '../../src/release/index.ts';
import { packagesOfCycloneDx } from '../../src/vulns/index.ts';

/** The advisory's id. */
export const OLD_VERSIONS_ADVISORY = 'GHSA-test-old0-0001';

/** Writes the advisory into `advisoriesDir` (from the SBOM at `sbomFile`) and runs the match on `repoDir`. */
export async function releaseVulnsWithoutMatch(
  repoDir: string,
  sbomFile: string,
  advisoriesDir: string,
): Promise<void> {
  const [pkg] = packagesOfCycloneDx(JSON.parse(await readFile(sbomFile, 'utf8'))).filter((p) =>
    /^[1-9]\d*\.\d+\.\d+$/.test(p.version),
  );
  assert.ok(pkg, 'the image lists an npm package');
  const osv = {
    schema_version: '1.6.0',
    id: OLD_VERSIONS_ADVISORY,
    modified: '2026-01-02T00:00:00Z',
    summary: `A flaw in ${pkg.name} before ${pkg.version}`,
    affected: [
      {
        package: { ecosystem: 'npm', name: pkg.name },
        ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: pkg.version }] }],
      },
    ],
  };
  await mkdir(advisoriesDir, { recursive: true });
  await writeFile(join(advisoriesDir, `${OLD_VERSIONS_ADVISORY}.json`), JSON.stringify(osv));
  const { reports } = await reportVulnerabilities({ repoDir, advisories: advisoriesDir });
  assert.deepEqual(reports, [], 'the advisory affects no published image');
}
