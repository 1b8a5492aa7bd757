// The owner API end to end, through real HTTPS and real device agents on the cloud link, once on
// the embedded SQLite store and once on a real PostgreSQL started by the test: registration and
// login rules, claims (serial alone, wrong code and its rate limits, the claim window), control
// and telemetry, owners kept apart (404, never 403), CSRF on cookie sessions, factory reset and
// account deletion.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton, type DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, startPostgres, ApiClient, waitFor, type TestPostgres } from './support.ts';
import { needTool, toolAvailable, type SkippableTest } from '../support/tools.ts';

const PASSWORD = 'marble falcon tundra 42 softly';
let pgServer: TestPostgres | undefined;

before(async () => {
  if (toolAvailable('postgresql')) pgServer = await startPostgres();
});
after(async () => {
  await pgServer?.stop();
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`owner API on ${backend}`, () => {
    let cloud: CloudService;
    let units: ProvisionedUnit[];
    let work: string;
    const agents: DeviceAgent[] = [];
    let owner: ApiClient, other: ApiClient;

    before(async () => {
      if (backend === 'postgres' && !pgServer) return;
      const fleet = await makeUnits('plug', 4);
      work = fleet.work;
      units = fleet.units;
      cloud = await startCloud({
        factoryDir: fleet.factoryDir,
        stateDir: join(work, 'cloud'),
        manifests: [fleet.manifest],
        ...(backend === 'postgres'
          ? { databaseUrl: await pgServer!.createDatabase(`api_${Date.now() % 1_000_000}`) }
          : {}),
        broker: { port: 0 },
        api: { port: 0 },
        commands: { replyTimeoutMs: 8_000 },
      });
      for (const u of [units[0]!, units[3]!]) {
        agents.push(
          await startDeviceAgent({
            bundleDir: u.dir,
            stateDir: join(work, 'dev', u.serial),
            webPort: 0,
            hubPort: 0,
            mode: 'development',
            cloudUrl: cloud.brokerUrl,
            cloudTelemetryIntervalMs: 250,
          }),
        );
      }
      await waitFor(() => agents.every((a) => a.cloud?.connected), 15_000, 'devices to connect');
      owner = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
      other = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
    });
    after(async () => {
      for (const a of agents) await a.close();
      await cloud?.close();
    });
    // Every test of the PostgreSQL suite skips (or fails, in CI) when PostgreSQL is missing.
    const ready = (t: SkippableTest): boolean => backend === 'sqlite' || needTool(t, 'postgresql');

    const pressAndWait = async (unit: ProvisionedUnit): Promise<void> => {
      const answer = await pressButton(join(work, 'dev', unit.serial), 'press');
      assert.match(answer, /claim window open/);
      await waitFor(
        async () => ((await cloud.store.getDevice(unit.serial))?.claimWindowUntil ?? 0) > Date.now(),
        5_000,
        'the claim window to open',
      );
    };

    test(
      'registration applies the password policy and answers a taken e-mail like a new one; login checks the password',
      { timeout: 60_000 },
      async (t) => {
        if (!ready(t)) return;
        const weak = await owner.register('owner@example.com', 'password1234');
        assert.equal(weak.status, 422);
        assert.equal(weak.json.error?.code, 'PASSWORD_POLICY');
        assert.ok(Array.isArray((weak.json.error as { reasons?: unknown }).reasons));
        assert.equal((await owner.signUp(cloud.mail.maildir, 'owner@example.com', PASSWORD)).status, 200);
        const again = await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).register(
          'OWNER@example.com',
          PASSWORD,
        );
        assert.equal(again.status, 202, 'a taken address answers like a new one');
        const wrong = await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).login(
          'owner@example.com',
          'not the password at all',
        );
        assert.equal(wrong.status, 401);
        assert.equal(wrong.json.error?.code, 'LOGIN_FAILED');
        assert.equal((await other.signUp(cloud.mail.maildir, 'other@example.com', PASSWORD)).status, 200);
        const me = await owner.send('GET', '/v1/me');
        assert.equal(me.status, 200);
        assert.equal(me.json.email, 'owner@example.com');
      },
    );

    test(
      'login backs off after five failures from one address, before computing any hash',
      { timeout: 60_000 },
      async (t) => {
        if (!ready(t)) return;
        const attacker = new ApiClient(cloud.api.url, cloud.credentials.caCertPem, '127.0.0.2');
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++)
          statuses.push((await attacker.login('owner@example.com', `guess number ${i}`)).status);
        assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
        const limited = await attacker.login('owner@example.com', PASSWORD);
        assert.equal(limited.status, 429, 'even the right password waits');
        assert.ok(Number(limited.headers['retry-after']) > 0);
        assert.equal(
          (await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).login('owner@example.com', PASSWORD)).status,
          200,
          'the owner from another address is not locked out',
        );
      },
    );

    test("a sign-up between password guesses does not clear the source's login back-off", async (t) => {
      if (!ready(t)) return;
      const attacker = new ApiClient(cloud.api.url, cloud.credentials.caCertPem, '127.0.0.3');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await attacker.login('owner@example.com', `spray ${i}`)).status);
      assert.equal((await attacker.register('spray-cover@example.com', PASSWORD)).status, 202);
      for (let i = 4; i < 6; i++) statuses.push((await attacker.login('owner@example.com', `spray ${i}`)).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    });

    test('a claim by serial alone is refused', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[0]!;
      await pressAndWait(u);
      for (const code of [undefined, '', '   ']) {
        const r = await owner.claim(u.serial, code);
        assert.equal(r.status, 400, `claim code ${JSON.stringify(code)}`);
        assert.equal(r.json.error?.code, 'INVALID_INPUT');
      }
      assert.equal((await cloud.store.getDevice(u.serial))!.ownerId, null);
    });

    test('a wrong claim code is refused, and failures back off per account', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const guesser = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
      assert.equal((await guesser.signUp(cloud.mail.maildir, 'guesser@example.com', PASSWORD)).status, 200);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push((await guesser.claim(units[1]!.serial, `AAAA-BBBB-CCCC-DDD${'EFGHJK'[i]}`)).status);
      assert.deepEqual(statuses, [403, 403, 403, 403, 403, 429]);
      const limited = await guesser.claim(units[2]!.serial, 'AAAA-BBBB-CCCC-DDDD');
      assert.equal(limited.status, 429, 'the account backs off whatever serial it tries');
      assert.equal(limited.json.error?.code, 'RATE_LIMITED');
      const wrongSerial = await owner.claim('PLG-ZZZZZZZZZZ', units[0]!.claimCode);
      assert.equal(wrongSerial.status, 403, 'an unknown serial answers like a wrong code');
      assert.equal(wrongSerial.json.error?.code, 'CLAIM_REFUSED');
    });

    test('wrong codes for one serial from many accounts flag it, never back it off', { timeout: 60_000 }, async (t) => {
      if (!ready(t)) return;
      const target = units[2]!.serial;
      const statuses: number[] = [];
      for (let a = 0; a < 3; a++) {
        const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem, `127.0.0.${21 + a}`);
        assert.equal((await c.signUp(cloud.mail.maildir, `spread${a}@example.com`, PASSWORD)).status, 200);
        for (let i = 0; i < 4; i++)
          statuses.push((await c.claim(target, `QQQQ-RRRR-SSSS-TT${a}${i + 2}`.replace(/[01]/g, '2'))).status);
      }
      assert.deepEqual(statuses, Array(12).fill(403), 'each account and address is under its own limit: no 429');
      const flood = (await cloud.store.claimFloods(10)).find((f) => f.serial === target);
      assert.ok(flood && flood.failures >= 10, 'ten wrong codes against one serial are flagged for the maker');
    });

    test('the right code outside the claim window is refused', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[3]!;
      assert.equal((await cloud.store.getDevice(u.serial))!.claimWindowUntil, 0);
      const r = await other.claim(u.serial, u.claimCode);
      assert.equal(r.status, 409);
      assert.equal(r.json.error?.code, 'CLAIM_WINDOW_CLOSED');
    });

    test('the right code inside the window succeeds; the claim closes the window', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[0]!;
      await pressAndWait(u);
      const r = await owner.claim(u.serial, u.claimCode.toLowerCase().replace(/-/g, ' '));
      assert.equal(r.status, 201, r.body);
      assert.equal((r.json.device as { serial: string }).serial, u.serial);
      const d = await cloud.store.getDevice(u.serial);
      assert.equal(d!.claimWindowUntil, 0, 'one press, one claim');
      const again = await other.claim(u.serial, u.claimCode);
      assert.equal(again.status, 409);
      assert.equal(again.json.error?.code, 'DEVICE_CLAIMED');
      const list = await owner.send('GET', '/v1/devices');
      assert.deepEqual(
        (list.json.devices as Array<{ serial: string }>).map((x) => x.serial),
        [u.serial],
      );
    });

    test('the owner switches the plug from the cloud and reads its telemetry', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[0]!;
      const agent = agents[0]!;
      for (const action of ['on', 'off', 'on'] as const) {
        const r = await owner.send('POST', `/v1/devices/${u.serial}/commands`, {
          json: { capability: 'power', action },
        });
        assert.equal(r.status, 200, r.body);
        assert.equal((r.json.command as { status: string }).status, 'done');
        assert.equal(agent.capabilities.list().find((c) => c.id === 'power')!.value, action === 'on');
      }
      const refused = await owner.send('POST', `/v1/devices/${u.serial}/commands`, {
        json: { capability: 'energy', action: 'get' },
      });
      assert.equal(refused.status, 422, "only the model's remote controls");
      const telemetry = (await waitFor(
        async () => {
          const r = await owner.send('GET', `/v1/devices/${u.serial}/telemetry?limit=50`);
          const rows = r.json.telemetry as Array<{ values: { power?: boolean } }>;
          return rows.some((x) => x.values.power === true) ? rows : undefined;
        },
        10_000,
        'telemetry after the switch',
      )) as Array<unknown>;
      assert.ok(telemetry.length > 0);
      const state = await owner.send('GET', `/v1/devices/${u.serial}`);
      assert.equal((state.json.device as { online: boolean }).online, true);
    });

    test(
      'another owner cannot see or control the device: 404, exactly like a device that does not exist',
      { timeout: 30_000 },
      async (t) => {
        if (!ready(t)) return;
        const mine = units[0]!.serial;
        const nobody = 'PLG-ZZZZZZZZZZ';
        for (const [method, suffix, json] of [
          ['GET', '', undefined],
          ['GET', '/telemetry', undefined],
          ['POST', '/commands', { capability: 'power', action: 'off' }],
          ['POST', '/release', {}],
        ] as const) {
          const theirs = await other.send(method, `/v1/devices/${mine}${suffix}`, json ? { json } : {});
          const missing = await other.send(method, `/v1/devices/${nobody}${suffix}`, json ? { json } : {});
          assert.equal(theirs.status, 404, `${method} ${suffix}`);
          assert.deepEqual(theirs.json, missing.json, 'the same answer as for a device that does not exist');
        }
        assert.deepEqual((await other.send('GET', '/v1/devices')).json.devices, []);
        assert.equal(
          agents[0]!.capabilities.list().find((c) => c.id === 'power')!.value,
          true,
          'the plug was not switched',
        );
        assert.equal((await cloud.store.getDevice(mine))!.ownerId !== null, true);
      },
    );

    test(
      'cookie sessions need the CSRF token and a same-origin Origin; bearer tokens need neither',
      { timeout: 30_000 },
      async (t) => {
        if (!ready(t)) return;
        const browser = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
        const login = await browser.login('owner@example.com', PASSWORD);
        assert.equal(login.status, 200);
        const csrf = browser.csrf!;
        browser.token = undefined; // cookie only, as a browser
        assert.equal((await browser.send('GET', '/v1/devices')).status, 200);
        const origin = cloud.api.url.replace('127.0.0.1', '127.0.0.1');
        const noToken = await browser.send('POST', `/v1/devices/${units[0]!.serial}/commands`, {
          json: { capability: 'power', action: 'off' },
          origin,
        });
        assert.equal(noToken.status, 403);
        assert.equal(noToken.json.error?.code, 'CSRF_TOKEN_INVALID');
        const evil = await browser.send('POST', `/v1/devices/${units[0]!.serial}/commands`, {
          json: { capability: 'power', action: 'off' },
          origin: 'https://evil.example',
          headers: { 'x-csrf-token': csrf },
        });
        assert.equal(evil.status, 403);
        assert.equal(evil.json.error?.code, 'CSRF_ORIGIN_MISMATCH');
        const noOrigin = await browser.send('POST', `/v1/devices/${units[0]!.serial}/commands`, {
          json: { capability: 'power', action: 'off' },
          headers: { 'x-csrf-token': csrf },
        });
        assert.equal(noOrigin.status, 403, 'a cookie-authenticated change without Origin is refused');
        const good = await browser.send('POST', `/v1/devices/${units[0]!.serial}/commands`, {
          json: { capability: 'power', action: 'on' },
          origin: `https://${new URL(cloud.api.url).host}`,
          headers: { 'x-csrf-token': csrf },
        });
        assert.equal(good.status, 200, good.body);
        const anonymous = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
        assert.equal((await anonymous.send('GET', '/v1/devices')).status, 401);
        const page = await anonymous.send('GET', '/app');
        assert.equal(page.status, 303);
        for (const h of [
          'content-security-policy',
          'strict-transport-security',
          'x-content-type-options',
          'x-frame-options',
          'referrer-policy',
        ])
          assert.ok(page.headers[h], h);
      },
    );

    test('a factory reset on the device releases the claim', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[0]!;
      assert.match(await pressButton(join(work, 'dev', u.serial), 'hold'), /factory reset done/);
      await waitFor(
        async () => (await cloud.store.getDevice(u.serial))!.ownerId === null,
        10_000,
        'the release to reach the cloud',
      );
      assert.equal((await owner.send('GET', `/v1/devices/${u.serial}`)).status, 404);
      assert.deepEqual((await owner.send('GET', '/v1/devices')).json.devices, []);
      assert.equal(
        (await cloud.store.telemetry(u.serial, 0, 10)).length <= 1,
        true,
        "the previous owner's telemetry is gone",
      );
    });

    test('deleting the account releases its devices and erases their data', { timeout: 30_000 }, async (t) => {
      if (!ready(t)) return;
      const u = units[3]!;
      await pressAndWait(u);
      assert.equal((await other.claim(u.serial, u.claimCode)).status, 201);
      await waitFor(
        async () => (await cloud.store.telemetry(u.serial, 0, 5)).length > 0,
        10_000,
        'telemetry of the claimed device',
      );
      const wrong = await other.send('POST', '/v1/me/delete', { json: { password: 'not my password at all' } });
      assert.equal(wrong.status, 401);
      const del = await other.send('POST', '/v1/me/delete', { json: { password: PASSWORD } });
      assert.equal(del.status, 200, del.body);
      assert.equal((await cloud.store.getDevice(u.serial))!.ownerId, null);
      assert.equal(await cloud.store.accountByEmail('other@example.com'), undefined);
      assert.equal((await other.send('GET', '/v1/me')).status, 401, 'its sessions are gone');
      assert.equal(
        (await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).login('other@example.com', PASSWORD)).status,
        401,
      );
    });
  });
}
