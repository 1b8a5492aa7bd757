import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { createLogger } from './index.ts';
import type { LoggerOptions } from './index.ts';

function capture(options: LoggerOptions = {}): { lines: Record<string, unknown>[]; options: LoggerOptions } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    options: {
      now: () => Date.parse('2025-06-01T10:00:00.000Z'),
      write: (line) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
      ...options,
    },
  };
}

test('writes one JSON object per line with time, level, name and message', () => {
  const { lines, options } = capture();
  createLogger('web', options).info('listening', { port: 8443 });
  assert.deepEqual(lines, [
    { time: '2025-06-01T10:00:00.000Z', level: 'info', name: 'web', msg: 'listening', port: 8443 },
  ]);
});

test('defaults to info and keeps debug off in production', () => {
  const { lines, options } = capture({ production: false });
  const log = createLogger('web', options);
  assert.equal(log.level, 'info');
  log.debug('hidden');
  assert.equal(lines.length, 0);
  const prod = capture({ level: 'debug', production: true });
  const plog = createLogger('web', prod.options);
  assert.equal(plog.level, 'info');
  assert.equal(plog.enabled('debug'), false);
  plog.debug('hidden');
  assert.equal(prod.lines.length, 0);
  const dev = capture({ level: 'debug', production: false });
  createLogger('web', dev.options).debug('shown');
  assert.equal(dev.lines.length, 1);
});

test('never writes a secret: secret-named fields are replaced whole, strings are redacted', () => {
  const { lines, options } = capture();
  createLogger('web', options).warn('login failed password=hunter2', {
    password: 'hunter2',
    headers: { authorization: 'Basic b3duZXI6aHVudGVyMg==', 'user-agent': 'curl' },
    body: 'user=owner&password=hunter2',
    key: new Uint8Array(32),
    err: Object.assign(new Error('bad token=abc'), { code: 'E_X' }),
    time: 'forged',
  });
  const text = JSON.stringify(lines);
  assert.ok(!text.includes('hunter2') && !text.includes('b3duZXI6') && !text.includes('abc'));
  const line = lines[0]!;
  assert.equal(line.password, '[REDACTED]');
  assert.deepEqual(line.headers, { authorization: '[REDACTED]', 'user-agent': 'curl' });
  assert.equal(line.key, '[REDACTED]');
  assert.deepEqual(line.err, { name: 'Error', code: 'E_X', message: 'bad token=[REDACTED]' });
  assert.equal(line.time, '2025-06-01T10:00:00.000Z', 'a field cannot forge a reserved key');
});

test('never throws on odd values: cycles, bigints, functions, huge strings', () => {
  const { lines, options } = capture();
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  createLogger('web', options).error('odd', {
    cyclic,
    big: 10n,
    fn: () => 1,
    long: 'x'.repeat(10_000),
    bytes: Buffer.alloc(4),
  });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.big, '10');
  assert.equal(lines[0]!.bytes, '[4 bytes]');
  assert.ok((lines[0]!.long as string).length <= 2_000);
});

test('refuses a malformed name or level', () => {
  assert.throws(
    () => createLogger('Web Server'),
    (err: unknown) => hasCode(err, 'LOGGER_CONFIG_INVALID'),
  );
  assert.throws(
    () => createLogger('web', { level: 'trace' as never }),
    (err: unknown) => hasCode(err, 'LOGGER_CONFIG_INVALID'),
  );
});
