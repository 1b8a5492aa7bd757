/**
 * The device service's systemd units: `bulwark device run` as an unprivileged user in a sandbox
 * (no new privileges, a read-only system with only the state folder writable, private /tmp and
 * devices, no capabilities, the kernel's tunables, modules and logs out of reach, a system-call
 * allow-list, IPv4/IPv6/Unix sockets only). Written by `bulwark device unit`; the auditor checks
 * the unit it is given, or this one.
 *
 * With a driver, two more units: the driver runs as a user of its own, with no network, only the
 * device nodes it names, and no sight of the agent's state or bundle. A stdio driver cannot accept
 * connections, so systemd does it (`Accept=yes`): the agent dials `<name>.socket` with
 * `--driver-socket`, and each connection starts one `<name>@.service` whose standard input and
 * output are that connection, the lines `DriverClient.socket` speaks. A driver that exits closes
 * the connection; the agent dials again after its back-off and systemd starts a fresh driver.
 *
 * MemoryDenyWriteExecute is left off on purpose: V8's JIT needs writable, executable pages (the
 * agent, and drivers written with the TypeScript kit).
 *
 * @example
 *   for (const unit of renderSystemdUnits({ bundleDir: '/opt/bulwark/bundle', stateDir: '/var/lib/bulwark',
 *     driver: { program: '/usr/bin/python3', args: ['/opt/acme/driver.py'], devices: ['/dev/gpiochip0'] } }))
 *     await writeFile(`/etc/systemd/system/${unit.name}`, unit.text);
 */
import { fileURLToPath } from 'node:url';
import { isAbsolute } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { DRIVER_PROTOCOL, DRIVER_PROTOCOL_ENV } from '../driver/index.ts';
import { AGENT_NODE_FLAGS } from './supervisor.ts';

/** The maker's driver as a sandboxed service of its own, reached by the agent on a socket. */
export interface DriverUnitOptions {
  /** An absolute path, or a bare name systemd finds in its fixed search path (/usr/bin, ...). */
  readonly program: string;
  readonly args?: readonly string[];
  /**
   * What the driver may touch: device nodes under /dev (DeviceAllow=, every other node closed) and
   * files such as a sysfs GPIO line's `value` (the only writable paths of its file system).
   */
  readonly devices?: readonly string[];
  /** Its own unprivileged account (never root, never the agent's). */
  readonly user?: string;
  readonly group?: string;
  /** The units' base name: `<name>.socket` and `<name>@.service`; the socket is `/run/<name>/driver.sock`. */
  readonly name?: string;
}

/** What the unit runs and as whom. */
export interface SystemdUnitOptions {
  readonly bundleDir: string;
  readonly stateDir: string;
  /** The unprivileged account the service runs as (never root). */
  readonly user?: string;
  readonly group?: string;
  /** The Node 24 executable; default: the one running now. */
  readonly nodePath?: string;
  /** The `bulwark` command's script; default: this installation's bin/bulwark.js. */
  readonly bulwarkBin?: string;
  readonly host?: string;
  readonly webPort?: number;
  readonly hubPort?: number;
  /** `mqtts://host:port` of the manufacturer's broker. */
  readonly cloudUrl?: string;
  /** Where the unit enrols with its factory certificate, when not `cloudUrl`. */
  readonly cloudEnrolUrl?: string;
  /** The update repository URL. */
  readonly updateUrl?: string;
  /** A JSON file of update settings. */
  readonly updateConfig?: string;
  /** The unit's factory image (read-only storage): booted from its own verified slot. */
  readonly factoryImage?: string;
  /** The maker's driver; absent: the simulated hardware inside the agent, and one unit. */
  readonly driver?: DriverUnitOptions;
}

/** One unit file: its name under /etc/systemd/system and its text. */
export interface SystemdUnitFile {
  readonly name: string;
  readonly text: string;
}

/** The agent's unit file name. */
export const AGENT_UNIT_NAME = 'bulwark-device.service';

/** The driver's defaults: its account and units' name, and the bounds on what it may use. */
export const DRIVER_UNIT_DEFAULTS = Object.freeze({
  user: 'bulwark-driver',
  name: 'bulwark-driver',
  /** One driver at a time: two would fight over the same hardware. */
  maxConnections: 1,
  tasksMax: 32,
  memoryMax: '128M',
});

/** The sandbox directives every unit carries, in order (systemd.exec(5)). */
export const SYSTEMD_HARDENING: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ['UMask', '0077'],
  ['NoNewPrivileges', 'yes'],
  ['ProtectSystem', 'strict'],
  ['ProtectHome', 'yes'],
  ['PrivateTmp', 'yes'],
  ['PrivateDevices', 'yes'],
  ['ProtectKernelTunables', 'yes'],
  ['ProtectKernelModules', 'yes'],
  ['ProtectKernelLogs', 'yes'],
  ['ProtectControlGroups', 'yes'],
  ['ProtectClock', 'yes'],
  ['ProtectHostname', 'yes'],
  ['ProtectProc', 'invisible'],
  ['ProcSubset', 'pid'],
  ['RestrictSUIDSGID', 'yes'],
  ['RestrictRealtime', 'yes'],
  ['RestrictNamespaces', 'yes'],
  ['LockPersonality', 'yes'],
  ['RemoveIPC', 'yes'],
  ['SystemCallArchitectures', 'native'],
  ['SystemCallFilter', '@system-service'],
  ['SystemCallFilter', '~@privileged'],
  ['SystemCallErrorNumber', 'EPERM'],
  ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
] as const);

/**
 * The driver's sandbox: the agent's, but with no network at all, and its devices closed rather
 * than private (PrivateDevices= would hide the nodes DeviceAllow= grants).
 */
export const DRIVER_HARDENING: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ...SYSTEMD_HARDENING.filter(([k]) => k !== 'PrivateDevices' && k !== 'RestrictAddressFamilies'),
  ['PrivateNetwork', 'yes'],
  ['IPAddressDeny', 'any'],
  // The connection arrives as its stdin/stdout; the driver opens no socket of another family.
  ['RestrictAddressFamilies', 'AF_UNIX'],
  ['DevicePolicy', 'closed'],
  ['KeyringMode', 'private'],
  ['CapabilityBoundingSet', ''],
  ['AmbientCapabilities', ''],
] as const);

const SAFE_PATH = /^\/[A-Za-z0-9._@+/-]{0,4095}$/;
const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;
// ExecStart= would expand $ and %, split on spaces and unquote; such arguments are refused, not escaped.
const SAFE_ARG = /^[A-Za-z0-9._@+/=:,-]{1,1024}$/;
// A bare program name: no ExecStart= prefix character (@ - : + !) at its start.
const BARE_PROGRAM = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}$/;
const UNIT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

function path(value: string, key: string): string {
  if (typeof value !== 'string' || !isAbsolute(value) || !SAFE_PATH.test(value) || value.split('/').includes('..')) {
    throw new ConfigError(
      'DEVICE_UNIT_INVALID',
      key,
      'must be an absolute path of letters, digits and ._@+-/ (no spaces, quotes, % or ..)',
    );
  }
  return value;
}

function portOf(value: number | undefined, key: string, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > 65_535)
    throw new ConfigError('DEVICE_UNIT_INVALID', key, 'must be a port 1..65535');
  return v;
}

function account(value: string, key: string): string {
  if (!ACCOUNT.test(value) || value === 'root')
    throw new ConfigError('DEVICE_UNIT_INVALID', key, 'must be an unprivileged account name (not root)');
  return value;
}

/** Whether `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const o = outer.endsWith('/') ? outer : `${outer}/`;
  return inner === outer || inner.startsWith(o);
}

/** The socket the driver's units listen on, for `--driver-socket`. */
export function driverSocketPath(name: string = DRIVER_UNIT_DEFAULTS.name): string {
  return `/run/${name}/driver.sock`;
}

/** The agent's command line, each piece checked so systemd reads it as one word. */
function agentCommand(o: SystemdUnitOptions, bundle: string, state: string, driverSocket?: string): string[] {
  const node = path(o.nodePath ?? process.execPath, 'nodePath');
  const bin = path(o.bulwarkBin ?? fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url)), 'bulwarkBin');
  const host = o.host ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host))
    throw new ConfigError('DEVICE_UNIT_INVALID', 'host', 'must be an address or host name');
  const url = (value: string | undefined, key: string, scheme: RegExp): string[] => {
    if (value === undefined) return [];
    if (!scheme.test(value) || /[\s%"'\\$`]/.test(value))
      throw new ConfigError('DEVICE_UNIT_INVALID', key, 'must be a URL without spaces, quotes or %');
    const flag = { cloudUrl: 'cloud', cloudEnrolUrl: 'cloud-enrol' }[key] ?? 'update-url';
    return [`--${flag}`, value];
  };
  return [
    node,
    bin,
    'device',
    'run',
    '--bundle',
    bundle,
    '--state',
    state,
    '--host',
    host,
    '--web-port',
    String(portOf(o.webPort, 'webPort', 8443)),
    '--hub-port',
    String(portOf(o.hubPort, 'hubPort', 5541)),
    ...url(o.cloudUrl, 'cloudUrl', /^mqtts:\/\/[^/]+$/),
    ...url(o.cloudEnrolUrl, 'cloudEnrolUrl', /^mqtts:\/\/[^/]+$/),
    ...url(o.updateUrl, 'updateUrl', /^https?:\/\//),
    ...(o.updateConfig !== undefined ? ['--update-config', path(o.updateConfig, 'updateConfig')] : []),
    ...(o.factoryImage !== undefined ? ['--factory-image', path(o.factoryImage, 'factoryImage')] : []),
    ...(driverSocket !== undefined ? ['--driver-socket', driverSocket] : []),
  ];
}

function agentUnit(o: SystemdUnitOptions, user: string, group: string, driverName?: string): string {
  const bundle = path(o.bundleDir, 'bundleDir');
  const state = path(o.stateDir, 'stateDir');
  if (state === '/' || bundle === '/')
    throw new ConfigError('DEVICE_UNIT_INVALID', 'stateDir', 'must not be the root folder');
  const socket = driverName === undefined ? undefined : driverSocketPath(driverName);
  const args = agentCommand(o, bundle, state, socket);
  const privileged = (o.webPort ?? 8443) < 1024 || (o.hubPort ?? 5541) < 1024;
  const caps = privileged ? 'CAP_NET_BIND_SERVICE' : '';
  const afterDriver = driverName === undefined ? [] : [`Requires=${driverName}.socket`, `After=${driverName}.socket`];
  return [
    '# Bulwark device service, written by `bulwark device unit`.',
    `# The agent itself runs with ${AGENT_NODE_FLAGS.join(' ')} (the supervisor adds them).`,
    "# MemoryDenyWriteExecute is off on purpose: V8's JIT needs it off.",
    ...(driverName === undefined ? [] : [`# Its hardware is the driver behind ${driverName}.socket (docs/driver.md).`]),
    '[Unit]',
    'Description=Bulwark device agent',
    'After=network-online.target',
    'Wants=network-online.target',
    ...afterDriver,
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `Group=${group}`,
    `ExecStart=${args.join(' ')}`,
    'Restart=on-failure',
    'RestartSec=2',
    'TimeoutStopSec=20',
    ...SYSTEMD_HARDENING.map(([k, v]) => `${k}=${v}`),
    `CapabilityBoundingSet=${caps}`,
    `AmbientCapabilities=${caps}`,
    `ReadWritePaths=${state}`,
    `ReadOnlyPaths=${bundle}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The driver's device nodes and files, refused where they would reach the agent's secrets or the whole system. */
function driverDevices(devices: readonly string[], secret: readonly string[]): { allow: string[]; paths: string[] } {
  const allow: string[] = [];
  const paths: string[] = [];
  for (const [i, raw] of devices.entries()) {
    const key = `driver.devices[${i}]`;
    const p = path(raw, key).replace(/\/+$/, '');
    if (p.split('/').length < 3 || within(p, '/proc'))
      throw new ConfigError('DEVICE_UNIT_INVALID', key, 'must name a device node or file, not a top folder or /proc');
    if (secret.some((s) => within(p, s) || within(s, p)))
      throw new ConfigError('DEVICE_UNIT_INVALID', key, "must not reach the agent's state or bundle folder");
    if (within(p, '/dev')) allow.push(`DeviceAllow=${p} rw`);
    else paths.push(`ReadWritePaths=${p}`);
  }
  return { allow, paths };
}

/** The driver's command line: a checked program and arguments, each one word to systemd. */
function driverCommand(d: DriverUnitOptions): string {
  const program =
    d.program.startsWith('/') || !BARE_PROGRAM.test(d.program) ? path(d.program, 'driver.program') : d.program;
  const args = (d.args ?? []).map((a, i) => {
    if (!SAFE_ARG.test(a))
      throw new ConfigError(
        'DEVICE_UNIT_INVALID',
        `driver.args[${i}]`,
        'must be letters, digits and ._@+/=:,- (systemd would split, unquote or expand anything else)',
      );
    return a;
  });
  return [program, ...args].join(' ');
}

function driverUnits(
  d: DriverUnitOptions,
  agent: { group: string; user: string; secret: string[] },
): SystemdUnitFile[] {
  const name = d.name ?? DRIVER_UNIT_DEFAULTS.name;
  if (!UNIT_NAME.test(name) || name === 'bulwark-device')
    throw new ConfigError('DEVICE_UNIT_INVALID', 'driver.name', 'must be a unit name of a-z, 0-9 and -');
  const user = account(d.user ?? DRIVER_UNIT_DEFAULTS.user, 'driver.user');
  const group = account(d.group ?? user, 'driver.group');
  if (user === agent.user || group === agent.group)
    throw new ConfigError('DEVICE_UNIT_INVALID', 'driver.user', "must be an account of its own, not the agent's");
  const exec = driverCommand(d);
  const { allow, paths } = driverDevices(d.devices ?? [], agent.secret);
  const socket = [
    `# The only way to the driver, written by \`bulwark device unit\`: the agent (group ${agent.group}) dials`,
    `# it; each connection starts ${name}@.service with the connection as its standard input and output.`,
    '[Unit]',
    'Description=Bulwark device driver socket',
    '',
    '[Socket]',
    `ListenStream=${driverSocketPath(name)}`,
    'Accept=yes',
    `MaxConnections=${DRIVER_UNIT_DEFAULTS.maxConnections}`,
    'SocketUser=root',
    `SocketGroup=${agent.group}`,
    'SocketMode=0660',
    'DirectoryMode=0755',
    'RemoveOnStop=yes',
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ];
  const service = [
    `# The maker's driver for one connection on ${name}.socket, written by \`bulwark device unit\`: its own`,
    '# user, no network, only the device nodes and files named below, nothing of the agent in sight.',
    "# MemoryDenyWriteExecute is off: a driver on Node (the TypeScript kit) needs V8's JIT.",
    '[Unit]',
    'Description=Bulwark device driver (connection %i)',
    'CollectMode=inactive-or-failed',
    '',
    '[Service]',
    'Type=simple',
    `User=${user}`,
    `Group=${group}`,
    `ExecStart=${exec}`,
    'StandardInput=socket',
    'StandardOutput=socket',
    'StandardError=journal',
    `Environment=LANG=C.UTF-8 ${DRIVER_PROTOCOL_ENV}=${DRIVER_PROTOCOL}`,
    'TimeoutStopSec=2',
    `TasksMax=${DRIVER_UNIT_DEFAULTS.tasksMax}`,
    `MemoryMax=${DRIVER_UNIT_DEFAULTS.memoryMax}`,
    ...DRIVER_HARDENING.map(([k, v]) => `${k}=${v}`),
    ...allow,
    ...paths,
    ...agent.secret.map((s) => `InaccessiblePaths=-${s}`),
    '',
  ];
  return [
    { name: `${name}.socket`, text: socket.join('\n') },
    { name: `${name}@.service`, text: service.join('\n') },
  ];
}

/**
 * Renders the agent's unit (`bulwark-device.service`) and, with a driver, the driver's socket and
 * service template after it. Throws ConfigError 'DEVICE_UNIT_INVALID' for root, an account shared
 * by agent and driver, a path systemd would split or expand, a URL with spaces or specifiers, or a
 * driver device that reaches the agent's state or bundle.
 */
export function renderSystemdUnits(o: SystemdUnitOptions): SystemdUnitFile[] {
  const user = account(o.user ?? 'bulwark', 'user');
  const group = account(o.group ?? user, 'group');
  const driverName = o.driver === undefined ? undefined : (o.driver.name ?? DRIVER_UNIT_DEFAULTS.name);
  const agent = { name: AGENT_UNIT_NAME, text: agentUnit(o, user, group, driverName) };
  if (o.driver === undefined) return [agent];
  return [agent, ...driverUnits(o.driver, { user, group, secret: [o.bundleDir, o.stateDir] })];
}

/** Renders the agent's unit alone (with a driver, it reaches it by `--driver-socket`); see `renderSystemdUnits`. */
export function renderSystemdUnit(o: SystemdUnitOptions): string {
  return renderSystemdUnits(o)[0]!.text;
}
