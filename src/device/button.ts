/**
 * The physical button, in software: a Unix socket in the state dir with mode 0600, so only the
 * device's own user can press it (the counterpart of needing a hand on the device). A press
 * opens windows (pairing, claim, and 5 minutes in which a new browser is not held back by the
 * login's account-wide ceiling); holding it is a factory reset.
 */
import { createServer, createConnection, type Server } from 'node:net';
import { chmod, rm, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { BulwarkError } from '../errors/index.ts';

/**
 * How the button was used: a press (pairing, login unlock and the cloud claim window), a hold (factory reset), or a
 * claim press that opens only the cloud claim window (what an app asks for when it adds the device, and what the
 * auditor uses to probe the cloud's claim rules without opening pairing or unlocking logins).
 */
export type ButtonGesture = 'press' | 'hold' | 'claim';

const GESTURES: ReadonlySet<string> = new Set<ButtonGesture>(['press', 'hold', 'claim']);

/** The socket's file name inside the state dir. */
export const BUTTON_SOCKET = 'button.sock';
/**
 * The supervised agent's own socket: the supervisor owns `button.sock` (a hold resets the unit
 * without the agent) and passes presses on to the agent here.
 */
export const AGENT_BUTTON_SOCKET = 'agent-button.sock';

/** Thrown when the button cannot be reached (agent not running) or answers badly. */
export class ButtonError extends BulwarkError<
  'BUTTON_UNREACHABLE' | 'BUTTON_TIMEOUT' | 'BUTTON_BAD_ANSWER' | 'BUTTON_REFUSED' | 'BUTTON_PATH_TAKEN'
> {}

/**
 * Listens for button gestures on `<stateDir>/<name>` (`button.sock` by default); `onGesture` returns
 * the text shown to the presser.
 */
export async function listenForButton(
  stateDir: string,
  onGesture: (g: ButtonGesture) => Promise<string>,
  name: string = BUTTON_SOCKET,
): Promise<Server> {
  const path = join(stateDir, name);
  try {
    const info = await lstat(path);
    if (!info.isSocket()) throw new ButtonError('BUTTON_PATH_TAKEN', `${path} exists and is not a socket`);
    await rm(path); // a stale socket from an earlier run
  } catch (err) {
    if (err instanceof ButtonError) throw err;
  }
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    let buf = '';
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      if (buf.length > 64) {
        socket.destroy();
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      const gesture = GESTURES.has(line) ? (line as ButtonGesture) : undefined;
      if (!gesture) {
        socket.end(JSON.stringify({ ok: false, message: 'unknown gesture' }) + '\n');
        return;
      }
      onGesture(gesture).then(
        (message) => socket.end(JSON.stringify({ ok: true, message }) + '\n'),
        (err: unknown) =>
          socket.end(
            JSON.stringify({ ok: false, message: err instanceof BulwarkError ? err.message : 'button action failed' }) +
              '\n',
          ),
      );
    });
    socket.on('error', () => undefined);
  });
  const oldMask = process.umask(0o177); // the socket is born 0600: no window where others can connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  await chmod(path, 0o600);
  return server;
}

/** Presses (or holds) the button of the unit whose state dir is `stateDir`; resolves to its answer. */
export function pressButton(
  stateDir: string,
  gesture: ButtonGesture,
  timeoutMs = 30_000,
  name: string = BUTTON_SOCKET,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(stateDir, name));
    let buf = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new ButtonError('BUTTON_TIMEOUT', 'the device did not answer the button'));
    });
    socket.on('connect', () => socket.write(gesture + '\n'));
    socket.on('data', (c) => {
      buf += c.toString('utf8');
      if (buf.length > 4096) socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        new ButtonError(
          'BUTTON_UNREACHABLE',
          `no device agent is running with state ${stateDir} (${err.code ?? 'error'})`,
        ),
      );
    });
    socket.on('end', () => {
      try {
        const r = JSON.parse(buf) as { ok: boolean; message: string };
        if (r.ok) resolve(String(r.message));
        else reject(new ButtonError('BUTTON_REFUSED', String(r.message)));
      } catch {
        reject(new ButtonError('BUTTON_BAD_ANSWER', 'the device answered the button badly'));
      }
    });
  });
}
