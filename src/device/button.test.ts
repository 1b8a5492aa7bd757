import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BulwarkError, hasCode } from '../errors/index.ts';
import { listenForButton, pressButton, BUTTON_SOCKET, type ButtonGesture } from './button.ts';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bulwark-button-'));
});
after(() => rm(root, { recursive: true, force: true }));

/** A fresh state dir with a button whose gestures go to `onGesture` (a throw is a rejection). */
async function withButton(
  onGesture: (g: ButtonGesture) => string,
  run: (stateDir: string) => Promise<void>,
): Promise<void> {
  const stateDir = join(root, String(n++));
  await mkdir(stateDir);
  const server: Server = await listenForButton(stateDir, (g) => Promise.resolve().then(() => onGesture(g)));
  try {
    await run(stateDir);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Runs `run` against a button, then checks that nothing reached the agent. */
async function withUnreachedAgent(run: (stateDir: string) => Promise<void>): Promise<void> {
  let called = false;
  await withButton(() => {
    called = true;
    return 'ok';
  }, run);
  assert.equal(called, false);
}

/** Sends raw bytes to the button and returns what it answered before closing. */
function sendRaw(stateDir: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection(join(stateDir, BUTTON_SOCKET), () => socket.write(bytes));
    let answer = '';
    socket.on('data', (c) => {
      answer += c.toString('utf8');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => undefined);
  });
}

const refusedWith =
  (code: string) =>
  (err: unknown): boolean =>
    hasCode(err, code);

test('a press and a hold reach the agent as their gestures, and its answer reaches the presser', async () => {
  const heard: ButtonGesture[] = [];
  await withButton(
    (g) => {
      heard.push(g);
      return `did ${g}`;
    },
    async (stateDir) => {
      assert.equal(await pressButton(stateDir, 'press'), 'did press');
      assert.equal(await pressButton(stateDir, 'hold'), 'did hold');
    },
  );
  assert.deepEqual(heard, ['press', 'hold']);
});

test("only the device's own user can press: the socket is mode 0600", async () => {
  await withButton(
    () => 'ok',
    async (stateDir) => {
      assert.equal((await stat(join(stateDir, BUTTON_SOCKET))).mode & 0o777, 0o600);
    },
  );
});

test('an unknown gesture is refused without reaching the agent', async () => {
  await withUnreachedAgent(async (stateDir) => {
    const answer = JSON.parse(await sendRaw(stateDir, 'shake\n')) as { ok: boolean; message: string };
    assert.deepEqual(answer, { ok: false, message: 'unknown gesture' });
  });
});

test('more than 64 bytes without a line end is cut off unanswered', async () => {
  await withUnreachedAgent(async (stateDir) => {
    assert.equal(await sendRaw(stateDir, 'p'.repeat(65)), '');
  });
});

test('a failed action is reported: a Bulwark error by its message, anything else without details', async () => {
  await withButton(
    (g) => {
      if (g === 'press') throw new BulwarkError('BUTTON_REFUSED', 'the pairing window is busy');
      throw new Error('/var/lib/bulwark/secret: EACCES');
    },
    async (stateDir) => {
      await assert.rejects(
        pressButton(stateDir, 'press'),
        (err: unknown) => refusedWith('BUTTON_REFUSED')(err) && (err as Error).message === 'the pairing window is busy',
      );
      await assert.rejects(
        pressButton(stateDir, 'hold'),
        (err: unknown) => refusedWith('BUTTON_REFUSED')(err) && (err as Error).message === 'button action failed',
      );
    },
  );
});

test('a stale socket from an earlier run is replaced, but a file in its place is not removed', async () => {
  const stateDir = join(root, String(n++));
  await mkdir(stateDir);
  const first = await listenForButton(stateDir, () => Promise.resolve('first'));
  // An agent that died without closing leaves its socket file behind.
  first.unref();
  const second = await listenForButton(stateDir, () => Promise.resolve('second'));
  assert.equal(await pressButton(stateDir, 'press'), 'second');
  await new Promise<void>((resolve) => second.close(() => resolve()));
  first.close();

  const taken = join(root, String(n++));
  await mkdir(taken);
  await writeFile(join(taken, BUTTON_SOCKET), 'not a socket');
  await assert.rejects(
    listenForButton(taken, () => Promise.resolve('x')),
    refusedWith('BUTTON_PATH_TAKEN'),
  );
});

test('pressing with no agent running says so', async () => {
  await assert.rejects(pressButton(join(root, 'nobody'), 'press', 1_000), refusedWith('BUTTON_UNREACHABLE'));
});
