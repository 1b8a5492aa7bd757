// The cloud link below the clock floor (issue 25): at 1970 every certificate looks not yet valid to
// OpenSSL, so while the unit's clock is below its floor the link judges the broker's certificate at the
// floor instead, against the same pinned CA. With a real embedded broker: the right broker is reached;
// a floor at which the broker's certificate is not valid, or another CA, is refused and never connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCloud } from '../../src/cloud/index.ts';
import { startAgentCloudLink } from '../../src/cloudlink/index.ts';
import { readDeviceBundle } from '../../src/bundle/index.ts';
import { verifyServerCertificateAt } from '../../src/channel/index.ts';
import { makeUnits, waitFor } from './support.ts';

const noCapabilities = { list: () => [], invoke: () => Promise.resolve(undefined), onChange: () => undefined };
const YEAR = 365 * 24 * 3600 * 1000;

test(
  'below its clock floor the link checks the broker at the floor: the right broker only',
  { timeout: 90_000 },
  async () => {
    const { work, factoryDir, units, manifest } = await makeUnits('plug', 1);
    const plug = units[0]!;
    const cloud = await startCloud({
      factoryDir,
      stateDir: join(work, 'cloud'),
      manifests: [manifest],
      broker: { port: 0 },
      api: { port: 0 },
    });
    const bundle = await readDeviceBundle(plug.dir);
    const attempt = async (
      name: string,
      caPem: string,
      at: number,
    ): Promise<{ connected: boolean; checked: string[]; events: string[] }> => {
      const checked: string[] = [];
      const events: string[] = [];
      const link = await startAgentCloudLink({
        identity: { serial: plug.serial, ...bundle },
        stateDir: join(work, `state-${name}`),
        url: cloud.brokerUrl,
        capabilities: noCapabilities,
        journal: { record: (e) => events.push(`${e.event} ${e.result} ${e.detail ?? ''}`) },
        peerCheckBelowFloor: (host) => (peer) => {
          checked.push(host);
          verifyServerCertificateAt(peer, caPem, host, at);
        },
      });
      try {
        const connected = await waitFor(
          () => Promise.resolve(link.link.connected || undefined),
          5_000,
          'a connection',
        ).then(
          () => true,
          () => false,
        );
        return { connected, checked, events };
      } finally {
        await link.close();
      }
    };
    try {
      const right = await attempt('right', bundle.caCertPem, Date.now());
      assert.equal(right.connected, true, 'the broker is reached with its certificate checked at the floor');
      assert.ok(right.checked.length >= 1, 'the check at the floor was the one used');
      assert.ok(
        right.events.some((e) => /clock below its floor/.test(e)),
        'the journal says why',
      );

      const farFuture = await attempt('far-future', bundle.caCertPem, Date.now() + 100 * YEAR);
      assert.equal(farFuture.connected, false, 'a certificate not valid at the floor is refused');
      assert.ok(farFuture.checked.length >= 1);

      // Another factory's CA: the broker's certificate is not from it.
      const otherCaPem = (await readDeviceBundle((await makeUnits('plug', 1)).units[0]!.dir)).caCertPem;
      const stranger = await attempt('other-ca', otherCaPem, Date.now());
      assert.equal(stranger.connected, false, 'a broker not from the pinned CA is refused');
    } finally {
      await cloud.close();
    }
  },
);
