/**
 * The cloud benchmark's simulated devices, as a child process (forked by cloud.bench.ts, so its
 * CPU is not the broker's): one mutual-TLS 1.3 connection per device certificate, MQTT 3.1.1 over
 * the project's small codec, telemetry at QoS 1 whose payload carries its send time. Every phase
 * is bounded in messages and in time. Talks to the parent over the IPC channel.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { MqttDecoder, encodeConnect, encodePublish } from '../src/mqtt/index.ts';

interface Device {
  readonly cn: string;
  readonly topic: string;
  socket?: TLSSocket;
  nextId: number;
  inFlight: number;
}

type Command =
  | { cmd: 'load'; file: string }
  | { cmd: 'connect'; host: string; port: number; concurrency: number; timeoutMs: number }
  | { cmd: 'blast'; count: number; window: number; timeoutMs: number }
  | { cmd: 'paced'; rate: number; seconds: number }
  | { cmd: 'close' }
  | { cmd: 'noop' };

let ca = '';
let certs: Array<{ cn: string; certPem: string; keyPem: string }> = [];
let devices: Device[] = [];
let seq = 1;
let acked = 0;
let onAck: ((d: Device) => void) | undefined;

function reply(msg: object): void {
  process.send!(msg);
}

function payload(): Buffer {
  return Buffer.from(`{"seq":${seq++},"at":${Date.now()},"values":{"energy":${seq % 100}}}`);
}

function publish(d: Device): void {
  d.nextId = d.nextId >= 65_535 ? 1 : d.nextId + 1;
  d.inFlight++;
  d.socket!.write(encodePublish(d.topic, payload(), 1, d.nextId));
}

async function connectAll(
  host: string,
  port: number,
  concurrency: number,
  timeoutMs: number,
): Promise<{ connected: number; failed: number; ms: number }> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  devices = certs.map((c) => ({ cn: c.cn, topic: `devices/${c.cn}/telemetry`, nextId: 0, inFlight: 0 }));
  let next = 0,
    connected = 0,
    failed = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const c = certs[i]!,
        d = devices[i]!;
      const socket = tlsConnect({
        host,
        port,
        ca: [ca],
        cert: c.certPem,
        key: c.keyPem,
        servername: 'localhost',
        minVersion: process.env.LOAD_TLS12 ? 'TLSv1.2' : 'TLSv1.3',
      });
      const decoder = new MqttDecoder(65_536);
      let done = false;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        if (ok) connected++;
        else {
          failed++;
          socket.destroy();
        }
        resolve();
      };
      const timer = setTimeout(() => finish(false), Math.max(1, deadline - Date.now()));
      socket.setNoDelay(true);
      socket.once('secureConnect', () =>
        socket.write(encodeConnect({ clientId: c.cn, clean: true, keepaliveSeconds: 600 })),
      );
      socket.on('data', (chunk: Buffer) => {
        for (const p of decoder.push(chunk)) {
          if (p.type === 'connack') {
            clearTimeout(timer);
            d.socket = socket;
            finish(p.returnCode === 0);
          } else if (p.type === 'puback') {
            d.inFlight--;
            acked++;
            onAck?.(d);
          }
        }
      });
      socket.on('error', () => {
        clearTimeout(timer);
        finish(false);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        finish(false);
        d.socket = undefined;
      });
    });
  const worker = async (): Promise<void> => {
    while (next < certs.length && Date.now() < deadline) await one(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { connected, failed, ms: performance.now() - t0 };
}

/** As fast as the broker acknowledges: each device keeps `window` messages in flight. */
async function blast(
  count: number,
  window: number,
  timeoutMs: number,
): Promise<{ sent: number; acked: number; ms: number }> {
  const live = devices.filter((d) => d.socket);
  let sent = 0;
  const start = acked;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    onAck = (d) => {
      if (sent < count && d.socket) {
        publish(d);
        sent++;
      }
      if (acked - start >= count) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (let w = 0; w < window; w++)
      for (const d of live) {
        if (sent >= count) break;
        publish(d);
        sent++;
      }
  });
  onAck = undefined;
  return { sent, acked: acked - start, ms: performance.now() - t0 };
}

/** `rate` messages a second, round robin over the devices, for `seconds`; does not wait for acks. */
async function paced(rate: number, seconds: number): Promise<{ sent: number; ms: number; lateTicks: number }> {
  const live = devices.filter((d) => d.socket);
  let sent = 0,
    k = 0,
    lateTicks = 0;
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, Math.floor((elapsed / 1000) * rate)) - sent;
      if (due > rate / 50) lateTicks++;
      for (let i = 0; i < due; i++) {
        const d = live[k++ % live.length]!;
        if (d.socket) publish(d);
        sent++;
      }
      if (sent >= total || elapsed > seconds * 1000 + 5_000) {
        resolve();
        return;
      }
      setTimeout(tick, 2);
    };
    tick();
  });
  return { sent, ms: performance.now() - t0, lateTicks };
}

process.on('message', (m: Command) => {
  (async () => {
    switch (m.cmd) {
      case 'load': {
        const data = JSON.parse(await readFile(m.file, 'utf8')) as { ca: string; devices: typeof certs };
        ca = data.ca;
        certs = data.devices;
        return { ok: true, devices: certs.length };
      }
      case 'connect':
        return connectAll(m.host, m.port, m.concurrency, m.timeoutMs);
      case 'blast':
        return blast(m.count, m.window, m.timeoutMs);
      case 'paced':
        return paced(m.rate, m.seconds);
      case 'noop':
        return {};
      case 'close': {
        for (const d of devices) d.socket?.destroy();
        devices = [];
        return { ok: true };
      }
    }
  })().then(
    (r) => reply({ ok: true, cpuMicros: process.cpuUsage().user + process.cpuUsage().system, ...r }),
    (err: unknown) => reply({ ok: false, error: String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
