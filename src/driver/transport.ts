/**
 * The ways the agent reaches a driver: a child process on its standard input and output (argv
 * only, never a shell, an explicit minimal environment), a Unix socket, or a pair of in-memory
 * streams for a driver inside the agent's process. Each is a connector: a function that opens one
 * connection and reports its bytes and its end to a sink. The client owns everything else.
 */
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { DRIVER_PROTOCOL } from './protocol.ts';

/** Where a connection's bytes and end go; `closed` is called once. */
export interface ConnectionSink {
  data(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  closed(reason: string): void;
}

/** One open connection to a driver. */
export interface DriverConnection {
  /** Writes one line to the driver. */
  send(line: string): void;
  /** Bytes written and not yet taken by the driver. */
  backlogBytes(): number;
  /** Ends the connection (a process: SIGTERM, then SIGKILL after the grace); resolves once it is gone. */
  close(): Promise<void>;
}

/** Opens a connection to a driver. */
export type DriverConnector = (sink: ConnectionSink) => DriverConnection;

/** A driver program: argv, and any extra environment (which must hold nothing secret). */
export interface DriverProgram {
  readonly program: string;
  readonly args?: readonly string[];
  /** Added to the minimal environment; for device paths and the like, never a secret. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** The environment variable that carries the protocol name to a driver process. */
export const DRIVER_PROTOCOL_ENV = 'BULWARK_DRIVER_PROTOCOL';

/**
 * The whole environment a driver process gets: PATH, LANG and the protocol name, plus `extra`.
 * Never the agent's own environment, so nothing the agent was given reaches the driver by accident.
 */
export function driverEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...extra,
    [DRIVER_PROTOCOL_ENV]: DRIVER_PROTOCOL,
  };
}

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  return signal === null ? `exited with code ${code ?? 'unknown'}` : `was ended by ${signal}`;
}

/** A connector that starts `spec` as a child process each time it is called. */
export function processConnector(spec: DriverProgram, killGraceMs: number): DriverConnector {
  return (sink) => {
    const child = spawn(spec.program, [...(spec.args ?? [])], {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: driverEnvironment(spec.env),
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
    });
    let done = false;
    let gone!: () => void;
    const exited = new Promise<void>((resolve) => (gone = resolve));
    const finish = (reason: string): void => {
      if (done) return;
      done = true;
      child.stdout.removeAllListeners('data');
      child.stderr.removeAllListeners('data');
      child.stdout.destroy();
      child.stderr.destroy();
      gone();
      sink.closed(reason);
    };
    child.once('error', (e: NodeJS.ErrnoException) => finish(`failed to start (${e.code ?? 'error'})`));
    child.once('exit', (code, signal) => finish(exitReason(code, signal)));
    // A driver that exits while we write makes EPIPE; its exit is reported by 'exit'.
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => sink.data(chunk));
    child.stderr.on('data', (chunk: Buffer) => sink.stderr(chunk));
    return {
      send: (line) => void (child.stdin.writable && child.stdin.write(line)),
      backlogBytes: () => child.stdin.writableLength,
      close: async () => {
        if (done) return exited;
        child.stdin.destroy();
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
        kill.unref();
        await exited;
        clearTimeout(kill);
      },
    };
  };
}

/** A connector that dials the Unix socket at `path` each time it is called. */
export function socketConnector(path: string): DriverConnector {
  return (sink) => {
    const socket = createConnection({ path });
    let done = false;
    let failure: string | undefined;
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        resolve();
        if (done) return;
        done = true;
        sink.closed(failure === undefined ? 'closed its socket' : `socket failed (${failure})`);
      }),
    );
    socket.on('error', (e: NodeJS.ErrnoException) => (failure = e.code ?? 'error'));
    socket.on('data', (chunk: Buffer) => sink.data(chunk));
    return {
      send: (line) => void (socket.writable && socket.write(line)),
      backlogBytes: () => socket.writableLength,
      close: async () => {
        done = true;
        socket.destroy();
        await closed;
      },
    };
  };
}

/** Starts an in-process driver on a pair of streams; its `close` ends it. */
export type InProcessServe = (input: Readable, output: Writable) => { close(): void };

/** A connector to a driver in this process, over in-memory streams carrying the same lines. */
export function inMemoryConnector(serve: InProcessServe): DriverConnector {
  return (sink) => {
    const toDriver = new PassThrough();
    const fromDriver = new PassThrough();
    let done = false;
    const end = (reason: string): void => {
      if (done) return;
      done = true;
      sink.closed(reason);
    };
    fromDriver.on('data', (chunk: Buffer) => sink.data(chunk));
    fromDriver.once('end', () => end('ended its output'));
    const server = serve(toDriver, fromDriver);
    return {
      send: (line) => void (toDriver.writable && toDriver.write(line)),
      backlogBytes: () => toDriver.writableLength,
      close: () => {
        done = true;
        server.close();
        toDriver.destroy();
        fromDriver.destroy();
        return Promise.resolve();
      },
    };
  };
}
