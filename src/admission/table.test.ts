import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionTable } from './table.ts';
import { validateAdmissionConfig } from './config.ts';

const config = validateAdmissionConfig({ maxConnections: 8, maxConnectionsPerSource: 6, maxPendingPerSource: 4 });

test('a source cannot hold more unfinished connections than its pending cap', () => {
  const table = new AdmissionTable(config);
  for (let id = 1; id <= 4; id++) assert.deepEqual(table.admit(id, 'a', 0), { admitted: true });
  assert.deepEqual(table.admit(5, 'a', 0), { admitted: false, reason: 'source-pending-cap' });
  table.establish(1);
  assert.deepEqual(table.admit(5, 'a', 0), { admitted: true });
});

test('a source cannot hold more open connections than its cap, established or not', () => {
  const table = new AdmissionTable(config);
  for (let id = 1; id <= 6; id++) {
    assert.equal(table.admit(id, 'a', 0).admitted, true);
    table.establish(id);
  }
  assert.deepEqual(table.admit(7, 'a', 0), { admitted: false, reason: 'source-cap' });
  assert.deepEqual(table.countOf('a'), { open: 6, pending: 0 });
});

test('a full socket gives a newcomer the oldest unfinished slot of the source holding the most', () => {
  const table = new AdmissionTable(config);
  for (let id = 1; id <= 6; id++) {
    assert.equal(table.admit(id, 'flooder', id).admitted, true);
    if (id <= 2) table.establish(id);
  }
  table.admit(7, 'b', 7);
  table.admit(8, 'b', 8);
  assert.equal(table.size, 8);
  assert.deepEqual(table.admit(9, 'c', 9), { admitted: true, evict: 3 });
  assert.deepEqual(table.countOf('flooder'), { open: 5, pending: 3 });
});

test('a full socket refuses a newcomer rather than evict a source holding no more than it would', () => {
  const table = new AdmissionTable(
    validateAdmissionConfig({ maxConnections: 4, maxConnectionsPerSource: 2, maxPendingPerSource: 2 }),
  );
  for (const [id, s] of [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
    [4, 'd'],
  ] as const)
    table.admit(id, s, 0);
  assert.deepEqual(table.admit(5, 'e', 0), { admitted: false, reason: 'server-full' });
  assert.deepEqual(table.admit(6, 'a', 0), { admitted: false, reason: 'server-full' });
});

test("releasing a connection frees its source's share", () => {
  const table = new AdmissionTable(config);
  table.admit(1, 'a', 0);
  table.release(1);
  table.release(1);
  assert.deepEqual(table.countOf('a'), { open: 0, pending: 0 });
  assert.equal(table.size, 0);
});

test('the config refuses a pending cap that lets one source hold half the socket unproven', () => {
  assert.throws(() => validateAdmissionConfig({ maxConnections: 8, maxPendingPerSource: 5 }), {
    code: 'ADMISSION_CONFIG_INVALID',
  });
  assert.throws(() => validateAdmissionConfig({ pendingDeadlineMs: 0 }), /pendingDeadlineMs/);
});
