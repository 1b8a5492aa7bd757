import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { guardServer, type AdmissionRecord } from './guard.ts';

async function listening(records: AdmissionRecord[], config = {}) {
  const server = createServer((socket) => socket.on('error', () => undefined));
  const admission = guardServer(server, { establishOn: 'secure', record: (e) => records.push(e), config });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { server, admission, port };
}

function dial(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.on('error', reject);
  });
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
  });

test('a connection closed before any handshake leaves a record with the source captured at accept', async () => {
  const records: AdmissionRecord[] = [];
  const { server, port } = await listening(records);
  const socket = await dial(port, '127.0.0.9');
  socket.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 100));
  server.close();
  assert.equal(records.length, 1);
  assert.match(records[0]!.source, /^127\.0\.0\.9:\d+$/);
  assert.equal(records[0]!.event, 'tcp-connect');
});

test('a source over its pending cap is refused and recorded while another source still gets in', async () => {
  const records: AdmissionRecord[] = [];
  const { server, admission, port } = await listening(records, { maxPendingPerSource: 2, maxConnectionsPerSource: 4 });
  const held = [await dial(port, '127.0.0.5'), await dial(port, '127.0.0.5')];
  const third = await dial(port, '127.0.0.5');
  await closed(third);
  const other = await dial(port, '127.0.0.6');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(admission.size(), 3);
  assert.ok(records.some((r) => r.event === 'connection-refused' && r.source.startsWith('127.0.0.5:')));
  for (const s of [...held, other]) s.destroy();
  server.close();
});

test('a connection not past its handshake by the deadline is cut off, counting total time', async () => {
  const records: AdmissionRecord[] = [];
  const { server, port } = await listening(records, { pendingDeadlineMs: 300 });
  const socket = await dial(port);
  const drip = setInterval(() => socket.write('x'), 50);
  const started = Date.now();
  await closed(socket);
  clearInterval(drip);
  assert.ok(Date.now() - started < 2_000);
  assert.ok(records.some((r) => r.event === 'header-timeout'));
  server.close();
});

test('a flood from one source is written up to the threshold, then summarised on close', async () => {
  const records: AdmissionRecord[] = [];
  const { server, admission, port } = await listening(records, { floodThreshold: 5 });
  for (let i = 0; i < 12; i++) (await dial(port, '127.0.0.7')).resetAndDestroy();
  await new Promise((r) => setTimeout(r, 100));
  admission.close();
  server.close();
  const single = records.filter((r) => r.event === 'tcp-connect').length;
  const summary = records.find((r) => r.event === 'connection-flood');
  assert.equal(single, 5);
  assert.equal(summary?.source, '127.0.0.7');
  assert.match(summary?.detail ?? '', /^7 more in \d+ s \([\d:]+-[\d:]+ UTC\): 7 tcp-connect failure$/);
});
