/**
 * The supervisor: the small, never-updated "bootloader" of a Node device. It starts the agent
 * as a child process with a hardened runtime (no code generation from strings, bounded malloc
 * arenas so argon2's 19 MiB blocks are returned to the system) and restarts it when it dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { BulwarkError } from '../errors/index.ts';

/** What the supervisor needs to start an agent. */
export interface SupervisorOptions {
  readonly bundleDir: string;
  readonly stateDir: string;
  readonly host: string;
  readonly webPort: number;
  /** Restarts allowed within `restartWindowMs` before giving up. */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** Called with the agent's ready line. */
  readonly onReady?: (info: { serial: string; url: string; webPort: number }) => void;
  readonly log?: (msg: string) => void;
}

/** Node flags of the agent process: the runtime hardening. */
export const AGENT_NODE_FLAGS = ['--disallow-code-generation-from-strings', '--disable-sigusr1', '--max-semi-space-size=1'];

/** Environment hardening: glibc keeps freed argon2 blocks in per-thread arenas unless told not to. */
export const AGENT_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

/** The agent entry: the built JavaScript in a published package, the TypeScript source in a checkout. */
export function agentEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = here.replace(/supervisor\.(ts|js)$/, (_m, ext: string) => `agent-main.${ext}`);
  if (existsSync(sibling)) return sibling;
  throw new BulwarkError('AGENT_MISSING', `agent entry not found next to ${here}`);
}

/** Runs the agent under supervision until `stop()`; resolves `done` with the exit code. */
export function superviseAgent(o: SupervisorOptions): { stop(): void; done: Promise<number> } {
  const log = o.log ?? (() => undefined);
  const maxRestarts = o.maxRestarts ?? 5;
  const windowMs = o.restartWindowMs ?? 60_000;
  const restarts: number[] = [];
  let child: ChildProcess | undefined;
  let stopping = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => { finish = resolve; });

  const start = (): void => {
    child = spawn(process.execPath, [...AGENT_NODE_FLAGS, agentEntry(),
      '--bundle', o.bundleDir, '--state', o.stateDir, '--host', o.host, '--web-port', String(o.webPort)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...AGENT_ENV, NODE_OPTIONS: '' },
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; serial: string; url: string; webPort: number };
        if (msg.event === 'listening') o.onReady?.(msg);
      } catch { log(line); }
    });
    child.on('exit', (code, signal) => {
      if (stopping) { finish(code ?? 0); return; }
      if (code === 78) { log('agent refused its configuration; not restarting'); finish(78); return; }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && restarts[0]! < now - windowMs) restarts.shift();
      if (restarts.length > maxRestarts) { log(`agent died ${restarts.length} times within ${windowMs} ms; giving up`); finish(1); return; }
      log(`agent exited (${signal ?? code}); restarting`);
      setTimeout(start, 250 * restarts.length);
    });
  };
  start();
  return {
    stop() { stopping = true; child?.kill('SIGTERM'); },
    done,
  };
}
