// The security facts record as a maker publishes it before the audit tests audit a unit with --cloud-api: built
// from the model's example profile and the release repository's current image, with the contact the running
// cloud's security.txt states (its report page), and stored where the cloud serves it.
import assert from 'node:assert/strict';
import { factsFolder, publishFactsRecord, type CloudService } from '../../src/cloud/index.ts';
import { repositoryStatus } from '../../src/release/index.ts';
import { getModel } from '../../src/models/index.ts';
import {
  buildFactsRecord,
  loadExampleProfile,
  parseFactsRecord,
  serializeFactsRecord,
  type ExampleModel,
} from '../../src/policy/index.ts';

/** Publishes on `cloud` (state folder `cloudStateDir`) the record of `model` as `repoDir` currently publishes it. */
export async function publishConsistentFacts(
  cloud: CloudService,
  cloudStateDir: string,
  repoDir: string,
  model: ExampleModel,
): Promise<void> {
  const image = (await repositoryStatus(repoDir)).images.find((i) => i.model === model);
  assert.ok(image, `the repository publishes a ${model} image`);
  const base = cloud.api.url;
  const record = buildFactsRecord({
    model: getModel(model),
    version: image.version,
    profile: await loadExampleProfile(model),
    baseUrl: base,
    conformityUrl: `https://example.com/conformity/${model}.pdf`,
    automaticUpdates: true,
    release: image,
    securityContacts: [`${base}/security/report`],
  });
  await publishFactsRecord(factsFolder(cloudStateDir), Buffer.from(serializeFactsRecord(record)), parseFactsRecord);
}
