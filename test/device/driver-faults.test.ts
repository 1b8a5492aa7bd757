// A thermostat's device agent against a driver that misbehaves (issue 16, "driver fault tests"): for
// each fault, while it goes on, the owner's page (GET /login, and /api/status logged in) and the hub
// port (a TLS handshake) answer within 1 s, the fault is journalled (surface 'driver'), and every
// value the page shows is one the driver gave, or null and marked unavailable. One agent per fault,
// each running a real driver process: one node script whose behaviour is its first argument.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';
import { WebClient } from '../support/device.ts';

const KIT = new URL('../../src/driver/index.ts', import.meta.url).href;

/** The example driver's own model file: what a maker ships beside the driver. */
const THERMOSTAT_MODEL = fileURLToPath(
  new URL('../../examples/thermostat-driver/thermostat.model.json', import.meta.url),
);

// One script, many behaviours (argv[2]); the kit for the well-formed ones, hand-written lines for the
// rest. `counter` counts the starts, so a fault can stop after the first few and the driver come back.
const DRIVER_SOURCE = `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { serveDriver } = await import(${JSON.stringify(KIT)});
const [mode, counter] = process.argv.slice(2);
const starts = (appendFileSync(counter, 'x'), readFileSync(counter, 'utf8').length);
const values = { setpoint: 20, temperature: 21, heating: false };
const block = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

if (mode === 'crash-start' && starts <= 4) process.exit(3);
// After a crash or an exit the driver takes a second to come back, so the time away can be seen.
if ((mode === 'crash-mid' || mode === 'exit-return') && starts === 2) await new Promise((r) => setTimeout(r, 1_000));

const RAW = ['bad-json', 'wrong-shape', 'unknown-capability', 'out-of-range', 'long-line'];
if (RAW.includes(mode)) {
  const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
  const answer = (m) => send({ id: m.id, result: { value: values[m.params.capability] } });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const m = JSON.parse(line);
    if (m.method === 'initialize') return send({ id: m.id, result: { name: 'raw', version: '1' } });
    const c = m.params.capability;
    if (mode === 'bad-json') process.stdout.write('{"jsonrpc":"2.0", oops\\n');
    if (mode === 'long-line') process.stdout.write('x'.repeat(10 * 1024 * 1024) + '\\n');
    if (mode === 'wrong-shape') {
      send({ method: 'changed', params: 'temperature' });
      send({ method: 'changed', params: { capability: 'temperature' } });
      if (c === 'setpoint') return send({ id: m.id, result: { val: 20 } });
    }
    if (mode === 'unknown-capability') {
      send({ method: 'changed', params: { capability: 'humidity', value: 50 } });
      if (c === 'setpoint') return send({ id: m.id, result: { value: 'warm' } });
    }
    if (mode === 'out-of-range') {
      send({ method: 'changed', params: { capability: 'setpoint', value: 99 } });
      if (c === 'setpoint') return send({ id: m.id, result: { value: 99 } });
    }
    answer(m);
  });
} else {
  const driver = serveDriver({
    name: 'kit-' + mode,
    version: '1.0.0',
    get: (capability) => {
      if (mode === 'hang' && starts === 1 && capability === 'temperature') block();
      return values[capability];
    },
    act: (capability, action, value) => {
      if (mode === 'crash-mid' && value === 29.5) {
        // Half an answer, then gone: the agent must take nothing from it.
        process.stdout.write('{"jsonrpc":"2.0","result":{"value":29.');
        process.exit(4);
      }
      if (mode === 'exit-return' && value === 5) setTimeout(() => process.exit(0), 200);
      if (mode === 'flood' && value === 29) setTimeout(flood, 0);
      return (values[capability] = value ?? values[capability]);
    },
  });
  // 100 notifications every 10 ms for 10 s: 10,000 a second; how many went out is written at the end.
  function flood() {
    let sent = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 100; i += 1) if (driver.emit.changed('temperature', 20 + (i % 10) / 10)) sent += 1;
      ticks += 1;
      if (ticks >= 1000) {
        clearInterval(timer);
        writeFileSync(counter + '.sent', String(sent));
      }
    }, 10);
  }
}
`;

/** The thermostat's own values in the script above: the only values the page may show. */
const REAL: Readonly<Record<string, readonly unknown[]>> = { setpoint: [20], temperature: [21], heating: [false] };
/** The temperatures the flood sends. */
const FLOODED = Array.from({ length: 10 }, (_x, i) => 20 + i / 10);

let work: string;
let script: string;
let unit: ProvisionedUnit;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-driver-faults-'));
  script = join(work, 'driver.mjs');
  await writeFile(script, DRIVER_SOURCE);
  await initFactory(join(work, 'factory'));
  [unit] = (await provisionUnits({
    factoryDir: join(work, 'factory'),
    model: THERMOSTAT_MODEL,
    count: 1,
    outDir: join(work, 'units'),
  })) as [ProvisionedUnit];
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Capability {
  readonly id: string;
  readonly value: unknown;
  readonly unavailable?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const began = performance.now();
  const result = await run();
  return [result, performance.now() - began];
}

/** Resolves once `probe` gives a value; fails the test after `ms`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A TLS handshake with the hub port, ms. It authenticates nothing: it only shows the port is served. */
function hubHandshake(port: number): Promise<number> {
  const began = performance.now();
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => socket.destroy(new Error('no hub handshake in 5 s')), 5_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(performance.now() - began);
      socket.destroy();
    });
    socket.once('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The agent's resident memory, MiB, from /proc/self/status (the agent runs in this process). */
async function rssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) / 1024 : process.memoryUsage.rss() / 2 ** 20;
}

/** Why a capability as shown is not allowed: a value not in `allowed`, or no value without 'unavailable'. */
function wrongValue(c: Capability, allowed: Readonly<Record<string, readonly unknown[]>>): string | undefined {
  if (c.unavailable === true)
    return c.value === null ? undefined : `${c.id} unavailable but shows ${JSON.stringify(c.value)}`;
  if (!(allowed[c.id] ?? []).includes(c.value)) return `${c.id} shows ${JSON.stringify(c.value)}`;
  return undefined;
}

/** What the owner, a stranger and a hub saw while a fault went on. */
interface Watch {
  readonly problems: string[];
  readonly snapshots: Capability[][];
  slowestPageMs: number;
  slowestHubMs: number;
  rounds: number;
  peakRssMiB: number;
  stop(): Promise<void>;
}

/** Every 100 ms: GET /login without a session, /api/status with one, and a hub handshake, each timed. */
function watch(
  agent: DeviceAgent,
  owner: WebClient,
  stranger: WebClient,
  allowed: Readonly<Record<string, readonly unknown[]>>,
): Watch {
  let running = true;
  const w: Watch = {
    problems: [],
    snapshots: [],
    slowestPageMs: 0,
    slowestHubMs: 0,
    rounds: 0,
    peakRssMiB: 0,
    stop: async () => {
      running = false;
      await loop;
    },
  };
  const round = async (): Promise<void> => {
    const [page, pageMs] = await timed(() => stranger.get('/login'));
    if (page.status !== 200) w.problems.push(`GET /login answered ${page.status}`);
    const [status, statusMs] = await timed(() => owner.get('/api/status'));
    if (status.status !== 200) w.problems.push(`GET /api/status answered ${status.status}`);
    else {
      const caps = (JSON.parse(status.body) as { capabilities: Capability[] }).capabilities;
      w.snapshots.push(caps);
      for (const c of caps) {
        const wrong = wrongValue(c, allowed);
        if (wrong) w.problems.push(wrong);
      }
    }
    w.slowestPageMs = Math.max(w.slowestPageMs, pageMs, statusMs);
    w.slowestHubMs = Math.max(w.slowestHubMs, await hubHandshake(agent.hub.port));
    w.peakRssMiB = Math.max(w.peakRssMiB, await rssMiB());
    w.rounds += 1;
  };
  const loop = (async () => {
    while (running) {
      await round().catch((e: unknown) => w.problems.push(e instanceof Error ? e.message : String(e)));
      await sleep(100);
    }
  })();
  return w;
}

/** What a fault's test has to work with. */
interface Scene {
  readonly agent: DeviceAgent;
  readonly owner: WebClient;
  readonly watch: Watch;
  /** The status as the owner's API shows it now. */
  status(): Promise<Capability[]>;
  /** The agent's journal, surface 'driver' only, oldest first. */
  driverRows(): Promise<Array<{ event: string; detail?: string }>>;
  /** The file the flood driver writes its count to. */
  readonly sentFile: string;
  /** Resolves once the watch has probed `count` more times: the fault goes on while it does. */
  probes(count: number): Promise<void>;
}

/**
 * Runs `scene` against an agent whose driver behaves as `mode`, watching the page and the hub all the
 * while; then checks the four promises: page and hub within 1 s, the fault journalled, no other value.
 */
async function withFault(
  mode: string,
  allowed: Readonly<Record<string, readonly unknown[]>>,
  scene: (s: Scene) => Promise<void>,
): Promise<Watch> {
  const counter = join(work, `${mode}.count`);
  const agent = await startDeviceAgent({
    bundleDir: unit.dir,
    stateDir: join(work, `state-${mode}`),
    host: '127.0.0.1',
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    driver: { program: process.execPath, args: [script, mode, counter] },
  });
  let w: Watch | undefined;
  try {
    const owner = await WebClient.for(agent.web.url, unit);
    assert.equal((await owner.login(unit.adminPassword!)).status, 303);
    w = watch(agent, owner, await WebClient.for(agent.web.url, unit), allowed);
    const status = async (): Promise<Capability[]> =>
      (JSON.parse((await owner.get('/api/status')).body) as { capabilities: Capability[] }).capabilities;
    const driverRows = async (): Promise<Array<{ event: string; detail?: string }>> =>
      (await agent.journal.list({ limit: 200, tier: 'security' })).filter((r) => r.surface === 'driver').reverse();
    const watching = w;
    const probes = async (count: number): Promise<void> => {
      const target = watching.rounds + count;
      await until(`${count} probes`, () => Promise.resolve(watching.rounds >= target ? true : undefined));
    };
    await scene({ agent, owner, watch: w, status, driverRows, sentFile: `${counter}.sent`, probes });
    await w.stop();
    assert.deepEqual(w.problems.slice(0, 5), [], 'the page, the hub and the values were as promised');
    assert.ok(w.rounds >= 5, `only ${w.rounds} rounds of probes`);
    assert.ok(w.slowestPageMs < 1_000, `the page took ${w.slowestPageMs.toFixed(0)} ms`);
    assert.ok(w.slowestHubMs < 1_000, `the hub handshake took ${w.slowestHubMs.toFixed(0)} ms`);
    const faults = (await driverRows()).filter((r) => r.event === 'driver-fault');
    assert.ok(faults.length > 0, 'the fault is journalled');
    return w;
  } finally {
    await w?.stop();
    await agent.close();
  }
}

/** Waits for the journal to hold `count` driver rows of `event` whose detail matches `detail`. */
async function journalled(s: Scene, event: string, detail: RegExp, count = 1): Promise<void> {
  await until(`${count} × ${event} ${detail}`, async () => {
    const rows = (await s.driverRows()).filter((r) => r.event === event && detail.test(r.detail ?? ''));
    return rows.length >= count ? true : undefined;
  });
}

const valueOf = (caps: Capability[], id: string): unknown => caps.find((c) => c.id === id)?.value;
const allUnavailable = (caps: Capability[]): boolean => caps.every((c) => c.unavailable === true && c.value === null);

/** Waits until the page shows the driver's temperature: the driver is up and was read. */
async function upAgain(s: Scene, ms = 10_000): Promise<void> {
  await until(
    'the driver back, read',
    async () => (valueOf(await s.status(), 'temperature') === 21 ? true : undefined),
    ms,
  );
}

/** Asks the driver through the agent every 250 ms, so a fault that answers requests goes on. */
function keepAsking(agent: DeviceAgent, capability: string, seen: unknown[]): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await agent.capabilities.invoke(capability, 'get').then(
        (v) => seen.push(v),
        () => undefined,
      );
      await sleep(250);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

test(
  'a driver that crashes at start: all unavailable until it runs, four exits journalled',
  { timeout: 30_000 },
  async () => {
    await withFault('crash-start', REAL, async (s) => {
      // Restarts after 250, 500, 1,000 and 2,000 ms (less jitter): the page is up long before the driver.
      assert.ok(allUnavailable(await s.status()), 'nothing is shown before the driver ever answered');
      await journalled(s, 'driver-fault', /^DRIVER_EXITED: the driver exited with code 3$/, 4);
      await upAgain(s);
      const rows = await s.driverRows();
      const firstUp = rows.findIndex((r) => r.event === 'driver-up');
      assert.equal(rows.slice(0, firstUp).filter((r) => r.event === 'driver-fault').length, 4);
      assert.ok(s.watch.snapshots.some(allUnavailable), 'the watch saw the time away');
    });
  },
);

test(
  'a driver that crashes mid-request: the request fails at once, nothing of it is shown',
  { timeout: 30_000 },
  async () => {
    await withFault('crash-mid', REAL, async (s) => {
      await upAgain(s);
      const csrf = WebClient.csrfOf((await s.owner.get('/')).body);
      const [answer, ms] = await timed(() =>
        s.owner.send('POST', '/api/capabilities/setpoint/set', { json: { csrf, value: 29.5 } }),
      );
      assert.notEqual(answer.status, 200);
      assert.match(answer.body, /CAPABILITY_UNAVAILABLE/);
      assert.ok(ms < 1_000, `the crash took ${ms.toFixed(0)} ms to answer`);
      // The driver comes back a second later: until then nothing, never the 29.5 it was asked for.
      assert.ok(allUnavailable(await s.status()), 'values are null while the driver is away');
      await s.probes(4);
      await journalled(s, 'driver-fault', /^DRIVER_EXITED: the driver exited with code 4$/);
      await upAgain(s);
      assert.equal(valueOf(await s.status(), 'setpoint'), 20);
    });
  },
);

test('a driver that hangs is timed out, journalled, killed and restarted', { timeout: 30_000 }, async () => {
  // Defaults: 2 s a request, restarted after 3 timeouts in a row (the third from the 5 s reading refresh).
  await withFault('hang', REAL, async (s) => {
    await journalled(s, 'driver-fault', /^DRIVER_TIMEOUT: the driver answered none of 3 requests in a row$/);
    await journalled(s, 'driver-up', /^$/, 2);
    await upAgain(s);
  });
});

test(
  'a flood of 10,000 notifications a second for 10 s: the page answers, memory stays bounded, drops are counted',
  { timeout: 60_000 },
  async (t) => {
    const allowed = { ...REAL, setpoint: [20, 29], temperature: [21, ...FLOODED] };
    const w = await withFault('flood', allowed, async (s) => {
      await upAgain(s);
      const before = await rssMiB();
      assert.equal(await s.agent.capabilities.invoke('setpoint', 'set', 29), 29);
      const began = Date.now();
      const sent = Number(
        await until('the flood to end', () => readFile(s.sentFile, 'utf8').catch(() => undefined), 20_000),
      );
      t.diagnostic(`flood of ${sent} in ${Date.now() - began} ms`);
      assert.ok(sent >= 80_000, `the driver sent only ${sent}`);
      const dropped = async (): Promise<number> =>
        (await s.driverRows())
          .map((r) => /^DRIVER_RATE_LIMITED: dropped in the last second: (\d+) notifications/.exec(r.detail ?? ''))
          .reduce((n, m) => n + (m ? Number(m[1]) : 0), 0);
      // At most 50 a second and a burst of 100 pass, over about 11 s; every other one is counted dropped.
      await until(
        'the drops counted',
        async () => ((await dropped()) >= sent - (100 + 50 * 12) ? true : undefined),
        3_000,
      );
      const growth = s.watch.peakRssMiB - before;
      t.diagnostic(
        `rss ${before.toFixed(1)} MiB before, peak ${s.watch.peakRssMiB.toFixed(1)} MiB (+${growth.toFixed(1)})`,
      );
      assert.ok(growth < 50, `rss grew ${growth.toFixed(1)} MiB`);
    });
    t.diagnostic(
      `slowest page ${w.slowestPageMs.toFixed(0)} ms, hub ${w.slowestHubMs.toFixed(0)} ms, ${w.rounds} rounds`,
    );
  },
);

test('a 10 MiB line is refused each time and the answer after it is used', { timeout: 30_000 }, async (t) => {
  await withFault('long-line', REAL, async (s) => {
    await upAgain(s);
    const before = await rssMiB();
    const seen: unknown[] = [];
    const stop = keepAsking(s.agent, 'temperature', seen);
    await journalled(s, 'driver-fault', /^DRIVER_LINE_TOO_LONG/, 6);
    await s.probes(8);
    await stop();
    assert.ok(seen.length >= 3 && seen.every((v) => v === 21), `answers ${JSON.stringify(seen)}`);
    const growth = s.watch.peakRssMiB - before;
    t.diagnostic(`rss +${growth.toFixed(1)} MiB while the driver wrote ${seen.length + 3} lines of 10 MiB`);
    assert.ok(growth < 50, `rss grew ${growth.toFixed(1)} MiB`);
  });
});

test('invalid JSON is journalled and skipped; the answers after it are used', { timeout: 30_000 }, async () => {
  await withFault('bad-json', REAL, async (s) => {
    const seen: unknown[] = [];
    const stop = keepAsking(s.agent, 'temperature', seen);
    await upAgain(s);
    await journalled(s, 'driver-fault', /^DRIVER_PROTOCOL_INVALID: .*not JSON/, 6);
    await s.probes(8);
    await stop();
    assert.ok(seen.every((v) => v === 21));
  });
});

test('valid JSON of the wrong shape is journalled and no value is taken from it', { timeout: 30_000 }, async () => {
  // The setpoint's answer is { val: 20 }: the setpoint is never shown, though 20 is in it.
  await withFault('wrong-shape', { ...REAL, setpoint: [] }, async (s) => {
    const seen: unknown[] = [];
    const stop = keepAsking(s.agent, 'setpoint', seen);
    await upAgain(s);
    await journalled(s, 'driver-fault', /^DRIVER_PROTOCOL_INVALID/, 8);
    await s.probes(8);
    await stop();
    assert.deepEqual(seen, []);
    assert.equal((await s.status()).find((c) => c.id === 'setpoint')?.unavailable, true);
  });
});

test(
  'an unknown capability and a value of the wrong type are journalled, never shown',
  { timeout: 30_000 },
  async () => {
    await withFault('unknown-capability', { ...REAL, setpoint: [] }, async (s) => {
      const seen: unknown[] = [];
      const stop = keepAsking(s.agent, 'setpoint', seen);
      await upAgain(s);
      await journalled(s, 'driver-fault', /^DRIVER_UNKNOWN_CAPABILITY/, 3);
      await journalled(s, 'driver-fault', /^DRIVER_VALUE_INVALID/, 3);
      await s.probes(8);
      await stop();
      assert.deepEqual(seen, []);
      assert.deepEqual(
        (await s.status()).map((c) => c.id),
        ['setpoint', 'temperature', 'heating'],
      );
    });
  },
);

test('an out-of-range answer and notification are journalled, never shown', { timeout: 30_000 }, async () => {
  await withFault('out-of-range', { ...REAL, setpoint: [] }, async (s) => {
    const seen: unknown[] = [];
    const stop = keepAsking(s.agent, 'setpoint', seen);
    await upAgain(s);
    // The owner asks for 21; the driver answers 99: refused, and neither is shown.
    const csrf = WebClient.csrfOf((await s.owner.get('/')).body);
    const answer = await s.owner.send('POST', '/api/capabilities/setpoint/set', { json: { csrf, value: 21 } });
    assert.notEqual(answer.status, 200);
    assert.doesNotMatch(answer.body, /99/);
    await journalled(s, 'driver-fault', /^DRIVER_VALUE_INVALID/, 6);
    await s.probes(8);
    await stop();
    assert.deepEqual(seen, []);
    assert.equal((await s.status()).find((c) => c.id === 'setpoint')?.value, null);
  });
});

test(
  'a driver that exits is shown unavailable, then picked up again with its own values',
  { timeout: 30_000 },
  async () => {
    await withFault('exit-return', { ...REAL, setpoint: [20, 5, 22] }, async (s) => {
      await upAgain(s);
      // The driver answers 5, exits 200 ms later, and comes back a second after that.
      assert.equal(await s.agent.capabilities.invoke('setpoint', 'set', 5), 5);
      await until('the driver away', async () => (allUnavailable(await s.status()) ? true : undefined), 3_000);
      await s.probes(4);
      await journalled(s, 'driver-fault', /^DRIVER_EXITED: the driver exited with code 0$/);
      await journalled(s, 'driver-down', /^$/);
      await journalled(s, 'driver-up', /^$/, 2);
      await upAgain(s);
      // The new driver's setpoint, not the 5 the old one had.
      assert.equal(valueOf(await s.status(), 'setpoint'), 20);
      assert.equal(await s.agent.capabilities.invoke('setpoint', 'set', 22), 22);
      assert.equal(valueOf(await s.status(), 'setpoint'), 22);
    });
  },
);
