/**
 * config.service-unit: the service unit that runs the firmware. The installed unit when given
 * (--service-unit), else the one the firmware writes (`bulwark device unit`), is parsed and held
 * to the sandbox the policy asks for; when the host has systemd-analyze, its offline security
 * score is added (run with an argument array, bounded in time and output).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { isBulwark } from './device-info.ts';
import { readBounded } from './files.ts';
import type { Evidence } from './types.ts';

/** A unit file as sections of (key, value) pairs, in order. */
export type UnitFile = Map<string, Array<[string, string]>>;

/** Parses a systemd unit file (comments, sections, key=value; continuation lines joined). */
export function parseUnitFile(text: string): UnitFile {
  const out: UnitFile = new Map();
  let section = '';
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines.slice(0, 2_000)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([A-Za-z]+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      if (!out.has(section)) out.set(section, []);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    out.get(section)?.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** The value of the last assignment of `key` in [Service] (systemd's rule for most settings), or undefined. */
function last(unit: UnitFile, key: string): string | undefined {
  const all = (unit.get('Service') ?? []).filter(([k]) => k === key);
  return all.length ? all[all.length - 1]![1] : undefined;
}

function all(unit: UnitFile, key: string): string[] {
  return (unit.get('Service') ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

const YES = /^(yes|true|on|1)$/i;

/** The sandbox the policy asks for: [setting, what is required, test]. */
const RULES: ReadonlyArray<readonly [string, string, (u: UnitFile) => boolean]> = [
  [
    'User',
    'an unprivileged account (or DynamicUser=yes)',
    (u) => {
      const v = last(u, 'User');
      return YES.test(last(u, 'DynamicUser') ?? '') || (v !== undefined && v !== '' && v !== 'root' && v !== '0');
    },
  ],
  ['NoNewPrivileges', 'yes', (u) => YES.test(last(u, 'NoNewPrivileges') ?? '')],
  ['ProtectSystem', 'strict', (u) => last(u, 'ProtectSystem') === 'strict'],
  ['ProtectHome', 'yes, read-only or tmpfs', (u) => /^(yes|true|read-only|tmpfs)$/i.test(last(u, 'ProtectHome') ?? '')],
  ['PrivateTmp', 'yes', (u) => YES.test(last(u, 'PrivateTmp') ?? '')],
  ['PrivateDevices', 'yes', (u) => YES.test(last(u, 'PrivateDevices') ?? '')],
  [
    'CapabilityBoundingSet',
    'empty, or CAP_NET_BIND_SERVICE alone',
    (u) => {
      const v = all(u, 'CapabilityBoundingSet');
      return v.length > 0 && /^(|CAP_NET_BIND_SERVICE)$/.test(v[v.length - 1]!.trim());
    },
  ],
  [
    'AmbientCapabilities',
    'none beyond CAP_NET_BIND_SERVICE',
    (u) => /^(|CAP_NET_BIND_SERVICE)$/.test((last(u, 'AmbientCapabilities') ?? '').trim()),
  ],
  ['ProtectKernelTunables', 'yes', (u) => YES.test(last(u, 'ProtectKernelTunables') ?? '')],
  ['ProtectKernelModules', 'yes', (u) => YES.test(last(u, 'ProtectKernelModules') ?? '')],
  ['ProtectControlGroups', 'yes', (u) => YES.test(last(u, 'ProtectControlGroups') ?? '')],
  ['RestrictSUIDSGID', 'yes', (u) => YES.test(last(u, 'RestrictSUIDSGID') ?? '')],
  ['LockPersonality', 'yes', (u) => YES.test(last(u, 'LockPersonality') ?? '')],
  [
    'SystemCallFilter',
    'an allow-list (e.g. @system-service)',
    (u) => all(u, 'SystemCallFilter').some((v) => v !== '' && !v.startsWith('~')),
  ],
  [
    'RestrictAddressFamilies',
    'IP and Unix sockets only',
    (u) => {
      const v = last(u, 'RestrictAddressFamilies');
      return v !== undefined && !v.startsWith('~') && v.split(/\s+/).every((f) => /^AF_(INET|INET6|UNIX)$/.test(f));
    },
  ],
  ['UMask', '0077', (u) => last(u, 'UMask') === '0077'],
];

/**
 * Whether ExecStart or Environment enables a debugger (the device's own list of debug flags) or sets NODE_OPTIONS at
 * all.
 */
async function startsWithDebugging(unit: UnitFile, exec: string): Promise<boolean> {
  const { debugFlagsOf } = await import('../device/index.ts');
  const env = all(unit, 'Environment')
    .flatMap((v) => v.split(/\s+/))
    .map((t) => t.replace(/^"|"$/g, ''));
  const values = env.map((t) => t.replace(/^[A-Za-z_][A-Za-z0-9_]*=/, ''));
  return debugFlagsOf([...exec.split(/\s+/), ...values]).length > 0 || env.some((t) => t.startsWith('NODE_OPTIONS='));
}

/** The unit's findings and facts, as evidence. */
export async function judgeUnit(unit: UnitFile, o: { stateDir?: string } = {}): Promise<Evidence[]> {
  const evidence: Evidence[] = [];
  if (!unit.has('Service')) return [{ sent: "the unit's [Service] section", received: 'missing', finding: true }];
  const missing = RULES.filter(([, , ok]) => !ok(unit));
  evidence.push({
    sent: `${RULES.length} sandbox settings (${RULES.map(([k]) => k).join(', ')})`,
    received:
      missing.length === 0
        ? `all set: User=${last(unit, 'User') ?? '(dynamic)'}, ProtectSystem=${last(unit, 'ProtectSystem') ?? ''}, ` +
          `CapabilityBoundingSet=${last(unit, 'CapabilityBoundingSet') || '(none)'}`
        : `not as required: ${missing
            .map(([k, want]) => `${k}=${last(unit, k) ?? '(unset)'} (wants ` + `${want})`)
            .join('; ')}`,
    finding: missing.length > 0,
  });
  const exec = last(unit, 'ExecStart') ?? '';
  const debug = await startsWithDebugging(unit, exec);
  evidence.push({
    sent: 'ExecStart and Environment',
    received:
      exec === ''
        ? 'no ExecStart'
        : `${
            /device run/.test(exec)
              ? 'runs the supervisor (bulwark device run)'
              : `runs ` + `${exec.split(/\s+/).slice(0, 3).join(' ')}`
          }${debug ? '; with debug flags or NODE_OPTIONS' : ''}`,
    finding: exec === '' || debug,
  });
  const writable = all(unit, 'ReadWritePaths')
    .flatMap((v) => v.split(/\s+/))
    .filter((p) => p !== '');
  const tooWide = writable.filter((p) => p === '/' || /^-?\/(etc|usr|bin|sbin|lib|boot|root|home)?\/?$/.test(p));
  evidence.push({
    sent: 'ReadWritePaths (what the service may write under ProtectSystem=strict)',
    received:
      writable.length === 0
        ? 'none'
        : `${writable.join(', ')}${
            o.stateDir !== undefined
              ? writable.includes(o.stateDir)
                ? ' (the state ' + 'folder)'
                : ' (not the audited state folder)'
              : ''
          }${tooWide.length ? `; far too wide: ${tooWide.join(', ')}` : ''}`,
    finding: tooWide.length > 0,
  });
  evidence.push({
    sent: 'Restart',
    received: last(unit, 'Restart') ?? 'unset (the service stays down after a crash)',
    finding: !/^(on-failure|always|on-abnormal)$/.test(last(unit, 'Restart') ?? ''),
  });
  return evidence;
}

/** Runs `systemd-analyze security --offline=true <file>` when the host has it; the exposure score, or undefined. */
async function exposureScore(file: string, timeoutMs: number): Promise<string | undefined> {
  const tool = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
  if (tool === undefined) return undefined;
  return new Promise((resolve) => {
    const child = spawn(tool, ['security', '--offline=true', '--no-pager', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', SYSTEMD_COLORS: '0' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      if (out.length < 262_144) out += c.toString('utf8');
    });
    child.stderr.on('data', () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.on('close', () => {
      clearTimeout(timer);
      const m = /Overall exposure level for \S+:\s*([0-9.]+)\s+(\w+)/.exec(out);
      resolve(m ? `${m[1]} ${m[2]}` : undefined);
    });
  });
}

/** config.service-unit: the service runs as an unprivileged user in a sandbox. */
export async function checkServiceUnit(ctx: AuditContext): Promise<CheckOutcome> {
  let text: string;
  let what: string;
  const given = ctx.inputs.serviceUnitPath;
  if (given !== undefined) {
    const f = await readBounded(given, 1_048_576);
    if (!f.ok)
      return {
        status: 'fail',
        summary: `the service unit cannot be read: ${f.reason}`,
        evidence: [{ sent: `read ${given}`, received: f.reason, finding: true }],
      };
    text = f.text;
    what = `the installed unit ${given}`;
  } else {
    if (!isBulwark(ctx))
      return notTested(
        'needs --service-unit (the installed unit file) or a Bulwark device (--bundle/--state), whose firmware ' +
          'writes its unit',
      );
    const { renderSystemdUnit } = await import('../device/index.ts');
    const safe = (p: string | undefined, fallback: string): string =>
      p !== undefined && /^\/[A-Za-z0-9._@+/-]+$/.test(p) ? p : fallback;
    text = renderSystemdUnit({
      bundleDir: safe(ctx.inputs.bundleDir, '/opt/bulwark/bundle'),
      stateDir: safe(ctx.inputs.stateDir, '/var/lib/bulwark'),
    });
    what = 'the unit the firmware writes (bulwark device unit)';
  }
  const unit = parseUnitFile(text);
  const judged = await judgeUnit(unit, ctx.inputs.stateDir !== undefined ? { stateDir: ctx.inputs.stateDir } : {});
  const evidence = judged.map((e) => ({ ...e, sent: `${what}: ${e.sent}` }));
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-audit-unit-'));
  try {
    const file = join(dir, 'bulwark-device.service');
    await writeFile(file, text, { mode: 0o600 });
    const score = await exposureScore(file, 15_000);
    if (score !== undefined) {
      const n = Number(score.split(' ')[0]);
      evidence.push({
        sent: 'systemd-analyze security --offline=true (0 safest, 10 unsandboxed)',
        received: `exposure ${score}`,
        finding: !(n <= 4),
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return verdict(
    evidence,
    `${what} runs the device as an unprivileged user with no capabilities, no new privileges, a read-only system ` +
      `and private /tmp and devices`,
    (f) => `the service is not sandboxed as required: ${f.map((e) => e.received).join('; ')}`,
  );
}
