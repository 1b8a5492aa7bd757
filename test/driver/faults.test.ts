// The driver boundary against real driver processes that misbehave: each fault leaves the client
// usable (it answers, or refuses at once with a typed error), reports the fault, and passes on no
// value the driver did not give. Also the example Python driver, run for real on files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DriverClient,
  DriverError,
  serveDriver,
  type DriverClientConfig,
  type DriverFaultEvent,
  type DriverModel,
  type DriverValue,
} from '../../src/driver/index.ts';
import { hiddenTools, isCi, toolDecision } from '../support/tools.ts';

const KIT = new URL('../../src/driver/index.ts', import.meta.url).href;
const PYTHON_DRIVER = fileURLToPath(new URL('../../examples/thermostat-driver/driver.py', import.meta.url));

const model: DriverModel = {
  id: 'thermostat',
  capabilities: [
    { id: 'setpoint', kind: 'level', actions: ['set', 'get'], value: { type: 'number', min: 5, max: 30, step: 0.5 } },
    { id: 'temperature', kind: 'reading', actions: ['get'], unit: '°C', value: { type: 'number', min: -40, max: 125 } },
    { id: 'heating', kind: 'switch', actions: ['get'], value: { type: 'boolean' } },
  ],
};

/** Small bounds so each fault shows within a second or two. */
const FAST: Partial<DriverClientConfig> = {
  requestTimeoutMs: 400,
  initializeTimeoutMs: 1_000,
  maxTimeoutsInRow: 2,
  restartBaseMs: 100,
  restartMaxMs: 800,
  restartJitter: 0,
  killGraceMs: 500,
};

// One script, many behaviours (argv[2]); the kit for the well-formed ones, hand-written lines for the rest.
const DRIVER_SOURCE = `
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { serveDriver } = await import(${JSON.stringify(KIT)});
const [mode, counter] = process.argv.slice(2);
const starts = counter ? (appendFileSync(counter, 'x'), readFileSync(counter, 'utf8').length) : 1;
const values = { setpoint: 20, temperature: 21, heating: false };
const block = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);

if (mode === 'crash-start' && starts <= 2) process.exit(3);
if (mode === 'hang-start' && starts <= 1) block();

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
    initialize: () => {
      if (mode === 'flood') setTimeout(flood, 50);
      if (mode === 'exit-return' && starts <= 1) setTimeout(() => process.exit(0), 300);
    },
    get: (capability) => {
      if (mode === 'crash-mid' && capability === 'temperature') process.exit(4);
      if (mode === 'hang' && capability === 'temperature') block();
      return values[capability];
    },
    act: (capability, action, value) => (values[capability] = value ?? values[capability]),
  });
  function flood() {
    let sent = 0;
    let ticks = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 100; i += 1) if (driver.emit.changed('temperature', 20 + (i % 10) / 10)) sent += 1;
      ticks += 1;
      if (ticks >= 1000) {
        clearInterval(timer);
        process.stderr.write('flood sent ' + sent + '\\n');
      }
    }, 10);
  }
}
`;

let dir: string;
let script: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulwark-driver-'));
  script = join(dir, 'driver.mjs');
  await writeFile(script, DRIVER_SOURCE);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a client heard, to check that no value came from anywhere but the driver. */
interface Heard {
  readonly changed: Array<[string, DriverValue]>;
  readonly faults: DriverFaultEvent[];
  readonly logs: string[];
  readonly states: string[];
}

function start(mode: string, config: Partial<DriverClientConfig> = FAST): { client: DriverClient; heard: Heard } {
  const heard: Heard = { changed: [], faults: [], logs: [], states: [] };
  const counter = join(dir, `${mode}-${Math.random().toString(36).slice(2)}.count`);
  const client = DriverClient.spawn(
    model,
    { program: process.execPath, args: [script, mode, counter] },
    {
      config,
      events: {
        onChanged: (c, v) => heard.changed.push([c, v]),
        onFault: (e) => heard.faults.push(e),
        onLog: (line) => heard.logs.push(line),
        onState: (s) => heard.states.push(s),
      },
    },
  );
  return { client, heard };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof DriverError && e.code === code);
}

const codes = (heard: Heard): string[] => heard.faults.map((f) => f.code);

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a well-behaved kit driver answers get and act with its own values', async () => {
  const { client, heard } = start('good');
  try {
    assert.deepEqual(await client.whenReady(3_000), { name: 'kit-good', version: '1.0.0', health: false });
    assert.equal(await client.get('temperature'), 21);
    assert.equal(await client.act('setpoint', 'set', 22.5), 22.5);
    assert.equal(await client.get('setpoint'), 22.5);
    await rejectsWith(client.act('setpoint', 'set', 31), 'DRIVER_VALUE_INVALID');
    await rejectsWith(client.act('heating', 'on'), 'DRIVER_UNKNOWN_ACTION');
    await rejectsWith(client.get('humidity'), 'DRIVER_UNKNOWN_CAPABILITY');
    assert.deepEqual(heard.faults, []);
  } finally {
    await client.close();
  }
  assert.equal(client.state, 'unavailable');
  await rejectsWith(client.get('temperature'), 'DRIVER_UNAVAILABLE');
});

test('a driver that crashes at start is reported, refused while away, restarted with back-off, then used', async () => {
  const { client, heard } = start('crash-start');
  try {
    await until('the first crash', () => codes(heard).includes('DRIVER_EXITED'));
    assert.match(heard.faults[0]!.message, /exited with code 3/);
    if (client.state !== 'ready') await rejectsWith(client.get('temperature'), 'DRIVER_UNAVAILABLE');
    await client.whenReady(3_000);
    assert.equal(await client.get('temperature'), 21);
    assert.equal(codes(heard).filter((c) => c === 'DRIVER_EXITED').length, 2);
    assert.deepEqual(heard.changed, []);
  } finally {
    await client.close();
  }
});

test('a driver that crashes mid-request fails that request with no value, and is used again', async () => {
  const { client, heard } = start('crash-mid');
  try {
    await client.whenReady(3_000);
    const began = performance.now();
    await rejectsWith(client.get('temperature'), 'DRIVER_UNAVAILABLE');
    assert.ok(performance.now() - began < 1_000, 'the crash is noticed at once, not at the timeout');
    assert.ok(codes(heard).includes('DRIVER_EXITED'));
    await rejectsWith(client.get('setpoint'), 'DRIVER_UNAVAILABLE');
    await client.whenReady(3_000);
    assert.equal(await client.get('setpoint'), 20);
  } finally {
    await client.close();
  }
});

test('a driver that hangs is timed out, reported, killed and restarted; the client answers meanwhile', async () => {
  const { client, heard } = start('hang');
  try {
    await client.whenReady(3_000);
    await rejectsWith(client.get('temperature'), 'DRIVER_TIMEOUT');
    // The hung process answers nothing; the client refuses promptly rather than waiting.
    await rejectsWith(client.get('setpoint'), 'DRIVER_TIMEOUT');
    assert.ok(codes(heard).includes('DRIVER_TIMEOUT'));
    const began = performance.now();
    await rejectsWith(client.get('setpoint'), 'DRIVER_UNAVAILABLE');
    assert.ok(performance.now() - began < 100);
    await client.whenReady(3_000);
    assert.equal(await client.get('setpoint'), 20);
  } finally {
    await client.close();
  }
});

test('a driver that never answers initialize is restarted', async () => {
  const { client, heard } = start('hang-start');
  try {
    await client.whenReady(4_000);
    assert.ok(codes(heard).includes('DRIVER_TIMEOUT'));
    assert.match(heard.faults.find((f) => f.code === 'DRIVER_TIMEOUT')!.message, /initialize/);
    assert.equal(await client.get('heating'), false);
  } finally {
    await client.close();
  }
});

test(
  'a flood of 10,000 notifications a second for 10 s is bounded: rate-limited, counted once a second, gets answered',
  { timeout: 30_000 },
  async (t) => {
    const { client, heard } = start('flood', { ...FAST, requestTimeoutMs: 2_000 });
    try {
      await client.whenReady(3_000);
      const rssBefore = process.memoryUsage().rss;
      let slowest = 0;
      let rssPeak = rssBefore;
      const started = performance.now();
      while (performance.now() - started < 10_500) {
        const began = performance.now();
        assert.equal(await client.get('setpoint'), 20);
        slowest = Math.max(slowest, performance.now() - began);
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        await new Promise((r) => setTimeout(r, 200));
      }
      await until('the flood to end', () => heard.logs.some((l) => l.startsWith('flood sent')), 3_000);
      const sent = Number(/flood sent (\d+)/.exec(heard.logs.find((l) => l.startsWith('flood sent'))!)![1]);
      const summaries = (): DriverFaultEvent[] => heard.faults.filter((f) => f.code === 'DRIVER_RATE_LIMITED');
      const dropped = (): number =>
        summaries().reduce((n, f) => n + Number(/(\d+) notifications/.exec(f.message)![1]), 0);
      // Every notification is either passed on or counted as dropped: none vanishes unaccounted.
      await until('the last summary', () => heard.changed.length + dropped() >= sent, 2_000);
      assert.equal(heard.changed.length + dropped(), sent);
      const growth = (rssPeak - rssBefore) / 2 ** 20;
      t.diagnostic(
        `sent ${sent}, passed ${heard.changed.length}, dropped ${dropped()} in ${summaries().length} summaries`,
      );
      t.diagnostic(`slowest get ${slowest.toFixed(1)} ms, rss growth ${growth.toFixed(1)} MiB`);
      assert.ok(sent >= 80_000, `the driver sent only ${sent}`);
      // 50 a second and a burst of 100, over about 10.5 s
      assert.ok(heard.changed.length <= 100 + 50 * 12, `passed ${heard.changed.length}`);
      assert.ok(heard.changed.length >= 300, `passed ${heard.changed.length}`);
      assert.ok(summaries().length >= 8 && summaries().length <= 13, `${summaries().length} summaries`);
      assert.ok(slowest < 1_000, `slowest get ${slowest} ms`);
      assert.ok(growth < 64, `rss grew ${growth} MiB`);
      assert.ok(heard.changed.every(([c, v]) => c === 'temperature' && typeof v === 'number' && v >= 20 && v < 21));
      assert.equal(client.state, 'ready');
    } finally {
      await client.close();
    }
  },
);

test('a 10 MiB line is refused once, held no more than 64 KiB, and the next answer is read', async () => {
  const { client, heard } = start('long-line');
  try {
    await client.whenReady(3_000);
    const rssBefore = process.memoryUsage().rss;
    assert.equal(await client.get('temperature'), 21);
    assert.deepEqual(codes(heard), ['DRIVER_LINE_TOO_LONG']);
    assert.ok((process.memoryUsage().rss - rssBefore) / 2 ** 20 < 32);
    assert.equal(client.state, 'ready');
  } finally {
    await client.close();
  }
});

test('invalid JSON is reported and skipped; the answer after it is read', async () => {
  const { client, heard } = start('bad-json');
  try {
    await client.whenReady(3_000);
    assert.equal(await client.get('temperature'), 21);
    assert.deepEqual(codes(heard), ['DRIVER_PROTOCOL_INVALID']);
    assert.match(heard.faults[0]!.message, /not JSON/);
  } finally {
    await client.close();
  }
});

test('valid JSON of the wrong shape is reported, and an answer of the wrong shape fails with no value', async () => {
  const { client, heard } = start('wrong-shape');
  try {
    await client.whenReady(3_000);
    await rejectsWith(client.get('setpoint'), 'DRIVER_PROTOCOL_INVALID');
    assert.equal(await client.get('temperature'), 21);
    assert.ok(codes(heard).every((c) => c === 'DRIVER_PROTOCOL_INVALID'));
    assert.ok(codes(heard).length >= 3);
    assert.deepEqual(heard.changed, []);
  } finally {
    await client.close();
  }
});

test('an unknown capability and a value of the wrong type are reported and never passed on', async () => {
  const { client, heard } = start('unknown-capability');
  try {
    await client.whenReady(3_000);
    await rejectsWith(client.get('setpoint'), 'DRIVER_VALUE_INVALID');
    assert.equal(await client.get('temperature'), 21);
    assert.ok(codes(heard).includes('DRIVER_UNKNOWN_CAPABILITY'));
    assert.ok(codes(heard).includes('DRIVER_VALUE_INVALID'));
    assert.deepEqual(heard.changed, []);
  } finally {
    await client.close();
  }
});

test('an out-of-range answer and notification are refused, reported, and never passed on', async () => {
  const { client, heard } = start('out-of-range');
  try {
    await client.whenReady(3_000);
    await rejectsWith(client.get('setpoint'), 'DRIVER_VALUE_INVALID');
    assert.equal(await client.get('temperature'), 21);
    assert.ok(codes(heard).filter((c) => c === 'DRIVER_VALUE_INVALID').length >= 2);
    assert.deepEqual(heard.changed, []);
    assert.equal(client.state, 'ready');
  } finally {
    await client.close();
  }
});

test('a driver that exits is unavailable until it comes back, then picked up again', async () => {
  const { client, heard } = start('exit-return');
  try {
    await client.whenReady(3_000);
    await until('the exit', () => client.state !== 'ready');
    assert.match(heard.faults.find((f) => f.code === 'DRIVER_EXITED')!.message, /exited with code 0/);
    await rejectsWith(client.get('temperature'), 'DRIVER_UNAVAILABLE');
    await client.whenReady(3_000);
    assert.equal(await client.get('temperature'), 21);
    assert.deepEqual(heard.states.slice(0, 4), ['ready', 'unavailable', 'starting', 'ready']);
  } finally {
    await client.close();
  }
});

test('a driver on a Unix socket that goes away is dialled again and picked up when it is back', async () => {
  const path = join(dir, 'driver.sock');
  const sockets = new Set<Socket>();
  const listen = (): Promise<Server> =>
    new Promise((resolve) => {
      const server = createServer((socket) => {
        sockets.add(socket);
        serveDriver({
          name: 'socket',
          version: '1',
          input: socket,
          output: socket,
          onClose: () => undefined,
          get: () => 21,
          act: (_c, _a, v) => v ?? 20,
        });
      });
      server.listen(path, () => resolve(server));
    });
  let server = await listen();
  const faults: DriverFaultEvent[] = [];
  const client = DriverClient.socket(model, path, { config: FAST, events: { onFault: (e) => faults.push(e) } });
  try {
    await client.whenReady(3_000);
    assert.equal(await client.get('temperature'), 21);
    server.close();
    for (const s of sockets) s.destroy();
    await until('the loss', () => client.state !== 'ready');
    await rejectsWith(client.get('temperature'), 'DRIVER_UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 500));
    server = await listen();
    await client.whenReady(3_000);
    assert.equal(await client.get('temperature'), 21);
    assert.ok(faults.some((f) => f.code === 'DRIVER_EXITED'));
  } finally {
    await client.close();
    server.close();
  }
});

function pythonDecision(): 'run' | 'skip' | 'fail' {
  // python3 is not one of test/support/tools.ts's tools; the same rule, and the same way to hide it.
  if (hiddenTools(process.env).has('python3')) return toolDecision(false, isCi(process.env));
  let found = true;
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    found = false;
  }
  return toolDecision(found, isCi(process.env));
}

test('the example Python driver serves a thermostat on a GPIO value file and a hwmon input', async (t) => {
  const decision = pythonDecision();
  if (decision === 'fail') assert.fail('python3 is required in CI (apt-get install python3)');
  if (decision === 'skip') return t.skip('python3 not installed: apt-get install python3');
  const relay = join(dir, 'value');
  const sensor = join(dir, 'temp1_input');
  await writeFile(relay, '0\n');
  await writeFile(sensor, '18000\n');
  const changed: Array<[string, DriverValue]> = [];
  const faults: DriverFaultEvent[] = [];
  const client = DriverClient.spawn(
    model,
    { program: 'python3', args: [PYTHON_DRIVER, '--relay', relay, '--temperature', sensor, '--poll', '0.2'] },
    {
      config: { ...FAST, requestTimeoutMs: 2_000 },
      events: { onChanged: (c, v) => changed.push([c, v]), onFault: (e) => faults.push(e) },
    },
  );
  try {
    assert.deepEqual(await client.whenReady(5_000), { name: 'example-thermostat', version: '1.0.0', health: false });
    assert.equal(await client.get('temperature'), 18);
    assert.equal(await client.get('setpoint'), 20);
    // 18 degrees is under 20 less the hysteresis: the driver's loop switches the relay on.
    await until('heating on', () => changed.some(([c, v]) => c === 'heating' && v === true));
    assert.equal((await readFile(relay, 'utf8')).trim(), '1');
    assert.equal(await client.get('heating'), true);
    assert.equal(await client.act('setpoint', 'set', 17), 17);
    await until('heating off', () => changed.some(([c, v]) => c === 'heating' && v === false));
    assert.equal((await readFile(relay, 'utf8')).trim(), '0');
    await writeFile(sensor, '16500\n');
    await until('the new temperature', () => changed.some(([c, v]) => c === 'temperature' && v === 16.5));
    await rejectsWith(client.act('setpoint', 'set', 40), 'DRIVER_VALUE_INVALID');
    await rejectsWith(client.act('temperature', 'set', 1), 'DRIVER_UNKNOWN_ACTION');
    assert.deepEqual(faults, []);
  } finally {
    await client.close();
  }
});

test('the example garage-door driver pulses the relay and reports the contact, never a guessed state', async (t) => {
  const decision = pythonDecision();
  if (decision === 'fail') assert.fail('python3 is required in CI (apt-get install python3)');
  if (decision === 'skip') return t.skip('python3 not installed: apt-get install python3');
  const garage: DriverModel = {
    id: 'garage',
    capabilities: [
      {
        id: 'door',
        kind: 'lock',
        actions: ['open', 'close', 'get'],
        sensitive: true,
        value: { type: 'enum', values: ['open', 'closed'] },
      },
    ],
  };
  const relay = join(dir, 'relay-value');
  const contact = join(dir, 'contact-value');
  await writeFile(relay, '0\n');
  await writeFile(contact, '1\n');
  // The motor: a pulse of the relay moves the door, which moves the contact (one read at a time).
  let pulses = 0;
  let running = true;
  const motor = (async () => {
    let wasOn = false;
    while (running) {
      const on = (await readFile(relay, 'utf8')).trim() === '1';
      if (on && !wasOn) {
        pulses += 1;
        const closed = (await readFile(contact, 'utf8')).trim() === '1';
        await writeFile(contact, closed ? '0\n' : '1\n');
      }
      wasOn = on;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const changed: DriverValue[] = [];
  const script = fileURLToPath(new URL('../../examples/garage-door-driver/driver.py', import.meta.url));
  const client = DriverClient.spawn(
    garage,
    { program: 'python3', args: [script, '--relay', relay, '--contact', contact, '--poll', '0.1', '--pulse', '0.3'] },
    { config: { ...FAST, requestTimeoutMs: 2_000 }, events: { onChanged: (_c, v) => changed.push(v) } },
  );
  try {
    await client.whenReady(5_000);
    assert.equal(await client.get('door'), 'closed');
    assert.match(String(await client.act('door', 'open')), /^(open|closed)$/);
    await until('the door open', () => changed.includes('open'));
    assert.equal(await client.act('door', 'open'), 'open');
    // A real opener ignores a second press at once; the test's motor (polled every 20 ms) would miss it.
    await new Promise((r) => setTimeout(r, 200));
    await client.act('door', 'close');
    await until('the door closed', () => changed.at(-1) === 'closed');
    assert.equal(pulses, 2);
    await rejectsWith(client.act('door', 'toggle'), 'DRIVER_UNKNOWN_ACTION');
  } finally {
    running = false;
    await motor;
    await client.close();
  }
});
