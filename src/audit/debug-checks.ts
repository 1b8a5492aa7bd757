/**
 * Debug interfaces, judged on the running device. config.debug-off reads how the device's process
 * was started (its mode, its Node flags and NODE_OPTIONS, from /proc when it runs on this host)
 * beside the firmware's own launch settings; net.debug-ports scans the device's address for
 * remote-shell and debug ports and asks every other port its process listens on whether it is a
 * Node inspector (which may listen on any port, `--inspect=127.0.0.1:0` picks a random one).
 */
import type { RuntimeDebugEvidence } from '../device/index.ts';
import { NO_URL, unreachable } from './blackbox.ts';
import { DEBUG_PORTS } from './config.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { isBulwark, NOT_BULWARK_CONFIG } from './device-info.ts';
import { connectAddressOf, deviceProcess, probeInspector, type DeviceProcess } from './device-process.ts';
import { tcpConnectProbe, type HttpsTarget } from './net.ts';
import type { Evidence } from './types.ts';

// ---- config.debug-off -----------------------------------------------------------------------

/** config.debug-off: the running device is in production mode with no debug flag, as the firmware launches it. */
export async function checkDebugOff(ctx: AuditContext): Promise<CheckOutcome> {
  if (!isBulwark(ctx)) return notTested(NOT_BULWARK_CONFIG);
  const { agentLaunchEvidence, runtimeDebugEvidence } = await import('../device/index.ts');
  const evidence = launchEvidence(agentLaunchEvidence());
  const ports = ctx.results.get('net.debug-ports');
  if (ports !== undefined)
    evidence.push({ sent: 'the port scan and inspector probes (net.debug-ports)', received: ports.summary });
  const seen = await deviceProcess(ctx);
  const failing = (f: Evidence[]): string =>
    `the device runs with a debug interface enabled: ${f.map((e) => e.received).join('; ')}`;
  if (seen.process === undefined) {
    if (evidence.some((e) => e.finding === true)) return verdict(evidence, '', failing);
    return notTested(
      `the running device was not observed (${seen.how}): how it was started decides, not the firmware's defaults`,
      evidence,
    );
  }
  const p = seen.process;
  evidence.push(...runningEvidence(p, runtimeDebugEvidence({ argv: p.argv, env: p.env }), seen.how));
  return verdict(
    evidence,
    'the running device is in production mode, which refuses the inspector, with no debug flag in its command line ' +
      'or NODE_OPTIONS',
    failing,
  );
}

/** The firmware's launch settings: the flags the supervisor gives the agent and the default mode. */
function launchEvidence(l: RuntimeDebugEvidence & { readonly nodeFlags: readonly string[] }): Evidence[] {
  return [
    {
      sent: "the agent's Node flags (the supervisor starts it with them)",
      received: `${l.nodeFlags.join(' ') || '(none)'}${
        l.debugFlags.length ? ` (debug flags: ${l.debugFlags.join(' ' + '')})` : ''
      }`,
      finding: l.debugFlags.length > 0,
    },
    {
      sent: 'code generation from strings',
      received: l.codeFromStringsDisallowed ? 'disallowed (--disallow-code-generation-from-strings)' : 'allowed',
    },
    {
      sent: 'opening the inspector later by signal',
      received: l.signalOpensInspector ? 'possible: SIGUSR1 opens the inspector' : 'impossible (--disable-sigusr1)',
      finding: l.signalOpensInspector,
    },
    {
      sent: "the agent's default mode",
      received: `${l.mode}${
        l.mode === 'production' ? ' (refuses to start with the inspector enabled or ' + 'attachable)' : ''
      }`,
      finding: l.mode !== 'production',
    },
  ];
}

/** What the running process shows: the mode its environment selects, its debug flags, the signal. */
function runningEvidence(p: DeviceProcess, r: RuntimeDebugEvidence, how: string): Evidence[] {
  const flags =
    r.debugFlags.length === 0 && r.inspector.length === 0
      ? 'no debug flag'
      : `debug flags: ${r.debugFlags.join(' ')}${r.inspector.length ? ` (${r.inspector.join('; ')})` : ''}`;
  const signal = r.signalOpensInspector
    ? `no --disable-sigusr1: a signal from this account could open the inspector${
        p.self ? ' (the agent runs inside ' + 'the program that audits it)' : ''
      }`
    : 'impossible (--disable-sigusr1)';
  return [
    {
      sent: `the running device (${how}): BULWARK_MODE in its environment`,
      received:
        `${r.modeSetting === undefined ? 'unset' : JSON.stringify(r.modeSetting.slice(0, 32))}: ${r.mode} mode` +
        (r.mode === 'production' ? '' : ' (debug interfaces allowed: the inspector is not refused)'),
      finding: r.mode !== 'production',
    },
    {
      sent: "the running process's command line and NODE_OPTIONS",
      received: flags,
      finding: r.debugFlags.length > 0 || r.inspector.length > 0,
    },
    // Noted, not held against the device: whoever started the process decides this flag (the
    // firmware's own launch settings, judged above, must set it), and an agent embedded in another
    // program (a demo, a test runner) runs without it.
    { sent: 'opening the inspector of the running process by signal', received: signal },
  ];
}

// ---- net.debug-ports ------------------------------------------------------------------------

/**
 * net.debug-ports: no remote-shell or debug port accepts a connection, and no port of the device's process is a Node
 * inspector.
 */
export async function checkDebugPorts(ctx: AuditContext): Promise<CheckOutcome> {
  const target = ctx.target;
  if (target === undefined) return notTested(NO_URL);
  // Closed ports on an address where nothing answers prove nothing about the device.
  const down = await unreachable(ctx);
  if (down !== undefined) return notTested(down);
  const scan = await knownPortScan(ctx, target);
  const processPorts = await processPortEvidence(ctx, target);
  const note = target.loopback
    ? " (the device is on this host's loopback: an open port may belong to the host rather than the device)"
    : '';
  const probed = processPorts.length > 1 ? ", and no port of the device's process answers as a Node inspector" : '';
  return verdict(
    [...scan, ...processPorts],
    `none of ${scan.length} remote-shell and debug ports accepts a connection${probed}`,
    (f) =>
      `${f.length} debug or remote-shell port(s) open: ` +
      `${f.map((e) => /:(\d+)(?=[\s)]|$)/.exec(e.sent)?.[1]).join(', ')}${note}`,
  );
}

/** A TCP connect to each well-known remote-shell and debug port of the device's address. */
async function knownPortScan(ctx: AuditContext, target: HttpsTarget): Promise<Evidence[]> {
  const evidence: Evidence[] = [];
  const localAddress = ctx.sourceFor('ports');
  const ms = ctx.inputs.limits.portScanTimeoutMs;
  for (const { port, service } of DEBUG_PORTS) {
    if (port === target.port) continue;
    const r = await tcpConnectProbe(target.host, port, { timeoutMs: ms, ...(localAddress ? { localAddress } : {}) });
    const received =
      r.state === 'open'
        ? 'open: a connection was accepted'
        : r.state === 'closed'
          ? 'closed (refused)'
          : r.state === 'filtered'
            ? `no answer in ${ms} ms (filtered)`
            : `error ${r.error ?? ''}`;
    evidence.push({
      sent: `TCP connect to ${target.host}:${port} (${service})${localAddress ? ` from ${localAddress}` : ''}`,
      received,
      finding: r.state === 'open',
    });
  }
  return evidence;
}

/** Every other port the device's process listens on, asked whether it is a Node inspector. */
async function processPortEvidence(ctx: AuditContext, target: HttpsTarget): Promise<Evidence[]> {
  const seen = await deviceProcess(ctx);
  if (seen.process === undefined) {
    return [
      {
        sent: "the device's process on this host (each port it listens on asked whether it is a Node inspector)",
        received: `not observed: ${seen.how}`,
      },
    ];
  }
  const hubPort = Number(/:(\d+)$/.exec(ctx.inputs.hub ?? '')?.[1] ?? NaN);
  const scanned = new Set(DEBUG_PORTS.map((d) => d.port));
  const seenPorts = new Set<string>();
  const others = seen.process.listening
    .filter((s) => s.port !== target.port && s.port !== hubPort && !scanned.has(s.port))
    .map((s) => ({ host: connectAddressOf(s.address), port: s.port }))
    .filter((s) => {
      const k = `${s.host} ${s.port}`;
      if (seenPorts.has(k)) return false;
      seenPorts.add(k);
      return true;
    });
  const max = ctx.inputs.limits.maxProcessPortsProbed;
  const evidence: Evidence[] = [
    {
      sent: `the device's process (${seen.how}): its listening TCP ports`,
      received:
        `${seen.process.listening
          .map((s) => s.port)
          .filter((p, i, all) => all.indexOf(p) === i)
          .join(', ')}` + (others.length > max ? `; only the first ${max} other ports are probed (limit)` : ''),
    },
  ];
  for (const { host, port } of others.slice(0, max)) {
    const a = await probeInspector(host, port, ctx.inputs.limits.portScanTimeoutMs);
    evidence.push({
      sent: `GET /json/version on ${host.includes(':') ? `[${host}]` : host}:${port} (what a Node inspector answers)`,
      received: a.text,
      finding: a.inspector,
    });
  }
  return evidence;
}
