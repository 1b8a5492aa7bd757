// Release for a maker's own product: `--model` takes a model file as well as a built-in id, and
// the repository names the targets by the model's id either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../../src/errors/index.ts';
import { initFactory } from '../../src/identity/index.ts';
import { buildReferenceImage, initRepository, publishImage, repositoryStatus } from '../../src/release/index.ts';

test('publish takes a model file and names the targets by its id; a broken file or unknown id is refused', async () => {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-release-model-'));
  const factoryDir = join(work, 'factory');
  const repoDir = join(work, 'releases');
  await initFactory(factoryDir);
  await initRepository({ repoDir, factoryDir });
  const plug = JSON.parse(await readFile(new URL('../../models/plug.model.json', import.meta.url), 'utf8')) as object;
  const file = join(work, 'kettle.model.json');
  await writeFile(file, JSON.stringify({ ...plug, id: 'kettle', name: 'Smart Kettle', serialPrefix: 'KTL' }));
  const artifact = join(work, 'kettle-1.0.1.tar');
  await buildReferenceImage(artifact, { model: file, version: '1.0.1', securityVersion: 1 });

  const r = await publishImage({ repoDir, artifact, model: file, version: '1.0.1' });
  assert.equal(r.model, 'kettle');
  assert.match(r.targetPath, /^kettle\//, 'the target is named by the model id, not the file name');
  const status = await repositoryStatus(repoDir);
  assert.deepEqual(
    status.images.map((i) => [i.model, i.version]),
    [['kettle', '1.0.1']],
  );

  await writeFile(join(work, 'broken.model.json'), JSON.stringify({ ...plug, riskClass: 'reckless' }));
  await assert.rejects(
    publishImage({ repoDir, artifact, model: join(work, 'broken.model.json'), version: '1.0.1' }),
    (e) => hasCode(e, 'MODEL_FILE_INVALID'),
  );
  await assert.rejects(publishImage({ repoDir, artifact, model: 'kettle', version: '1.0.1' }), (e) =>
    hasCode(e, 'MODEL_UNKNOWN'),
  );
});
