import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../errors/index.ts';
import { HashLimiter, validateHashLimiterConfig } from './index.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('runs at most maxConcurrent tasks at once', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 2, maxQueued: 10 });
  let running = 0;
  let peak = 0;
  const task = async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
  };
  await Promise.all(Array.from({ length: 10 }, () => limiter.run(task)));
  assert.equal(peak, 2);
  assert.equal(limiter.active, 0);
  assert.equal(limiter.queued, 0);
});

test('refuses at once with AUTH_BUSY when the queue is full', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 1 });
  const gate = deferred();
  const a = limiter.run(() => gate.promise);
  const b = limiter.run(() => Promise.resolve('b'));
  await assert.rejects(
    limiter.run(() => Promise.resolve('c')),
    (e: unknown) => hasCode(e, 'AUTH_BUSY'),
  );
  assert.equal(limiter.queued, 1);
  gate.resolve();
  await a;
  assert.equal(await b, 'b');
});

test('refuses a caller that waited longer than maxWaitMs and drops it from the queue', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 4, maxWaitMs: 20 });
  const gate = deferred();
  const a = limiter.run(() => gate.promise);
  await assert.rejects(
    limiter.run(() => Promise.resolve('late')),
    (e: unknown) => hasCode(e, 'AUTH_BUSY'),
  );
  assert.equal(limiter.queued, 0);
  gate.resolve();
  await a;
  assert.equal(await limiter.run(() => Promise.resolve('next')), 'next');
});

test('frees the slot when a task fails', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 0 });
  await assert.rejects(
    limiter.run(() => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.equal(limiter.active, 0);
  assert.equal(await limiter.run(() => Promise.resolve(1)), 1);
});

test('refuses an unsafe limiter config, naming the key', () => {
  for (const [config, key] of [
    [{ maxConcurrent: 0 }, 'maxConcurrent'],
    [{ maxQueued: -1 }, 'maxQueued'],
    [{ maxWaitMs: 0 }, 'maxWaitMs'],
    [{ maxConcurrent: 1.5 }, 'maxConcurrent'],
  ] as const) {
    assert.throws(
      () => validateHashLimiterConfig(config),
      (e: unknown) => hasCode(e, 'HASH_LIMITER_CONFIG_INVALID') && (e as { key: string }).key === key,
    );
  }
});

test('a trusted task runs before every waiting normal one, and has its own bounded queue', async () => {
  const limiter = new HashLimiter({ maxConcurrent: 1, maxQueued: 3, maxTrustedQueued: 1 });
  const gate = deferred();
  const order: string[] = [];
  const first = limiter.run(() => gate.promise);
  const flood = [1, 2, 3].map((i) =>
    limiter.run(() => {
      order.push(`guess${i}`);
      return Promise.resolve();
    }),
  );
  const busy = (e: unknown): boolean => hasCode(e, 'AUTH_BUSY');
  await assert.rejects(
    limiter.run(() => Promise.resolve('x')),
    busy,
    'the normal queue is full',
  );
  const owner = limiter.run(
    () => {
      order.push('owner');
      return Promise.resolve();
    },
    { priority: 'trusted' },
  );
  await assert.rejects(
    limiter.run(() => Promise.resolve('y'), { priority: 'trusted' }),
    busy,
    'the trusted queue is full',
  );
  assert.equal(limiter.queued, 4);
  gate.resolve();
  await Promise.all([first, owner, ...flood]);
  assert.deepEqual(order, ['owner', 'guess1', 'guess2', 'guess3']);
  assert.equal(limiter.active, 0);
});
