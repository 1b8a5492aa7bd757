/**
 * The hub's control socket: a Unix socket in the hub's state dir, mode 0600, so only the hub's
 * own user can drive it (the CLI: `bulwark hub pair|devices|call|unpair|grant|unlock ...`). One
 * JSON line in, one JSON line out; both bounded in size and time. Being able to reach it is the
 * hub's physical act: `unlock` lets a new browser past the admin page's account-wide ceiling.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmod, lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';
import type { ChannelValue } from '../channel/index.ts';
import { HubError } from './errors.ts';
import type { Hub } from './hub.ts';
import { unlockHubLogin } from './web-login.ts';

/** The device's own code behind a relayed refusal (`remoteCode`), kept across the control socket. */
interface Relayed {
  readonly remoteCode?: unknown;
}

function relayedCode(from: { readonly details?: Readonly<Record<string, unknown>> } & Relayed): {
  remoteCode?: string;
} {
  const code = from.remoteCode ?? from.details?.remoteCode;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? { remoteCode: code } : {};
}

/** The socket's file name inside the hub's state dir. */
export const HUB_CONTROL_SOCKET = 'hub.sock';

/** Limits of the control socket. */
export const HUB_CONTROL_LIMITS = Object.freeze({
  /** Longest request line, bytes. */
  maxRequestBytes: 8_192,
  /** Longest answer a client reads, bytes. */
  maxAnswerBytes: 4_194_304,
  /** A request must arrive whole within this, ms. */
  requestTimeoutMs: 5_000,
  /** Most connections at once. */
  maxConnections: 16,
});

/** The operations of the control socket. */
export const HUB_CONTROL_OPS = Object.freeze([
  'status',
  'devices',
  'pair',
  'call',
  'unpair',
  'grant',
  'revoke',
  'automations',
  'automation-add',
  'automation-remove',
  'unlock',
] as const);
/** One operation of the control socket (see {@link HUB_CONTROL_OPS}). */
export type HubControlOp = (typeof HUB_CONTROL_OPS)[number];

function bad(message: string): HubError {
  return new HubError('HUB_CONTROL_BAD_REQUEST', message);
}

function str(args: Record<string, unknown>, key: string, max = 64): string {
  const v = args[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw bad(`${key} must be a string of 1 to ${max} characters`);
  return v;
}

function value(args: Record<string, unknown>): ChannelValue | undefined {
  const v = args.value;
  if (v === undefined) return undefined;
  if (
    v === null ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    (typeof v === 'string' && v.length <= 256)
  )
    return v;
  throw bad('value must be a boolean, number, string or null');
}

/** Runs one control request against `hub`. */
export async function runControlOp(
  hub: Hub,
  op: unknown,
  args: Record<string, unknown>,
  extra: { webUrl?: string } = {},
): Promise<unknown> {
  switch (op as HubControlOp) {
    case 'status':
      return { pin: hub.pin, devices: hub.devices().length, ...(extra.webUrl ? { webUrl: extra.webUrl } : {}) };
    case 'devices':
      return hub.devices();
    case 'pair': {
      const setupCode = args.setupCode === undefined ? undefined : str(args, 'setupCode', 32);
      if (args.keepGrants !== undefined && typeof args.keepGrants !== 'boolean')
        throw bad('keepGrants must be a boolean');
      return hub.pair({
        address: str(args, 'address', 270),
        ...(setupCode !== undefined ? { setupCode } : {}),
        ...(args.keepGrants === true ? { keepGrants: true } : {}),
      });
    }
    case 'call': {
      const v = value(args);
      return {
        value: await hub.call(
          str(args, 'serial'),
          str(args, 'capability'),
          str(args, 'action'),
          ...(v !== undefined ? [v] : []),
        ),
      };
    }
    case 'unpair':
      return hub.unpair(str(args, 'serial'));
    case 'grant':
      return hub.grant(str(args, 'serial'), str(args, 'capability'));
    case 'revoke':
      return hub.revoke(str(args, 'serial'), str(args, 'capability'));
    case 'automations':
      return hub.automations();
    case 'automation-add': {
      const op2 = str(args, 'op', 8);
      if (op2 !== 'above' && op2 !== 'below') throw bad('op must be above or below');
      if (typeof args.threshold !== 'number' || !Number.isFinite(args.threshold))
        throw bad('threshold must be a number');
      return hub.addAutomation({
        whenSerial: str(args, 'whenSerial'),
        whenCapability: str(args, 'whenCapability'),
        op: op2,
        threshold: args.threshold,
        thenSerial: str(args, 'thenSerial'),
        thenCapability: str(args, 'thenCapability'),
        thenAction: str(args, 'thenAction'),
      });
    }
    case 'automation-remove': {
      if (typeof args.id !== 'number' || !Number.isSafeInteger(args.id)) throw bad('id must be an integer');
      return { removed: hub.removeAutomation(args.id) };
    }
    case 'unlock':
      return { unlockedUntil: new Date(unlockHubLogin(hub.store, Date.now())).toISOString() };
    default:
      throw bad(`unknown operation; known: ${HUB_CONTROL_OPS.join(', ')}`);
  }
}

function answer(socket: Socket, body: unknown): void {
  socket.end(JSON.stringify(body) + '\n');
}

/** Listens on `<stateDir>/hub.sock` (0600) for control requests to `hub`. */
export async function listenForControl(stateDir: string, hub: Hub, extra: { webUrl?: string } = {}): Promise<Server> {
  const path = join(stateDir, HUB_CONTROL_SOCKET);
  try {
    const info = await lstat(path);
    if (!info.isSocket()) throw new HubError('HUB_CONTROL_PATH_TAKEN', `${path} exists and is not a socket`);
    await rm(path); // left by an earlier run
  } catch (err) {
    if (err instanceof HubError) throw err;
  }
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let buf = '';
    let handled = false;
    socket.setTimeout(HUB_CONTROL_LIMITS.requestTimeoutMs, () => {
      if (!handled) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (handled) return;
      buf += chunk.toString('utf8');
      if (buf.length > HUB_CONTROL_LIMITS.maxRequestBytes) {
        handled = true;
        answer(socket, { ok: false, code: 'HUB_CONTROL_BAD_REQUEST', message: 'request too large' });
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      handled = true;
      socket.setTimeout(0);
      let request: { op?: unknown; args?: unknown };
      try {
        request = JSON.parse(buf.slice(0, nl)) as { op?: unknown; args?: unknown };
        if (typeof request !== 'object' || request === null) throw new Error('not an object');
      } catch {
        answer(socket, { ok: false, code: 'HUB_CONTROL_BAD_REQUEST', message: 'not a JSON object' });
        return;
      }
      const args =
        typeof request.args === 'object' && request.args !== null && !Array.isArray(request.args)
          ? (request.args as Record<string, unknown>)
          : {};
      runControlOp(hub, request.op, args, extra).then(
        (result) => answer(socket, { ok: true, result }),
        (err: unknown) =>
          answer(
            socket,
            err instanceof BulwarkError
              ? { ok: false, code: (err as BulwarkError).code, message: err.message, ...relayedCode(err) }
              : { ok: false, code: 'HUB_INTERNAL', message: 'internal error' },
          ),
      );
    });
  });
  server.maxConnections = HUB_CONTROL_LIMITS.maxConnections;
  const oldMask = process.umask(0o177); // born 0600: no moment where others can connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(path, 0o600);
  return server;
}

/**
 * Sends one control request to the hub running with `stateDir` and returns its result.
 * Throws HubError 'HUB_NOT_RUNNING' when no hub answers, or a HubError with the hub's code
 * (e.g. 'PAIRING_WINDOW_CLOSED', 'HUB_CAPABILITY_NOT_GRANTED').
 *
 * @example
 * const devices = await callHubControl('/var/lib/bulwark-hub', 'devices');
 */
export function callHubControl(
  stateDir: string,
  op: HubControlOp,
  args: Record<string, unknown> = {},
  timeoutMs = 60_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(stateDir, HUB_CONTROL_SOCKET));
    let buf = '';
    let settled = false;
    const done = (err: Error | undefined, result?: unknown): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(new HubError('HUB_CONTROL_TIMEOUT', 'the hub did not answer in time')));
    socket.on('connect', () => socket.write(JSON.stringify({ op, args }) + '\n'));
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      if (buf.length > HUB_CONTROL_LIMITS.maxAnswerBytes)
        done(new HubError('HUB_CONTROL_BAD_ANSWER', 'the hub answered too much'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(new HubError('HUB_NOT_RUNNING', `no hub is running with state ${stateDir} (${err.code ?? 'error'})`)),
    );
    socket.on('end', () => {
      try {
        const r = JSON.parse(buf) as { ok: boolean; result?: unknown; code?: string; message?: string } & Relayed;
        if (r.ok) done(undefined, r.result);
        else done(new HubError(String(r.code ?? 'HUB_INTERNAL'), String(r.message ?? 'failed'), relayedCode(r)));
      } catch {
        done(new HubError('HUB_CONTROL_BAD_ANSWER', 'the hub answered badly'));
      }
    });
  });
}
