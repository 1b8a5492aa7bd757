// Fuzzing the cloud's parsers with fast-check: random and mutated bytes into the MQTT decoder,
// random JSON into every device payload parser, random requests into every owner API route and
// random device traffic into the ingest path. Only typed errors and 4xx may come out.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { MqttDecoder, MqttProtocolError, encodePublish, startCloud, type CloudService } from '../../src/cloud/index.ts';
import {
  parseJsonPayload,
  parseTelemetry,
  parseState,
  parseClaim,
  parseClaimWindow,
  parseSync,
  parseReceipt,
  parsePresence,
  parseCommand,
  parseReply,
  UP_KINDS,
} from '../../src/cloudprotocol/index.ts';
import { InvalidInputError } from '../../src/errors/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeUnits, ApiClient } from './support.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);

test('random bytes into the MQTT decoder: packets or MqttProtocolError, never anything else', () => {
  const valid = encodePublish('devices/PLG-AAAAAAAAAA/telemetry', Buffer.from('{"seq":1,"at":1,"values":{}}'), 1, 9);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
          const c = Buffer.from(valid);
          c[i] = b;
          return c;
        }),
      ),
      fc.integer({ min: 1, max: 64 }),
      (bytes, chunk) => {
        const d = new MqttDecoder(256);
        try {
          for (let i = 0; i < bytes.length; i += chunk) d.push(Buffer.from(bytes.subarray(i, i + chunk)));
          assert.ok(d.buffered <= 256 + 5, 'never buffers past the packet limit');
        } catch (err) {
          assert.ok(err instanceof MqttProtocolError, String(err));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('random JSON into every payload parser: a valid message or INVALID_INPUT', () => {
  const parsers = [
    parseTelemetry,
    parseState,
    parseClaim,
    parseClaimWindow,
    parseSync,
    parseReceipt,
    parsePresence,
    parseCommand,
    parseReply,
  ];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.record(
          { seq: fc.anything(), at: fc.anything(), values: fc.anything(), id: fc.anything(), ok: fc.anything() },
          { requiredKeys: [] },
        ),
      ),
      (value) => {
        for (const parse of parsers) {
          try {
            parse(value);
          } catch (err) {
            assert.ok(err instanceof InvalidInputError, `${parse.name}: ${String(err)}`);
          }
        }
        try {
          parseJsonPayload(Buffer.from(JSON.stringify(value) ?? 'null'));
        } catch (err) {
          assert.ok(err instanceof InvalidInputError);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

let cloud: CloudService;
let unit: ProvisionedUnit;
before(async () => {
  const fleet = await makeUnits('plug', 1);
  unit = fleet.units[0]!;
  cloud = await startCloud({
    factoryDir: fleet.factoryDir,
    stateDir: join(fleet.work, 'cloud'),
    manifests: [fleet.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
});
after(async () => {
  await cloud?.close();
});

test(
  'random requests into every owner API route: never a 5xx, and the owner still logs in',
  { timeout: 180_000 },
  async () => {
    const owner = new ApiClient(cloud.api.url, cloud.credentials.caCertPem);
    assert.equal(
      (await owner.signUp(cloud.mail.maildir, 'fuzz@example.com', 'marble falcon tundra 42 softly')).status,
      200,
    );
    const routes = cloud.api.routes;
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.constant('email=a%40b.c&password=x'),
      fc.constant('{"serial":"PLG-AAAAAAAAAA","claimCode":"AAAA"}'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: routes.length - 1 }),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''),
        junk,
        fc.boolean(),
        fc.constantFrom(unit.serial, 'PLG-ZZZZZZZZZZ', 'x', '..', '%2e%2e'),
        fc.string({ maxLength: 50 }),
        async (i, type, body, withToken, param, token) => {
          const r = routes[i]!;
          const c = new ApiClient(cloud.api.url, cloud.credentials.caCertPem, '127.0.0.7');
          c.token = withToken ? owner.token : token.replace(/[^\x21-\x7e]/g, '') || undefined;
          const a = await c.send(r.method, r.path.replace(/:[a-z]+/g, param), {
            headers: {
              ...(type ? { 'content-type': type } : {}),
              'x-csrf-token': token.replace(/[^\x21-\x7e]/g, '') || 'x',
            },
            ...(r.method === 'POST' ? { raw: body } : {}),
          });
          assert.ok(a.status < 500, `${r.method} ${r.path} answered ${a.status}: ${a.body.slice(0, 200)}`);
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
    assert.equal(
      (
        await new ApiClient(cloud.api.url, cloud.credentials.caCertPem).login(
          'fuzz@example.com',
          'marble falcon tundra 42 softly',
        )
      ).status,
      200,
    );
  },
);

test('random device traffic into the ingest path is counted and dropped, never stored or thrown', async () => {
  const before = cloud.traffic.counters.dropped;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...UP_KINDS),
      fc.oneof(
        fc.uint8Array({ maxLength: 100 }),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      ),
      async (kind, payload) => {
        await cloud.traffic.handle([
          {
            type: 'publish',
            topic: `devices/${unit.serial}/${kind}`,
            payload: Buffer.from(payload),
            qos: 1,
            messageId: 1,
            dup: false,
            retain: false,
          },
        ]);
      },
    ),
    { numRuns: Math.min(RUNS, 300) },
  );
  assert.ok(cloud.traffic.counters.dropped > before);
  assert.equal((await cloud.store.telemetry(unit.serial, 0, 10)).length, 0);
});
