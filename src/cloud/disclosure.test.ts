import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebRequest } from '../web/index.ts';
import { receiveReport, type IntakeContext } from './disclosure.ts';
import { defaultSecurityConfig } from './security-config.ts';
import { SqlStore } from './sql-store.ts';
import { openSqliteDriver } from './sqlite-driver.ts';

const good = { summary: 'Login bypass', details: 'The admin page accepts an empty password.', product: 'plug' };

/** One request from `source` with `body`: the intake reads only these two. */
const request = (source: string, body: Record<string, unknown>): WebRequest =>
  ({ sourceAddress: source, body }) as unknown as WebRequest;

async function intake(): Promise<{ ctx: IntakeContext; clock: { at: number } }> {
  const store = await SqlStore.open(openSqliteDriver({ path: ':memory:' }));
  const clock = { at: Date.UTC(2026, 11, 7, 8, 0, 0) };
  const ctx = { store, config: defaultSecurityConfig.intake, record: () => undefined, now: () => clock.at };
  return { ctx, clock };
}

test('malformed reports and refused attempts do not use up a shared address: its reporters get in again', async () => {
  const { ctx, clock } = await intake();
  const shared = '198.51.100.7';
  // An abuser behind the same address as a reporter: a stream of malformed reports is refused and not charged.
  for (let i = 0; i < 50; i++) await assert.rejects(receiveReport(ctx, request(shared, { summary: '' })));
  const { reportsPerSource, sourceWindowMs } = ctx.config;
  for (let i = 0; i < reportsPerSource; i++) await receiveReport(ctx, request(shared, good));
  // Past the budget, then the abuser keeps posting every minute: refused, and the window does not move.
  await assert.rejects(receiveReport(ctx, request(shared, good)), { code: 'RATE_LIMITED' });
  for (let t = 0; t < sourceWindowMs; t += 60_000) {
    clock.at += 60_000;
    await receiveReport(ctx, request(shared, good)).catch(() => undefined);
  }
  clock.at += 60_000;
  const reporter = await receiveReport(ctx, request(shared, good));
  assert.match(reporter.id, /^DR-/);
});
