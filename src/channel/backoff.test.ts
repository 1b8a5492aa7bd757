import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reconnectDelay, defaultChannelConfig } from './index.ts';

const cfg = { reconnectBaseMs: 100, reconnectMaxMs: 5_000, reconnectJitter: 0.5 };

test('doubles from the base and stops at the cap when no jitter is drawn', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 50].map((a) => reconnectDelay(a, cfg, 0)),
    [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000],
  );
});

test('jitter takes off at most its fraction of the delay', () => {
  assert.equal(reconnectDelay(2, cfg, 1), 200);
  assert.equal(reconnectDelay(2, { ...cfg, reconnectJitter: 1 }, 1), 0);
  assert.equal(reconnectDelay(2, { ...cfg, reconnectJitter: 0 }, 0.9), 400);
});

test('every delay lies within [ceiling x (1 - jitter), ceiling] for any attempt and draw', () => {
  fc.assert(
    fc.property(
      fc.nat(10_000),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (attempt, jitter, random) => {
        const c = { ...defaultChannelConfig, reconnectJitter: jitter };
        const ceiling = Math.min(c.reconnectMaxMs, c.reconnectBaseMs * 2 ** Math.min(attempt, 40));
        const d = reconnectDelay(attempt, c, random);
        return Number.isInteger(d) && d <= ceiling && d >= Math.floor(ceiling * (1 - jitter)) - 1;
      },
    ),
  );
});
