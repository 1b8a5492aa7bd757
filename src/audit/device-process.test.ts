import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectAddressOf, parseProcNetTcp } from './device-process.ts';

const TCP =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41123 1 0000000000000000 ` +
  `100 0 0 10 0
   1: 00000000:15B5 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41124 1 0000000000000000 ` +
  `100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 41125 1 0000000000000000 ` +
  `20 4 30 10 -1
`;
const TCP6 =
  `  sl  local_address                         remote_address                        st tx_queue rx_queue tr ` +
  `tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2405 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 ` +
  `00000000  1000        0 52001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 ` +
  `00000000  1000        0 52002 1 0000000000000000 100 0 0 10 0
`;

test('reads the listening sockets of /proc/net/tcp, skipping connected ones', () => {
  assert.deepEqual(parseProcNetTcp(TCP, false), [
    { address: '127.0.0.1', port: 8080, inode: '41123' },
    { address: '0.0.0.0', port: 5557, inode: '41124' },
  ]);
});

test('reads IPv6 listening sockets, whose words the kernel prints in host byte order', () => {
  assert.deepEqual(parseProcNetTcp(TCP6, true), [
    { address: '::1', port: 9221, inode: '52001' },
    { address: '::', port: 80, inode: '52002' },
  ]);
});

test('a wildcard socket is reached on loopback; a bound one on its own address', () => {
  assert.equal(connectAddressOf('0.0.0.0'), '127.0.0.1');
  assert.equal(connectAddressOf('::'), '::1');
  assert.equal(connectAddressOf('127.0.0.5'), '127.0.0.5');
});

test('text that is not a socket table yields nothing', () => {
  assert.deepEqual(parseProcNetTcp('', false), []);
  assert.deepEqual(parseProcNetTcp('header\nnot a row\n', true), []);
});
