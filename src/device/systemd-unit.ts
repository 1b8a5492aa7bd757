/**
 * The device service's systemd unit: `bulwark device run` as an unprivileged user in a sandbox
 * (no new privileges, a read-only system with only the state folder writable, private /tmp and
 * devices, no capabilities, the kernel's tunables, modules and logs out of reach, a system-call
 * allow-list, IPv4/IPv6/Unix sockets only). Written by `bulwark device unit`; the auditor checks
 * the unit it is given, or this one.
 *
 * MemoryDenyWriteExecute is left off on purpose: V8's JIT needs writable, executable pages.
 *
 * @example
 *   const text = renderSystemdUnit({ bundleDir: '/opt/bulwark/bundle', stateDir: '/var/lib/bulwark' });
 *   await writeFile('/etc/systemd/system/bulwark-device.service', text);
 */
import { fileURLToPath } from 'node:url';
import { isAbsolute } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { AGENT_NODE_FLAGS } from './supervisor.ts';

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
  /** The update repository URL. */
  readonly updateUrl?: string;
  /** A JSON file of update settings. */
  readonly updateConfig?: string;
}

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

const SAFE_PATH = /^\/[A-Za-z0-9._@+/-]{0,4095}$/;
const ACCOUNT = /^[a-z_][a-z0-9_-]{0,31}$/;

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

/**
 * Renders the unit. Throws ConfigError 'DEVICE_UNIT_INVALID' for root, a path systemd would
 * split or expand, or a URL with spaces or specifiers.
 */
export function renderSystemdUnit(o: SystemdUnitOptions): string {
  const user = o.user ?? 'bulwark';
  const group = o.group ?? user;
  for (const [k, v] of [
    ['user', user],
    ['group', group],
  ] as const) {
    if (!ACCOUNT.test(v) || v === 'root')
      throw new ConfigError('DEVICE_UNIT_INVALID', k, 'must be an unprivileged account name (not root)');
  }
  const bundle = path(o.bundleDir, 'bundleDir');
  const state = path(o.stateDir, 'stateDir');
  if (state === '/' || bundle === '/')
    throw new ConfigError('DEVICE_UNIT_INVALID', 'stateDir', 'must not be the root folder');
  const node = path(o.nodePath ?? process.execPath, 'nodePath');
  const bin = path(o.bulwarkBin ?? fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url)), 'bulwarkBin');
  const host = o.host ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host))
    throw new ConfigError('DEVICE_UNIT_INVALID', 'host', 'must be an address or host name');
  const webPort = portOf(o.webPort, 'webPort', 8443);
  const hubPort = portOf(o.hubPort, 'hubPort', 5541);
  const url = (value: string | undefined, key: string, scheme: RegExp): string[] => {
    if (value === undefined) return [];
    if (!scheme.test(value) || /[\s%"'\\$`]/.test(value))
      throw new ConfigError('DEVICE_UNIT_INVALID', key, 'must be a URL without spaces, quotes or %');
    return [`--${key === 'cloudUrl' ? 'cloud' : 'update-url'}`, value];
  };
  const args = [
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
    String(webPort),
    '--hub-port',
    String(hubPort),
    ...url(o.cloudUrl, 'cloudUrl', /^mqtts:\/\/[^/]+$/),
    ...url(o.updateUrl, 'updateUrl', /^https?:\/\//),
    ...(o.updateConfig !== undefined ? ['--update-config', path(o.updateConfig, 'updateConfig')] : []),
  ];
  const privileged = webPort < 1024 || hubPort < 1024;
  const caps = privileged ? 'CAP_NET_BIND_SERVICE' : '';
  const lines = [
    '# Bulwark device service, written by `bulwark device unit`.',
    `# The agent itself runs with ${AGENT_NODE_FLAGS.join(' ')} (the supervisor adds them).`,
    "# MemoryDenyWriteExecute is off on purpose: V8's JIT needs it off.",
    '[Unit]',
    'Description=Bulwark device agent',
    'After=network-online.target',
    'Wants=network-online.target',
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
  ];
  return lines.join('\n');
}
