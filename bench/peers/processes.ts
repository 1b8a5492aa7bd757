/**
 * The peers bench's child processes (issue 20, part 5): each started with an argv array (never a shell), awaited
 * until it prints its ready line (bounded), read for RSS from /proc, and ended by its own pid: SIGTERM, then SIGKILL
 * after a grace period. Every process started is tracked, so the bench can end whatever is left when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** A started child: its pid, its ready line, its output and how to end it. */
export interface PeerProcess {
  readonly pid: number;
  readonly ready: Record<string, unknown>;
  /** The last lines it wrote to stderr, for the reason when it fails. */
  tail(): string;
  /** Sends one JSON line to its stdin and waits (bounded) for the next JSON answer line on stdout. */
  request(line: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** How a child is started and how long it may take. */
export interface PeerProcessSpec {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Whether a stdout line (parsed JSON) is the ready line. */
  readonly isReady: (line: Record<string, unknown>) => boolean;
  readonly readyTimeoutMs: number;
  /** SIGTERM's grace before SIGKILL, ms. */
  readonly stopGraceMs: number;
}

const TAIL_LINES = 12;
const live = new Set<ChildProcess>();

function parse(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Parsed JSON lines from a child's stdout, and who waits for the next one. */
interface Answers {
  readonly lines: Array<Record<string, unknown>>;
  readonly waiting: Set<() => void>;
}

/** Waits until `found` picks a line, the child exits, or `timeoutMs` passes; rejects with `why` and its stderr. */
function awaitLine(
  child: ChildProcess,
  answers: Answers,
  found: (line: Record<string, unknown>) => boolean,
  timeoutMs: number,
  why: string,
  tail: () => string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const finish = (error?: Error, line?: Record<string, unknown>): void => {
      clearTimeout(timer);
      answers.waiting.delete(check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(line!);
    };
    const check = (): void => {
      const i = answers.lines.findIndex(found);
      if (i >= 0) finish(undefined, answers.lines.splice(i, 1)[0]);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`exited (${code ?? signal}) ${why}; ${tail()}`));
    const timer = setTimeout(
      () => finish(new Error(`no line ${why} within ${timeoutMs / 1000} s; ${tail()}`)),
      timeoutMs,
    );
    answers.waiting.add(check);
    child.once('exit', onExit);
    check();
  });
}

/** Starts a child with this Node and waits until it is ready; on failure it is ended and the error says why. */
export async function startPeerProcess(spec: PeerProcessSpec): Promise<PeerProcess> {
  const child = spawn(process.execPath, spec.args, { stdio: ['pipe', 'pipe', 'pipe'], env: spec.env });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const errLines: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    errLines.push(l);
    if (errLines.length > TAIL_LINES) errLines.shift();
  });
  const tail = (): string => (errLines.length ? `stderr: ${errLines.slice(-3).join(' | ')}` : 'no stderr');
  const answers: Answers = { lines: [], waiting: new Set() };
  createInterface({ input: child.stdout }).on('line', (l) => {
    const m = parse(l);
    if (!m) return;
    answers.lines.push(m);
    for (const w of [...answers.waiting]) w();
  });
  child.stdin.on('error', () => undefined);
  try {
    const ready = await awaitLine(child, answers, spec.isReady, spec.readyTimeoutMs, 'before it was ready', tail);
    const request: PeerProcess['request'] = (line, timeoutMs) => {
      child.stdin.write(JSON.stringify(line) + '\n');
      return awaitLine(child, answers, (a) => a.op === line.op, timeoutMs, `answering ${String(line.op)}`, tail);
    };
    return { pid: child.pid!, ready, tail, request, stop: () => stopChild(child, spec.stopGraceMs) };
  } catch (err) {
    await stopChild(child, spec.stopGraceMs);
    throw err;
  }
}

/** Ends every child this module started that is still running (the bench's last step, whatever happened). */
export async function stopAllPeerProcesses(graceMs: number): Promise<void> {
  await Promise.all([...live].map((child) => stopChild(child, graceMs)));
}

/** The resident set of a process, MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}
