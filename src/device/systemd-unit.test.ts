import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCode } from '../errors/index.ts';
import { DriverClient, type DriverModel } from '../driver/index.ts';
import {
  AGENT_UNIT_NAME,
  DRIVER_HARDENING,
  driverSocketPath,
  renderSystemdUnit,
  renderSystemdUnits,
  SYSTEMD_HARDENING,
} from './systemd-unit.ts';

const base = {
  bundleDir: '/opt/bulwark/bundle',
  stateDir: '/var/lib/bulwark',
  nodePath: '/usr/bin/node',
  bulwarkBin: '/opt/bulwark/bin/bulwark.js',
};

function lines(text: string): string[] {
  return text.split('\n');
}

test('the unit runs `bulwark device run` as the unprivileged bulwark user by default', () => {
  const unit = lines(renderSystemdUnit(base));
  assert.ok(unit.includes('User=bulwark'));
  assert.ok(unit.includes('Group=bulwark'));
  assert.ok(
    unit.includes(
      'ExecStart=/usr/bin/node /opt/bulwark/bin/bulwark.js device run ' +
        '--bundle /opt/bulwark/bundle --state /var/lib/bulwark --host 127.0.0.1 --web-port 8443 --hub-port 5541',
    ),
  );
});

test('every hardening directive is in the unit, and only the state folder is writable', () => {
  const unit = lines(renderSystemdUnit(base));
  for (const [key, value] of SYSTEMD_HARDENING) assert.ok(unit.includes(`${key}=${value}`), `${key}=${value}`);
  assert.ok(unit.includes('ReadWritePaths=/var/lib/bulwark'));
  assert.ok(unit.includes('ReadOnlyPaths=/opt/bulwark/bundle'));
  assert.equal(unit.filter((l) => l.startsWith('ReadWritePaths=')).length, 1);
});

test('no capability is granted unless a port below 1024 needs binding', () => {
  const high = lines(renderSystemdUnit(base));
  assert.ok(high.includes('CapabilityBoundingSet='));
  assert.ok(high.includes('AmbientCapabilities='));
  const low = lines(renderSystemdUnit({ ...base, webPort: 443 }));
  assert.ok(low.includes('CapabilityBoundingSet=CAP_NET_BIND_SERVICE'));
  assert.ok(low.includes('AmbientCapabilities=CAP_NET_BIND_SERVICE'));
});

test('the cloud, update and factory image settings are passed on when given', () => {
  const unit = renderSystemdUnit({
    ...base,
    cloudUrl: 'mqtts://cloud.example:8883',
    updateUrl: 'https://u.example/r',
    updateConfig: '/etc/bulwark/update.json',
    factoryImage: '/usr/share/bulwark/factory.tar',
  });
  const exec = lines(unit).find((l) => l.startsWith('ExecStart='))!;
  assert.ok(
    exec.endsWith(
      ' --cloud mqtts://cloud.example:8883 --update-url https://u.example/r ' +
        '--update-config /etc/bulwark/update.json --factory-image /usr/share/bulwark/factory.tar',
    ),
    exec,
  );
});

function refused(options: Parameters<typeof renderSystemdUnit>[0], key: string): void {
  assert.throws(
    () => renderSystemdUnit(options),
    (err: unknown) => {
      assert.ok(hasCode(err, 'DEVICE_UNIT_INVALID'), String(err));
      assert.equal((err as { key?: string }).key, key);
      return true;
    },
    key,
  );
}

test('root, and account names systemd would not take, are refused', () => {
  refused({ ...base, user: 'root' }, 'user');
  refused({ ...base, user: 'bulwark', group: 'root' }, 'group');
  refused({ ...base, user: 'Bad Name' }, 'user');
});

test('paths systemd would split or expand, relative paths and the root folder are refused', () => {
  refused({ ...base, stateDir: '/var/lib/my state' }, 'stateDir');
  refused({ ...base, stateDir: '/var/lib/%h' }, 'stateDir');
  refused({ ...base, bundleDir: 'bundle' }, 'bundleDir');
  refused({ ...base, bundleDir: '/opt/../etc' }, 'bundleDir');
  refused({ ...base, stateDir: '/' }, 'stateDir');
  refused({ ...base, updateConfig: '/etc/"x"' }, 'updateConfig');
  refused({ ...base, factoryImage: 'factory.tar' }, 'factoryImage');
});

test('ports out of range, odd hosts and URLs with specifiers or the wrong scheme are refused', () => {
  refused({ ...base, webPort: 0 }, 'webPort');
  refused({ ...base, hubPort: 70_000 }, 'hubPort');
  refused({ ...base, host: 'a b' }, 'host');
  refused({ ...base, cloudUrl: 'https://cloud.example' }, 'cloudUrl');
  refused({ ...base, cloudUrl: 'mqtts://cloud.example/%h' }, 'cloudUrl');
  refused({ ...base, updateUrl: 'https://u.example/$HOME' }, 'updateUrl');
});

// The driver's units: its own user, no network, only the nodes it names; the agent reaches it on a socket.

const driver = {
  program: '/usr/bin/python3',
  args: ['/opt/acme/driver.py', '--relay', '/sys/class/gpio/gpio17/value'],
  devices: ['/dev/gpiochip0', '/sys/class/gpio/gpio17/value'],
};

function unitsByName(options: Parameters<typeof renderSystemdUnits>[0]): Map<string, string[]> {
  return new Map(renderSystemdUnits(options).map((u) => [u.name, lines(u.text)]));
}

test('without a driver there is one unit, the agent, and it names no driver socket', () => {
  const units = renderSystemdUnits(base);
  assert.deepEqual(
    units.map((u) => u.name),
    [AGENT_UNIT_NAME],
  );
  assert.equal(units[0]!.text, renderSystemdUnit(base));
  assert.doesNotMatch(units[0]!.text, /driver/);
});

test('with a driver, the agent dials the driver socket and starts after it', () => {
  const units = unitsByName({ ...base, driver });
  assert.deepEqual([...units.keys()], [AGENT_UNIT_NAME, 'bulwark-driver.socket', 'bulwark-driver@.service']);
  const agent = units.get(AGENT_UNIT_NAME)!;
  const exec = agent.find((l) => l.startsWith('ExecStart='))!;
  assert.ok(exec.endsWith(` --driver-socket ${driverSocketPath()}`), exec);
  assert.equal(driverSocketPath(), '/run/bulwark-driver/driver.sock');
  assert.ok(agent.includes('Requires=bulwark-driver.socket'));
  assert.ok(agent.includes('After=bulwark-driver.socket'));
  assert.equal(renderSystemdUnit({ ...base, driver }), units.get(AGENT_UNIT_NAME)!.join('\n'));
});

test("the socket accepts for the driver, one connection at a time, and only the agent's group may dial it", () => {
  const socket = unitsByName({ ...base, driver }).get('bulwark-driver.socket')!;
  for (const l of [
    'ListenStream=/run/bulwark-driver/driver.sock',
    'Accept=yes',
    'MaxConnections=1',
    'SocketUser=root',
    'SocketGroup=bulwark',
    'SocketMode=0660',
  ])
    assert.ok(socket.includes(l), l);
});

test('the driver runs as its own user on the connection, with no network and only its named devices', () => {
  const service = unitsByName({ ...base, driver }).get('bulwark-driver@.service')!;
  assert.ok(service.includes('User=bulwark-driver'));
  assert.ok(service.includes('Group=bulwark-driver'));
  assert.ok(service.includes('ExecStart=/usr/bin/python3 /opt/acme/driver.py --relay /sys/class/gpio/gpio17/value'));
  for (const l of ['StandardInput=socket', 'StandardOutput=socket', 'StandardError=journal'])
    assert.ok(service.includes(l), l);
  for (const [key, value] of DRIVER_HARDENING) assert.ok(service.includes(`${key}=${value}`), `${key}=${value}`);
  for (const l of [
    'PrivateNetwork=yes',
    'RestrictAddressFamilies=AF_UNIX',
    'DevicePolicy=closed',
    'NoNewPrivileges=yes',
  ])
    assert.ok(service.includes(l), l);
  assert.ok(service.includes('ProtectSystem=strict'));
  assert.ok(!service.includes('PrivateDevices=yes'), 'a private /dev would hide the granted nodes');
  assert.deepEqual(
    service.filter((l) => l.startsWith('DeviceAllow=')),
    ['DeviceAllow=/dev/gpiochip0 rw'],
  );
  assert.deepEqual(
    service.filter((l) => l.startsWith('ReadWritePaths=')),
    ['ReadWritePaths=/sys/class/gpio/gpio17/value'],
  );
  assert.ok(service.includes('InaccessiblePaths=-/var/lib/bulwark'), "the agent's state is out of sight");
  assert.ok(service.includes('InaccessiblePaths=-/opt/bulwark/bundle'), "the unit's keys are out of sight");
  assert.ok(service.includes('CapabilityBoundingSet='));
  assert.ok(service.includes('Environment=LANG=C.UTF-8 BULWARK_DRIVER_PROTOCOL=bulwark.driver/v1'));
});

test('a driver with no device named gets no device and no writable path', () => {
  const service = unitsByName({ ...base, driver: { program: 'python3', args: ['/opt/d.py'] } }).get(
    'bulwark-driver@.service',
  )!;
  assert.ok(service.includes('ExecStart=python3 /opt/d.py'));
  assert.ok(service.includes('DevicePolicy=closed'));
  assert.equal(service.filter((l) => /^(DeviceAllow|ReadWritePaths)=/.test(l)).length, 0);
});

test('the driver units take another name and account when asked', () => {
  const units = unitsByName({ ...base, driver: { ...driver, name: 'acme-relay', user: 'acme' } });
  assert.ok(units.get('acme-relay.socket')!.includes('ListenStream=/run/acme-relay/driver.sock'));
  assert.ok(units.get('acme-relay@.service')!.includes('User=acme'));
  assert.ok(units.get(AGENT_UNIT_NAME)!.includes('Requires=acme-relay.socket'));
});

test('a driver sharing the agent account, root, unsafe arguments and devices reaching the secrets are refused', () => {
  const d = (extra: object): Parameters<typeof renderSystemdUnits>[0] => ({ ...base, driver: { ...driver, ...extra } });
  refused(d({ user: 'bulwark' }), 'driver.user');
  refused(d({ user: 'root' }), 'driver.user');
  refused(d({ user: 'acme', group: 'bulwark' }), 'driver.user');
  refused(d({ program: 'driver.py' + ' x' }), 'driver.program');
  refused(d({ program: '-/usr/bin/python3' }), 'driver.program');
  refused(d({ args: ['--name', 'a b'] }), 'driver.args[1]');
  refused(d({ args: ['$HOME'] }), 'driver.args[0]');
  refused(d({ args: ['%h'] }), 'driver.args[0]');
  refused(d({ args: ['"x"'] }), 'driver.args[0]');
  refused(d({ devices: ['/var/lib/bulwark/secret'] }), 'driver.devices[0]');
  refused(d({ devices: ['/dev/gpiochip0', '/opt/bulwark'] }), 'driver.devices[1]');
  refused(d({ devices: ['/dev'] }), 'driver.devices[0]');
  refused(d({ devices: ['/proc/sys/kernel'] }), 'driver.devices[0]');
  refused(d({ devices: ['dev/gpiochip0'] }), 'driver.devices[0]');
  refused(d({ name: 'Bad Name' }), 'driver.name');
});

/**
 * systemd-analyze when the host has it. test/support/tools.ts's rule, restated because src/ may
 * not import test/: outside CI a missing tool skips the test, in CI it fails it.
 */
function systemdAnalyze(t: { skip(message: string): void }): string | undefined {
  const hidden = (process.env.BULWARK_TEST_HIDE_TOOLS ?? '').split(/[\s,]+/).includes('systemd');
  const found = hidden ? undefined : ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  if (found !== undefined) return found;
  const ci = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
  const why = hidden ? 'hidden by BULWARK_TEST_HIDE_TOOLS' : 'not installed';
  if (ci) throw new Error(`systemd-analyze is required in CI but ${why} (apt-get install systemd)`);
  t.skip(`systemd-analyze ${why}: apt-get install systemd`);
  return undefined;
}

function analyze(tool: string, args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(tool, args, { cwd, encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

test('systemd-analyze verifies all three units without a warning, and rates the driver at least as safe', async (t) => {
  const tool = systemdAnalyze(t);
  if (tool === undefined) return;
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-units-'));
  try {
    const here = fileURLToPath(new URL('.', import.meta.url));
    // verify checks that each ExecStart= program exists, so the units name real files here.
    const units = renderSystemdUnits({
      bundleDir: here.replace(/\/$/, ''),
      stateDir: dir,
      nodePath: process.execPath,
      driver: { program: process.execPath, args: [join(here, 'systemd-unit.ts')], devices: ['/dev/null'] },
    });
    const names = units.map((u) => u.name);
    for (const u of units) await writeFile(join(dir, u.name), u.text);
    const verify = analyze(tool, ['verify', '--man=no', ...names], dir);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'no warning');
    const exposure = (name: string): number => {
      const r = analyze(tool, ['security', '--offline=true', name], dir);
      const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr);
      assert.ok(m, r.stdout + r.stderr);
      return Number(m[1]);
    };
    const agent = exposure(AGENT_UNIT_NAME);
    const drv = exposure('bulwark-driver@.service');
    t.diagnostic(`exposure: agent ${agent}, driver ${drv} (0 safest, 10 unsandboxed)`);
    assert.ok(drv <= agent, `driver ${drv} vs agent ${agent}`);
    assert.ok(drv <= 1.5, `driver exposure ${drv}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** python3, by the same rule as systemd-analyze: skipped outside CI when missing, a failure in CI. */
function python(t: { skip(message: string): void }): boolean {
  const hidden = (process.env.BULWARK_TEST_HIDE_TOOLS ?? '').split(/[\s,]+/).includes('python3');
  let found = !hidden;
  try {
    if (found) execFileSync('python3', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    found = false;
  }
  if (found) return true;
  const ci = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());
  if (ci) throw new Error('python3 is required in CI (apt-get install python3)');
  t.skip('python3 not installed: apt-get install python3');
  return false;
}

const THERMOSTAT: DriverModel = {
  id: 'thermostat',
  capabilities: [
    { id: 'setpoint', kind: 'level', actions: ['set', 'get'], value: { type: 'number', min: 5, max: 30, step: 0.5 } },
    { id: 'temperature', kind: 'reading', actions: ['get'], value: { type: 'number', min: -40, max: 125 } },
    { id: 'heating', kind: 'switch', actions: ['get'], value: { type: 'boolean' } },
  ],
};

// What the units rely on, without systemd: a socket whose every connection starts one driver with the
// connection as its stdin and stdout (Accept=yes, StandardInput=socket), dialled by the agent's client.
test('a stdio driver started per connection, as the socket unit does, serves the agent and comes back', async (t) => {
  if (!python(t)) return;
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-driver-socket-'));
  const drivers: ChildProcess[] = [];
  const relay = join(dir, 'value');
  const sensor = join(dir, 'temp1_input');
  await writeFile(relay, '0\n');
  await writeFile(sensor, '18500\n');
  const program = fileURLToPath(new URL('../../examples/thermostat-driver/driver.py', import.meta.url));
  const server = createServer({ pauseOnConnect: true }, (connection) => {
    const args = [program, '--relay', relay, '--temperature', sensor, '--poll', '0.2'];
    drivers.push(spawn('python3', args, { stdio: [connection, connection, 'ignore'] }));
    // Like systemd after the fork: the listener lets go of its copy; the driver holds the connection.
    connection.destroy();
  });
  const path = join(dir, 'driver.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const fast = { restartBaseMs: 100, restartMaxMs: 400, restartJitter: 0 };
  const client = DriverClient.socket(THERMOSTAT, path, { config: fast });
  try {
    assert.deepEqual(await client.whenReady(5_000), { name: 'example-thermostat', version: '1.0.0', health: false });
    assert.equal(await client.get('temperature'), 18.5);
    assert.equal(await client.act('setpoint', 'set', 21), 21);
    drivers[0]!.kill('SIGKILL');
    const end = Date.now() + 10_000;
    while (drivers.length < 2 || client.state !== 'ready') {
      assert.ok(Date.now() < end, 'the client dials again and a new driver serves it');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await client.get('temperature'), 18.5);
  } finally {
    await client.close();
    server.close();
    for (const d of drivers) d.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
